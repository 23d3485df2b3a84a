"""Hooks against a real API server right after a sync (issue 12, item 4): in sync, live and from a snapshot.

The sync is done the way Argo CD does it, on the test kube-apiserver: the PreSync hook Job is created from its
``generateName`` and deleted when it succeeded (``HookSucceeded``), the app's objects are server-side applied by
``argocd-controller`` with the tracking annotation, the PostSync Job and the Helm ``pre-install`` Job stay (no
delete policy; Helm's default ``before-hook-creation``), and an older PreSync run is still there. Then
``gitops-check diff --live`` and a ``snapshot --for-repo`` captured right then must both say: in sync, exit 0,
hooks listed apart, nothing "would be pruned".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops_check import yamlio
from gitops_check.cluster.snapshot import load_snapshot
from tests.helpers.binaries import HELM, cached_binary
from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import agent_apply, run
from tests.semantics.argo_repos import URL, application
from tests.semantics.test_hooks import _files

pytestmark = pytest.mark.cluster


def _yaml(path: Path) -> dict[str, Any]:
    body = yamlio.load_one(path.read_bytes(), str(path))
    assert isinstance(body, dict)
    return body


def _create(cluster: TestCluster, namespace: str, body: dict[str, Any], app: str) -> str:
    """POST an object as Argo CD creates a hook (tracking annotation included); returns the name the server gave."""
    body = json.loads(json.dumps(body))
    group = body["apiVersion"].rpartition("/")[0]
    body["metadata"]["namespace"] = namespace
    created = cluster.kubectl("-n", namespace, "create", "-o", "json", "-f", "-", input=json.dumps(body))
    name = json.loads(created.stdout)["metadata"]["name"]
    tracking = f"{app}:{group}/{body['kind']}:{namespace}/{name}"
    cluster.kubectl(
        "-n", namespace, "annotate", body["kind"].lower(), name, f"argocd.argoproj.io/tracking-id={tracking}"
    )
    return str(name)


def test_in_sync_right_after_a_sync(
    kube_cluster: TestCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    guestbook = kube_cluster.new_namespace("guestbook")
    hooks_ns = kube_cluster.new_namespace("hooks")
    files = _files()
    files["apps/pre-post-sync.yaml"] = application("pre-post-sync", "pre-post-sync", guestbook)
    files["apps/helm-hooks.yaml"] = application("helm-hooks", "helm-hooks", hooks_ns, helm={})
    repo = GitRepo.init(tmp_path / "repo")
    repo.write(files)
    repo.commit("guestbook with hooks")
    repo.git("remote", "add", "origin", URL)
    src = repo.path / "pre-post-sync"

    # PreSync: a run from an earlier sync that failed (kept), then this sync's run, deleted when it succeeded.
    _create(kube_cluster, guestbook, _yaml(src / "pre-sync-job.yaml"), "pre-post-sync")
    done = _create(kube_cluster, guestbook, _yaml(src / "pre-sync-job.yaml"), "pre-post-sync")
    kube_cluster.kubectl("-n", guestbook, "delete", "job", done)
    # Sync: the app's objects, as argocd-controller applies them.
    agent_apply(kube_cluster, [_yaml(src / "service.yaml"), _yaml(src / "deployment.yaml")], namespace=guestbook,
                app="pre-post-sync")  # fmt: skip
    agent_apply(kube_cluster, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "helm-hooks-settings"},
                                "data": {"message": "hello"}}], namespace=hooks_ns, app="helm-hooks")  # fmt: skip
    # PostSync: no delete policy, it stays; Helm's pre-install Job stays too (before-hook-creation).
    _create(kube_cluster, guestbook, _yaml(src / "post-sync-job.yaml"), "pre-post-sync")
    _create(kube_cluster, hooks_ns, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "name": "helm-hooks-pre-install", "annotations": {"helm.sh/hook": "pre-install,pre-upgrade"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "migrate", "image": "migrate:hello"}]}}}}, "helm-hooks")  # fmt: skip

    helm = str(cached_binary(HELM))
    kubeconfig = str(kube_cluster.admin_kubeconfig)
    live = run(
        capsys,
        tmp_path,
        "diff",
        "--repo",
        str(repo.path),
        "--live",
        "--kubeconfig",
        kubeconfig,
        "--helm",
        helm,
    )
    snapshot = tmp_path / "after-sync.json"
    captured = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", kubeconfig, "--for-repo", str(repo.path),
                   "--helm", helm, "-o", str(snapshot))  # fmt: skip
    assert captured.code == 0, captured.text
    jobs = {k.name for k in load_snapshot(snapshot).objects if k.kind == "Job"}
    assert jobs == {"after", "helm-hooks-pre-install"} | {n for n in jobs if n.startswith("before-")}
    assert (
        len(jobs) == 3
    )  # the hook Jobs left in the cluster are read (Jobs are a prune kind), yet never pruned
    offline = run(
        capsys, tmp_path, "diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--helm", helm
    )
    for result in (live, offline):
        assert result.code == 0, result.text
        found = {a["name"]: {r["id"]: r["status"] for r in a["resources"]} for a in result.report["apps"]}
        assert found == {
            "pre-post-sync": {
                f"Deployment/{guestbook}/guestbook-ui": "unchanged",
                f"Service/{guestbook}/guestbook-ui": "unchanged",
            },
            "helm-hooks": {f"ConfigMap/{hooks_ns}/helm-hooks-settings": "unchanged"},
        }
        assert f"3 hooks run at sync, not compared: Job/{guestbook}/after (PostSync)" in result.out
        assert f"2 hooks run at sync, not compared: Job/{hooks_ns}/helm-hooks-post-* (PostSync)" in result.out
