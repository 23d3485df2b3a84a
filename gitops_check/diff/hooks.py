"""Resource hooks and the annotations that keep an object out of comparison or pruning, as each agent reads them.

Hooks are objects the agent runs at sync time and then (usually) deletes; they are never compared with the
cluster and never pruned, and ``generateName`` is legal on them. Who counts as a hook depends on the agent:

- Argo CD (gitops-engine ``hook.IsHook``): ``argocd.argoproj.io/hook`` present, unless its only type is ``Skip``;
  otherwise ``helm.sh/hook`` present with any value but ``crd-install``. ``Skip`` objects are never applied.
  Helm's ``pre-install``/``pre-upgrade`` run as PreSync, ``post-install``/``post-upgrade`` as PostSync; a hook
  with no Argo CD phase (``test``, ``pre-delete``...) is not run at all (``ignore.Ignore``), still not compared.
- Flux helm-controller: Helm itself splits ``helm.sh/hook`` objects out of the release's manifest (unknown hook
  types are dropped), so they are not the release's objects. kustomize-controller has no hooks: it applies
  every object, whatever its annotations.
- Project-file apps render for whichever agent deploys them: both Argo CD's and Helm's hooks count.

Live objects carrying these annotations are never "would be pruned" either (Argo CD's state comparison skips
hooks on both sides). The per-object sync options kept here: Argo CD ``Prune=false``, Flux
``kustomize.toolkit.fluxcd.io/reconcile: disabled`` (neither applied nor pruned).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gitops_check.identity import flatten_lists
from gitops_check.model.app import App
from gitops_check.model.rendered import RawObject
from gitops_check.model.result import Hook

ARGO_HOOK = "argocd.argoproj.io/hook"
HELM_HOOK = "helm.sh/hook"
ARGO_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
FLUX_RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"
_HELM_PHASES = {
    "pre-install": "PreSync",
    "pre-upgrade": "PreSync",
    "post-install": "PostSync",
    "post-upgrade": "PostSync",
}
FLUX_KINDS = ("flux-kustomization", "flux-helmrelease")


def _annotations(body: Any) -> Mapping[str, Any]:
    metadata = body.get("metadata") if isinstance(body, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def _flux_disabled(body: Any) -> bool:
    """``kustomize.toolkit.fluxcd.io/reconcile: disabled``, as an annotation or a label (Flux reads both)."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    values = (
        _annotations(body).get(FLUX_RECONCILE),
        (labels or {}).get(FLUX_RECONCILE) if isinstance(labels, dict) else None,
    )
    return any(str(v).lower() == "disabled" for v in values if v is not None)


FLUX_SSA = "kustomize.toolkit.fluxcd.io/ssa"


def flux_ssa_merge(body: Any, live: Any) -> bool:
    """``kustomize.toolkit.fluxcd.io/ssa: Merge`` on the object in Git or in the cluster (annotation or label):
    kustomize-controller then leaves the object's other field managers alone."""
    for obj in (body, live):
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(metadata, dict):
            continue
        for field in ("annotations", "labels"):
            values = metadata.get(field)
            if isinstance(values, dict) and str(values.get(FLUX_SSA, "")).lower() == "merge":
                return True
    return False


def _types(value: Any) -> list[str]:
    return [t.strip() for t in str(value).split(",") if t.strip()]


def hook_phases(app: App, body: Any) -> tuple[str, ...] | None:
    """The phases ``body`` runs in when it is a hook for ``app``'s agent; None when it is an ordinary object."""
    annotations = _annotations(body)
    if app.kind == "flux-kustomization":
        return None
    if app.kind == "flux-helmrelease":
        if HELM_HOOK not in annotations:
            return None
        return tuple(_types(annotations[HELM_HOOK]))
    if ARGO_HOOK in annotations:
        return tuple(_types(annotations[ARGO_HOOK]))  # ("Skip",) included: never applied
    helm = annotations.get(HELM_HOOK)
    if helm is None or str(helm).strip() == "crd-install":
        return None
    return tuple(dict.fromkeys(p for t in _types(helm) if (p := _HELM_PHASES.get(t.lower()))))


def split_hooks(app: App, objects: Iterable[RawObject]) -> tuple[list[RawObject], list[Hook]]:
    """``objects`` (Lists flattened) without the hooks, and the hooks."""
    kept: list[RawObject] = []
    hooks: list[Hook] = []
    for obj in flatten_lists(objects):
        phases = hook_phases(app, obj.body)
        if phases is None:
            kept.append(obj)
            continue
        metadata = obj.body.get("metadata") if isinstance(obj.body.get("metadata"), dict) else {}
        name = metadata.get("name") or (
            f"{metadata['generateName']}*" if metadata.get("generateName") else "?"
        )
        namespace = metadata.get("namespace") or app.destination.namespace
        hooks.append(Hook(str(obj.body.get("kind") or "?"), namespace, str(name), phases, obj.origin))
    return kept, hooks


def live_hook(body: Mapping[str, Any]) -> bool:
    """A live object any agent treats as a hook: never "would be pruned" (it was created by a hook run)."""
    annotations = _annotations(body)
    return ARGO_HOOK in annotations or HELM_HOOK in annotations


def prune_disabled(body: Mapping[str, Any]) -> str | None:
    """Why a sync would leave this live object alone although Git no longer has it; None when it would prune."""
    annotations = _annotations(body)
    if "Prune=false" in _types(annotations.get(ARGO_SYNC_OPTIONS, "")):
        return f"{ARGO_SYNC_OPTIONS}: Prune=false"
    if _flux_disabled(body):
        return f"{FLUX_RECONCILE}: disabled"
    return None


def reconcile_disabled(app: App, *bodies: Any) -> bool:
    """Flux applies nothing to an object annotated ``reconcile: disabled`` (in Git or in the cluster)."""
    if app.kind not in FLUX_KINDS:
        return False
    return any(_flux_disabled(b) for b in bodies if b)


def summary(hooks: list[Hook]) -> str:
    """``3 hooks run at sync, not compared: Job/ns/migrate-* (PreSync), ...``; objects marked ``Skip`` and hooks
    without a phase the agent runs (a Helm ``test`` under Argo CD) are counted apart, as never applied."""
    run = [h for h in hooks if not h.skipped]
    skipped = [h for h in hooks if h.skipped]
    parts = []
    if run:
        noun = "hook runs" if len(run) == 1 else "hooks run"
        parts.append(f"{len(run)} {noun} at sync, not compared: {', '.join(str(h) for h in run)}")
    if skipped:
        noun = "object" if len(skipped) == 1 else "objects"
        parts.append(f"{len(skipped)} {noun} never applied: {', '.join(str(h) for h in skipped)}")
    return "; ".join(parts)
