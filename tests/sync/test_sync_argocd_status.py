"""What Argo CD's answer means (pure): the operation built for the Kubernetes path, the checks before it, and
when a sync counts as done, failed, degraded or still running."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_check.errors import SyncError
from gitops_check.model.objects import ResourceKey
from gitops_check.model.sync import SyncState
from gitops_check.sync import argocd_status as st
from gitops_check.sync.base import SyncSettings, SyncTarget

OP = {"sync": {"revision": "abc"}, "initiatedBy": {"username": "ci"}}
BEFORE = {"phase": "Succeeded", "startedAt": "2026-11-20T10:00:00Z", "finishedAt": "2026-11-20T10:00:05Z"}


def app(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": "shop", "namespace": "argocd", "resourceVersion": "7"},
        "spec": {"source": {"repoURL": "x", "path": "shop", "targetRevision": "main"}},
        "status": {
            "sync": {"status": "OutOfSync"},
            "health": {"status": "Healthy"},
            "operationState": BEFORE,
        },
    }
    for key, value in kw.items():
        if key == "operation":
            body["operation"] = value
        elif key == "spec":
            body["spec"].update(value)
        else:
            body["status"][key] = value
    return body


def done(phase: str = "Succeeded", message: str = "ok", **extra: Any) -> dict[str, Any]:
    return {"phase": phase, "message": message, "startedAt": "2026-11-20T11:00:00Z",
            "finishedAt": "2026-11-20T11:00:09Z", **extra}  # fmt: skip


def test_operation_is_what_the_api_server_builds() -> None:
    target = SyncTarget("shop", "shop", resources=(ResourceKey("apps", "Deployment", "shop", "web"),
                                                    ResourceKey("", "Namespace", None, "shop")))  # fmt: skip
    settings = SyncSettings(revision="abc123", prune=True, strategy="apply")
    policy = {"retry": {"limit": 2, "backoff": {"duration": "10s"}}, "syncOptions": ["CreateNamespace=true"]}
    op = st.operation(app(spec={"syncPolicy": policy}), target, settings, "ci")
    assert op == {
        "initiatedBy": {"username": "ci"},
        "sync": {
            "revision": "abc123",
            "prune": True,
            "syncStrategy": {"apply": {}},
            "resources": [
                {"group": "apps", "kind": "Deployment", "name": "web", "namespace": "shop"},
                {"group": "", "kind": "Namespace", "name": "shop"},
            ],
            "syncOptions": ["CreateNamespace=true"],
        },
        "retry": {"limit": 2, "backoff": {"duration": "10s"}},
    }
    given = st.operation(
        app(spec={"syncPolicy": policy}), target, SyncSettings(sync_options=("Validate=false",)), "ci"
    )
    assert given["sync"]["syncOptions"] == ["Validate=false"]
    assert "revision" not in given["sync"] and given["sync"]["prune"] is False


def test_rest_body() -> None:
    body = st.rest_body(
        SyncTarget("shop", "shop"), SyncSettings(dry_run=True, sync_options=("A=b",)), "team-a"
    )
    assert body == {"name": "shop", "prune": False, "dryRun": True, "strategy": {"hook": {}},
                    "syncOptions": {"items": ["A=b"]}, "appNamespace": "team-a"}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "settings", "message"),
    [
        ({"operation": OP}, SyncSettings(), "another operation \\(started by ci\\) is in progress"),
        ({"spec": {"sources": [{}, {}]}}, SyncSettings(revision="abc"), "several sources"),
        (
            {"spec": {"syncPolicy": {"automated": {}}}},
            SyncSettings(revision="abc"),
            "auto-sync is on and follows main",
        ),
    ],
)
def test_refused_like_the_api_server(changes: dict[str, Any], settings: SyncSettings, message: str) -> None:
    with pytest.raises(SyncError, match=message):
        st.check_syncable(app(**changes), SyncTarget("shop", "shop"), settings)
    st.check_syncable(app(spec={"syncPolicy": {"automated": {}}}), SyncTarget("shop", "shop"),
                      SyncSettings(revision="main"))  # fmt: skip


def progress(body: dict[str, Any], **kw: Any) -> Any:
    return st.progress(
        body, before=BEFORE, dry_run=kw.get("dry_run", False), resources=kw.get("resources", ())
    )


def test_waits_until_the_controller_picks_the_operation_up() -> None:
    result = progress(app(operation=OP))
    assert not result.done and "pick up" in result.message
    result = progress(
        app(operation=OP, operationState={"phase": "Running", "message": "wave 1", "startedAt": "x"})
    )
    assert not result.done and result.message == "operation Running: wave 1"


def test_succeeded_synced_healthy_is_done() -> None:
    body = app(operationState=done(), sync={"status": "Synced"}, reconciledAt="2026-11-20T11:00:09Z")
    result = progress(body)
    assert result.state is SyncState.SUCCEEDED
    assert (result.sync_status, result.health) == ("Synced", "Healthy")


def test_health_is_not_trusted_before_the_controller_reconciled_after_the_sync() -> None:
    body = app(operationState=done(), sync={"status": "Synced"}, health={"status": "Degraded"},
               reconciledAt="2026-11-20T10:59:00Z")  # fmt: skip
    result = progress(body)
    assert not result.done and result.stale_health


def test_failed_and_error_phases_end_with_the_agents_message() -> None:
    state = done("Failed", "one or more objects failed to apply",
                 syncResult={"resources": [{"kind": "Deployment", "namespace": "shop", "name": "web",
                                            "status": "SyncFailed", "message": "quota exceeded"}]})  # fmt: skip
    result = progress(app(operationState=state))
    assert result.state is SyncState.FAILED
    assert (
        result.message
        == "sync failed: one or more objects failed to apply (Deployment/shop/web: quota exceeded)"
    )
    assert progress(app(operationState=done("Error", "boom"))).state is SyncState.FAILED


def test_degraded_after_reconcile_is_a_verdict_but_progressing_is_not() -> None:
    base = {"operationState": done(), "sync": {"status": "Synced"}, "reconciledAt": "2026-11-20T11:00:10Z"}
    result = progress(app(**base, health={"status": "Degraded", "message": "CrashLoopBackOff"}))
    assert (result.state, result.message) == (SyncState.DEGRADED, "health Degraded: CrashLoopBackOff")
    result = progress(app(**base, health={"status": "Progressing"}))
    assert not result.done and "Progressing" in result.message


def test_retrying_controller_keeps_the_wait_going() -> None:
    state = done("Running", "failed. Retrying attempt #1 at 10:00AM.", retryCount=1)
    assert not progress(app(operation=OP, operationState=state)).done


def test_vanished_operation_is_an_error_not_an_old_success() -> None:
    assert progress(app()).state is SyncState.ERROR


def test_dry_run_needs_only_the_operation() -> None:
    result = progress(app(operationState=done(message="dry run")), dry_run=True)
    assert result.state is SyncState.SUCCEEDED and result.message.startswith("dry run succeeded")


def test_subset_is_judged_by_its_resources() -> None:
    web = ResourceKey("apps", "Deployment", "shop", "web")
    entries = [{"group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web", "status": "Synced",
                "health": {"status": "Healthy"}},
               {"group": "", "kind": "ConfigMap", "namespace": "shop", "name": "other", "status": "OutOfSync"}]  # fmt: skip
    body = app(operationState=done(), reconciledAt="2026-11-20T11:00:10Z", resources=entries)
    assert progress(body, resources=(web,)).state is SyncState.SUCCEEDED
    entries[0]["health"] = {"status": "Degraded", "message": "ImagePullBackOff"}
    result = progress(body, resources=(web,))
    assert (result.state, result.message) == (SyncState.DEGRADED, "Deployment/shop/web: ImagePullBackOff")


def test_retry_policy_choice_and_note() -> None:
    body = app(spec={"syncPolicy": {"retry": {"limit": 5, "backoff": {"duration": "1m", "factor": 2}}}})
    assert st.retry_policy(body, "shop", SyncSettings()).limit == 5
    assert st.retry_policy(app(), "shop", SyncSettings()).limit == 3
    note = st.retry_note(body, "shop", timeout=300)
    assert note is not None and "more than --timeout 5m0s" in note
    assert st.retry_note(app(), "shop", timeout=300) is None


def test_a_sync_without_prune_is_done_when_only_resources_to_prune_keep_it_out_of_sync() -> None:
    """Argo CD ends such a sync at once (PruneSkipped) and the app stays OutOfSync: waiting would time out."""
    resources = [
        {
            "kind": "ConfigMap",
            "namespace": "shop",
            "name": "old",
            "status": "OutOfSync",
            "requiresPruning": True,
        },
        {"group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web", "status": "Synced"},
    ]
    finished = app(operationState=done(), reconciledAt="2026-11-20T11:00:10Z", resources=resources)
    result = st.progress(finished, before=BEFORE, dry_run=False, prune=False)
    assert result.state is SyncState.SUCCEEDED
    assert "not pruned (the sync was asked without --prune): ConfigMap/shop/old" in result.message
    # With --prune, OutOfSync after the operation means the controller has not caught up yet: keep waiting.
    assert st.progress(finished, before=BEFORE, dry_run=False, prune=True).state is None
    # Something else OutOfSync too: not done.
    other = [*resources[:1], {**resources[1], "status": "OutOfSync"}]
    mixed = app(operationState=done(), reconciledAt="2026-11-20T11:00:10Z", resources=other)
    assert st.progress(mixed, before=BEFORE, dry_run=False, prune=False).state is None
