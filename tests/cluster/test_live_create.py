"""Objects whose namespace or CRD arrives with the same change are "would be created", never an error."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import findings, run

pytestmark = pytest.mark.cluster


def test_new_namespace_and_new_crd_would_be_created(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = f"fresh-{uuid.uuid4().hex[:8]}"
    group = f"g{uuid.uuid4().hex[:6]}.example.com"
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": fresh}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": fresh}, "data": {"a": "b"}},
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {
                "group": group,
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                "scope": "Namespaced",
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                    "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
            },
        },
        {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}},
        # And one object in an existing namespace that is in sync is unaffected.
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "present"}, "data": {"k": "v"}},
    ]  # fmt: skip
    kube_cluster.apply(
        f"/api/v1/namespaces/{kube_namespace}/configmaps/present",
        {**objects[-1], "metadata": {"name": "present", "namespace": kube_namespace}},
        field_manager="argocd-controller",
    )
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        ".gitops-check.yaml": yaml.safe_dump({"version": 1, "apps": [
            {"name": "new-stuff", "path": "app", "tool": "directory", "namespace": kube_namespace}]}),
        "app/all.yaml": yaml.safe_dump_all(objects),
    })  # fmt: skip
    repo.commit("new namespace and CRD")
    kubeconfig = str(kube_cluster.admin_kubeconfig)
    expected = {
        f"Namespace/{fresh}": "added",
        f"ConfigMap/{fresh}/cfg": "added",
        f"CustomResourceDefinition/widgets.{group}": "added",
        f"Widget/{kube_namespace}/w1": "added",
        f"ConfigMap/{kube_namespace}/present": "unchanged",
    }
    for mode in ("--server-side", "--client-side"):
        result = run(
            capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig", kubeconfig, mode
        )
        assert result.code == 1, f"{mode}: {result.text}"
        assert {rid: status for rid, (status, _) in findings(result.report).items()} == expected, mode
        assert result.report["errors"] == []
        assert any(
            f"kind Widget.{group} is not served by the cluster" in w for w in result.report["warnings"]
        )
    resources = {r["id"]: r for a in result.report["apps"] for r in a["resources"]}
    assert resources[f"Namespace/{fresh}"]["diff"]  # shown as what would be created
    server = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig", kubeconfig)
    notes = {r["id"]: r["notes"] for a in server.report["apps"] for r in a["resources"]}
    assert f"namespace {fresh} does not exist yet: would be created" in notes[f"ConfigMap/{fresh}/cfg"]
    assert any("is not served yet" in n for n in notes[f"Widget/{kube_namespace}/w1"])
    # Nothing was created by the dry-run.
    assert kube_cluster.request("GET", f"/api/v1/namespaces/{fresh}").status == 404
