"""Sync an Argo CD Application through the Kubernetes API alone: set its ``.operation`` and watch its status.

No Argo CD credentials are needed, only RBAC to get and patch Applications. The operation is the one Argo CD's
API server would build (``argocd_status.operation``: the app's sync options and retry policy filled in), and
it is written the way the API server writes it: read, refuse when another operation is in progress, then a
merge patch carrying the ``resourceVersion`` that was read, so a concurrent writer makes it fail (409) instead
of being overwritten; after a conflict the object is read again and the checks repeat.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from gitops_check import backoff
from gitops_check.cluster.agents import AgentObjects
from gitops_check.cluster.client import ApiError
from gitops_check.errors import SyncError
from gitops_check.sync import argocd_status
from gitops_check.sync.base import Prepared, Progress, SyncSettings, SyncTarget
from gitops_check.sync.policy import RetryPolicy, retrying, transient

KIND = "Application"
RESOURCE = "applications.argoproj.io"
_MAX_CONFLICTS = 5


class ArgoKubeBackend:
    def __init__(
        self,
        objects: AgentObjects,
        *,
        namespace: str = "argocd",
        user: str = "ci",
        say: Callable[[str], None] = lambda _: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.objects = objects
        self.namespace = namespace
        self.user = user
        self.say = say
        self.sleep = sleep
        self.via = f"Kubernetes API {objects.server}"

    def _get(self, namespace: str, name: str, policy: RetryPolicy, deadline: float | None = None) -> Any:
        return retrying(
            lambda: self.objects.get(KIND, namespace, name), policy, deadline=deadline, sleep=self.sleep
        )

    def _patch_text(self, namespace: str, name: str, patch: dict[str, Any]) -> str:
        return f"PATCH {RESOURCE} {namespace}/{name} (merge patch) {json.dumps(patch, sort_keys=True)}"

    def prepare(self, target: SyncTarget, settings: SyncSettings) -> Prepared:
        namespace = target.namespace or self.namespace
        app = self._get(namespace, target.name, settings.retry or RetryPolicy())
        argocd_status.check_syncable(app, target, settings)
        op = argocd_status.operation(app, target, settings, self.user)
        patch = {"metadata": {"resourceVersion": _rv(app)}, "operation": op}
        prepared = Prepared(
            target=target,
            kind=KIND,
            namespace=namespace,
            requests=[self._patch_text(namespace, target.name, patch)],
            retry=argocd_status.retry_policy(app, target.name, settings),
        )
        note = argocd_status.retry_note(app, target.name, settings.timeout)
        if note and settings.wait:
            prepared.notes.append(note)
        before = (app.get("status") or {}).get("operationState")
        prepared.state = {"operation": op, "patch": patch, "before": before}
        return prepared

    def trigger(self, prepared: Prepared, settings: SyncSettings) -> None:
        conflicts = 0

        def verdict(error: Exception) -> backoff.Transient | None:
            nonlocal conflicts
            if isinstance(error, ApiError) and error.status == 409 and conflicts < _MAX_CONFLICTS:
                conflicts += 1
                return backoff.Transient(free=True)  # changed since it was read: read again, write again
            return transient(error)

        backoff.call(
            lambda: self.objects.merge_patch(KIND, prepared.namespace, prepared.target.name,
                                             prepared.state["patch"]),
            prepared.retry.schedule(),
            verdict,
            sleep=self.sleep,
            recheck=lambda _: self._landed(prepared, settings),
        )  # fmt: skip

    def _landed(self, prepared: Prepared, settings: SyncSettings) -> bool | None:
        """After a conflict or a lost answer: True when our operation is on the object (or already ran); else
        the checks again and a new patch on the ``resourceVersion`` just read."""
        name, namespace = prepared.target.name, prepared.namespace
        app = self._get(namespace, name, prepared.retry)
        if _ours(app, prepared.state["operation"], prepared.state["before"]):
            return True
        argocd_status.check_syncable(app, prepared.target, settings)
        patch = {"metadata": {"resourceVersion": _rv(app)}, "operation": prepared.state["operation"]}
        prepared.state["patch"] = patch
        prepared.state["before"] = (app.get("status") or {}).get("operationState")
        self.say(f"  {prepared.display} changed since it was read; sending again: "
                 f"{self._patch_text(namespace, name, patch)}")  # fmt: skip
        return None

    def poll(self, prepared: Prepared, settings: SyncSettings) -> Progress:
        app = self._get(prepared.namespace, prepared.target.name, prepared.retry, prepared.deadline)
        result = argocd_status.progress(
            app,
            before=prepared.state["before"],
            dry_run=settings.dry_run,
            resources=prepared.target.resources,
            prune=settings.prune,
        )
        if result.stale_health:
            prepared.state["stale_polls"] = prepared.state.get("stale_polls", 0) + 1
            if prepared.state["stale_polls"] == 3:
                self._request_refresh(prepared)
        return result

    def _request_refresh(self, prepared: Prepared) -> None:
        """Ask the controller to reassess the app (the annotation ``argocd app get --refresh`` sets), once."""
        patch = {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}}
        self.say(f"  {prepared.display}: health not reassessed since the sync; asking for a refresh: "
                 f"{self._patch_text(prepared.namespace, prepared.target.name, patch)}")  # fmt: skip
        try:
            self.objects.merge_patch(KIND, prepared.namespace, prepared.target.name, patch)
        except ApiError as e:
            self.say(f"  {prepared.display}: refresh not requested: {e}")


def _rv(app: Any) -> str:
    rv = (app.get("metadata") or {}).get("resourceVersion")
    if not rv:
        raise SyncError("the Application read from the API has no metadata.resourceVersion")
    return str(rv)


def _same(a: Any, operation: dict[str, Any]) -> bool:
    return (
        isinstance(a, dict)
        and a.get("sync") == operation["sync"]
        and a.get("initiatedBy") == operation["initiatedBy"]
    )


def _ours(app: Any, operation: dict[str, Any], before: Any) -> bool:
    """Whether the operation we sent is on the object, or already ran (a new state recording the same sync)."""
    if app.get("operation") is not None:
        return _same(app.get("operation"), operation)
    state = (app.get("status") or {}).get("operationState")
    return state != before and _same((state or {}).get("operation"), operation)
