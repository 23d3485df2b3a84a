"""What discovery finds: an ``App`` (its sources, destination, ignore rules, tracking and sync policy) as the
project file, an Argo CD Application or a Flux object declares it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from gitops_check.model.objects import ResourceKey
from gitops_check.model.source import Source


@dataclass(frozen=True)
class Destination:
    namespace: str | None = None
    server: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class IgnoreRule:
    """Argo CD ``ignoreDifferences`` entry; empty selectors match everything."""

    group: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()

    def matches(self, key: ResourceKey) -> bool:
        return (
            (self.group is None or self.group == key.group or (self.group == "core" and key.group == ""))
            and (self.kind is None or self.kind == key.kind)
            and (self.name is None or self.name == key.name)
            and (self.namespace is None or self.namespace == key.namespace)
        )


class TrackingMethod(enum.StrEnum):
    ANNOTATION = "annotation"
    LABEL = "label"
    ANNOTATION_LABEL = "annotation+label"


@dataclass(frozen=True)
class Tracking:
    """How live objects that belong to an app are recognised, so objects removed from Git show as 'would be pruned'."""

    method: TrackingMethod = TrackingMethod.ANNOTATION
    label_key: str = "app.kubernetes.io/instance"
    # Name written in tracking annotations/labels; defaults to the app name.
    app_instance: str | None = None
    # Flux ownership labels (kustomize.toolkit.fluxcd.io/name, /namespace), when the app is a Flux Kustomization.
    flux_owner: tuple[str, str] | None = None
    # Helm release ownership (meta.helm.sh/release-name, /release-namespace).
    helm_release: tuple[str, str] | None = None
    # Extra label selector from the project file (``key=value,key2=value2``).
    selector: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncPolicy:
    """The agent's automatic sync settings (Argo CD ``spec.syncPolicy.automated``), for hygiene checks."""

    automated: bool = False
    prune: bool = False
    self_heal: bool = False


@dataclass(frozen=True)
class App:
    """Something rendered as one unit: a project-file entry, an Argo CD Application or a Flux object."""

    name: str
    sources: tuple[Source, ...]
    destination: Destination = field(default_factory=Destination)
    ignore: tuple[IgnoreRule, ...] = ()
    tracking: Tracking = field(default_factory=Tracking)
    origin: str = ""  # human-readable: where the app was declared or how it was found
    kind: str = "project"  # project | auto | argocd | flux-kustomization | flux-helmrelease
    # Free-form flags for hygiene checks and sync (e.g. {"production": True}).
    labels: Mapping[str, str] = field(default_factory=dict)
    # Field managers whose ownership of a field means "the agent applied it" (for removed-field detection).
    appliers: tuple[str, ...] = ()
    # Managers whose fields the agent takes over before it applies, so it removes what they set that Git does not
    # have: (name prefix, operation) pairs, main resource only. kustomize-controller transfers kubectl's,
    # before-first-apply's and its own pre-SSA fields to itself (fluxcd/pkg/ssa cleanupMetadata).
    taken_over: tuple[tuple[str, str], ...] = ()
    # How the agent syncs it on its own; None when not known or not applicable (project-file apps).
    sync_policy: SyncPolicy | None = None
    # The agent's own object (the Argo CD Application, the Flux Kustomization / HelmRelease; not the destination):
    # its namespace and name, where sync asks the agent. None for project-file apps.
    agent_namespace: str | None = None
    agent_name: str | None = None

    @property
    def agent_kind(self) -> str | None:
        """``Application``, ``Kustomization`` or ``HelmRelease`` when the app is an agent's object, else None."""
        return AGENT_KINDS.get(self.kind) if self.agent_name else None


# App.kind -> the kind of the agent's object
AGENT_KINDS = {
    "argocd": "Application",
    "flux-kustomization": "Kustomization",
    "flux-helmrelease": "HelmRelease",
}
