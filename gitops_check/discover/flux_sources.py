"""Which files a Flux object's source is: a GitRepository of this repository or a mapped clone, an
OCIRepository (fetched when rendering, under the job's network policy), or a chart from a HelmRepository;
else a reason. Credentials in URLs are never shown.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitops_check import repourl
from gitops_check.discover.dispatch import DiscoverOptions
from gitops_check.discover.flux_objects import FluxObject, SourceIndex, display_url, normalize_path
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import HelmOptions, OCIArtifact


class AppProblem(Exception):
    """The object cannot become a checkable app; the message says why and what to do."""


@dataclass(frozen=True)
class Where:
    """Where sources are looked up: the repository's (and the parent's) source objects, and the mapped clones."""

    ws: Workspace
    options: DiscoverOptions
    sources: SourceIndex


@dataclass(frozen=True)
class GitSource:
    repo: str | None  # Source.repo: None for this repository, else the canonical URL
    ws: Workspace | None  # its files when known at discovery (this repository, a mapped clone); None: fetched
    label: str
    url: str | None = None  # to fetch: the URL as written
    revision: str | None = None  # to fetch: remote.gitfetch.flux_revision of spec.ref


def git_source(ref: Any, obj: FluxObject, where: Where) -> GitSource:
    """Where a sourceRef that must be a GitRepository takes its files from."""
    if not isinstance(ref, dict) or not ref.get("name"):
        raise AppProblem("spec.sourceRef needs kind and name")
    kind, name = str(ref.get("kind") or ""), str(ref["name"])
    namespace = str(ref.get("namespace") or obj.namespace)
    if kind != "GitRepository":
        raise AppProblem(
            f"source {kind} {namespace}/{name} is not a Git repository or an OCIRepository, which gitops-check "
            "cannot fetch"
        )
    source = where.sources.get(kind, namespace, name)
    if source is None:
        if (namespace, name) == ("flux-system", "flux-system"):
            return GitSource(
                None, where.ws, "GitRepository flux-system/flux-system (taken to be this repository)"
            )
        raise AppProblem(
            f"GitRepository {namespace}/{name} is not defined in the repository or the parent's output, so "
            "gitops-check cannot tell which repository it is"
        )
    url = str(source.spec.get("url") or "")
    canonical = repourl.canonical(url)
    label = f"GitRepository {namespace}/{name}"
    if canonical in where.options.this_repo_urls:
        return GitSource(None, where.ws, f"{label} (this repository)")
    mapped = where.options.repo_map.get(canonical)
    if mapped is not None:
        return GitSource(canonical, mapped, f"{label} ({display_url(url)}, mapped)")
    if not url:
        raise AppProblem(f"{label} has no spec.url")
    from gitops_check.remote.gitfetch import flux_revision

    ref_spec = source.spec.get("ref")
    revision = flux_revision(ref_spec if isinstance(ref_spec, dict) else None)
    return GitSource(canonical, None, f"{label} ({display_url(url)})", url, revision)


def oci_source(ref: Any, obj: FluxObject, where: Where) -> tuple[OCIArtifact, str] | None:
    """The artifact of a sourceRef naming an OCIRepository (None for other kinds)."""
    if not isinstance(ref, dict) or str(ref.get("kind") or "") != "OCIRepository":
        return None
    name = str(ref.get("name") or "")
    namespace = str(ref.get("namespace") or obj.namespace)
    source = where.sources.get("OCIRepository", namespace, name)
    if source is None:
        raise AppProblem(
            f"OCIRepository {namespace}/{name} is not defined in the repository or the parent's output"
        )
    return oci_artifact(
        source.spec
    ), f"OCIRepository {namespace}/{name} ({display_url(str(source.spec.get('url') or ''))})"


def oci_artifact(spec: Mapping[str, Any], media_type: str | None = None) -> OCIArtifact:
    url = str(spec.get("url") or "")
    if not url.startswith("oci://"):
        raise AppProblem(f"OCIRepository url {display_url(url)!r} must start with oci://")
    ref = _map(spec, "ref")
    selector = _map(spec, "layerSelector")
    return OCIArtifact(
        url=url,
        tag=_opt_str(ref, "tag"),
        semver=_opt_str(ref, "semver"),
        semver_filter=_opt_str(ref, "semverFilter"),
        digest=_opt_str(ref, "digest"),
        media_type=_opt_str(selector, "mediaType") or media_type,
        operation=str(selector.get("operation") or "extract"),
        insecure=spec.get("insecure") is True,
    )


@dataclass(frozen=True)
class Chart:
    path: str
    repo: str | None
    helm: HelmOptions
    chart: str | None = None
    target_revision: str | None = None
    oci: OCIArtifact | None = None
    repo_url: str | None = None


def chart_source(obj: FluxObject, where: Where, tree: str | None = None) -> tuple[Chart, str]:
    spec = obj.spec
    chart_ref, chart = spec.get("chartRef"), _map(spec, "chart")
    if isinstance(chart_ref, dict):
        kind, name = str(chart_ref.get("kind") or ""), str(chart_ref.get("name") or "")
        namespace = str(chart_ref.get("namespace") or obj.namespace)
        if kind == "ExternalArtifact" and name:
            return _artifact_chart(chart_ref, obj, where, tree)
        source = where.sources.get(kind, namespace, name)
        if kind == "HelmChart" and source is not None:
            return _chart_from_spec(source.spec, source, where)
        if kind == "OCIRepository" and source is not None:
            artifact = oci_artifact(source.spec)
            label = f"OCIRepository {namespace}/{name} ({display_url(artifact.url)})"
            return Chart(".", None, HelmOptions(), oci=artifact), label
        raise AppProblem(
            f"spec.chartRef {kind} {namespace}/{name} is not defined in the repository or unsupported"
        )
    if str(chart.get("kind") or "HelmChart") == "OCIRepository":
        artifact = oci_artifact(_map(chart, "spec"))
        return Chart(".", None, HelmOptions(), oci=artifact), f"OCI chart {display_url(artifact.url)}"
    if not chart:
        raise AppProblem("HelmRelease has neither spec.chart nor spec.chartRef")
    return _chart_from_spec(_map(chart, "spec"), obj, where)


def _chart_from_spec(chart: Mapping[str, Any], owner: FluxObject, where: Where) -> tuple[Chart, str]:
    ref = chart.get("sourceRef")
    if not isinstance(ref, dict):
        raise AppProblem("chart.spec.sourceRef is missing")
    kind = str(ref.get("kind") or "")
    namespace = str(ref.get("namespace") or owner.namespace)
    values_files = tuple(
        "/" + posixpath.normpath(str(f)).lstrip("/") for f in chart.get("valuesFiles") or [] if f
    )
    helm = HelmOptions(
        value_files=values_files, ignore_missing_value_files=chart.get("ignoreMissingValuesFiles") is True
    )
    if kind == "HelmRepository":
        repo = where.sources.get(kind, namespace, str(ref.get("name")))
        url = str(repo.spec.get("url") or "") if repo else f"HelmRepository {namespace}/{ref.get('name')}"
        name = str(chart.get("chart") or "")
        found = Chart(".", url, helm, chart=name, target_revision=_opt_str(chart, "version"))
        return found, f"chart {name} from {display_url(url)}"
    git = git_source(ref, owner, where)
    path = normalize_path(chart.get("chart"))
    if path is None:
        raise AppProblem(f"chart path {chart.get('chart')!r} is not a path inside {git.label}")
    found = Chart(path, git.repo, helm, repo_url=git.url, target_revision=git.revision)
    return found, f"chart {path} of {git.label}"


def _artifact_chart(
    ref: Mapping[str, Any], obj: FluxObject, where: Where, tree: str | None
) -> tuple[Chart, str]:
    """A chart composed by an ArtifactGenerator: at the artifact's root, or its one top folder (a packaged
    chart's layout, which helm-controller loads the same way)."""
    from gitops_check.discover.flux_artifacts import external_artifact  # it imports this module

    artifact = external_artifact(ref, obj, where, tree)
    root = artifact.ws.root
    if (root / "Chart.yaml").is_file():
        return Chart(".", artifact.key, HelmOptions()), f"chart of {artifact.label}"
    tops = [p for p in sorted(root.iterdir()) if p.is_dir() and (p / "Chart.yaml").is_file()]
    if len(tops) == 1 and len(list(root.iterdir())) == 1:
        return Chart(tops[0].name, artifact.key, HelmOptions()), f"chart {tops[0].name} of {artifact.label}"
    raise AppProblem(f"{artifact.label} holds no chart (no Chart.yaml at its root or in its one top folder)")


def _map(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)
