"""A Flux HelmRelease rendered the way helm-controller would install it, with the existing Helm renderer.

Discovery has already merged the values in helm-controller's order (``valuesFrom`` in order, ``targetPath``
entries, inline ``values``) into one map, and chosen the release name and namespaces. What is left here:

* ``spec.chart.spec.valuesFiles``: source-controller packages the chart with these files merged *as* its
  values.yaml (the chart's own defaults count only when listed), so the chart is rendered from a copy whose
  values.yaml is that merge;
* hooks (``helm.sh/hook``, tests included) are not part of a release's manifest: they stay in the output and
  the comparison sets them apart (diff/hooks.py), so a report can list them;
* ``postRenderers`` (kustomize patches and images, kept in the source's kustomize options) run over the
  output, then ``commonMetadata`` is set on every object's metadata.

When the values hold Secret data, the chart is rendered a second time with placeholders and every field that
differs must be Secret data (render/flux_secrets.py), or the app is not checked.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitops_check import scratch, yamlio
from gitops_check.errors import RenderError
from gitops_check.gosemantics.maps import merge_maps
from gitops_check.model.objects import Origin, SecretText
from gitops_check.model.rendered import RawObject
from gitops_check.model.source import Tool
from gitops_check.render import flux_secrets
from gitops_check.render.base import RenderOutput, SourceContext, resolve_inside
from gitops_check.render.flux import skip_marked
from gitops_check.render.helm import render_helm
from gitops_check.render.kustomize import parse_image, run_build

DRIFT = "helm.toolkit.fluxcd.io/driftDetection"


def render_helm_release(ctx: SourceContext) -> RenderOutput:
    opts = ctx.source.helm
    with _chart_folder(ctx) as folder:
        plain_ctx = dataclasses.replace(
            ctx,
            folder=folder,
            source=dataclasses.replace(
                ctx.source, tool=Tool.HELM, helm=dataclasses.replace(opts, value_files=())
            ),
        )
        secrets_in_values = sorted(
            {s for v in opts.values for s in _secret_strings(v)}, key=len, reverse=True
        )
        try:
            out = _render(plain_ctx)
        except RenderError as e:
            if not secrets_in_values:
                raise
            # A chart's error may quote a value (``fail``, type errors): Secret values never reach the report.
            message = e.message
            for value in secrets_in_values:
                message = message.replace(value, "*****")
            raise RenderError(message, file=e.file, line=e.line) from None
        if secrets_in_values:
            masked_opts = dataclasses.replace(
                plain_ctx.source.helm, values=tuple(_mask(v) for v in opts.values)
            )
            masked_ctx = dataclasses.replace(
                plain_ctx, source=dataclasses.replace(plain_ctx.source, helm=masked_opts)
            )
            from_secrets = _check_secrets(out.objects, _render(masked_ctx).objects)
            out.objects = [
                dataclasses.replace(o, secret_sourced=from_secrets[i]) if from_secrets.get(i) else o
                for i, o in enumerate(out.objects)
            ]
    return out


def _render(ctx: SourceContext) -> RenderOutput:
    out = render_helm(ctx)
    out.objects = [
        RawObject(skip_marked(o.body) if _no_drift_detection(o.body) else o.body, o.origin)
        for o in out.objects
    ]
    if ctx.source.kustomize.patches or ctx.source.kustomize.images:
        out.objects = _post_render(ctx, out.objects)
    labels, annotations = ctx.source.kustomize.common_labels, ctx.source.kustomize.common_annotations
    if labels or annotations:
        out.objects = [RawObject(_with_metadata(o.body, labels, annotations), o.origin) for o in out.objects]
    return out


def _no_drift_detection(body: Any) -> bool:
    """``helm.toolkit.fluxcd.io/driftDetection: disabled`` (annotation or label): helm-controller leaves it be."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    if not isinstance(metadata, dict):
        return False
    return any(
        isinstance(metadata.get(part), dict) and str(metadata[part].get(DRIFT, "")).lower() == "disabled"
        for part in ("annotations", "labels")
    )


# ---------------------------------------------------------------------------------------------------------------
# valuesFiles: the chart's values.yaml replaced by their merge


@contextmanager
def _chart_folder(ctx: SourceContext) -> Iterator[Path]:
    files = ctx.source.helm.value_files
    if not files:
        yield ctx.folder
        return
    merged: dict[str, Any] = {}
    for name in files:
        path = resolve_inside(ctx.ws.root, name.lstrip("/"), "valuesFiles entry")
        if not path.is_file():
            if ctx.source.helm.ignore_missing_value_files:
                continue
            raise RenderError(
                f"valuesFiles entry {name} does not exist at {ctx.ws.label} (paths are relative to the source's "
                "root); fix it or set ignoreMissingValuesFiles"
            )
        data = yamlio.load_one(path.read_bytes(), name) or {}
        if not isinstance(data, dict):
            raise RenderError(f"valuesFiles entry {name} is not a mapping of values")
        merged = merge_maps(merged, data)
    copy = ctx.folder.parent / f".{ctx.folder.name}.gitops-check-{secrets.token_hex(4)}"
    try:
        shutil.copytree(ctx.folder, copy, symlinks=True)
        (copy / "values.yaml").write_text(yamlio.dump_json(merged))
        yield copy
    finally:
        shutil.rmtree(copy, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# Post-renderers and common metadata


def _post_render(ctx: SourceContext, objects: list[RawObject]) -> list[RawObject]:
    k = ctx.source.kustomize
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["helm-output.yaml"],
    }
    if k.patches:
        kustomization["patches"] = [dict(p) for p in k.patches]
    if k.images:
        kustomization["images"] = [json.loads(i) if i.startswith("{") else parse_image(i) for i in k.images]
    with tempfile.TemporaryDirectory(prefix="gitops-check-postrender-", dir=scratch.parent()) as tmp:
        folder = Path(tmp)
        (folder / "helm-output.yaml").write_text(yamlio.dump_yaml_all([o.body for o in objects]))
        (folder / "kustomization.yaml").write_text(yamlio.dump_yaml(kustomization))
        stdout = run_build(ctx, folder)
    origin = Origin(ctx.app.name, ctx.path, None)
    where = f"post-rendered output for {ctx.path}"
    return [RawObject(d.data, origin) for d in yamlio.load_yaml_documents(stdout, where)]


def _with_metadata(body: Any, labels: Any, annotations: Any) -> Any:
    if not isinstance(body, dict):
        return body
    metadata = dict(body.get("metadata") or {})
    if labels:
        metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    if annotations:
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **annotations}
    return {**body, "metadata": metadata}


# ---------------------------------------------------------------------------------------------------------------
# Values from Secrets


def _secret_strings(value: Any) -> Iterator[str]:
    if isinstance(value, SecretText):
        if value:
            yield str(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _secret_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _secret_strings(v)


def _mask(value: Any) -> Any:
    if isinstance(value, SecretText):
        return "gcph" + secrets.token_hex(8) if value else value
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _check_secrets(real: list[RawObject], masked: list[RawObject]) -> dict[int, frozenset[str]]:
    """Raise unless Secret-derived values land only in Secret data (or checksums); returns, by index in ``real``,
    the Secret data keys whose values came from a Secret."""
    by_key = {_key(o.body): o.body for o in masked}
    seen = set()
    sourced: dict[int, frozenset[str]] = {}
    for i, obj in enumerate(real):
        key = _key(obj.body)
        seen.add(key)
        what = f"{key[0]}/{key[2]}"
        if key not in by_key:
            raise RenderError(
                f"{what} is rendered only because of values from a Secret; gitops-check never shows Secret values, "
                "so this app is not checked"
            )
        flux_secrets.check_only_secret_data(obj.body, by_key[key], what, "values")
        sourced[i] = flux_secrets.secret_data_from_secrets(obj.body, by_key[key])
    for key in by_key:
        if key not in seen:
            raise RenderError(
                f"{key[0]}/{key[2]} depends on values from a Secret; gitops-check never shows Secret values, "
                "so this app is not checked"
            )
    return sourced


def _key(body: Any) -> tuple[str, str, str]:
    if not isinstance(body, dict):
        return ("document", "", "")
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    return (str(body.get("kind")), str(metadata.get("namespace") or ""), str(metadata.get("name")))
