"""Argo CD's side of a sync, shared by the REST and the Kubernetes-API paths: the request, and reading the answer.

Both paths send the same operation and see the same Application object, so what "done" means lives here once,
as ``argocd app wait`` defines it: no ``.operation`` left, ``status.operationState`` finished with phase
Succeeded, the app Synced and Healthy — and health is only trusted once the controller has reconciled the app
after the operation finished (``status.reconciledAt >= operationState.finishedAt``), because right after a sync
it still shows the health from before. Failed / Error phases and a trusted Degraded health end the wait.
While the controller retries a failed sync (the Application's retry policy) the phase stays Running.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gitops_check.errors import SyncError
from gitops_check.model.objects import ResourceKey
from gitops_check.model.sync import SyncState
from gitops_check.sync.base import Progress, SyncSettings, SyncTarget
from gitops_check.sync.policy import RetryPolicy, format_duration

COMPLETED = ("Succeeded", "Failed", "Error")
_MAX_FAILED_RESOURCES = 3


def _get(obj: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def resource_refs(keys: Sequence[ResourceKey]) -> list[dict[str, str]]:
    """``SyncOperationResource`` entries: group, kind, name and (for namespaced kinds) namespace."""
    out = []
    for key in keys:
        ref = {"group": key.group, "kind": key.kind, "name": key.name}
        if key.namespace:
            ref["namespace"] = key.namespace
        out.append(ref)
    return out


def strategy(settings: SyncSettings) -> dict[str, Any]:
    if settings.strategy not in ("hook", "apply"):
        raise SyncError(f"unknown sync strategy {settings.strategy!r} (hook or apply)")
    return {settings.strategy: {}}


def check_syncable(app: Mapping[str, Any], target: SyncTarget, settings: SyncSettings) -> None:
    """What Argo CD's API server refuses, checked the same way before the Kubernetes path writes anything."""
    where = f"Application {_get(app, 'metadata', 'namespace')}/{target.name}"
    if _get(app, "metadata", "deletionTimestamp"):
        raise SyncError(f"{where} is being deleted; it cannot be synced")
    if app.get("operation") is not None:
        who = _get(app, "operation", "initiatedBy", "username") or "someone"
        raise SyncError(
            f"{where}: another operation (started by {who}) is in progress; "
            "wait for it to finish or terminate it (argocd app terminate-op), then sync again"
        )
    spec = app.get("spec") or {}
    if settings.revision and spec.get("sources"):
        raise SyncError(
            f"{where} has several sources: --revision cannot say which one it is for; "
            "sync without --revision (each source's targetRevision is used)"
        )
    automated = _get(spec, "syncPolicy", "automated")
    target_revision = _get(spec, "source", "targetRevision") or "HEAD"
    if automated is not None and settings.revision and settings.revision != target_revision:
        raise SyncError(
            f"{where}: cannot sync to {settings.revision}: auto-sync is on and follows {target_revision} "
            "(Argo CD refuses this too); sync without --revision or turn auto-sync off"
        )


def sync_options(app: Mapping[str, Any], settings: SyncSettings) -> list[str]:
    """The options given on the command line, else the Application's own (what the API server does)."""
    if settings.sync_options:
        return list(settings.sync_options)
    own = _get(app, "spec", "syncPolicy", "syncOptions")
    return [str(o) for o in own] if isinstance(own, list) else []


def operation(
    app: Mapping[str, Any], target: SyncTarget, settings: SyncSettings, user: str
) -> dict[str, Any]:
    """The ``.operation`` the Kubernetes path writes, as Argo CD's API server would build it."""
    sync: dict[str, Any] = {"prune": settings.prune, "syncStrategy": strategy(settings)}
    if settings.revision:
        sync["revision"] = settings.revision
    if settings.dry_run:
        sync["dryRun"] = True
    if target.resources:
        sync["resources"] = resource_refs(target.resources)
    options = sync_options(app, settings)
    if options:
        sync["syncOptions"] = options
    op: dict[str, Any] = {"initiatedBy": {"username": user}, "sync": sync}
    retry = _get(app, "spec", "syncPolicy", "retry")
    if isinstance(retry, Mapping):
        op["retry"] = dict(retry)
    return op


def rest_body(target: SyncTarget, settings: SyncSettings, app_namespace: str | None) -> dict[str, Any]:
    """``POST /api/v1/applications/{name}/sync`` body (ApplicationSyncRequest)."""
    body: dict[str, Any] = {
        "name": target.name,
        "prune": settings.prune,
        "dryRun": settings.dry_run,
        "strategy": strategy(settings),
    }
    if settings.revision:
        body["revision"] = settings.revision
    if target.resources:
        body["resources"] = resource_refs(target.resources)
    if settings.sync_options:
        body["syncOptions"] = {"items": list(settings.sync_options)}
    if app_namespace:
        body["appNamespace"] = app_namespace
    return body


def retry_policy(app: Mapping[str, Any], name: str, settings: SyncSettings) -> RetryPolicy:
    """--retry-* options when given, else the Application's ``spec.syncPolicy.retry``, else the defaults."""
    if settings.retry is not None:
        return settings.retry
    own = _get(app, "spec", "syncPolicy", "retry")
    if isinstance(own, Mapping):
        return RetryPolicy.from_argocd(own, name)
    return RetryPolicy()


def retry_note(app: Mapping[str, Any], name: str, timeout: float) -> str | None:
    """A warning when the controller's own retries of a failing sync can outlast --timeout."""
    own = _get(app, "spec", "syncPolicy", "retry")
    if not isinstance(own, Mapping):
        return None
    policy = RetryPolicy.from_argocd(own, name)
    if policy.limit < 0:
        return f"Application {name} retries a failed sync without limit; the wait ends at --timeout"
    total = sum(policy.delay(n) for n in range(1, policy.limit + 1))
    if total >= timeout:
        return (
            f"Application {name} retries a failed sync {policy.limit} times ({policy.describe()}), "
            f"up to {format_duration(total)} of backoff: more than --timeout {format_duration(timeout)}"
        )
    return None


# ---------------------------------------------------------------------------------------------------------------
# Reading the answer


def _summary(app: Mapping[str, Any]) -> tuple[str | None, str | None, str]:
    status = app.get("status") or {}
    return (
        _get(status, "sync", "status"),
        _get(status, "health", "status"),
        str(_get(status, "health", "message") or ""),
    )


def _failed_resources(state: Mapping[str, Any]) -> str:
    lines = []
    for r in _get(state, "syncResult", "resources") or []:
        if not isinstance(r, Mapping) or r.get("status") not in ("SyncFailed",):
            continue
        where = "/".join(str(p) for p in (r.get("kind"), r.get("namespace"), r.get("name")) if p)
        lines.append(f"{where}: {r.get('message') or r.get('status')}")
    if not lines:
        return ""
    more = len(lines) - _MAX_FAILED_RESOURCES
    text = "; ".join(lines[:_MAX_FAILED_RESOURCES])
    return f" ({text}{f'; and {more} more' if more > 0 else ''})"


def reconciled_after(app: Mapping[str, Any]) -> bool:
    """Whether health was assessed after the last operation finished (equal timestamps count)."""
    finished = _time(_get(app, "status", "operationState", "finishedAt"))
    reconciled = _time(_get(app, "status", "reconciledAt"))
    return finished is None or (reconciled is not None and reconciled >= finished)


def _resources_progress(app: Mapping[str, Any], keys: Sequence[ResourceKey]) -> Progress | None:
    """With a subset synced, judge those resources, as ``argocd app wait --resource`` does; None: not yet."""
    entries = {}
    for r in _get(app, "status", "resources") or []:
        if isinstance(r, Mapping):
            entries[(r.get("group") or "", r.get("kind"), r.get("namespace") or None, r.get("name"))] = r
    waiting = []
    for key in keys:
        entry = entries.get((key.group, key.kind, key.namespace, key.name))
        if entry is None:
            continue  # pruned, or not tracked: nothing left to judge
        health = _get(entry, "health", "status")
        if health == "Degraded":
            message = _get(entry, "health", "message") or "health is Degraded"
            return Progress(SyncState.DEGRADED, f"{key}: {message}", entry.get("status"), health)
        if entry.get("status") != "Synced" or health not in (None, "Healthy"):
            waiting.append(f"{key} {entry.get('status') or 'Unknown'}/{health or 'no health'}")
    if waiting:
        return None
    sync_status, health, _ = _summary(app)
    return Progress(SyncState.SUCCEEDED, "synced resources are Synced and Healthy", sync_status, health)


def _entry_name(r: Mapping[str, Any]) -> str:
    return "/".join(str(p) for p in (r.get("kind"), r.get("namespace"), r.get("name")) if p)


def prune_left(app: Mapping[str, Any]) -> list[str] | None:
    """The resources that keep the app OutOfSync when every one of them only waits to be pruned, else None.

    A sync without prune leaves them (Argo CD marks them ``PruneSkipped``) and ends Succeeded with the app still
    OutOfSync: waiting for Synced would only run into the timeout.
    """
    out_of_sync = [
        r
        for r in _get(app, "status", "resources") or []
        if isinstance(r, Mapping) and r.get("status") == "OutOfSync"
    ]
    if not out_of_sync or not all(r.get("requiresPruning") for r in out_of_sync):
        return None
    return sorted(_entry_name(r) for r in out_of_sync)


def _prune_skipped(state: Mapping[str, Any]) -> set[str]:
    """The resources the finished operation left unpruned (``PruneSkipped``: no prune, or Prune=false)."""
    found = _get(state, "syncResult", "resources") or []
    return {_entry_name(r) for r in found if isinstance(r, Mapping) and r.get("status") == "PruneSkipped"}


def progress(
    app: Mapping[str, Any],
    *,
    before: Any,
    dry_run: bool,
    resources: Sequence[ResourceKey] = (),
    prune: bool = False,
) -> Progress:
    """Where the operation gitops-check set stands. ``before``: ``status.operationState`` before the request."""
    sync_status, health, health_message = _summary(app)
    state = _get(app, "status", "operationState") or {}
    phase = state.get("phase") or ""
    message = str(state.get("message") or "")

    def waiting(text: str) -> Progress:
        return Progress(None, text, sync_status, health)

    if app.get("operation") is not None:
        if not state or state == before:
            return waiting("waiting for the application controller to pick up the operation")
        return waiting(f"operation {phase or 'Running'}" + (f": {message}" if message else ""))
    if not state or state == before:
        return Progress(
            SyncState.ERROR,
            "the operation was removed before the application controller ran it (terminated or replaced)",
            sync_status,
            health,
        )
    if phase not in COMPLETED or not state.get("finishedAt"):
        return waiting(f"operation {phase or 'Running'}" + (f": {message}" if message else ""))
    if phase in ("Failed", "Error"):
        text = f"sync {phase.lower()}: {message or 'no message'}{_failed_resources(state)}"
        return Progress(SyncState.FAILED, text, sync_status, health)
    if dry_run:
        return Progress(SyncState.SUCCEEDED, "dry run succeeded" + (f": {message}" if message else ""))
    if not reconciled_after(app):
        return Progress(
            None,
            "operation succeeded; waiting for the controller to assess health after it",
            sync_status,
            health,
            stale_health=True,
        )
    if resources:
        judged = _resources_progress(app, resources)
        if judged is not None:
            return judged
        return waiting("operation succeeded; waiting for the synced resources to be Synced and Healthy")
    if health == "Degraded":
        return Progress(
            SyncState.DEGRADED, f"health Degraded: {health_message or 'no message'}", sync_status, health
        )
    if sync_status == "Synced" and health == "Healthy":
        return Progress(SyncState.SUCCEEDED, message or "synced and healthy", sync_status, health)
    skipped = prune_left(app) if sync_status == "OutOfSync" else None
    if skipped is not None and prune and not set(skipped) <= _prune_skipped(state):
        skipped = None  # asked to prune: only what the operation itself skipped (Prune=false) ends the wait
    if skipped is not None and health == "Healthy":
        shown = ", ".join(skipped[:_MAX_FAILED_RESOURCES])
        more = len(skipped) - _MAX_FAILED_RESOURCES
        text = (
            f"{message or 'synced'}; not pruned "
            + ("(Prune=false on them)" if prune else "(the sync was asked without --prune)")
            + f": {shown}"
            + (f" and {more} more" if more > 0 else "")
            + "; the app stays OutOfSync until they are pruned"
        )
        return Progress(SyncState.SUCCEEDED, text, sync_status, health)
    return waiting(
        f"operation succeeded; waiting for Synced and Healthy (now {sync_status or 'Unknown'}, "
        f"{health or 'Unknown'}" + (f": {health_message}" if health_message else "") + ")"
    )
