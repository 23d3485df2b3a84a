"""Sources that live outside the repository: a chart from a Helm repository or an OCI registry, a Flux
OCIRepository artifact. They are fetched under the job's network policy (``remote/``) into a temporary
folder, which then renders like any folder of a repository; the output records what was resolved.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gitops_check.errors import FetchError, RenderError
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.remote import archive
from gitops_check.remote.charts import fetch_chart, remote_for
from gitops_check.remote.oci import HELM_CHART_LAYER, HELM_CHART_LAYER_LEGACY
from gitops_check.render.base import normalize_path


@contextmanager
def fetched(source: Source, options: RenderOptions) -> Iterator[tuple[Workspace, str, str]]:
    """The fetched chart or artifact as a workspace, the folder to render in it, and what was resolved, for
    the duration of the block (a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="gitops-check-remote-") as tmp:
        try:
            if source.oci is not None:
                found = _oci_artifact(source, options, Path(tmp))
            else:
                found = _chart(source, options, Path(tmp))
        except FetchError as e:
            raise RenderError(f"not checked: {e.message}") from None
        yield found


def _chart(source: Source, options: RenderOptions, tmp: Path) -> tuple[Workspace, str, str]:
    if not source.repo:
        raise FetchError(f"chart {source.chart} has no repository URL")
    fetched = fetch_chart(
        source.repo, source.chart or "", source.target_revision, tmp, policy=options.network
    )
    # The chart is the root: Argo CD's "/x" value files and Flux's valuesFiles are relative to it.
    ws = Workspace(root=fetched.folder, label=fetched.describe())
    return ws, ".", fetched.describe()


def _oci_artifact(source: Source, options: RenderOptions, tmp: Path) -> tuple[Workspace, str, str]:
    spec = source.oci
    assert spec is not None
    chart = source.tool is Tool.FLUX_HELM
    media_types: tuple[str, ...] | None
    if spec.media_type:
        media_types = (spec.media_type,)
    elif chart:
        media_types = (HELM_CHART_LAYER, HELM_CHART_LAYER_LEGACY)
    else:
        media_types = None  # Flux: the first layer
    registry = remote_for(options.network).oci
    pulled = registry.pull(
        spec.url,
        constraint=spec.semver or "",
        tag=spec.tag if not spec.semver and not spec.digest else None,
        digest=spec.digest,
        semver_filter=spec.semver_filter,
        media_types=media_types,
        what="artifact" if not chart else "chart",
        insecure=spec.insecure,
    )
    wanted = spec.digest or spec.semver or spec.tag or "latest"
    described = f"{spec.url} {wanted} -> {pulled.tag} ({pulled.layer_digest[:19]}…)"
    files = tmp / "artifact"
    if spec.operation == "copy" and not chart:
        raise FetchError(
            f"{spec.url}: layerSelector.operation copy gives an archive, not files a Kustomization can build"
        )
    tops = archive.extract_tgz(
        pulled.path, files, shown=f"{spec.url}:{pulled.tag}", max_bytes=options.network.max_download * 4
    )
    if chart:
        folder = next((t for t in tops if (files / t / "Chart.yaml").is_file()), None)
        if folder is None:
            raise FetchError(f"{spec.url}:{pulled.tag}: the layer holds no chart")
        return Workspace(root=files / folder, label=described), ".", described
    return Workspace(root=files, label=described), normalize_path(source.path), described
