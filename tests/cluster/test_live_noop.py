"""Applies that provably change nothing are not dry-run; anything less than proof, or any admission hook, is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_check.cluster import noop
from tests.helpers.cluster import TestCluster, is_dry_run
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import APP, agent_apply, drifted, manifests, run, write_app

pytestmark = pytest.mark.cluster


def dry_runs(cluster: TestCluster, since: int) -> list[str]:
    return sorted(
        f"{e['objectRef']['resource']}/{e['objectRef']['name']}"
        for e in cluster.audit_events(since=since, predicate=lambda e: e["verb"] == "patch" and is_dry_run(e))
    )


@pytest.fixture
def deployed(kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path) -> tuple[GitRepo, str]:
    repo = GitRepo.init(tmp_path / "repo")
    write_app(repo, kube_namespace, manifests())
    agent_apply(kube_cluster, manifests(), namespace=kube_namespace, app=APP)
    return repo, kube_namespace


def test_only_objects_that_may_change_are_dry_run(
    deployed: tuple[GitRepo, str],
    kube_cluster: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, ns = deployed
    argv = ["diff", "--repo", str(repo.path), "--live", "--kubeconfig", str(kube_cluster.admin_kubeconfig)]
    mark = kube_cluster.audit_mark()
    assert run(capsys, tmp_path, *argv).code == 0
    # The fresh apply: provably unchanged, but for the Secret (Git's stringData becomes data: the server decides).
    assert dry_runs(kube_cluster, mark) == ["secrets/creds"]

    kube_cluster.kubectl("-n", ns, "set", "image", "deployment/web", "web=nginx:1.28")  # a value differs
    kube_cluster.kubectl("-n", ns, "label", "service/web", "team=x")  # another manager's field: still a no-op
    objects = manifests()
    objects[2]["data"]["extra"] = "new"  # Git adds a field: the agent's field set changes
    write_app(repo, ns, objects)
    mark = kube_cluster.audit_mark()
    result = run(capsys, tmp_path, *argv)
    assert result.code == 1
    assert dry_runs(kube_cluster, mark) == ["configmaps/settings", "deployments/web", "secrets/creds"]
    assert set(drifted(result.report)) == {
        f"Deployment/{ns}/web",
        f"Service/{ns}/web",
        f"ConfigMap/{ns}/settings",
    }

    mark = kube_cluster.audit_mark()
    every = run(capsys, tmp_path, *argv, "--dry-run-all")
    assert dry_runs(kube_cluster, mark) == [
        "configmaps/settings",
        "deployments/web",
        "secrets/creds",
        "services/web",
    ]
    assert drifted(every.report) == drifted(result.report)


def test_an_admission_policy_in_the_cluster_means_every_object_is_dry_run(
    deployed: tuple[GitRepo, str],
    kube_cluster: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, _ = deployed
    name = f"gitops-check-test-{Path(repo.path).parent.name[-20:]}".lower().replace("_", "-")
    path = f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/{name}"
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": name},
              "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": ["nothing.example.com"], "apiVersions": ["*"],
                       "operations": ["UPDATE"], "resources": ["nothing"]}]},
                       "validations": [{"expression": "true"}]}}  # fmt: skip
    kube_cluster.apply(path, policy)
    try:
        mark = kube_cluster.audit_mark()
        result = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig",
                     str(kube_cluster.admin_kubeconfig))  # fmt: skip
        assert result.code == 0
        assert len(dry_runs(kube_cluster, mark)) == 4
    finally:
        kube_cluster.request("DELETE", path)


@pytest.mark.parametrize(
    ("change", "provable"),
    [
        (lambda b: None, True),
        (lambda b: b["spec"].update(replicas=3), False),  # value differs
        (lambda b: b["spec"].update(paused=None), False),  # null: the server decides
        (lambda b: b["spec"]["template"]["spec"]["containers"][0].update(args=["-v"]), False),  # new field
        (lambda b: b["metadata"]["labels"].pop("app"), False),  # field the agent owned, dropped
        (lambda b: b.update(apiVersion="apps/v1beta2"), False),  # another version
    ],
)
def test_is_noop_is_conservative(
    kube_cluster: TestCluster, kube_namespace: str, change: Any, provable: bool
) -> None:
    body = manifests()[0]
    body["metadata"]["namespace"] = kube_namespace
    live = kube_cluster.apply(f"/apis/apps/v1/namespaces/{kube_namespace}/deployments/web", body,
                              field_manager="argocd-controller")  # fmt: skip
    change(body)
    assert noop.is_noop(body, live, "argocd-controller") is provable
    assert not noop.is_noop(manifests()[0], live, "kustomize-controller")  # another manager owns nothing
