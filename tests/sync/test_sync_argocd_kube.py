"""``gitops-check sync --argocd --kube``: an Application's ``.operation`` set through the real API server.

A controller stand-in (tests/sync/standin.py) answers as Argo CD's application controller would. The tool runs
as the ``limited`` user with exactly get and patch on Applications in the test namespace, so the audit log
shows every request it sent: reads of the one Application, and one patch, on it only.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.cluster.agents import open_agents
from gitops_check.model.sync import SyncState
from gitops_check.sync.argocd_kube import ArgoKubeBackend
from gitops_check.sync.base import SyncSettings, SyncTarget
from gitops_check.sync.policy import RetryPolicy
from gitops_check.sync.run import SyncRun
from tests.helpers.cluster import LIMITED_USER, TestCluster
from tests.sync.clirun import FAST, run
from tests.sync.proxy import Outage
from tests.sync.standin import (
    StandIn,
    argo_degrade,
    argo_fail,
    argo_retrying,
    argo_running,
    argo_succeed,
    argo_succeed_unreconciled,
    create,
    get,
    write_status,
)

pytestmark = pytest.mark.cluster
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def ns(agent_crds: TestCluster, kube_namespace: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    agent_crds.apply_rbac_for_limited({"argoproj.io": ["applications"]}, verbs=("get", "patch"),
                                      namespace=kube_namespace)  # fmt: skip
    monkeypatch.chdir(tmp_path)
    return kube_namespace


def application(cluster: TestCluster, ns: str, name: str = "shop", **spec: Any) -> dict[str, Any]:
    body = {"project": "default", "destination": {"namespace": "shop"},
            "source": {"repoURL": "https://git.example/deploy.git", "path": name, "targetRevision": "main"}, **spec}  # fmt: skip
    status = {"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}}
    return create(cluster, "Application", ns, name, body, status)


def requests_of_tool(cluster: TestCluster, since: int) -> list[tuple[str, str, str | None]]:
    return [
        (e["verb"], e.get("objectRef", {}).get("resource", ""), e.get("objectRef", {}).get("name"))
        for e in cluster.audit_events(LIMITED_USER, since=since)
    ]


def sync(cluster: TestCluster, ns: str, capsys: pytest.CaptureFixture[str], *args: str):  # type: ignore[no-untyped-def]
    return run(capsys, "sync", *args, "--argocd", "--kube", "--kubeconfig", cluster.kubeconfig(LIMITED_USER),
               "-n", ns, *FAST)  # fmt: skip


def test_success(agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]) -> None:
    application(agent_crds, ns, syncPolicy={"syncOptions": ["CreateNamespace=true"]})
    application(agent_crds, ns, "other")
    mark = agent_crds.audit_mark()
    with StandIn(agent_crds, ns, argo={"shop": [argo_running, argo_succeed]}) as standin:
        result = sync(agent_crds, ns, capsys, "shop", "--revision", SHA, "--prune")
    assert result.code == 0, result.text
    assert standin.seen == [("Application", "shop", {
        "initiatedBy": {"username": "ci"},
        "sync": {"revision": SHA, "prune": True, "syncStrategy": {"hook": {}}, "syncOptions": ["CreateNamespace=true"]},
    })]  # fmt: skip
    calls = requests_of_tool(agent_crds, mark)
    assert calls[0] == ("get", "applications", "shop")
    assert calls[1] == ("patch", "applications", "shop")
    assert set(calls[2:]) == {("get", "applications", "shop")}  # waiting only reads
    assert f"PATCH applications.argoproj.io {ns}/shop (merge patch)" in result.out
    assert (
        result.out.index("About to ask") < result.out.index("sync requested") < result.out.index("succeeded")
    )
    assert get(agent_crds, "Application", ns, "other").get("operation") is None


def test_failure_with_the_agents_message(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    application(agent_crds, ns)
    with StandIn(
        agent_crds, ns, argo={"shop": [argo_running, argo_fail("one or more objects failed to apply")]}
    ):
        result = sync(agent_crds, ns, capsys, "shop")
    assert result.code == 1, result.text
    assert (f"Application {ns}/shop: failed: sync failed: one or more objects failed to apply "
            "(Deployment/shop/web: admission webhook denied)") in result.out  # fmt: skip


def test_degraded(agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]) -> None:
    application(agent_crds, ns)
    with StandIn(
        agent_crds, ns, argo={"shop": [argo_running, argo_degrade("Deployment web: CrashLoopBackOff")]}
    ):
        result = sync(agent_crds, ns, capsys, "shop")
    assert result.code == 1
    assert "degraded: health Degraded: Deployment web: CrashLoopBackOff" in result.out


def test_never_answered(agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]) -> None:
    application(agent_crds, ns)
    mark = agent_crds.audit_mark()
    with StandIn(agent_crds, ns) as standin:  # sees the operation, writes nothing
        result = sync(agent_crds, ns, capsys, "shop", "--timeout", "1s")
    assert result.code == 2
    assert ("timeout: no verdict within --timeout 1s; last: waiting for the application controller to pick up "
            "the operation") in result.out  # fmt: skip
    assert [s[:2] for s in standin.seen] == [("Application", "shop")]
    assert [c for c in requests_of_tool(agent_crds, mark) if c[0] != "get"] == [
        ("patch", "applications", "shop")
    ]


def test_the_apps_retry_policy_is_honoured(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    retry = {"limit": 2, "backoff": {"duration": "10ms", "factor": 2, "maxDuration": "100ms"}}
    application(agent_crds, ns, syncPolicy={"retry": retry})
    steps = [argo_running, argo_retrying, argo_succeed]
    with StandIn(agent_crds, ns, argo={"shop": steps}) as standin:
        result = run(capsys, "sync", "shop", "--argocd", "--kube", "--kubeconfig",
                     agent_crds.kubeconfig(LIMITED_USER), "-n", ns, "--poll-interval", "10ms")  # fmt: skip
    assert result.code == 0, result.text
    assert standin.seen[0][2]["retry"] == retry  # handed to the controller, as the API server does
    assert "Retrying attempt #1" in result.out  # the wait went on through the controller's retry


def test_health_reassessed_on_request(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A finished sync whose health predates it is not judged; after a few looks a refresh is asked for."""
    application(agent_crds, ns)
    mark = agent_crds.audit_mark()
    with StandIn(agent_crds, ns, argo={"shop": [argo_succeed_unreconciled]}):
        result = sync(agent_crds, ns, capsys, "shop")
    assert result.code == 0, result.text
    assert "asking for a refresh" in result.out
    patches = [c for c in requests_of_tool(agent_crds, mark) if c[0] == "patch"]
    assert patches == [("patch", "applications", "shop"), ("patch", "applications", "shop")]


def test_plan_and_refusals_write_nothing(agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    application(agent_crds, ns)
    mark = agent_crds.audit_mark()
    result = sync(agent_crds, ns, capsys, "shop", "--plan")
    assert result.code == 0 and "Would ask" in result.out
    assert {c[0] for c in requests_of_tool(agent_crds, mark)} == {"get"}
    # Guard rails refuse before any request at all.
    (tmp_path / ".gitops-check.yaml").write_text("sync:\n  allow: [payments, 'team-*']\n")
    mark = agent_crds.audit_mark()
    result = sync(agent_crds, ns, capsys, "shop")
    assert result.code == 2
    assert "refused: shop is not on the sync.allow list of" in result.out
    event = tmp_path / "event.json"
    event.write_text('{"pull_request": {"head": {"repo": {"full_name": "mallory/deploy", "fork": true}},'
                     ' "base": {"repo": {"full_name": "acme/deploy"}}}}')  # fmt: skip
    for name, value in {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request",
                        "GITHUB_EVENT_PATH": str(event)}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    result = sync(agent_crds, ns, capsys, "team-a")
    assert result.code == 2
    assert (
        "refused: this pipeline runs for a GitHub pull_request from mallory/deploy into acme/deploy"
        in result.out
    )
    assert requests_of_tool(agent_crds, mark) == []
    assert get(agent_crds, "Application", ns, "shop").get("operation") is None


def test_operation_in_progress_is_not_overwritten(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    application(agent_crds, ns)
    running = {"initiatedBy": {"username": "alice"}, "sync": {"revision": "main"}}
    from tests.sync.standin import patch

    patch(agent_crds, "Application", ns, "shop", {"operation": running})
    mark = agent_crds.audit_mark()
    result = sync(agent_crds, ns, capsys, "shop")
    assert result.code == 2
    assert "another operation (started by alice) is in progress" in result.out
    assert requests_of_tool(agent_crds, mark) == [("get", "applications", "shop")]
    assert get(agent_crds, "Application", ns, "shop")["operation"] == running


def test_a_concurrent_write_is_detected_and_the_checks_repeat(agent_crds: TestCluster, ns: str) -> None:
    """The object changes between read and write: the patch's resourceVersion makes the server refuse (409)."""
    application(agent_crds, ns)
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if line.startswith("About to ask"):  # between the read and the write, the controller updates status
            write_status(agent_crds, "Application", ns, "shop", {"reconciledAt": "2026-11-20T10:00:00Z"})

    objects = open_agents(str(agent_crds.kubeconfig(LIMITED_USER)))
    backend = ArgoKubeBackend(objects, namespace=ns, say=say)
    settings = SyncSettings(wait=False, retry=RetryPolicy(backoff=0.01))
    mark = agent_crds.audit_mark()
    [outcome] = SyncRun(backend, settings, say=say).run([SyncTarget("shop", "shop")])
    assert outcome.state is SyncState.REQUESTED, outcome.message
    codes = [
        (e["verb"], e["responseStatus"]["code"]) for e in agent_crds.audit_events(LIMITED_USER, since=mark)
    ]
    assert codes == [("get", 200), ("patch", 409), ("get", 200), ("patch", 200)]
    assert any("changed since it was read; sending again" in line for line in lines)
    assert get(agent_crds, "Application", ns, "shop")["operation"]["initiatedBy"] == {"username": "ci"}


def test_api_server_unreachable_while_waiting(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Connection refused while waiting is transient: retried with backoff until the server answers again."""
    application(agent_crds, ns)
    outage = Outage(agent_crds.port)
    outage.up()
    config = yaml.safe_load(agent_crds.kubeconfig(LIMITED_USER).read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{outage.port}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    mark = agent_crds.audit_mark()

    restored = threading.Event()

    def cut() -> None:
        agent_crds.wait_for_audit(lambda e: e["verb"] == "patch", user=LIMITED_USER, since=mark, timeout=30)
        outage.down()
        time.sleep(1.0)  # the tool polls every 50 ms: several of its reads are refused
        outage.up()
        restored.set()

    def after_outage(s: StandIn, name: str, app: dict[str, Any]) -> None:
        assert restored.wait(30)

    thread = threading.Thread(target=cut)
    thread.start()
    try:
        with StandIn(agent_crds, ns, argo={"shop": [after_outage, argo_running, argo_succeed]}):
            result = run(capsys, "sync", "shop", "--argocd", "--kube", "--kubeconfig", kubeconfig, "-n", ns,
                         "--poll-interval", "50ms", "--retry-backoff", "100ms", "--retry-max", "400ms",
                         "--retry-limit", "20")  # fmt: skip
    finally:
        thread.join()
        outage.down()
    assert result.code == 0, result.text
    assert f"Application {ns}/shop: succeeded" in result.out
