"""A sync asked of the in-cluster agent (Argo CD, Flux): how it ended (``SyncState``) and exactly what was sent
(``SyncOutcome``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gitops_check.model.objects import ResourceKey


class SyncState(enum.StrEnum):
    """How a sync asked of the in-cluster agent (Argo CD, Flux) ended, as far as gitops-check saw it."""

    SUCCEEDED = "succeeded"  # finished: Argo CD Succeeded + Synced + Healthy; Flux request handled + Ready
    REQUESTED = "requested"  # asked for, not waited for (--no-wait)
    PLANNED = "planned"  # printed only (--plan): nothing was sent
    FAILED = "failed"  # the agent says it failed: operation Failed/Error, Ready=False
    DEGRADED = "degraded"  # the sync ran but the app's health is Degraded
    TIMEOUT = "timeout"  # no verdict from the agent within --timeout
    ERROR = "error"  # could not ask or could not read the answer (API, credentials, not found, suspended)
    REFUSED = "refused"  # a guard rail stopped it before anything was sent

    @property
    def exit_code(self) -> int:
        """0 done (or nothing asked), 1 the agent reports failure, 2 could not ask or could not tell."""
        if self in (SyncState.FAILED, SyncState.DEGRADED):
            return 1
        if self in (SyncState.TIMEOUT, SyncState.ERROR, SyncState.REFUSED):
            return 2
        return 0


@dataclass(frozen=True)
class SyncOutcome:
    """One app's sync request and its result; ``request`` is exactly what was (or would have been) sent."""

    app: str
    target: str  # "Application argocd/payments", "Kustomization flux-system/apps"
    via: str  # "Argo CD API https://argocd.example.com", "Kubernetes API https://10.0.0.1:6443"
    state: SyncState
    message: str = ""
    revision: str | None = None
    resources: tuple[ResourceKey, ...] = ()  # only these were synced; empty: the whole app
    request: str = ""
    seconds: float = 0.0
    sync_status: str | None = None  # Argo CD: Synced / OutOfSync; Flux: the Ready condition's status
    health: str | None = None  # Argo CD: Healthy / Degraded / Progressing...
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return self.state.exit_code
