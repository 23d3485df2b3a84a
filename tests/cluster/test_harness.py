"""Proves the test-cluster harness (tests/helpers/cluster.py) works against a real kube-apiserver."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers.cluster import (
    ADMIN_USER,
    LIMITED_USER,
    TestCluster,
    audit_query,
    is_dry_run,
)

pytestmark = pytest.mark.cluster


def _deployment(name: str, namespace: str, image: str = "nginx:1.27") -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def test_version_is_the_built_one(kube_cluster: TestCluster) -> None:
    info = kube_cluster.version()
    built = re.search(r"kube-apiserver-(v[\d.]+)$", str(kube_cluster.kube_apiserver_bin))
    expected = built.group(1) if built else "v1.37.2"
    assert info["gitVersion"] == expected
    assert info["major"] == "1" and info["minor"] == expected.split(".")[1]
    # kubectl reads the same through the admin kubeconfig (CA data, bearer token).
    out = json.loads(kube_cluster.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == expected


def test_admin_server_side_apply_records_field_manager(
    kube_cluster: TestCluster, kube_namespace: str
) -> None:
    dyn = kube_cluster.dynamic_client(ADMIN_USER)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    body = _deployment("web", kube_namespace)

    deployments.create(body=body, namespace=kube_namespace)
    body["spec"]["replicas"] = 3
    applied = deployments.server_side_apply(
        body=body,
        name="web",
        namespace=kube_namespace,
        field_manager="argocd-controller",
        force_conflicts=True,
    )
    assert applied.spec.replicas == 3

    live = deployments.get(name="web", namespace=kube_namespace).to_dict()
    managers = {(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]}
    assert ("argocd-controller", "Apply") in managers
    argo = next(m for m in live["metadata"]["managedFields"] if m["manager"] == "argocd-controller")
    assert "f:replicas" in argo["fieldsV1"]["f:spec"]

    # The same through kubectl, as a user's kubeconfig would do it.
    out = kube_cluster.kubectl(
        "get", "deployment", "web", "-n", kube_namespace, "--show-managed-fields", "-o", "json"
    ).stdout
    assert "argocd-controller" in out


def test_limited_user_reads_configmaps_but_not_secrets(
    kube_cluster: TestCluster, kube_namespace: str
) -> None:
    kube_cluster.apply_rbac_for_limited()
    kube_cluster.kubectl("create", "configmap", "settings", "-n", kube_namespace, "--from-literal=a=b")
    kube_cluster.kubectl("create", "secret", "generic", "token", "-n", kube_namespace, "--from-literal=a=b")

    ok = kube_cluster.request("GET", f"/api/v1/namespaces/{kube_namespace}/configmaps", user=LIMITED_USER)
    assert ok.status == 200
    assert [i["metadata"]["name"] for i in ok.json()["items"]] == ["settings"]

    denied = kube_cluster.request("GET", f"/api/v1/namespaces/{kube_namespace}/secrets", user=LIMITED_USER)
    assert denied.status == 403
    assert denied.json()["reason"] == "Forbidden"

    # kubectl with the limited kubeconfig sees the same.
    proc = kube_cluster.kubectl("get", "secrets", "-n", kube_namespace, user=LIMITED_USER, check=False)
    assert proc.returncode != 0 and "forbidden" in proc.stderr.lower()
    assert (
        "settings"
        in kube_cluster.kubectl("get", "configmaps", "-n", kube_namespace, user=LIMITED_USER).stdout
    )
    assert not kube_cluster.can_i("list", "secrets", namespace=kube_namespace, user=LIMITED_USER)
    assert kube_cluster.can_i(
        "list", "deployments", group="apps", namespace=kube_namespace, user=LIMITED_USER
    )


def test_audit_log_records_limited_user_requests_and_dry_run(
    kube_cluster: TestCluster, kube_namespace: str
) -> None:
    kube_cluster.apply_rbac_for_limited()
    mark = kube_cluster.audit_mark()

    kube_cluster.request("GET", f"/api/v1/namespaces/{kube_namespace}/configmaps", user=LIMITED_USER)
    kube_cluster.request("GET", f"/api/v1/namespaces/{kube_namespace}/secrets", user=LIMITED_USER)
    # A server-side dry-run apply by the limited user: denied (no patch rights), but audited with dryRun=All.
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "probe", "namespace": kube_namespace}}
    resp = kube_cluster.request(
        "PATCH",
        f"/api/v1/namespaces/{kube_namespace}/configmaps/probe",
        user=LIMITED_USER,
        body=cm,
        params={"dryRun": "All", "fieldManager": "gitops-check"},
        content_type="application/apply-patch+yaml",
    )
    assert resp.status == 403
    # And an admin dry-run that is allowed: nothing is stored.
    kube_cluster.apply(
        f"/api/v1/namespaces/{kube_namespace}/configmaps/probe",
        cm,
        field_manager="gitops-check",
        dry_run=True,
    )
    assert kube_cluster.request("GET", f"/api/v1/namespaces/{kube_namespace}/configmaps/probe").status == 404

    dry = kube_cluster.wait_for_audit(
        lambda e: is_dry_run(e) and e["verb"] == "patch", user=LIMITED_USER, since=mark
    )
    assert dry["objectRef"]["resource"] == "configmaps"
    assert dry["objectRef"]["namespace"] == kube_namespace
    assert dry["objectRef"]["name"] == "probe"
    assert dry["responseStatus"]["code"] == 403
    assert audit_query(dry)["fieldManager"] == ["gitops-check"]

    events = kube_cluster.audit_events(LIMITED_USER, since=mark)
    seen = {(e["verb"], e["objectRef"]["resource"], e["responseStatus"]["code"]) for e in events}
    assert ("list", "configmaps", 200) in seen
    assert ("list", "secrets", 403) in seen
    assert all(e["user"]["username"] == LIMITED_USER for e in events)

    admin_dry = kube_cluster.wait_for_audit(
        lambda e: is_dry_run(e) and e.get("objectRef", {}).get("namespace") == kube_namespace,
        user=ADMIN_USER,
        since=mark,
    )
    assert admin_dry["responseStatus"]["code"] in (200, 201)  # 201: the apply would have created it


def test_restart_apiserver_keeps_data_and_credentials(kube_cluster: TestCluster, kube_namespace: str) -> None:
    kube_cluster.kubectl("create", "configmap", "survivor", "-n", kube_namespace)
    kube_cluster.stop_apiserver()
    assert not kube_cluster.apiserver_running
    with pytest.raises(OSError):
        kube_cluster.request("GET", "/readyz", timeout=2)
    kube_cluster.start_apiserver()
    assert kube_cluster.apiserver_running
    # Same port, same CA and tokens: the kubeconfig files written at start still work.
    assert "survivor" in kube_cluster.kubectl("get", "configmap", "survivor", "-n", kube_namespace).stdout
