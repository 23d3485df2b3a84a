"""The shapes every sync path shares: what to sync, with which settings, and how an agent's answer reads.

A path (Argo CD REST, Argo CD through the Kubernetes API, Flux) is a :class:`Backend` with three steps:
``prepare`` reads the object and builds the exact request (so it can be printed before anything is sent),
``trigger`` sends it, ``poll`` reads the object again and says whether the agent is done and how it went.
``sync.run`` drives them for many apps at once and owns the timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from gitops_check.model.objects import ResourceKey
from gitops_check.model.sync import SyncState
from gitops_check.sync.policy import RetryPolicy


@dataclass(frozen=True)
class SyncTarget:
    """One app to sync: ``name`` in ``namespace`` (None: the path's default), optionally only ``resources``."""

    app: str
    name: str
    namespace: str | None = None
    resources: tuple[ResourceKey, ...] = ()
    kind: str | None = None  # Flux: Kustomization or HelmRelease; None: the path's default


@dataclass(frozen=True)
class AgentObject:
    """The agent's object of an app discovery found (App.agent_*): where a sync of that app is asked."""

    kind: str  # Application, Kustomization, HelmRelease
    namespace: str | None  # None: the path's default (-n, else argocd / flux-system)
    name: str


@dataclass(frozen=True)
class SyncSettings:
    revision: str | None = None
    prune: bool = False
    dry_run: bool = False
    sync_options: tuple[str, ...] = ()
    strategy: str = "hook"  # Argo CD: hook | apply
    wait: bool = True
    timeout: float = 300.0
    poll_interval: float = 2.0
    # None: an Application's own retry policy, else the defaults. Set: the --retry-* options win.
    retry: RetryPolicy | None = None
    with_source: bool = False  # Flux: reconcile the source first


@dataclass(frozen=True)
class Progress:
    """What one look at the agent's object says. ``state`` is None while the agent is still working."""

    state: SyncState | None
    message: str = ""
    sync_status: str | None = None
    health: str | None = None
    # Argo CD: the operation finished but health was not reassessed after it yet (a refresh may help).
    stale_health: bool = False

    @property
    def done(self) -> bool:
        return self.state is not None


@dataclass
class Prepared:
    """A request ready to send, and what a path needs to recognise the answer to it."""

    target: SyncTarget
    kind: str  # Application, Kustomization, HelmRelease
    namespace: str
    requests: list[str]  # exactly what will be sent, one line per request, in order
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    notes: list[str] = field(default_factory=list)  # printed with the plan (e.g. the app's retry policy)
    state: dict[str, Any] = field(default_factory=dict)  # the path's own bookkeeping
    pending_steps: int = 0  # requests still to send after the first (Flux --with-source)
    deadline: float | None = None  # time.monotonic() value the wait ends at; retries never go past it

    @property
    def display(self) -> str:
        return f"{self.kind} {self.namespace}/{self.target.name}"


class Backend(Protocol):
    via: str  # "Argo CD API https://...", "Kubernetes API https://..."

    def prepare(self, target: SyncTarget, settings: SyncSettings) -> Prepared:
        """Read the object, check it can be synced, build the request; raises SyncError/ClusterError."""

    def trigger(self, prepared: Prepared, settings: SyncSettings) -> None:
        """Send the (first) request."""

    def poll(self, prepared: Prepared, settings: SyncSettings) -> Progress:
        """Read the object; send the next request of a multi-step sync when its turn has come."""
