"""Pruning of ReplicaSets and Pods on the real kube-apiserver, live (both modes) and from a captured snapshot.

A bare Pod and a ReplicaSet were once in Git and applied by the agent (tracked); Git no longer declares them:
Argo CD would prune them, so they are "would be pruned". A ReplicaSet with a controller ownerReference to the
Deployment (as the Deployment controller makes it) carries the same tracking metadata but is never pruned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import APP, agent_apply, drifted, manifests, object_path, run, write_app

pytestmark = pytest.mark.cluster

TEMPLATE = {
    "metadata": {"labels": {"app": "batch"}},
    "spec": {"containers": [{"name": "w", "image": "busybox:1.36"}]},
}


def _workloads() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug-shell"},
         "spec": {"containers": [{"name": "sh", "image": "busybox:1.36"}]}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "batch-worker"},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "batch"}}, "template": TEMPLATE}},
    ]  # fmt: skip


def test_git_declared_workloads_removed_from_git_would_be_pruned(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    agent_apply(kube_cluster, [*manifests(), *_workloads()], namespace=kube_namespace, app=APP)
    deployment = kube_cluster.request(
        "GET", f"/apis/apps/v1/namespaces/{kube_namespace}/deployments/web"
    ).json()
    owned = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-5d8f7c",
            "namespace": kube_namespace,
            "annotations": {
                "argocd.argoproj.io/tracking-id": f"{APP}:apps/ReplicaSet:{kube_namespace}/web-5d8f7c"
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "web",
                    "uid": deployment["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    kube_cluster.apply(object_path(owned, kube_namespace), owned, field_manager="kube-controller-manager")
    write_app(repo, kube_namespace, manifests())  # the Pod and the ReplicaSet are no longer in Git
    kubeconfig = str(kube_cluster.admin_kubeconfig)
    snapshot = tmp_path / "cluster.json.gz"
    captured = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", kubeconfig, "--for-repo", str(repo.path),
                   "-o", str(snapshot))  # fmt: skip
    assert captured.code == 0, captured.text
    expected = {
        f"Pod/{kube_namespace}/debug-shell": ("removed", frozenset()),
        f"ReplicaSet/{kube_namespace}/batch-worker": ("removed", frozenset()),
    }
    for argv in (
        ["--live", "--kubeconfig", kubeconfig, "--client-side"],
        ["--live", "--kubeconfig", kubeconfig, "--server-side"],
        ["--snapshot", str(snapshot)],
    ):
        result = run(capsys, tmp_path, "diff", "--repo", str(repo.path), *argv)
        assert result.code == 1, f"{argv}: {result.text}"
        assert drifted(result.report) == expected, argv
