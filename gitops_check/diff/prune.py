"""Which live objects belong to an app, so those no longer in Git can be reported as "would be pruned".

Mirrors how the agents track what they applied: Argo CD's tracking annotation (``<app>:<group>/<kind>:<ns>/<name>``,
ignored when it describes another object, as happens when objects are copied) or instance label, Flux's
ownership labels, Helm's release annotations, or a label selector from the project file.

The rule for what can be pruned is the owner, not the kind: an object with ownerReferences was made by a
controller (a ReplicaSet of a Deployment, its Pods) and is never pruned, while a tracked ReplicaSet or Pod
without one was declared in Git and is pruned like anything else, as Argo CD does (its cache counts only
objects without owner references as an app's top-level resources). Kinds only the cluster itself creates
(events, endpoints, leases, controller revisions) are never candidates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from gitops_check.model.app import App, TrackingMethod
from gitops_check.model.live import LiveState
from gitops_check.model.objects import ResourceKey

TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
FLUX_NAME = "kustomize.toolkit.fluxcd.io/name"
FLUX_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
HELM_RELEASE = "meta.helm.sh/release-name"
HELM_NAMESPACE = "meta.helm.sh/release-namespace"
ARGO_COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"
# Kinds only the cluster itself creates: never prune candidates, whatever labels they copied.
NEVER_PRUNED = frozenset(
    {("", "Endpoints"), ("discovery.k8s.io", "EndpointSlice"), ("", "Event"), ("events.k8s.io", "Event"),
     ("coordination.k8s.io", "Lease"), ("apps", "ControllerRevision")}
)  # fmt: skip


def parse_tracking_id(value: str) -> tuple[str, ResourceKey] | None:
    """``app:group/Kind:ns/name`` -> (app, key); None when malformed."""
    try:
        app, gk, nsname = value.split(":", 2)
        group, kind = gk.split("/", 1)
        namespace, name = nsname.split("/", 1)
    except ValueError:
        return None
    return app, ResourceKey(group, kind, namespace or None, name)


def _describes(tracked: ResourceKey, key: ResourceKey) -> bool:
    """Whether a tracking id names this object. Argo CD writes the app's destination namespace into the id of a
    cluster-scoped object (``app:rbac.authorization.k8s.io/ClusterRole:shop/reader``), so for those the
    namespace is not compared (Argo CD's isSelfReferencedObj)."""
    if key.namespace is None:
        return (tracked.group, tracked.kind, tracked.name) == (key.group, key.kind, key.name)
    return tracked == key


class TrackingIndex:
    """Live objects grouped by every owner identity they carry; built once per run."""

    def __init__(self, live: LiveState, *, indexed: bool = True):
        """``indexed`` False: empty, filled by ``add`` (so a caller walking the objects anyway decodes each once)."""
        self.by_tracking_id: dict[str, list[ResourceKey]] = defaultdict(list)
        self.by_label: dict[tuple[str, str], list[ResourceKey]] = defaultdict(list)
        self.by_flux: dict[tuple[str, str], list[ResourceKey]] = defaultdict(list)
        self.by_helm: dict[tuple[str, str], list[ResourceKey]] = defaultdict(list)
        self.candidates: list[ResourceKey] = []
        # Argo CD's compare-options IgnoreExtraneous: left out of the app's sync status (Argo CD still lists
        # the object as requiring pruning, and a sync with pruning deletes it).
        self.extraneous: set[ResourceKey] = set()
        self.objects = live.objects
        if indexed:
            for key, body in live.objects.items():
                self.add(key, body)

    def add(self, key: ResourceKey, body: Mapping[str, Any]) -> None:
        """Index one live object (one of ``objects``) by the owner identities it carries."""
        metadata = body.get("metadata") or {}
        if (key.group, key.kind) in NEVER_PRUNED or metadata.get("ownerReferences"):
            return
        annotations: Mapping[str, Any] = metadata.get("annotations") or {}
        labels: Mapping[str, Any] = metadata.get("labels") or {}
        if "IgnoreExtraneous" in str(annotations.get(ARGO_COMPARE_OPTIONS, "")):
            self.extraneous.add(key)  # still owned (reported with a note), never drift
        self.candidates.append(key)
        tracking = annotations.get(TRACKING_ANNOTATION)
        if isinstance(tracking, str):
            parsed = parse_tracking_id(tracking)
            # An annotation copied onto another object does not make that object the app's.
            if parsed and _describes(parsed[1], key):
                self.by_tracking_id[parsed[0]].append(key)
        for label, value in labels.items():
            self.by_label[(str(label), str(value))].append(key)
        if FLUX_NAME in labels and FLUX_NAMESPACE in labels:
            if str(annotations.get(FLUX_PRUNE, "")).lower() != "disabled":
                self.by_flux[(str(labels[FLUX_NAME]), str(labels[FLUX_NAMESPACE]))].append(key)
        if HELM_RELEASE in annotations and HELM_NAMESPACE in annotations:
            self.by_helm[(str(annotations[HELM_RELEASE]), str(annotations[HELM_NAMESPACE]))].append(key)

    def owned_by(self, app: App) -> set[ResourceKey]:
        tracking = app.tracking
        instance = tracking.app_instance or app.name
        owned: set[ResourceKey] = set()
        if tracking.method in (TrackingMethod.ANNOTATION, TrackingMethod.ANNOTATION_LABEL):
            owned.update(self.by_tracking_id.get(instance, ()))
        if tracking.method is TrackingMethod.LABEL:
            owned.update(self.by_label.get((tracking.label_key, instance), ()))
        if tracking.flux_owner:
            owned.update(self.by_flux.get(tracking.flux_owner, ()))
        if tracking.helm_release:
            owned.update(self.by_helm.get(tracking.helm_release, ()))
        if tracking.selector:
            items = list(tracking.selector.items())
            first = self.by_label.get((items[0][0], items[0][1]), ())
            for key in first:
                labels = (self.objects[key].get("metadata") or {}).get("labels") or {}
                if all(str(labels.get(k)) == v for k, v in items):
                    owned.add(key)
        return owned
