"""Pruning of ReplicaSets and Pods, through full ``gitops-check diff`` runs against a snapshot.

Argo CD prunes any tracked object without ownerReferences that Git no longer declares, a ReplicaSet or a
bare Pod included; what a controller made (a Deployment's ReplicaSet, its Pods) carries an ownerReference and
is never pruned, even when it copied the tracking label or annotation from its template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cli import main
from tests.helpers.gitrepo import GitRepo

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
"""


def _object(
    kind: str, name: str, *, api: str = "v1", owner: str | None = None, app: str = "web"
) -> dict[str, Any]:
    group = api.rpartition("/")[0]
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": "shop",
        "annotations": {"argocd.argoproj.io/tracking-id": f"{app}:{group}/{kind}:shop/{name}"},
        "labels": {"app.kubernetes.io/instance": app},
    }
    if owner:
        metadata["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": owner.split("/")[0], "name": owner.split("/")[1],
             "uid": "0b0c4f1e-0000-4000-8000-000000000001", "controller": True}
        ]  # fmt: skip
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": {}}


def _snapshot(path: Path, objects: list[dict[str, Any]]) -> Path:
    kinds = [("apps", "Deployment"), ("apps", "ReplicaSet"), ("", "Pod")]
    path.write_text(
        json.dumps(
            {
                "apiVersion": "gitops-check.io/v1",
                "kind": "ClusterSnapshot",
                "metadata": {"cluster": "example", "takenAt": "2026-12-01T00:00:00Z"},
                "coverage": {
                    "kinds": [{"group": g, "kind": k, "namespaced": True} for g, k in kinds],
                    "namespaces": ["shop"],
                    "unreadable": [],
                },
                "objects": objects,
            }
        )
    )
    return path


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write(
        {
            ".gitops-check.yaml": "version: 1\napps:\n  - {name: web, path: apps/web, tool: directory, namespace: shop}\n",
            "apps/web/deploy.yaml": DEPLOY,
        }
    )
    repo.commit("web")
    return repo


def _run(repo: GitRepo, snapshot: Path, out: Path) -> tuple[int, list[tuple[str, str]]]:
    code = main(["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["errors"] == []
    return code, sorted(
        (r["id"], r["status"]) for a in report["apps"] for r in a["resources"] if r["status"] != "unchanged"
    )


def test_git_declared_replicaset_and_pod_removed_from_git_would_be_pruned(
    repo: GitRepo, tmp_path: Path
) -> None:
    live = _object("Deployment", "web", api="apps/v1")
    live["spec"] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}},
    }  # fmt: skip
    objects = [
        live,
        # Once in Git (tracked), removed from it, no owner: Argo CD prunes them.
        _object("ReplicaSet", "batch-worker", api="apps/v1"),
        _object("Pod", "debug-shell"),
        # Made by controllers: they copied the tracking metadata from their templates, but an owner made them.
        _object("ReplicaSet", "web-5d8f7c", api="apps/v1", owner="Deployment/web"),
        _object("Pod", "web-5d8f7c-x2x9q", owner="ReplicaSet/web-5d8f7c"),
        # Another app's bare Pod: not this app's to prune.
        _object("Pod", "other-shell", app="other"),
    ]
    code, found = _run(repo, _snapshot(tmp_path / "snap.json", objects), tmp_path / "report.json")
    assert found == [("Pod/shop/debug-shell", "removed"), ("ReplicaSet/shop/batch-worker", "removed")]
    assert code == 1


def test_only_controller_made_workloads_in_the_cluster_is_in_sync(repo: GitRepo, tmp_path: Path) -> None:
    live = _object("Deployment", "web", api="apps/v1")
    live["spec"] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}},
    }  # fmt: skip
    objects = [
        live,
        _object("ReplicaSet", "web-5d8f7c", api="apps/v1", owner="Deployment/web"),
        _object("Pod", "web-5d8f7c-x2x9q", owner="ReplicaSet/web-5d8f7c"),
    ]
    code, found = _run(repo, _snapshot(tmp_path / "snap.json", objects), tmp_path / "report.json")
    assert found == []
    assert code == 0
