"""``gitops-check snapshot --live``: what is captured, the coverage written, and how a later diff uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_check.cluster.snapshot import load_snapshot
from gitops_check.model.objects import GroupKind, ResourceKey
from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import APP, agent_apply, findings, manifests, run, write_app

pytestmark = pytest.mark.cluster


def test_kinds_and_namespaces_asked_for(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = kube_cluster.new_namespace("other")
    agent_apply(kube_cluster, manifests(), namespace=kube_namespace, app=APP)
    kube_cluster.kubectl("-n", other, "create", "configmap", "elsewhere")
    out = tmp_path / "s.json"
    result = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", str(kube_cluster.admin_kubeconfig),
                 "--kinds", "deployments.apps,ConfigMap", "--kinds", "secret", "-n", kube_namespace, "-o", str(out))  # fmt: skip
    assert result.code == 0, result.text
    assert result.out.strip() == f"wrote {out}: 3 objects of 3 kinds in 1 namespace (6 API requests)"
    data = json.loads(out.read_text())
    assert data["apiVersion"] == "gitops-check.io/v1" and data["kind"] == "ClusterSnapshot"
    assert data["coverage"]["namespaces"] == [kube_namespace]
    assert data["coverage"]["kinds"] == [
        {"group": "", "kind": "ConfigMap", "namespaced": True},
        {"group": "", "kind": "Secret", "namespaced": True},
        {"group": "apps", "kind": "Deployment", "namespaced": True},
    ]
    assert data["coverage"]["unreadable"] == []
    assert data["metadata"]["server"] == kube_cluster.server and data["metadata"]["serverVersion"].startswith(
        "v1."
    )
    state = load_snapshot(out)
    assert set(state.objects) == {
        ResourceKey("apps", "Deployment", kube_namespace, "web"),
        ResourceKey("", "ConfigMap", kube_namespace, "settings"),
        ResourceKey("", "Secret", kube_namespace, "creds"),
    }
    deployment = state.objects[ResourceKey("apps", "Deployment", kube_namespace, "web")]
    assert {m["manager"] for m in deployment["metadata"]["managedFields"]} == {"argocd-controller"}
    assert state.secret_hashing is not None
    # What was not captured is known: a Service of the app, or anything in the other namespace.
    assert not state.coverage.covers(ResourceKey("", "Service", kube_namespace, "web"), state.present_kinds())
    assert not state.coverage.covers(ResourceKey("", "ConfigMap", other, "elsewhere"), state.present_kinds())
    assert state.coverage.covers(ResourceKey("", "ConfigMap", kube_namespace, "gone"), state.present_kinds())


def test_all_namespaces_and_gzip(kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    kube_cluster.kubectl("-n", kube_namespace, "create", "configmap", "here")
    out = tmp_path / "s.json.gz"
    result = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", str(kube_cluster.admin_kubeconfig),
                 "--kinds", "configmaps,namespaces", "-o", str(out))  # fmt: skip
    assert result.code == 0 and "in all namespaces (5 API requests)" in result.out
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    state = load_snapshot(out)
    assert state.coverage.namespaces is None
    assert ResourceKey("", "ConfigMap", kube_namespace, "here") in state.objects
    assert ResourceKey("", "Namespace", None, kube_namespace) in state.objects
    assert state.scopes[GroupKind("", "Namespace")] is False


def test_unknown_kind_and_missing_live_flag_are_clear_errors(
    kube_cluster: TestCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = str(kube_cluster.admin_kubeconfig)
    bad = run(
        capsys,
        tmp_path,
        "snapshot",
        "--live",
        "--kubeconfig",
        kubeconfig,
        "--kinds",
        "Gizmo",
        "-o",
        str(tmp_path / "x.json"),
    )
    assert bad.code == 2
    assert (
        bad.err.strip()
        == f"error: kind 'Gizmo' is not served by cluster {kube_cluster.server} (see kubectl api-resources)"
    )
    assert not (tmp_path / "x.json").exists()
    no_live = run(capsys, tmp_path, "snapshot", "-o", str(tmp_path / "x.json"))
    assert no_live.code == 2 and "say what to capture: --live" in no_live.err


def test_for_repo_covers_what_the_apps_touch_plus_extra_kinds(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    write_app(repo, kube_namespace, manifests())
    agent_apply(kube_cluster, manifests(), namespace=kube_namespace, app=APP)
    out = tmp_path / "s.json"
    result = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", str(kube_cluster.admin_kubeconfig),
                 "--for-repo", str(repo.path), "--kinds", "cronjobs.batch", "-o", str(out))  # fmt: skip
    assert result.code == 0, result.text
    state = load_snapshot(out)
    assert state.coverage.namespaces == frozenset({kube_namespace})
    kinds = state.coverage.kinds or frozenset()
    assert {GroupKind("apps", "Deployment"), GroupKind("", "Secret"), GroupKind("batch", "CronJob")} <= kinds
    assert GroupKind("apps", "StatefulSet") in kinds  # a prune kind, listed as a live check would
    diff = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--snapshot", str(out))
    assert diff.code == 0
    assert {status for status, _ in findings(diff.report).values()} == {"unchanged"}


def test_all_kinds(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s.json"
    result = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", str(kube_cluster.admin_kubeconfig),
                 "--kinds", "all", "-n", kube_namespace, "-o", str(out))  # fmt: skip
    assert result.code == 0, result.text
    kinds = load_snapshot(out).coverage.kinds or frozenset()
    # Pods and ReplicaSets too: one declared in Git is compared and pruned like any object.
    assert {GroupKind("apps", "Deployment"), GroupKind("", "ConfigMap"), GroupKind("rbac.authorization.k8s.io", "Role"),
            GroupKind("", "Namespace"), GroupKind("apiextensions.k8s.io", "CustomResourceDefinition"),
            GroupKind("", "Pod"), GroupKind("apps", "ReplicaSet")} <= kinds  # fmt: skip
    # Not what an agent owns: events, leases, access reviews.
    assert not kinds & {GroupKind("", "Event"), GroupKind("coordination.k8s.io", "Lease"),
                        GroupKind("authorization.k8s.io", "SelfSubjectAccessReview")}  # fmt: skip
