"""What gitops-check sends and what it does when it may not: the limited user, and read-only proven by the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cluster import ADMIN_USER, LIMITED_USER, TestCluster, audit_query, is_dry_run
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import APP, agent_apply, findings, manifests, run, write_app

pytestmark = pytest.mark.cluster


@pytest.fixture
def limited_setup(kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path) -> tuple[GitRepo, str]:
    # get/list/watch on configmaps, services, namespaces and deployments only: no secrets, no patch.
    kube_cluster.apply_rbac_for_limited()
    repo = GitRepo.init(tmp_path / "repo")
    write_app(repo, kube_namespace, manifests())
    agent_apply(kube_cluster, manifests(), namespace=kube_namespace, app=APP)
    return repo, kube_namespace


def test_limited_user_kinds_it_cannot_read_are_not_checked(
    limited_setup: tuple[GitRepo, str],
    kube_cluster: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, ns = limited_setup
    kubeconfig = str(kube_cluster.limited_kubeconfig)
    result = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig", kubeconfig)
    assert result.code == 2, result.text
    found = findings(result.report)
    secret = next(r for a in result.report["apps"] for r in a["resources"] if r["kind"] == "Secret")
    assert secret["status"] == "error"
    assert secret["message"] == f"cannot list secrets in namespace {ns}: forbidden"
    # What it may read is compared (client-side: it may not dry-run), and said so.
    for rid in (f"Deployment/{ns}/web", f"Service/{ns}/web", f"ConfigMap/{ns}/settings"):
        assert found[rid] == ("unchanged", frozenset())
    warnings = " ".join(a for app in result.report["apps"] for a in app["warnings"])
    assert (
        f"server-side dry-run forbidden for deployments.apps in namespace {ns}: compared client-side"
        in warnings
    )
    run_warnings = " ".join(result.report["warnings"])
    assert (
        f"pruning not checked for StatefulSet.apps: cannot list statefulsets.apps in namespace {ns}: forbidden"
        in run_warnings
    )
    assert "Exit code 2" in result.out

    # Demanding server-side: nothing it may not dry-run counts as checked.
    strict = run(
        capsys,
        tmp_path,
        "diff",
        "--repo",
        str(repo.path),
        "--live",
        "--kubeconfig",
        kubeconfig,
        "--server-side",
    )
    assert strict.code == 2
    statuses = {rid: status for rid, (status, _) in findings(strict.report).items()}
    assert set(statuses.values()) == {"error"}
    deployment = next(r for a in strict.report["apps"] for r in a["resources"] if r["kind"] == "Deployment")
    assert (
        deployment["message"]
        == f"not checked: cannot dry-run apply deployments.apps web in namespace {ns}: forbidden"
    )


def test_limited_user_snapshot_records_what_it_could_not_read(
    limited_setup: tuple[GitRepo, str],
    kube_cluster: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, ns = limited_setup
    snapshot = tmp_path / "s.json"
    out = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", str(kube_cluster.limited_kubeconfig),
              "--for-repo", str(repo.path), "-o", str(snapshot))  # fmt: skip
    assert out.code == 0, out.text
    assert (
        f"warning: not captured: Secret in namespace {ns}: cannot list secrets in namespace {ns}: forbidden"
        in out.err
    )
    result = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--snapshot", str(snapshot))
    assert result.code == 2
    assert findings(result.report)[f"Secret/{ns}/creds"][0] == "error"
    assert findings(result.report)[f"Deployment/{ns}/web"][0] == "unchanged"


def test_read_only_by_construction_audit_log(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    write_app(repo, kube_namespace, manifests())
    agent_apply(
        kube_cluster, manifests()[:2], namespace=kube_namespace, app=APP
    )  # two objects would be created
    kube_cluster.kubectl("-n", kube_namespace, "scale", "deployment/web", "--replicas=4")
    mark = kube_cluster.audit_mark()
    kubeconfig = str(kube_cluster.admin_kubeconfig)
    for extra in ([], ["--client-side"]):
        result = run(
            capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig", kubeconfig, *extra
        )
        assert result.code == 1, result.text
    out = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", kubeconfig, "-o", str(tmp_path / "s.json"),
              "--for-repo", str(repo.path))  # fmt: skip
    assert out.code == 0

    events = kube_cluster.audit_events(ADMIN_USER, since=mark)
    ours = [e for e in events if str(e.get("userAgent", "")).startswith("gitops-check/")]
    assert ours and len(ours) == len(events)  # nothing else ran meanwhile
    verbs = {e["verb"] for e in ours}
    assert verbs <= {"get", "list", "patch"}, verbs
    patches = [e for e in ours if e["verb"] == "patch"]
    assert patches and all(is_dry_run(e) for e in patches)
    assert {audit_query(e)["fieldManager"][0] for e in patches} == {"argocd-controller"}
    assert {audit_query(e)["force"][0] for e in patches} == {"true"}
    # One LIST per kind and namespace, never a GET per object.
    gets = [e for e in ours if e["verb"] == "get" and e.get("objectRef", {}).get("name")]
    assert gets == []
    # Nothing was stored: the two objects that "would be created" still do not exist.
    assert (
        kube_cluster.request("GET", f"/api/v1/namespaces/{kube_namespace}/configmaps/settings").status == 404
    )
    assert {e["user"]["username"] for e in ours} == {ADMIN_USER}
    assert LIMITED_USER not in {e["user"]["username"] for e in ours}
