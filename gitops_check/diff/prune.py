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
    """Live objects grouped by every owner identity they carry; built once per run.

    Filled with every live object (200,000 in a fleet's snapshot) but asked about only the apps of this run (a
    shard's quarter of them) and a label key or two: a tracking id is parsed, and objects are grouped by their
    labels, when first asked for, so that a pass over every object costs one dictionary append each."""

    def __init__(self, live: LiveState, *, indexed: bool = True):
        """``indexed`` False: empty, filled by ``add`` (so a caller walking the objects anyway decodes each once)."""
        # Tracking ids by the app they name (the text before the first ":"), parsed when that app is asked for.
        self._tracking: dict[str, list[tuple[str, ResourceKey]]] = defaultdict(list)
        self._tracked: dict[str, list[ResourceKey]] = {}
        self._labelled: list[tuple[ResourceKey, Mapping[str, Any]]] = []
        self._by_label: dict[tuple[str, str], list[ResourceKey]] | None = None
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
            self._tracking[tracking.partition(":")[0]].append((tracking, key))
        if labels:
            self._labelled.append((key, labels))
            if FLUX_NAME in labels and FLUX_NAMESPACE in labels:
                if str(annotations.get(FLUX_PRUNE, "")).lower() != "disabled":
                    self.by_flux[(str(labels[FLUX_NAME]), str(labels[FLUX_NAMESPACE]))].append(key)
        if HELM_RELEASE in annotations and HELM_NAMESPACE in annotations:
            self.by_helm[(str(annotations[HELM_RELEASE]), str(annotations[HELM_NAMESPACE]))].append(key)

    def tracked_by(self, app: str) -> list[ResourceKey]:
        """The objects whose tracking id names ``app`` and describes the object itself (an annotation copied onto
        another object does not make that object the app's)."""
        known = self._tracked.get(app)
        if known is None:
            known = []
            for value, key in self._tracking.get(app, ()):
                parsed = parse_tracking_id(value)
                if parsed and parsed[0] == app and _describes(parsed[1], key):
                    known.append(key)
            self._tracked[app] = known  # the same list whichever thread computes it first
        return known

    @property
    def by_tracking_id(self) -> dict[str, list[ResourceKey]]:
        """Every app's tracked objects (for tests; a run asks ``tracked_by`` for its apps only)."""
        return {app: keys for app in self._tracking if (keys := self.tracked_by(app))}

    @property
    def by_label(self) -> dict[tuple[str, str], list[ResourceKey]]:
        """Objects by each (label, value) they carry; grouped when first asked for (label tracking, selectors)."""
        grouped = self._by_label
        if grouped is None:
            grouped = defaultdict(list)
            for key, labels in self._labelled:
                if not isinstance(labels, Mapping):
                    continue  # not labels at all (a hand-written snapshot): carries no owner
                for label, value in labels.items():
                    grouped[(str(label), str(value))].append(key)
            self._by_label = grouped
        return grouped

    def owned_by(self, app: App) -> set[ResourceKey]:
        tracking = app.tracking
        instance = tracking.app_instance or app.name
        owned: set[ResourceKey] = set()
        if tracking.method in (TrackingMethod.ANNOTATION, TrackingMethod.ANNOTATION_LABEL):
            owned.update(self.tracked_by(instance))
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
