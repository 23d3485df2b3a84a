"""How the live reader reads: discovery (aggregated and classic), CRDs, one LIST per kind and namespace,
cluster-wide lists with a per-namespace fallback, pagination."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from gitops_check.cluster import reader
from gitops_check.cluster.client import connect
from gitops_check.cluster.discovery import discover
from gitops_check.cluster.live import LiveCluster, LiveOptions
from gitops_check.model.live import ReadScope
from gitops_check.model.objects import GroupKind, ResourceKey
from tests.helpers.cluster import ADMIN_USER, LIMITED_USER, TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import findings, run

pytestmark = pytest.mark.cluster


def test_aggregated_and_classic_discovery_agree(kube_cluster: TestCluster) -> None:
    group = f"d{uuid.uuid4().hex[:6]}.example.com"
    kube_cluster.apply(
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.{group}",
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
         "metadata": {"name": f"gadgets.{group}"},
         "spec": {"group": group, "scope": "Cluster", "names": {"kind": "Gadget", "plural": "gadgets", "shortNames": ["gdg"]},
                  "versions": [{"name": "v1", "served": True, "storage": True,
                                "schema": {"openAPIV3Schema": {"type": "object"}}}]}},
    )  # fmt: skip
    cluster = connect(str(kube_cluster.admin_kubeconfig))
    for _ in range(50):  # the CRD takes a moment to be served
        aggregated = discover(cluster)
        if aggregated.find(GroupKind(group, "Gadget")):
            break
    classic = discover(cluster, aggregated=False)
    assert {(r.group, r.version, r.kind, r.plural, r.namespaced) for r in aggregated.all} == {
        (r.group, r.version, r.kind, r.plural, r.namespaced) for r in classic.all
    }
    gadget = aggregated.lookup("gdg")
    assert gadget is not None and gadget.path() == f"/apis/{group}/v1/gadgets" and not gadget.namespaced
    deployment = aggregated.lookup("deployments.apps")
    assert (
        deployment is not None and deployment.path("x", "web") == "/apis/apps/v1/namespaces/x/deployments/web"
    )
    assert aggregated.lookup("Service") is aggregated.lookup("svc") is not None
    assert aggregated.lookup("nope") is None


def test_one_list_per_kind_and_namespace_with_pages(kube_cluster: TestCluster, kube_namespace: str) -> None:
    for i in range(7):
        kube_cluster.kubectl("-n", kube_namespace, "create", "configmap", f"cm-{i}")
    live = LiveCluster(LiveOptions(kubeconfig=str(kube_cluster.admin_kubeconfig),
                                   read=reader.ReadOptions(prune_kinds=(), page_size=3)))  # fmt: skip
    mark = kube_cluster.audit_mark()
    state = live.load(
        ReadScope(frozenset({(GroupKind("", "ConfigMap"), kube_namespace)}), frozenset({kube_namespace}))
    )
    names = {k.name for k in state.objects if k.kind == "ConfigMap"}
    assert {f"cm-{i}" for i in range(7)} <= names  # kube-root-ca.crt is not created here (no controllers)
    lists = kube_cluster.audit_events(ADMIN_USER, since=mark, predicate=lambda e: e["verb"] == "list")
    assert len(lists) == 3  # 7 objects, pages of 3
    assert state.coverage.kinds == frozenset({GroupKind("", "ConfigMap")})
    assert state.coverage.namespaces == frozenset({kube_namespace})
    assert state.requests == 3 + 3  # /version, /api, /apis and the pages
    assert ResourceKey("", "ConfigMap", kube_namespace, "cm-0") in state.objects
    assert state.objects[ResourceKey("", "ConfigMap", kube_namespace, "cm-0")]["kind"] == "ConfigMap"


def test_many_namespaces_are_listed_cluster_wide_or_per_namespace_when_forbidden(
    kube_cluster: TestCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    namespaces = [kube_cluster.new_namespace("wide") for _ in range(4)]
    objects = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token", "namespace": ns},
                "data": {"k": "dg=="}} for ns in namespaces]  # fmt: skip
    for obj in objects:
        kube_cluster.apply(f"/api/v1/namespaces/{obj['metadata']['namespace']}/secrets/token", obj,
                           field_manager="argocd-controller")  # fmt: skip
    for ns in namespaces:  # the limited user may read secrets in these namespaces only
        kube_cluster.apply_rbac_for_limited(["secrets"], namespace=ns)
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({".gitops-check.yaml": yaml.safe_dump({"version": 1, "apps": [{"name": "wide", "path": "app", "namespace": namespaces[0]}]}),
                "app/secrets.yaml": yaml.safe_dump_all(objects)})  # fmt: skip
    repo.commit("secrets in four namespaces")

    def secret_lists(user: str, since: int) -> list[tuple[str, int]]:
        events = kube_cluster.audit_events(user, since=since, predicate=lambda e: e["verb"] == "list"
                                           and e["objectRef"]["resource"] == "secrets")  # fmt: skip
        return sorted((e["objectRef"].get("namespace", "*"), e["responseStatus"]["code"]) for e in events)

    mark = kube_cluster.audit_mark()
    admin = run(
        capsys,
        tmp_path,
        "diff",
        "--repo",
        str(repo.path),
        "--live",
        "--kubeconfig",
        str(kube_cluster.admin_kubeconfig),
    )
    assert admin.code == 0, admin.text
    assert secret_lists("admin", mark) == [("*", 200)]  # one cluster-wide list

    mark = kube_cluster.audit_mark()
    limited = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig",
                  str(kube_cluster.limited_kubeconfig), "--client-side", "--accept-unreadable-prune-kinds")  # fmt: skip
    assert {status for status, _ in findings(limited.report).values()} == {"unchanged"}, limited.text
    assert limited.code == 0  # prune kinds it may not read: accepted explicitly, so warnings, not errors
    assert secret_lists(LIMITED_USER, mark) == sorted([("*", 403)] + [(ns, 200) for ns in namespaces])
    assert any("pruning not checked for" in w for w in limited.report["warnings"])


def test_project_file_prune_kinds(kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """A leftover of a kind outside the default prune kinds is found once the project file asks for all kinds."""
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "old-quota", "namespace": kube_namespace,
             "annotations": {"argocd.argoproj.io/tracking-id": f"q:/ResourceQuota:{kube_namespace}/old-quota"}},
             "spec": {"hard": {"pods": "10"}}}  # fmt: skip
    kube_cluster.apply(
        f"/api/v1/namespaces/{kube_namespace}/resourcequotas/old-quota",
        quota,
        field_manager="argocd-controller",
    )
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept", "namespace": kube_namespace}}
    kube_cluster.apply(
        f"/api/v1/namespaces/{kube_namespace}/configmaps/kept", cm, field_manager="argocd-controller"
    )
    repo = GitRepo.init(tmp_path / "repo")
    project = {"version": 1, "apps": [{"name": "q", "path": "app", "namespace": kube_namespace}]}
    repo.write({".gitops-check.yaml": yaml.safe_dump(project), "app/cm.yaml": yaml.safe_dump(cm)})
    repo.commit("default prune kinds")
    kubeconfig = str(kube_cluster.admin_kubeconfig)
    default = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig", kubeconfig)
    assert default.code == 0, default.text
    repo.write({".gitops-check.yaml": yaml.safe_dump({**project, "live": {"pruneKinds": ["all"]}})})
    repo.commit("every kind")
    everything = run(capsys, tmp_path, "diff", "--repo", str(repo.path), "--live", "--kubeconfig", kubeconfig)
    assert everything.code == 1, everything.text
    assert findings(everything.report)[f"ResourceQuota/{kube_namespace}/old-quota"] == (
        "removed",
        frozenset(),
    )
