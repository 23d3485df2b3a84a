"""The real Argo CD (v3.6, built from source by scripts/tools.py) running against a test kube-apiserver.

What runs, once per test session (the tests that use it share one xdist group, so one worker starts it):

* its own :class:`~tests.helpers.cluster.TestCluster` (etcd + kube-apiserver): Argo CD watches every kind in
  the cluster, which must not disturb the other tests' audit-log assertions;
* a git server on loopback (``git http-backend``, :mod:`tests.helpers.gitserver`) serving ``git_root``;
* a private network namespace (:mod:`tests.helpers.netns`) bridged to the kube-apiserver and git ports (same
  URLs inside and out) and from the API server's port back out;
* inside it: Redis (miniredis, ``argocd-redis``), ``argocd-repo-server``, ``argocd-application-controller``
  and ``argocd-server --insecure`` — with Argo CD's CRDs, ``argocd-cm`` (an API-key account ``ci``),
  ``argocd-rbac-cm``, ``argocd-cmd-params-cm``, ``argocd-secret`` (admin password), a repository Secret for the
  git server and the ``default`` AppProject.

Helpers wait on conditions (Application status, HTTP answers) with generous deadlines and never sleep blindly.
Argo CD's verdict is read from the Application status after a hard refresh (a plain refresh, and
``argocd admin app get-reconcile-results --refresh``, may compare with a cached resolution of ``HEAD``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.helpers import netns
from tests.helpers.agent import AgentProcesses
from tests.helpers.cluster import (
    ClusterError,
    TestCluster,
    _die_with_parent,
    _Proc,
    bin_cache_dir,
    find_tool,
    free_port,
    poll_until,
    unbuilt_tools,
)

NAMESPACE = "argocd"
APPS = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"
MERGE = "application/merge-patch+json"
REDIS_PORT, REPO_SERVER_PORT = 6379, 8081
ACCOUNT = "ci"
T = TypeVar("T")


class ArgoError(RuntimeError):
    pass


def missing_pieces() -> list[str]:
    """What is not there to run Argo CD here, each with the command that fixes it."""
    missing = unbuilt_tools(("argocd", "argocd-redis", "kube-apiserver", "etcd", "helm4", "kustomize"))
    if os.geteuid() != 0:
        missing.append("Argo CD runs in a private network namespace, which needs root (unshare CLONE_NEWNET)")
    if shutil.which("git") is None:
        missing.append("git is not on PATH")
    return missing


# An annotation of the test harness's own, written only to make Argo CD's controller look at an app again.
_NUDGE = "test-harness.gitops-check.io/nudge"
_NUDGE_SECONDS = 15.0


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 120, interval: float = 0.1) -> T:
    return poll_until(what, check, timeout=timeout, interval=interval, error=ArgoError)


def _in_netns(ns_path: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread that joined the namespace (a socket belongs to its creator thread's namespace)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            netns.enter(ns_path)
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class ArgoCD(AgentProcesses):
    """Argo CD's processes and objects; :meth:`start` ... :meth:`stop`."""

    error = ArgoError

    def __init__(self, workdir: Path, cluster: TestCluster) -> None:
        super().__init__(workdir, cluster)
        self.files = Path(str(find_tool("argocd")) + "-files")
        self.binary = find_tool("argocd")
        self.server_port = 0
        self.ns_path = ""
        self.admin_password = "admin-" + secrets.token_hex(8)
        self.token = ""
        self._bridge: subprocess.Popen[str] | None = None
        self.bin_dir = workdir / "bin"

    # ------------------------------------------------------------------------------------------ lifecycle

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def start(self) -> ArgoCD:
        try:
            self._tools_dir()
            self.git.start()
            self.server_port = free_port()
            self._start_bridge()
            self._install_crds()
            self._install_settings()
            self._start("redis", [str(find_tool("argocd-redis")), f"127.0.0.1:{REDIS_PORT}"])
            self._wait_port("redis", REDIS_PORT)
            self._start_repo_server()
            self._start_controller()
            self._start_server()
            self._wait_port("argocd-repo-server", REPO_SERVER_PORT)
            wait_for("argocd-server /healthz", self._server_healthy, timeout=120)
            self.token = self._account_token()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        super().stop()
        if self._bridge is not None:
            self._bridge.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._bridge.wait(10)
            if self._bridge.poll() is None:
                self._bridge.kill()
                self._bridge.wait(5)
            self._bridge = None

    def _tools_dir(self) -> None:
        """helm (Helm 4, as Argo CD v3.6 ships), kustomize and git-verify-wrapper.sh for the repo-server."""
        self.bin_dir.mkdir(exist_ok=True)
        links = {
            "helm": find_tool("helm4"),
            "kustomize": find_tool("kustomize"),
            "git-verify-wrapper.sh": self.files / "git-verify-wrapper.sh",
        }
        for name, target in links.items():
            link = self.bin_dir / name
            if not link.exists():
                link.symlink_to(target)  # type: ignore[arg-type]

    def _start_bridge(self) -> None:
        argv = [
            sys.executable,
            str(Path(netns.__file__)),
            "--to-host",
            str(self.cluster.port),
            "--to-host",
            str(self.git.port),
            "--to-inner",
            str(self.server_port),
        ]
        self._bridge = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=_die_with_parent
        )
        assert self._bridge.stdout is not None
        line = self._bridge.stdout.readline().strip()
        if not line.startswith("ready "):
            raise ArgoError(f"network namespace bridge did not start: {line or self._bridge.wait(5)}")
        self.ns_path = line.split(" ", 1)[1]

    def _env(self, binary_name: str, **extra: str) -> dict[str, str]:
        home = self.workdir / "home"
        tmp = self.workdir / "tmp"
        home.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        return {
            "PATH": f"{self.bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "ARGOCD_BINARY_NAME": binary_name,
            "ARGOCD_GPG_ENABLED": "false",
            "ARGOCD_FAKE_IN_CLUSTER": "true",
            "KUBECONFIG": str(self.cluster.admin_kubeconfig),
            "ARGOCD_ASK_PASS_SOCK": str(self.workdir / f"askpass-{binary_name}.sock"),
            **extra,
        }

    def _start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        ns_path = self.ns_path

        def preexec() -> None:
            _die_with_parent()
            netns.enter(ns_path)

        self._procs[name] = _Proc(name, argv, self.workdir / f"{name}.log", env=env, preexec_fn=preexec)

    def _start_repo_server(self) -> None:
        argv = [str(self.binary), "--redis", f"127.0.0.1:{REDIS_PORT}", "--loglevel", "info"]
        self._start("argocd-repo-server", argv, self._env("argocd-repo-server"))

    def _start_controller(self) -> None:
        argv = [
            str(self.binary),
            "--namespace", NAMESPACE,
            "--repo-server", f"127.0.0.1:{REPO_SERVER_PORT}",
            "--redis", f"127.0.0.1:{REDIS_PORT}",
            "--status-processors", "4",
            "--operation-processors", "4",
            "--app-resync", "3600",
            "--self-heal-timeout-seconds", "1",
            "--loglevel", "info",
        ]  # fmt: skip
        self._start("argocd-application-controller", argv, self._env("argocd-application-controller"))

    def _start_server(self) -> None:
        assets = self.workdir / "static"
        assets.mkdir(exist_ok=True)
        argv = [
            str(self.binary),
            "--namespace", NAMESPACE,
            "--insecure",
            "--address", "127.0.0.1",
            "--port", str(self.server_port),
            "--metrics-address", "127.0.0.1",
            "--staticassets", str(assets),
            "--repo-server", f"127.0.0.1:{REPO_SERVER_PORT}",
            "--redis", f"127.0.0.1:{REDIS_PORT}",
            "--loglevel", "info",
        ]  # fmt: skip
        self._start("argocd-server", argv, self._env("argocd-server"))

    def start_applicationset_controller(self) -> None:
        """The ApplicationSet controller (started on demand: only the ApplicationSet oracle needs it)."""
        if "argocd-applicationset-controller" in self._procs:
            return
        argv = [
            str(self.binary),
            "--namespace", NAMESPACE,
            "--argocd-repo-server", f"127.0.0.1:{REPO_SERVER_PORT}",
            # Inside the private namespace; "0" turns the metrics and probe servers off (the probe's default
            # port is the repo-server's).
            "--metrics-addr", "0",
            "--probe-addr", "0",
            "--webhook-addr", "127.0.0.1:7000",
            "--policy", "sync",
            "--logformat", "text",
            "--loglevel", "info",
        ]  # fmt: skip
        self._start("argocd-applicationset-controller", argv, self._env("argocd-applicationset-controller"))

    def applications(self) -> list[dict[str, Any]]:
        resp = self.cluster.request("GET", APPS)
        if not resp.ok:
            raise ArgoError(f"listing Applications: HTTP {resp.status}")
        return list(resp.json().get("items") or [])

    def _wait_port(self, name: str, port: int) -> None:
        def open_() -> bool:
            self._check_alive()

            def connect() -> bool:
                import socket

                try:
                    socket.create_connection(("127.0.0.1", port), 2).close()
                    return True
                except OSError:
                    return False

            return _in_netns(self.ns_path, connect)

        wait_for(f"{name} on port {port} (inside the namespace)", open_, timeout=120)

    def _server_healthy(self) -> bool:
        self._check_alive()
        try:
            with urllib.request.urlopen(f"{self.server_url}/healthz", timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    # ---------------------------------------------------------------------------------------- objects

    def _install_crds(self) -> None:
        names = []
        for path in sorted((self.files / "crds").glob("*.yaml")):
            crd = yaml.safe_load(path.read_text())
            names.append(crd["metadata"]["name"])
            self.cluster.apply(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{names[-1]}", crd)

        def established() -> bool:
            for name in names:
                crd = self.cluster.request(
                    "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
                )
                conditions = (crd.json().get("status") or {}).get("conditions") or []
                if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                    return False
            return self.cluster.request("GET", APPS).ok

        wait_for("Argo CD's CRDs to be established and served", established, timeout=60)

    def _bcrypt(self, password: str) -> str:
        out = subprocess.run(
            [str(self.binary), "account", "bcrypt", "--password", password],
            capture_output=True,
            text=True,
            env=self._env("argocd"),
            timeout=60,
            check=True,
        )
        return out.stdout.strip()

    def _install_settings(self) -> None:
        resp = self.cluster.request(
            "POST",
            "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        )
        if not resp.ok and resp.status != 409:
            raise ClusterError(f"namespace {NAMESPACE}: HTTP {resp.status}")
        part_of = {"app.kubernetes.io/part-of": "argocd"}
        self.apply_configmap(
            "argocd-cm",
            {
                "accounts.ci": "apiKey",
                "timeout.reconciliation": "3600s",
                # tests/agents/corpus.py's argocd-cm says the same, for gitops-check.
                "kustomize.buildOptions": "--load-restrictor LoadRestrictionsNone",
            },
        )
        self.apply_configmap(
            "argocd-rbac-cm", {"policy.csv": f"g, {ACCOUNT}, role:admin\n", "policy.default": "role:readonly"}
        )
        self.apply_configmap("argocd-cmd-params-cm", {})
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.apply_object(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "argocd-secret", "namespace": NAMESPACE, "labels": part_of},
                "stringData": {
                    "server.secretkey": secrets.token_urlsafe(32),
                    "admin.password": self._bcrypt(self.admin_password),
                    "admin.passwordMtime": now,
                },
            }
        )
        self.apply_object(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "repo-creds-loopback",
                    "namespace": NAMESPACE,
                    "labels": {"argocd.argoproj.io/secret-type": "repo-creds"},
                },
                "stringData": {"type": "git", "url": f"http://127.0.0.1:{self.git.port}/"},
            }
        )
        self.apply_object(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AppProject",
                "metadata": {"name": "default", "namespace": NAMESPACE},
                "spec": {
                    "sourceRepos": ["*"],
                    "destinations": [{"server": "*", "namespace": "*"}],
                    "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                },
            }
        )

    def add_cluster_secret(self, name: str) -> str:
        """An Argo CD cluster Secret for the test API server by its own URL (as a second, external cluster).

        Returns that URL: the kubeconfig's server, so gitops-check can match a destination to it by URL.
        """
        ca = base64.b64encode(self.cluster.ca_file.read_bytes()).decode()
        config = {"bearerToken": self.cluster.token(), "tlsClientConfig": {"caData": ca}}
        self.apply_object(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": f"cluster-{name}",
                    "namespace": NAMESPACE,
                    "labels": {"argocd.argoproj.io/secret-type": "cluster"},
                },
                "stringData": {"name": name, "server": self.cluster.server, "config": json.dumps(config)},
            }
        )
        return self.cluster.server

    def apply_configmap(self, name: str, data: Mapping[str, str]) -> None:
        self.apply_object(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": NAMESPACE,
                    "labels": {"app.kubernetes.io/part-of": "argocd"},
                },
                "data": dict(data),
            }
        )

    def apply_object(self, obj: Mapping[str, Any]) -> Any:
        """Server-side apply one object (namespaced kinds: give metadata.namespace) as the test harness."""
        api_version = str(obj["apiVersion"])
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        ns = obj["metadata"].get("namespace")
        if ns:
            base += f"/namespaces/{ns}"
        plural = str(obj["kind"]).lower() + "s"  # ConfigMap, Secret, AppProject: regular plurals
        return self.cluster.apply(f"{base}/{plural}/{obj['metadata']['name']}", obj)

    # ------------------------------------------------------------------------------------- the REST API

    def _account_token(self) -> str:
        session = self.rest("POST", "/api/v1/session", {"username": "admin", "password": self.admin_password})
        bearer = session["token"]
        answer = self.rest("POST", f"/api/v1/account/{ACCOUNT}/token", {"name": ACCOUNT}, token=bearer)
        return str(answer["token"])

    def rest(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.server_url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token or self.token:
            req.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raise ArgoError(f"{method} {path}: HTTP {err.code}: {err.read()[:500]!r}") from err

    # --------------------------------------------------------------------------------- Applications

    def app(self, name: str) -> dict[str, Any]:
        resp = self.cluster.request("GET", f"{APPS}/{name}")
        if not resp.ok:
            raise ArgoError(f"Application {name}: HTTP {resp.status}")
        return dict(resp.json())

    def create_app(self, app: Mapping[str, Any]) -> None:
        body = json.loads(json.dumps(app))
        body.setdefault("apiVersion", "argoproj.io/v1alpha1")
        body.setdefault("kind", "Application")
        body["metadata"]["namespace"] = NAMESPACE
        resp = self.cluster.request("POST", APPS, body=body)
        if not resp.ok:
            raise ArgoError(
                f"creating Application {body['metadata']['name']}: HTTP {resp.status}: {resp.body[:300]!r}"
            )

    def patch_app(self, name: str, patch: Mapping[str, Any]) -> None:
        resp = self.cluster.request("PATCH", f"{APPS}/{name}", body=patch, content_type=MERGE)
        if not resp.ok:
            raise ArgoError(f"patching Application {name}: HTTP {resp.status}: {resp.body[:300]!r}")

    def delete_app(self, name: str) -> None:
        self.cluster.request("DELETE", f"{APPS}/{name}")

    def refresh(
        self, names: list[str], kind: str, *, revision: str | None = None, timeout: float = 180
    ) -> dict[str, dict[str, Any]]:
        """Ask for a refresh (``normal``, or ``hard``: manifests regenerated, no cache) of several apps at once and
        wait until the controller did each (it removes the annotation), at ``revision`` when given."""
        for name in names:
            self.patch_app(name, {"metadata": {"annotations": {"argocd.argoproj.io/refresh": kind}}})
        out = {}
        for name in names:
            out[name] = self.wait_app(
                name,
                self._refreshed(name, revision),
                f"{kind} refresh done" + (f" at {revision[:7]}" if revision else ""),
                timeout,
            )
        return out

    def _nudger(self, name: str) -> Callable[[Mapping[str, Any] | None], None]:
        """Called while waiting on the controller: at most every ``_NUDGE_SECONDS``, the app is touched (an
        annotation of the harness's own), or patched with what is given instead."""
        last = [time.monotonic()]

        def nudge(patch: Mapping[str, Any] | None) -> None:
            if time.monotonic() - last[0] > _NUDGE_SECONDS:
                self.patch_app(name, patch or {"metadata": {"annotations": {_NUDGE: str(time.time_ns())}}})
                last[0] = time.monotonic()

        return nudge

    def _refreshed(self, name: str, revision: str | None) -> Callable[[dict[str, Any]], bool]:
        """Whether the controller did the refresh asked for. While the annotation stays, the app is touched again
        every ``_NUDGE_SECONDS``: under load the controller was seen to miss the update asking for it (the
        annotation stayed for 180 s), and any later update of the object makes it look again."""
        nudge = self._nudger(name)

        def done(app: dict[str, Any]) -> bool:
            if (app["metadata"].get("annotations") or {}).get("argocd.argoproj.io/refresh"):
                nudge(None)
                return False
            sync = (app.get("status") or {}).get("sync", {})
            return sync.get("status") in ("Synced", "OutOfSync") and (
                revision is None or sync.get("revision") == revision
            )

        return done

    def hard_refresh(self, name: str, timeout: float = 180) -> dict[str, Any]:
        """Ask for a hard refresh (manifests regenerated, no cache) and wait until the controller did it."""
        return self.refresh([name], "hard", timeout=timeout)[name]

    def wait_app(
        self, name: str, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = 180
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            self._check_alive()
            app = self.app(name)
            return app if predicate(app) else None

        try:
            return wait_for(f"Application {name}: {what}", check, timeout=timeout, interval=0.1)
        except ArgoError as exc:
            status = json.dumps(self.app(name).get("status"), indent=1)[:3000]
            raise ArgoError(f"{exc}\nstatus: {status}\n{self.logs(15)}") from None

    def wait_synced(self, name: str, timeout: float = 180) -> dict[str, Any]:
        """Until the last operation finished (Succeeded) and the app is Synced."""
        return self.wait_app(
            name,
            lambda a: (
                (a.get("status") or {}).get("operationState", {}).get("phase") == "Succeeded"
                and a.get("operation") is None
                and (a.get("status") or {}).get("sync", {}).get("status") == "Synced"
            ),
            "synced",
            timeout,
        )

    def sync_via_operation(self, name: str, *, prune: bool = True) -> dict[str, Any]:
        before = (self.app(name).get("status") or {}).get("operationState", {}).get("startedAt")
        operation = {
            "operation": {
                "initiatedBy": {"username": "test-harness"},
                "sync": {"prune": prune, "syncStrategy": {"hook": {}}},
            }
        }
        self.patch_app(name, operation)
        nudge = self._nudger(name)

        def finished(app: dict[str, Any]) -> bool:
            state = (app.get("status") or {}).get("operationState") or {}
            if state.get("startedAt") == before:
                # Not started yet. As with refreshes (``_refreshed``): under load the controller was seen to miss
                # the update asking for it (no operation started in 180 s); a later update makes it look again,
                # and an operation gone without having started is asked for again.
                nudge(None if app.get("operation") is not None else operation)
                return False
            return app.get("operation") is None and state.get("phase") in ("Succeeded", "Failed", "Error")

        return self.wait_app(name, finished, "operation finished")


__all__ = ["ArgoCD", "ArgoError", "bin_cache_dir", "missing_pieces", "wait_for"]
