"""Pruning of cluster-scoped objects (issue 19, item 1): a ClusterRole the app still owns (tracking annotation)
after Git stopped rendering any ClusterRole is "would be pruned" in every mode, as Argo CD says "requires
pruning"; a ``live.pruneKinds`` name the cluster does not serve is an error, never silently nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import agent_apply, drifted, run

pytestmark = pytest.mark.cluster

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}}


def app_name(namespace: str) -> str:
    """Unique per test: other tests of the session leave objects tracked by their own apps in the cluster."""
    return f"prune-{namespace}"


def write(repo: GitRepo, namespace: str, prune_kinds: list[str] | None = None) -> None:
    project: dict = {
        "version": 1,
        "apps": [{"name": app_name(namespace), "path": "app", "tool": "directory", "namespace": namespace}],
    }
    if prune_kinds is not None:
        project["live"] = {"pruneKinds": prune_kinds}
    repo.write({".gitops-check.yaml": yaml.safe_dump(project), "app/cm.yaml": yaml.safe_dump(CM)})
    repo.commit("app")


@pytest.fixture
def owned_cluster_role(kube_cluster: TestCluster, kube_namespace: str) -> str:
    app = app_name(kube_namespace)
    agent_apply(kube_cluster, [CM], namespace=kube_namespace, app=app)
    name = f"{kube_namespace}-reader"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "annotations": {
                "argocd.argoproj.io/tracking-id": f"{app}:rbac.authorization.k8s.io/ClusterRole:{kube_namespace}/{name}"
            },
        },
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    }
    kube_cluster.apply(
        f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}", role, field_manager="argocd-controller"
    )
    return name


@pytest.mark.parametrize(
    "prune_kinds", [None, ["all"], ["ConfigMap", "ClusterRole.rbac.authorization.k8s.io"]]
)
def test_a_cluster_scoped_object_to_prune_is_found_in_every_mode(
    kube_cluster: TestCluster,
    kube_namespace: str,
    owned_cluster_role: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    prune_kinds: list[str] | None,
) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    write(repo, kube_namespace, prune_kinds)
    kubeconfig = str(kube_cluster.admin_kubeconfig)
    snapshot = tmp_path / "cluster.json"
    out = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", kubeconfig, "--for-repo", str(repo.path),
              "-o", str(snapshot))  # fmt: skip
    assert out.code == 0, out.text
    expected = {f"ClusterRole/{owned_cluster_role}": ("removed", frozenset())}
    for mode in ("--client-side", "--server-side", "snapshot"):
        target = (
            ["--snapshot", str(snapshot)]
            if mode == "snapshot"
            else ["--live", "--kubeconfig", kubeconfig, mode]
        )
        result = run(capsys, tmp_path, "diff", "--repo", str(repo.path), *target)
        assert result.code == 1, f"{mode}: {result.text}"
        assert drifted(result.report) == expected, mode


def test_a_prune_kind_the_cluster_does_not_serve_is_an_error(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    write(repo, kube_namespace, ["ConfigMap", "Widget.nowhere.example.com"])
    result = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig",
                 str(kube_cluster.admin_kubeconfig))  # fmt: skip
    assert result.code == 2, result.text
    assert "live.pruneKinds: Widget.nowhere.example.com is not a kind this cluster serves" in result.text
