"""Faults while reading a live cluster: each ends in a clear error and exit 2, and nothing unread is "in sync".

The API server is stopped in the middle of a run (between listing and dry-running, and during the lists), and a
local proxy in front of it answers 500s and 429s or drops connections. Retries use a fast policy here; the
policy itself (backoff, Retry-After) is covered in test_live_client.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_check.cluster import client, reader
from gitops_check.cluster.live import LiveCluster, LiveOptions
from gitops_check.model.live import LiveState, ReadScope
from gitops_check.model.result import CheckResult, Status
from gitops_check.pipeline.check import CheckRequest, run_check
from tests.helpers.cluster import TestCluster
from tests.helpers.fault_proxy import FaultProxy
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import APP, agent_apply, findings, manifests, run, write_app

pytestmark = pytest.mark.cluster

FAST = client.RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=0.1)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "DEFAULT_RETRY", FAST)


@pytest.fixture
def app_repo(kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path) -> tuple[GitRepo, str]:
    repo = GitRepo.init(tmp_path / "repo")
    write_app(repo, kube_namespace, manifests())
    agent_apply(kube_cluster, manifests(), namespace=kube_namespace, app=APP)
    return repo, kube_namespace


@pytest.fixture
def restart(kube_cluster: TestCluster) -> Iterator[None]:
    yield
    kube_cluster.start_apiserver()  # the session's cluster must serve the next tests


def check(repo: GitRepo, source: LiveCluster) -> CheckResult:
    return run_check(CheckRequest(repo=repo.path, revision="HEAD", default_source=source))


def assert_nothing_unread_in_sync(result: CheckResult) -> None:
    assert result.exit_code() == 2
    assert all(d.status is Status.ERROR for d in result.diffs), [(str(d.key), d.status) for d in result.diffs]


def test_api_server_stopped_between_list_and_dry_run(
    app_repo: tuple[GitRepo, str], kube_cluster: TestCluster, restart: None
) -> None:
    repo, _ = app_repo

    class StopsAfterReading(LiveCluster):
        def load(self, scope: ReadScope) -> LiveState:
            state = super().load(scope)
            kube_cluster.stop_apiserver()
            return state

    result = check(repo, StopsAfterReading(LiveOptions(kubeconfig=str(kube_cluster.admin_kubeconfig))))
    assert_nothing_unread_in_sync(result)
    assert len(result.diffs) == 4
    message = f"cluster {kube_cluster.server} unreachable: connection refused (gave up after 3 attempts)"
    assert [e.message for e in result.errors] == [f"cluster default: {message}"]
    assert {d.message for d in result.diffs} == {f"not checked: {message}"}


def test_api_server_stopped_while_listing(
    app_repo: tuple[GitRepo, str], kube_cluster: TestCluster, restart: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _ = app_repo
    original = reader._Reader.list_all

    def stop_then_list(self: reader._Reader, resource: object, namespace: str | None) -> object:
        kube_cluster.stop_apiserver()
        return original(self, resource, namespace)  # type: ignore[arg-type]

    monkeypatch.setattr(reader._Reader, "list_all", stop_then_list)
    result = check(repo, LiveCluster(LiveOptions(kubeconfig=str(kube_cluster.admin_kubeconfig))))
    assert result.exit_code() == 2
    assert result.diffs == []  # nothing compared at all
    assert [e.message for e in result.errors] == [
        f"cluster default: cluster {kube_cluster.server} unreachable: connection refused (gave up after 3 attempts)"
    ]
    assert [e.message for a in result.apps for e in a.errors] == [
        "not checked: cluster default could not be read"
    ]


def test_unreachable_server_through_the_cli(
    app_repo: tuple[GitRepo, str], kube_cluster: TestCluster, restart: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    repo, _ = app_repo
    kube_cluster.stop_apiserver()
    result = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig",
                 str(kube_cluster.admin_kubeconfig))  # fmt: skip
    assert result.code == 2
    assert f"cluster {kube_cluster.server} unreachable: connection refused" in result.out
    assert "in sync" not in result.out.replace("Exit code 2", "")
    assert "Traceback" not in result.text
    snap = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", str(kube_cluster.admin_kubeconfig),
               "-o", str(tmp_path / "s.json"))  # fmt: skip
    assert snap.code == 2
    assert (
        snap.err.strip()
        == f"error: cluster {kube_cluster.server} unreachable: connection refused (gave up after 3 attempts)"
    )
    assert not (tmp_path / "s.json").exists()


def test_429_with_retry_after_and_dropped_connections_are_retried(
    app_repo: tuple[GitRepo, str], kube_cluster: TestCluster, tmp_path: Path
) -> None:
    repo, ns = app_repo
    with FaultProxy(kube_cluster) as proxy:
        proxy.fail(rf"/namespaces/{ns}/deployments\?", status=429, times=2, retry_after="0")
        proxy.fail(rf"/namespaces/{ns}/configmaps\?", status=0, times=1)  # connection dropped, no answer
        proxy.fail(r"/services/web\?dryRun=All", status=503, times=1, method="PATCH")
        # Every object dry-run (not only those that may change), so the 503 on a dry-run is met.
        source = LiveCluster(LiveOptions(kubeconfig=proxy.kubeconfig(tmp_path / "k.yaml"), dry_run_all=True))
        result = check(repo, source)
    assert result.exit_code() == 0, [(str(d.key), d.status, d.message) for d in result.diffs]
    assert {d.status for d in result.diffs} == {Status.UNCHANGED}
    lists = [s.status for s in proxy.seen if f"/namespaces/{ns}/deployments?" in s.path]
    assert lists == [429, 429, 200]
    assert [s.status for s in proxy.seen if f"/namespaces/{ns}/configmaps?" in s.path] == [0, 200]
    assert [s.status for s in proxy.seen if "/services/web?" in s.path] == [503, 200]
    assert result.stats["api_requests"] == len(proxy.seen)


def test_persistent_500_on_one_kind_leaves_only_that_kind_unchecked(
    app_repo: tuple[GitRepo, str],
    kube_cluster: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, ns = app_repo
    with FaultProxy(kube_cluster) as proxy:
        proxy.fail(rf"/namespaces/{ns}/secrets\?", status=500)
        kubeconfig = proxy.kubeconfig(tmp_path / "k.yaml")
        result = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig", kubeconfig,
                     "--client-side")  # fmt: skip
    assert result.code == 2
    found = findings(result.report)
    assert found.pop(f"Secret/{ns}/creds")[0] == "error"
    assert {status for status, _ in found.values()} == {"unchanged"}  # these were read
    secret = next(r for a in result.report["apps"] for r in a["resources"] if r["kind"] == "Secret")
    assert secret["message"] == (
        f"cannot list secrets in namespace {ns}: HTTP 500 internal server error from {proxy.url} (gave up after 3 attempts)"
    )


def test_a_failing_server_fails_the_whole_check(
    app_repo: tuple[GitRepo, str],
    kube_cluster: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = app_repo
    with FaultProxy(kube_cluster) as proxy:
        proxy.fail(r"\?limit=", status=500)  # every LIST
        kubeconfig = proxy.kubeconfig(tmp_path / "k.yaml")
        listing = run(
            capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig", kubeconfig
        )
        proxy.clear()
        proxy.fail(r"dryRun=All", status=500)  # every dry-run
        dry_run = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig", kubeconfig,
                      "--dry-run-all")  # fmt: skip
    assert listing.code == 2
    # Lists in flight when the third one fails still count: at least 3.
    assert re.search(r"keeps failing \((\d+) lists failed after retries; last: cannot list", listing.out), (
        listing.out
    )
    assert listing.report["summary"]["resources"]["unchanged"] == 0
    assert dry_run.code == 2
    assert f"cluster {proxy.url} keeps failing dry-runs (last: cannot dry-run apply" in dry_run.out
    assert {status for status, _ in findings(dry_run.report).values()} == {"error"}
