"""The real Flux (source-controller and kustomize-controller, built from source by scripts/tools.py) running out of
cluster against a test kube-apiserver.

What runs, once per test session (the tests that use it share one xdist group, so one worker starts it):

* its own :class:`~tests.helpers.cluster.TestCluster` (the controllers watch every namespace and write Events,
  which must not disturb the other tests' audit-log assertions);
* a git server on loopback (``git http-backend``, :mod:`tests.helpers.gitserver`) serving ``git_root``;
* ``source-controller`` with its artifact storage in the work folder, served on a loopback port
  (``--storage-addr``) and advertised there (``--storage-adv-addr``) so kustomize-controller fetches artifacts
  from it; ``kustomize-controller``. Both take ``--metrics-addr`` and ``--health-addr``, given loopback ports,
  and leader election is off: nothing binds 0.0.0.0, so no private network namespace is needed
  (:func:`listening_addresses` lets a test prove it);
* Flux's CRDs (copied next to each binary from the module built) and the ``flux-system`` namespace.

Flux's verdict on an apply is what kustomize-controller logs (JSON, one line per message): ``server-side apply
completed`` with every object and its action (created, configured, unchanged, ...), and ``garbage collection
completed`` with the objects it pruned. :meth:`Flux.apply_log` reads them for one Kustomization and revision.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.helpers.agent import AgentProcesses
from tests.helpers.cluster import (
    ClusterError,
    TestCluster,
    _Proc,
    find_tool,
    free_port,
    poll_until,
    unbuilt_tools,
)

NAMESPACE = "flux-system"
SOURCE_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
GITREPOS = f"/apis/{SOURCE_API}/namespaces/{{ns}}/gitrepositories"
KUSTOMIZATIONS = f"/apis/{KUSTOMIZE_API}/namespaces/{{ns}}/kustomizations"
MERGE = "application/merge-patch+json"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
CONTROLLERS = ("flux-source-controller", "flux-kustomize-controller")
T = TypeVar("T")


class FluxError(RuntimeError):
    pass


def missing_pieces() -> list[str]:
    """What is not there to run Flux here, each with the command that fixes it."""
    missing = unbuilt_tools((*CONTROLLERS, "kube-apiserver", "etcd", "kustomize"))
    if shutil.which("git") is None:
        missing.append("git is not on PATH")
    return missing


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 120, interval: float = 0.1) -> T:
    return poll_until(what, check, timeout=timeout, interval=interval, error=FluxError)


def requested_at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ready_condition(obj: Mapping[str, Any]) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return {}


def listening_addresses(pid: int) -> set[str]:
    """``host:port`` of every TCP socket process ``pid`` listens on (from /proc: its socket inodes)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if m := re.fullmatch(r"socket:\[(\d+)\]", target):
                    inodes.add(m.group(1))
    out = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                    continue
                hex_addr, hex_port = fields[1].split(":")
                raw = bytes.fromhex(hex_addr)
                # /proc prints each 32-bit word in host (little-endian) order.
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                out.add(f"{socket.inet_ntop(family, raw)}:{int(hex_port, 16)}")
    return out


@dataclass
class ApplyLog:
    """What kustomize-controller did for one Kustomization at one revision, from its log."""

    applied: dict[str, str] = field(default_factory=dict)  # "Kind/namespace/name" -> created|configured|...
    pruned: set[str] = field(default_factory=set)  # "Kind/namespace/name"


class Flux(AgentProcesses):
    """Flux's controllers and objects; :meth:`start` ... :meth:`stop`."""

    error = FluxError

    def __init__(self, workdir: Path, cluster: TestCluster) -> None:
        super().__init__(workdir, cluster)
        self.storage_port = 0
        self.health_ports: dict[str, int] = {}
        self.started_in = 0.0

    # ------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> Flux:
        started = time.monotonic()
        try:
            self.git.start()
            self._install_crds()
            self._namespace(NAMESPACE)
            self.storage_port = free_port()
            storage = self.workdir / "storage"
            storage.mkdir(exist_ok=True)
            self._start(
                "flux-source-controller",
                [
                    f"--storage-path={storage}",
                    f"--storage-addr=127.0.0.1:{self.storage_port}",
                    f"--storage-adv-addr=127.0.0.1:{self.storage_port}",
                ],
            )
            # Requeue dependencies fast: a Kustomization whose source is not Ready yet waits this long.
            self._start("flux-kustomize-controller", ["--requeue-dependency=2s"])
            for name in CONTROLLERS:
                wait_for(f"{name} /readyz", lambda n=name: self._ready(n), timeout=120)  # type: ignore[misc]
            # The artifact server starts once the manager runs (as the leader: no election here).
            wait_for("source-controller's artifact server", self._storage_open, timeout=60)
            self.started_in = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        return self

    def pid(self, name: str) -> int:
        return self._procs[name].popen.pid

    def log_path(self, name: str) -> Path:
        return self._procs[name].log

    def _start(self, name: str, flags: list[str]) -> None:
        binary = find_tool(name)
        if binary is None:
            raise FluxError(f"{name} is not built")
        metrics, health = free_port(), free_port()
        self.health_ports[name] = health
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        argv = [
            str(binary),
            f"--metrics-addr=127.0.0.1:{metrics}",
            f"--health-addr=127.0.0.1:{health}",
            "--events-addr=",
            "--log-level=info",
            "--log-encoding=json",
            "--watch-all-namespaces=true",
            *flags,
        ]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "TMPDIR": str(self.workdir),
            "KUBECONFIG": str(self.cluster.admin_kubeconfig),
            "RUNTIME_NAMESPACE": NAMESPACE,
        }
        self._procs[name] = _Proc(name, argv, self.workdir / f"{name}.log", env=env)

    def _storage_open(self) -> bool:
        self._check_alive()
        try:
            socket.create_connection(("127.0.0.1", self.storage_port), 2).close()
            return True
        except OSError:
            return False

    def _ready(self, name: str) -> bool:
        self._check_alive()
        try:
            url = f"http://127.0.0.1:{self.health_ports[name]}/readyz"
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    # ---------------------------------------------------------------------------------------- objects

    def _install_crds(self) -> None:
        names = []
        for tool in CONTROLLERS:
            files = Path(f"{find_tool(tool)}-files") / "crds"
            for path in sorted(files.glob("*.yaml")):
                crd = yaml.safe_load(path.read_text())
                names.append(crd["metadata"]["name"])
                self.cluster.apply(
                    f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{names[-1]}", crd
                )

        def established() -> bool:
            for name in names:
                crd = self.cluster.request(
                    "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
                ).json()
                conditions = (crd.get("status") or {}).get("conditions") or []
                if not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                    return False
            return self.cluster.request("GET", KUSTOMIZATIONS.format(ns=NAMESPACE)).ok

        wait_for("Flux's CRDs to be established and served", established, timeout=60)

    def _namespace(self, name: str) -> None:
        resp = self.cluster.request(
            "POST",
            "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
        if not resp.ok and resp.status != 409:
            raise ClusterError(f"namespace {name}: HTTP {resp.status}")

    def namespace(self, name: str) -> None:
        self._namespace(name)

    def apply(self, obj: Mapping[str, Any]) -> Any:
        """Server-side apply a GitRepository, Kustomization, ConfigMap or Secret (namespaced) as the harness."""
        api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        ns = obj["metadata"].get("namespace") or NAMESPACE
        plural = {"GitRepository": "gitrepositories"}.get(kind, kind.lower() + "s")
        return self.cluster.apply(f"{base}/namespaces/{ns}/{plural}/{obj['metadata']['name']}", obj)

    def git_repository(self, name: str, url: str, *, branch: str = "main") -> dict[str, Any]:
        """A GitRepository in flux-system following ``branch`` of ``url`` (interval 1h: reconciled on request)."""
        obj = {
            "apiVersion": SOURCE_API,
            "kind": "GitRepository",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"url": url, "ref": {"branch": branch}, "interval": "1h", "timeout": "60s"},
        }
        self.apply(obj)
        return obj

    def get(self, kind: str, name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
        path = (GITREPOS if kind == "GitRepository" else KUSTOMIZATIONS).format(ns=namespace)
        resp = self.cluster.request("GET", f"{path}/{name}")
        if not resp.ok:
            raise FluxError(f"{kind} {namespace}/{name}: HTTP {resp.status}")
        return dict(resp.json())

    def request_reconcile(self, kind: str, name: str, namespace: str = NAMESPACE) -> str:
        """What ``flux reconcile`` sends: the requestedAt annotation, a new time. Returns the value sent."""
        value = requested_at()
        path = (GITREPOS if kind == "GitRepository" else KUSTOMIZATIONS).format(ns=namespace)
        resp = self.cluster.request(
            "PATCH",
            f"{path}/{name}",
            body={"metadata": {"annotations": {REQUESTED_AT: value}}},
            content_type=MERGE,
        )
        if not resp.ok:
            raise FluxError(f"reconcile {kind} {namespace}/{name}: HTTP {resp.status}: {resp.body[:300]!r}")
        return value

    def wait_ready(
        self,
        kind: str,
        name: str,
        *,
        namespace: str = NAMESPACE,
        revision: str | None = None,
        handled: str | None = None,
        timeout: float = 120,
        allow_failed: bool = False,
    ) -> dict[str, Any]:
        """Until the object's Ready condition is True for the current generation (at ``revision``: the commit
        SHA, matched against the end of ``status.lastAppliedRevision`` / ``artifact.revision``; after the
        request ``handled``). With ``allow_failed``, Ready False counts as an answer too."""

        def check() -> dict[str, Any] | None:
            self._check_alive()
            obj = self.get(kind, name, namespace)
            status = obj.get("status") or {}
            if status.get("observedGeneration") != obj["metadata"].get("generation"):
                return None
            if handled is not None and status.get("lastHandledReconcileAt") != handled:
                return None
            ready = ready_condition(obj).get("status")
            if ready == "False" and allow_failed:
                return obj
            if ready != "True":
                return None
            if revision is not None:
                seen = (
                    status.get("lastAppliedRevision") or (status.get("artifact") or {}).get("revision") or ""
                )
                if not str(seen).endswith(revision):
                    return None
            return obj

        try:
            return wait_for(f"{kind} {namespace}/{name} Ready", check, timeout=timeout)
        except FluxError as exc:
            try:
                status = json.dumps(self.get(kind, name, namespace).get("status"), indent=1)[:3000]
            except FluxError as again:
                status = str(again)
            raise FluxError(f"{exc}\nstatus: {status}\n{self.logs(15)}") from None

    def inventory(self, name: str, namespace: str = NAMESPACE) -> set[str]:
        """The Kustomization's inventory as ``Kind/namespace/name`` (``Kind/name`` for cluster-scoped)."""
        entries = (
            (self.get("Kustomization", name, namespace).get("status") or {}).get("inventory") or {}
        ).get("entries") or []
        out = set()
        for entry in entries:
            # id: <namespace>_<name>_<group>_<kind>; names and namespaces hold no '_' (DNS names)
            ns, obj_name, _group, kind = str(entry["id"]).split("_")
            out.add(f"{kind}/{ns}/{obj_name}" if ns else f"{kind}/{obj_name}")
        return out

    def apply_log(self, name: str, revision: str, namespace: str = NAMESPACE) -> ApplyLog:
        """What kustomize-controller logged it applied and pruned for the Kustomization at ``revision``."""
        out = ApplyLog()
        for line in self.log_path("flux-kustomize-controller").read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if (
                not isinstance(entry, dict)
                or entry.get("name") != name
                or entry.get("namespace") != namespace
            ):
                continue
            msg = str(entry.get("msg") or "")
            if msg == "server-side apply completed" and str(entry.get("revision") or "").endswith(revision):
                # The first apply at this revision is the one that changed things; later ones (a requested
                # reconcile after the source's own event) find everything unchanged.
                for subject, action in (entry.get("output") or {}).items():
                    out.applied.setdefault(str(subject), str(action))
            elif msg.startswith("garbage collection completed: "):
                for change in msg.removeprefix("garbage collection completed: ").splitlines():
                    subject, _, action = change.strip().rpartition(" ")
                    if action == "deleted":
                        out.pruned.add(subject)
        return out


__all__ = [
    "ApplyLog",
    "Flux",
    "FluxError",
    "listening_addresses",
    "missing_pieces",
    "wait_for",
]
