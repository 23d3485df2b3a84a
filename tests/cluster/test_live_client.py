"""cluster/client.py against the real kube-apiserver: credentials as users have them, and one-line errors."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.cluster.client import ApiError, RetryPolicy, connect, describe, http_error, with_retries
from gitops_check.errors import ClusterError
from tests.helpers.cluster import LIMITED_USER, TestCluster, cluster_binaries, free_port

pytestmark = pytest.mark.cluster

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)


def _kubeconfig(
    cluster: TestCluster, users: dict[str, dict[str, Any]], current: str, **cluster_extra: Any
) -> dict[str, Any]:
    ca = base64.b64encode(cluster.ca_file.read_bytes()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {"server": cluster.server, "certificate-authority-data": ca, **cluster_extra},
            }
        ],
        "users": [{"name": name, "user": user} for name, user in users.items()],
        "contexts": [{"name": name, "context": {"cluster": "c", "user": name}} for name in users],
        "current-context": current,
    }


def _write(path: Path, config: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_kubeconfig_file_and_current_context(kube_cluster: TestCluster) -> None:
    cluster = connect(str(kube_cluster.admin_kubeconfig))
    assert cluster.server == kube_cluster.server
    mark = kube_cluster.audit_mark()
    assert (
        cluster.request("GET", "/api/v1/namespaces/default", what="get namespaces default")["metadata"][
            "name"
        ]
        == "default"
    )
    assert cluster.requests == 1
    event = kube_cluster.wait_for_audit(
        lambda e: e.get("requestURI") == "/api/v1/namespaces/default", since=mark
    )
    assert event["userAgent"].startswith("gitops-check/")


def test_context_is_chosen_from_a_merged_kubeconfig_list(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path
) -> None:
    admin = _write(
        tmp_path / "a.yaml", _kubeconfig(kube_cluster, {"admin": {"token": kube_cluster.token()}}, "admin")
    )
    limited = _kubeconfig(kube_cluster, {"limited": {"token": kube_cluster.token(LIMITED_USER)}}, "limited")
    limited_path = _write(tmp_path / "l.yaml", limited)
    env = {"KUBECONFIG": f"{admin}:{limited_path}", "HOME": str(tmp_path)}

    as_limited = connect(context="limited", environ=env)
    with pytest.raises(ApiError) as err:
        as_limited.request(
            "GET",
            f"/api/v1/namespaces/{kube_namespace}/secrets",
            what=describe("list", "secrets", kube_namespace),
        )
    assert str(err.value) == f"cannot list secrets in namespace {kube_namespace}: forbidden"
    assert err.value.forbidden and not err.value.transient
    assert as_limited.requests == 1  # a 403 is not retried

    as_admin = connect(environ=env)  # current-context of the first file wins, as in kubectl
    assert as_admin.context == "admin"
    assert as_admin.request("GET", f"/api/v1/namespaces/{kube_namespace}/secrets", what="list")["items"] == []

    with pytest.raises(
        ClusterError, match=r"context 'nope' is not in the kubeconfig .*contexts: admin, limited"
    ):
        connect(context="nope", environ=env)


def test_exec_plugin_credentials(kube_cluster: TestCluster, tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, os, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "assert info['kind'] == 'ExecCredential'\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        " 'status': {'token': os.environ['TOKEN'], 'expirationTimestamp': '2099-01-01T00:00:00Z'}}))\n"
    )
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(plugin)], "env": [{"name": "TOKEN", "value": kube_cluster.token()}],
                     "interactiveMode": "Never"}}  # fmt: skip
    path = _write(tmp_path / "k.yaml", _kubeconfig(kube_cluster, {"eks": user}, "eks"))
    cluster = connect(path)
    assert cluster.request("GET", "/api/v1/namespaces/default", what="get")["metadata"]["name"] == "default"

    broken = dict(
        user,
        exec={
            **user["exec"],
            "args": ["-c", "import sys; sys.stderr.write('aws: token expired'); sys.exit(3)"],
        },
    )
    path = _write(tmp_path / "broken.yaml", _kubeconfig(kube_cluster, {"eks": broken}, "eks"))
    with pytest.raises(ClusterError) as err:
        connect(path)
    assert "credential plugin (exec) failed" in str(err.value) and "aws: token expired" in str(err.value)
    assert "\n" not in str(err.value)


def test_in_cluster_service_account(kube_cluster: TestCluster, tmp_path: Path) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(kube_cluster.token())
    (sa / "ca.crt").write_bytes(kube_cluster.ca_file.read_bytes())
    env = {
        "HOME": str(tmp_path),
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(kube_cluster.port),
    }
    cluster = connect(environ=env, service_account_dir=str(sa))
    assert cluster.context == "in-cluster"
    assert cluster.server == kube_cluster.server
    assert cluster.request("GET", "/version", what="get the server version")["gitVersion"].startswith("v1.")


def test_no_credentials_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="no cluster credentials: pass --kubeconfig"):
        connect(environ={"HOME": str(tmp_path)})
    with pytest.raises(ClusterError, match="does not exist"):
        connect(str(tmp_path / "missing.yaml"))


def test_unreachable_server_after_bounded_retries(kube_cluster: TestCluster, tmp_path: Path) -> None:
    config = _kubeconfig(kube_cluster, {"admin": {"token": kube_cluster.token()}}, "admin")
    port = free_port()
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    cluster = connect(_write(tmp_path / "k.yaml", config), retry=FAST)
    with pytest.raises(ApiError) as err:
        cluster.request("GET", "/api/v1/namespaces/shop/pods", what=describe("list", "pods", "shop"))
    assert (
        str(err.value)
        == f"cluster https://127.0.0.1:{port} unreachable: connection refused (gave up after 3 attempts)"
    )
    assert cluster.requests == 3


def test_wrong_certificate_authority_and_rejected_token(kube_cluster: TestCluster, tmp_path: Path) -> None:
    config = _kubeconfig(kube_cluster, {"admin": {"token": "wrong-token-123"}}, "admin")
    cluster = connect(_write(tmp_path / "bad-token.yaml", config), retry=FAST)
    with pytest.raises(ApiError) as err:
        cluster.request("GET", "/api/v1/namespaces", what="list namespaces")
    assert err.value.status == 401 and "wrong-token-123" not in str(err.value)
    assert str(err.value).startswith("cannot list namespaces: unauthorized")

    del config["clusters"][0]["cluster"]["certificate-authority-data"]  # system CAs do not know this server
    config["users"][0]["user"]["token"] = kube_cluster.token()
    cluster = connect(_write(tmp_path / "no-ca.yaml", config), retry=FAST)
    with pytest.raises(ApiError, match=r"TLS certificate verify failed") as err:
        cluster.request("GET", "/api/v1/namespaces", what="list namespaces")
    assert cluster.requests == 1  # TLS failures are not transient
    assert kube_cluster.token() not in str(err.value)


def test_a_connection_dropped_mid_handshake_is_retried(kube_cluster: TestCluster, tmp_path: Path) -> None:
    """A server that reads the ClientHello and hangs up (as a loaded API server or a proxy may) has decided
    nothing about certificates: the request is tried again, and the error says what happened."""
    listener = socket.create_server(("127.0.0.1", 0))
    hung_up = 0

    def hang_up() -> None:
        nonlocal hung_up
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(4096)
            conn.close()
            hung_up += 1

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        server = f"https://127.0.0.1:{listener.getsockname()[1]}"
        config = _kubeconfig(kube_cluster, {"admin": {"token": kube_cluster.token()}}, "admin", server=server)
        cluster = connect(_write(tmp_path / "k.yaml", config), retry=FAST)
        with pytest.raises(ApiError) as err:
            cluster.request("GET", "/api/v1/namespaces", what="list namespaces")
    finally:
        listener.close()
    assert str(err.value) == (
        f"cluster {server} dropped the connection during the TLS handshake (list namespaces)"
        " (gave up after 3 attempts)"
    )
    assert err.value.reason == "Dropped" and cluster.requests == 3 and hung_up == 3


def test_with_retries_honours_retry_after_and_gives_up() -> None:
    body = json.dumps({"kind": "Status", "message": "too many requests, please try again later"})
    waits: list[float] = []
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise http_error(429, body, {"Retry-After": "2"}, describe("list", "pods", "shop"), "https://x")
        return "ok"

    policy = RetryPolicy(attempts=4)
    assert with_retries(flaky, "list pods", server="https://x", policy=policy, sleep=waits.append) == "ok"
    assert waits == [2.0, 2.0]

    calls = -10
    with pytest.raises(ApiError) as err:
        with_retries(
            flaky, describe("list", "pods", "shop"), server="https://x", policy=policy, sleep=waits.append
        )
    assert (
        str(err.value)
        == "cannot list pods in namespace shop: HTTP 429 too many requests from https://x (gave up after 4 attempts)"
    )


def test_json_bodies_and_the_read_only_guard(kube_cluster: TestCluster, kube_namespace: str) -> None:
    cluster = connect(str(kube_cluster.admin_kubeconfig))
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "list", "resource": "secrets", "namespace": kube_namespace}},
    }
    answer = cluster.request(
        "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review, what="review"
    )
    assert answer["status"]["allowed"] is True

    read_only = connect(str(kube_cluster.admin_kubeconfig), read_only=True)
    mark = kube_cluster.audit_mark()
    with pytest.raises(ApiError, match="refusing to delete configmaps x: this connection is read-only"):
        read_only.request(
            "DELETE", f"/api/v1/namespaces/{kube_namespace}/configmaps/x", what="delete configmaps x"
        )
    with pytest.raises(ApiError, match="read-only"):
        read_only.request("PATCH", f"/api/v1/namespaces/{kube_namespace}/configmaps/x", what="patch", body={})
    assert read_only.requests == 0
    assert (
        kube_cluster.audit_events(
            since=mark, predicate=lambda e: e.get("userAgent", "").startswith("gitops-check")
        )
        == []
    )
    dry = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": kube_namespace}}
    result = read_only.request("PATCH", f"/api/v1/namespaces/{kube_namespace}/configmaps/x", what="dry-run",
                               query={"dryRun": "All", "fieldManager": "t"}, body=dry,
                               content_type="application/apply-patch+yaml")  # fmt: skip
    assert result["metadata"]["name"] == "x"


def test_token_file_insecure_and_refused_auth_provider(kube_cluster: TestCluster, tmp_path: Path) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "token").write_text(kube_cluster.token() + "\n")
    config = _kubeconfig(
        kube_cluster, {"me": {"tokenFile": "creds/token"}}, "me"
    )  # relative to the kubeconfig
    assert connect(_write(tmp_path / "k.yaml", config)).request("GET", "/version", what="v")["major"] == "1"

    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    assert connect(_write(tmp_path / "k2.yaml", config)).request("GET", "/version", what="v")["major"] == "1"

    config["users"][0]["user"] = {"auth-provider": {"name": "gcp"}}
    with pytest.raises(
        ClusterError, match=r"auth-provider 'gcp' is not supported .*use its exec credential plugin"
    ):
        connect(_write(tmp_path / "k3.yaml", config))


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


def test_oidc_auth_provider_sends_its_id_token_as_kubectl_does(
    kube_cluster: TestCluster, tmp_path: Path
) -> None:
    """kubectl's one remaining auth-provider: the id-token while it is valid (scripts/compare_kubeconfig_loaders.py)."""
    oidc = {
        "client-id": "ci",
        "idp-issuer-url": "https://issuer.example",
        "id-token": _jwt({"exp": 4102444800}),
    }
    config = _kubeconfig(kube_cluster, {"me": {"auth-provider": {"name": "oidc", "config": oidc}}}, "me")
    with pytest.raises(ApiError) as err:  # sent, and refused by a server that does not know the issuer
        connect(_write(tmp_path / "k.yaml", config)).request("GET", "/version", what="get the version")
    assert err.value.status == 401 and oidc["id-token"] not in str(err.value)

    oidc["id-token"] = _jwt({"exp": 1_000_000_000})
    with pytest.raises(
        ClusterError, match=r"oidc id-token has expired; gitops-check does not refresh"
    ) as gone:
        connect(_write(tmp_path / "k2.yaml", config))
    assert oidc["id-token"] not in str(gone.value)
    del oidc["client-id"]
    with pytest.raises(ClusterError, match=r"auth-provider oidc without client-id"):
        connect(_write(tmp_path / "k3.yaml", config))


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.slow
def test_client_certificate_on_an_api_server_that_asks_for_one(tmp_path: Path) -> None:
    """A second, real API server with --client-ca-file: the certificate in the kubeconfig authenticates."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not found")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-subj", "/CN=gitops-check-test-ca", "-days", "1", cwd=tmp_path)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
             "-subj", "/CN=cert-user/O=system:masters", cwd=tmp_path)  # fmt: skip
    _openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "client.crt", "-days", "1", cwd=tmp_path)  # fmt: skip
    apiserver, etcd = cluster_binaries()
    with TestCluster(
        apiserver, etcd, tmp_path / "c", extra_apiserver_args=[f"--client-ca-file={tmp_path / 'ca.crt'}"]
    ) as other:
        server_ca = base64.b64encode(other.ca_file.read_bytes()).decode()
        user = {"client-certificate": str(tmp_path / "client.crt"),
                "client-key-data": base64.b64encode((tmp_path / "client.key").read_bytes()).decode()}  # fmt: skip
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
                  "clusters": [{"name": "c", "cluster": {"server": other.server, "certificate-authority-data": server_ca}}],
                  "users": [{"name": "u", "user": user}], "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}  # fmt: skip
        cluster = connect(_write(tmp_path / "k.yaml", config))
        assert (
            cluster.request("GET", "/api/v1/namespaces/default", what="get")["metadata"]["name"] == "default"
        )
        event = other.wait_for_audit(lambda e: str(e.get("userAgent", "")).startswith("gitops-check/"))
        assert event["user"]["username"] == "cert-user"
        assert "system:masters" in event["user"]["groups"]
