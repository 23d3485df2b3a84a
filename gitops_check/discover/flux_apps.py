"""A Flux Kustomization or HelmRelease object turned into an App: its source, overrides, values and owner.

Fields that only order reconciliation (``dependsOn``, ``interval``, ``wait``, health checks) change nothing that
is rendered: ``dependsOn`` is shown in the app's origin. ``prune: false`` means nothing is "would be pruned".
Problems are raised as AppProblem with a one-line reason; the app is then reported as not checked.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_check import yamlio
from gitops_check.discover.flux_artifacts import external_artifact, tree_of
from gitops_check.discover.flux_charts import chart_source
from gitops_check.discover.flux_objects import FluxObject, SourceIndex, field_map, field_str, normalize_path
from gitops_check.discover.flux_sources import (
    AppProblem,
    GitSource,
    Where,
    git_source,
    oci_source,
)
from gitops_check.discover.flux_values import FluxSettings, ObjectSource, ValuesError, helm_values
from gitops_check.discover.flux_values import substitute_variables as _variables
from gitops_check.discover.options import DiscoverOptions
from gitops_check.model.app import App, Destination, IgnoreRule, SyncPolicy, Tracking
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import HelmOptions, KustomizeOptions, Source, Tool

# App labels shared with render/flux.py (which may not import discover): keep the strings in step.
STRICT_LABEL = "flux.strictSubstitution"
TREE_LABEL = "flux.tree"
OBJECT_LABEL = "flux.object"
MAX_RELEASE_NAME = 53
# Before applying, kustomize-controller makes the fields of these managers its own (name prefix, operation), so
# what they set that Git does not have is removed: `kubectl label/annotate/edit/patch/apply ...`, kubectl's
# first client-side apply, and its own pre-server-side-apply updates (kustomize-controller v1.9, fluxcd/pkg/ssa).
KUSTOMIZE_CONTROLLER_TAKES_OVER = (
    ("kubectl", "Apply"),
    ("kubectl", "Update"),
    ("before-first-apply", "Update"),
    ("kustomize-controller", "Update"),
)


@dataclass
class Context:
    ws: Workspace
    options: DiscoverOptions
    sources: SourceIndex
    values: ObjectSource
    settings: FluxSettings = field(default_factory=FluxSettings)
    tree: str | None = None  # cluster label when the repository holds several clusters
    cluster: str | None = None  # destination name for the tree's cluster
    parent: str | None = None  # the app that rendered the object

    @property
    def where(self) -> Where:
        return Where(self.ws, self.options, self.sources)


def app_name(obj: FluxObject, tree: str | None) -> str:
    return f"{tree}/{obj.id}" if tree else obj.id


def kustomization_source(obj: FluxObject, ctx: Context) -> GitSource:
    """Source.repo, workspace and label of a Kustomization's sourceRef (not an OCIRepository): a Git
    repository, or an ExternalArtifact built from its ArtifactGenerator (the generator of the Kustomization's
    own cluster folder first)."""
    ref = obj.spec.get("sourceRef")
    if isinstance(ref, dict) and ref.get("kind") == "ExternalArtifact" and ref.get("name"):
        artifact = external_artifact(ref, obj, ctx.where, ctx.tree or tree_of(obj.file))
        return GitSource(artifact.key, artifact.ws, artifact.label)
    return git_source(ref, obj, ctx.where)


def kustomization_app(obj: FluxObject, ctx: Context) -> App:
    spec = obj.spec
    artifact = oci_source(spec.get("sourceRef"), obj, ctx.where)
    git = None
    if artifact is not None:
        repo, source_ws, source_label = None, None, artifact[1]
    else:
        git = kustomization_source(obj, ctx)
        repo, source_ws, source_label = git.repo, git.ws, git.label
    path = normalize_path(spec.get("path"))
    if path is None:
        raise AppProblem(
            f"spec.path {spec.get('path')!r} is not a path inside {source_label} (a ${{variable}} the parent did "
            "not substitute, or ..)"
        )
    try:
        variables = _variables(spec.get("postBuild"), obj.namespace, ctx.values)
    except ValuesError as e:
        raise AppProblem(str(e)) from None
    overrides = KustomizeOptions(
        name_prefix=field_str(spec, "namePrefix"),
        name_suffix=field_str(spec, "nameSuffix"),
        namespace=field_str(spec, "targetNamespace"),
        images=tuple(json.dumps(_image(i), sort_keys=True) for i in _list(spec, "images")),
        common_labels=_str_map(field_map(spec, "commonMetadata").get("labels")),
        common_annotations=_str_map(field_map(spec, "commonMetadata").get("annotations")),
        patches=tuple(_patch(p) for p in _list(spec, "patches")),
        components=_components(spec, source_ws, path)
        if source_ws is not None
        else tuple(str(c) for c in _list(spec, "components")),
    )
    labels = {OBJECT_LABEL: obj.id, **({TREE_LABEL: ctx.tree} if ctx.tree else {})}
    if ctx.settings.strict_substitution:
        labels[STRICT_LABEL] = "true"
    return App(
        name=app_name(obj, ctx.tree),
        sources=(
            Source(
                path=path,
                tool=Tool.FLUX_KUSTOMIZE,
                repo=repo,
                kustomize=overrides,
                substitute=variables or None,
                oci=artifact[0] if artifact is not None else None,
                repo_url=git.url if git is not None else None,
                target_revision=git.revision if git is not None else None,
            ),
        ),
        destination=_destination(spec, ctx, spec.get("targetNamespace")),
        tracking=Tracking(flux_owner=(obj.name, obj.namespace) if spec.get("prune") is True else None),
        origin=_origin(obj, ctx, f"{path} of {source_label}"),
        kind="flux-kustomization",
        labels=labels,
        appliers=("kustomize-controller",),
        taken_over=KUSTOMIZE_CONTROLLER_TAKES_OVER,
        sync_policy=_sync_policy(spec, helm=False),
        agent_namespace=obj.namespace,
        agent_name=obj.name,
    )


def helmrelease_app(obj: FluxObject, ctx: Context) -> App:
    spec = obj.spec
    target_ns = field_str(spec, "targetNamespace") or obj.namespace
    release = release_name(obj, spec)
    source, where = chart_source(obj, ctx.where, ctx.tree or tree_of(obj.file))
    try:
        values = helm_values(spec, obj.namespace, ctx.values)
    except ValuesError as e:
        raise AppProblem(str(e)) from None
    crds = str(field_map(spec, "install").get("crds") or "Create")
    helm = HelmOptions(
        release_name=release,
        namespace=target_ns,
        values=(values,),
        value_files=source.helm.value_files,
        ignore_missing_value_files=source.helm.ignore_missing_value_files,
        skip_crds=crds == "Skip",
    )
    post = _post_renderers(spec)
    metadata = field_map(spec, "commonMetadata")
    post = KustomizeOptions(
        patches=post.patches,
        images=post.images,
        common_labels=_str_map(metadata.get("labels")),
        common_annotations=_str_map(metadata.get("annotations")),
    )
    return App(
        name=app_name(obj, ctx.tree),
        sources=(
            Source(
                path=source.path,
                tool=Tool.FLUX_HELM,
                repo=source.repo,
                helm=helm,
                kustomize=post,
                chart=source.chart,
                target_revision=source.target_revision,
                oci=source.oci,
                repo_url=source.repo_url,
            ),
        ),
        destination=_destination(spec, ctx, target_ns),
        ignore=_drift_ignore(spec),
        tracking=Tracking(helm_release=(release, target_ns)),
        origin=_origin(obj, ctx, where),
        kind="flux-helmrelease",
        labels={OBJECT_LABEL: obj.id, **({TREE_LABEL: ctx.tree} if ctx.tree else {})},
        appliers=("helm-controller",),
        sync_policy=_sync_policy(spec, helm=True),
        agent_namespace=obj.namespace,
        agent_name=obj.name,
    )


def release_name(obj: FluxObject, spec: Mapping[str, Any]) -> str:
    """helm-controller: releaseName, else ``[targetNamespace-]name``; over 53 characters, 40 of them and a hash."""
    name = field_str(spec, "releaseName") or (
        f"{spec['targetNamespace']}-{obj.name}" if spec.get("targetNamespace") else obj.name
    )
    if len(name) <= MAX_RELEASE_NAME:
        return name
    return f"{name[:40]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


# ---------------------------------------------------------------------------------------------------------------
# Small field readers


def _destination(spec: Mapping[str, Any], ctx: Context, namespace: Any) -> Destination:
    kubeconfig = field_map(spec, "kubeConfig")
    secret = field_map(kubeconfig, "secretRef").get("name") or field_map(kubeconfig, "configMapRef").get(
        "name"
    )
    name = str(secret) if secret else ctx.cluster
    return Destination(namespace=str(namespace) if namespace else None, name=name)


def _origin(obj: FluxObject, ctx: Context, what: str) -> str:
    """``file:line (path of source; after deps)``: where first, so tools can read ``file:line`` from it."""
    where = obj.where if obj.file else f"rendered by {ctx.parent}"
    details = [what]
    depends = [d for d in obj.spec.get("dependsOn") or [] if isinstance(d, dict) and d.get("name")]
    if depends:
        details.append(
            "after " + ", ".join(f"{d.get('namespace') or obj.namespace}/{d['name']}" for d in depends)
        )
    if obj.spec.get("suspend") is True:
        details.append("suspended: Flux applies nothing until it is resumed")
    return f"{where} ({'; '.join(details)})"


def _sync_policy(spec: Mapping[str, Any], *, helm: bool) -> SyncPolicy:
    """Flux reconciles on its own unless suspended. Kustomizations correct drift every interval and prune when
    asked; helm-controller corrects drift only with driftDetection.mode enabled, and Helm's removal of resources a
    chart no longer renders is not an opt-in prune."""
    active = spec.get("suspend") is not True
    if helm:
        drift = str(field_map(spec, "driftDetection").get("mode") or "disabled") == "enabled"
        return SyncPolicy(automated=active, prune=False, self_heal=active and drift)
    return SyncPolicy(automated=active, prune=spec.get("prune") is True, self_heal=active)


def _components(spec: Mapping[str, Any], source_ws: Workspace, path: str) -> tuple[str, ...]:
    out = []
    for component in _list(spec, "components"):
        text = str(component)
        missing = not (source_ws.root / posixpath.normpath(posixpath.join(path, text))).exists()
        if missing and spec.get("ignoreMissingComponents") is True:
            continue
        out.append(text)
    return tuple(out)


def _image(entry: Any) -> dict[str, str]:
    if not isinstance(entry, dict) or not entry.get("name"):
        raise AppProblem("spec.images entries need a name")
    return {
        k: str(entry[k]) for k in ("name", "newName", "newTag", "digest") if entry.get(k) not in (None, "")
    }


def _patch(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("patch"), str):
        raise AppProblem("spec.patches entries need a patch (a string)")
    out: dict[str, Any] = {"patch": entry["patch"]}
    if isinstance(entry.get("target"), dict):
        out["target"] = {str(k): v for k, v in entry["target"].items() if v not in (None, "")}
    return out


def _post_renderers(spec: Mapping[str, Any]) -> KustomizeOptions:
    patches: list[dict[str, Any]] = []
    images: list[str] = []
    for renderer in _list(spec, "postRenderers"):
        k = field_map(renderer if isinstance(renderer, dict) else {}, "kustomize")
        patches.extend(_patch(p) for p in _list(k, "patches"))
        for p in _list(k, "patchesStrategicMerge"):
            patches.append({"patch": yamlio.dump_yaml(p)})
        for p in _list(k, "patchesJson6902"):
            if isinstance(p, dict):
                target = {str(a): b for a, b in field_map(p, "target").items() if b not in (None, "")}
                patches.append({"patch": yamlio.dump_json(p.get("patch") or []), "target": target})
        images.extend(json.dumps(_image(i), sort_keys=True) for i in _list(k, "images"))
    return KustomizeOptions(patches=tuple(patches), images=tuple(images))


def _drift_ignore(spec: Mapping[str, Any]) -> tuple[IgnoreRule, ...]:
    """``driftDetection.ignore``: fields helm-controller leaves as they are in the cluster (JSON pointers).

    Rules that select objects by label or annotation are left out: an ignore rule here cannot select that way,
    and ignoring more than helm-controller does would hide drift.
    """
    rules = []
    for entry in _list(field_map(spec, "driftDetection"), "ignore"):
        if not isinstance(entry, dict):
            continue
        target = field_map(entry, "target")
        if target.get("labelSelector") or target.get("annotationSelector"):
            continue
        rules.append(
            IgnoreRule(
                group=field_str(target, "group"),
                kind=field_str(target, "kind"),
                name=field_str(target, "name"),
                namespace=field_str(target, "namespace"),
                json_pointers=tuple(str(p) for p in _list(entry, "paths")),
            )
        )
    return tuple(rules)


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in value.items()} if isinstance(value, dict) else {}
