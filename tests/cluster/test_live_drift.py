"""Live comparison on the real kube-apiserver: hand changes found exactly, the same in every mode.

The app is applied as Argo CD would (server-side apply, field manager ``argocd-controller``, tracking
annotation), then changed the way people do by hand. The same findings must come out of the server-side
dry-run, the client-side comparison of the listed objects, and a snapshot captured from the cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import APP, CONTAINER, agent_apply, drifted, findings, manifests, run, write_app

pytestmark = pytest.mark.cluster


@pytest.fixture
def deployed(kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path) -> tuple[GitRepo, str]:
    repo = GitRepo.init(tmp_path / "repo")
    write_app(repo, kube_namespace, manifests())
    agent_apply(kube_cluster, manifests(), namespace=kube_namespace, app=APP)
    return repo, kube_namespace


def modes(kube_cluster: TestCluster, repo: GitRepo, tmp_path: Path) -> dict[str, list[str]]:
    kubeconfig = str(kube_cluster.admin_kubeconfig)
    snapshot = tmp_path / "cluster.json.gz"
    return {
        "server-side": [
            "diff",
            "--repo",
            str(repo.path),
            "--live",
            "--kubeconfig",
            kubeconfig,
            "--server-side",
        ],
        "client-side": [
            "diff",
            "--repo",
            str(repo.path),
            "--live",
            "--kubeconfig",
            kubeconfig,
            "--client-side",
        ],
        "snapshot": ["diff", "--repo", str(repo.path), "--snapshot", str(snapshot)],
    }


def capture(
    capsys: pytest.CaptureFixture[str], kube_cluster: TestCluster, repo: GitRepo, tmp_path: Path
) -> None:
    out = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", str(kube_cluster.admin_kubeconfig),
              "--for-repo", str(repo.path), "-o", str(tmp_path / "cluster.json.gz"))  # fmt: skip
    assert out.code == 0, out.text
    assert "wrote" in out.out


def test_freshly_applied_app_is_in_sync_in_every_mode(
    deployed: tuple[GitRepo, str],
    kube_cluster: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, namespace = deployed
    capture(capsys, kube_cluster, repo, tmp_path)
    for mode, argv in modes(kube_cluster, repo, tmp_path).items():
        result = run(capsys, tmp_path, *argv)
        assert result.code == 0, f"{mode}: {result.text}"
        assert drifted(result.report) == {}, mode
        # Every object was compared: the server filled in defaults, none counts as drift.
        assert set(findings(result.report)) == {
            f"Deployment/{namespace}/web", f"Service/{namespace}/web",
            f"ConfigMap/{namespace}/settings", f"Secret/{namespace}/creds",
        }, mode  # fmt: skip
        assert result.report["stats"].get("api_requests", 0) > 0 or mode == "snapshot"


def test_hand_changes_are_found_exactly_and_alike_in_every_mode(
    deployed: tuple[GitRepo, str],
    kube_cluster: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, ns = deployed
    k = kube_cluster.kubectl
    k("-n", ns, "set", "image", "deployment/web", "web=nginx:1.28")
    k("-n", ns, "scale", "deployment/web", "--replicas=5")
    k("-n", ns, "set", "env", "deployment/web", "MODE=debug")
    k("-n", ns, "label", "service/web", "team=payments")
    k("-n", ns, "delete", "configmap/settings")
    # An object the app applied once (tracking annotation) that Git no longer has.
    leftover = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "leftover"}, "data": {"x": "1"}}
    agent_apply(kube_cluster, [leftover], namespace=ns, app=APP)
    # A field applied before, now removed from Git.
    write_app(repo, ns, manifests(with_resources=False))
    capture(capsys, kube_cluster, repo, tmp_path)

    expected = {
        f"Deployment/{ns}/web": ("changed", frozenset({
            ("value", "spec.replicas"),
            ("value", f"{CONTAINER}.image"),
            ("value", f"{CONTAINER}.env[name=MODE].value"),
            ("removed", f"{CONTAINER}.resources.requests.cpu"),
            ("removed", f"{CONTAINER}.resources.requests.memory"),
        })),
        f"Service/{ns}/web": ("changed", frozenset({("manual", "metadata.labels.team")})),
        f"ConfigMap/{ns}/settings": ("added", frozenset()),
        f"ConfigMap/{ns}/leftover": ("removed", frozenset()),
    }  # fmt: skip
    detailed = {}
    for mode, argv in modes(kube_cluster, repo, tmp_path).items():
        result = run(capsys, tmp_path, *argv)
        assert result.code == 1, f"{mode}: {result.text}"
        assert drifted(result.report) == expected, mode
        assert findings(result.report)[f"Secret/{ns}/creds"] == ("unchanged", frozenset()), mode
        detailed[mode] = findings(result.report, with_managers=True)
    # Who changed what is worded the same way too (kubectl-set, kubectl-label, argocd-controller...).
    assert detailed["server-side"] == detailed["client-side"] == detailed["snapshot"]
    deployment = dict(
        (path, manager) for _, path, manager in detailed["server-side"][f"Deployment/{ns}/web"][1]
    )
    assert deployment[f"{CONTAINER}.image"] == "kubectl-set"
    assert deployment[f"{CONTAINER}.resources.requests.cpu"] == "argocd-controller"


def test_server_side_sees_what_only_the_server_knows(
    deployed: tuple[GitRepo, str],
    kube_cluster: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Git writes a value the server normalizes (cpu: 0.1 is stored as 100m); a quantity the offline engine
    compares by value is exactly equal after the dry-run, and an invalid object is rejected by the server."""
    repo, ns = deployed
    objects = manifests()
    objects[0]["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "0.1"
    objects[1]["spec"]["ports"][0]["targetPort"] = "not a valid port name!"
    write_app(repo, ns, objects)
    argv = modes(kube_cluster, repo, tmp_path)["server-side"]
    result = run(capsys, tmp_path, *argv)
    assert result.code == 2, result.text
    found = findings(result.report)
    assert found[f"Deployment/{ns}/web"] == ("unchanged", frozenset())
    service = next(r for a in result.report["apps"] for r in a["resources"] if r["id"] == f"Service/{ns}/web")
    assert service["status"] == "error"
    assert service["message"].startswith(
        f"the API server rejects it: cannot dry-run apply services web in namespace {ns}: HTTP 422"
    )
