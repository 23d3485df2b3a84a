"""The agents' CRDs on the test API server, and a controller stand-in that answers sync requests as an agent would.

No Argo CD or Flux runs in the tests: :class:`StandIn` is a thread that polls one namespace as the ``admin`` user
(the tool under test runs as ``limited``, so the audit log tells their requests apart) and, when it sees a
trigger, writes what the real controller writes:

* Argo CD: an ``.operation`` on an Application -> ``status.operationState`` Running, then the final phase with
  ``finishedAt``, ``status.sync`` / ``status.health`` / ``status.reconciledAt``, and ``.operation`` removed;
* Flux: a new ``reconcile.fluxcd.io/requestedAt`` annotation -> ``status.lastHandledReconcileAt`` and the
  ``Ready`` condition.

What it does is scripted per object (succeed, fail with a message, degrade, retry then succeed, never answer),
and it records what it saw, in order, for the tests to assert on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.cluster import TestCluster

CRD_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "crds"
MERGE = "application/merge-patch+json"
PATHS = {
    "Application": "/apis/argoproj.io/v1alpha1/namespaces/{ns}/applications",
    "Kustomization": "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/{ns}/kustomizations",
    "HelmRelease": "/apis/helm.toolkit.fluxcd.io/v2/namespaces/{ns}/helmreleases",
    "GitRepository": "/apis/source.toolkit.fluxcd.io/v1/namespaces/{ns}/gitrepositories",
    "OCIRepository": "/apis/source.toolkit.fluxcd.io/v1/namespaces/{ns}/ocirepositories",
    "HelmChart": "/apis/source.toolkit.fluxcd.io/v1/namespaces/{ns}/helmcharts",
}
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"


@pytest.fixture(scope="session")
def agent_crds(kube_cluster: TestCluster) -> TestCluster:
    """The test CRDs (tests/fixtures/crds) installed and served."""
    names = []
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        names.append(crd["metadata"]["name"])
        kube_cluster.apply(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{names[-1]}", crd)
    deadline = time.monotonic() + 30
    for name in names:
        while True:
            crd = kube_cluster.request(
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
            )
            conditions = crd.json().get("status", {}).get("conditions", [])
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"CRD {name} not established")
            time.sleep(0.05)
    for template in PATHS.values():  # served (discovery caught up) before any test uses them
        while not kube_cluster.request("GET", template.format(ns="default")).ok:
            if time.monotonic() > deadline:
                raise AssertionError(f"{template} not served")
            time.sleep(0.05)
    return kube_cluster


def stamp(delta: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------------ objects


def create(cluster: TestCluster, kind: str, namespace: str, name: str, spec: dict[str, Any],
           status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    group_version = PATHS[kind].split("/namespaces/")[0].removeprefix("/apis/")
    body = {
        "apiVersion": group_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": spec,
    }
    resp = cluster.request("POST", PATHS[kind].format(ns=namespace), body=body)
    assert resp.ok, resp.body
    if status is not None:
        write_status(cluster, kind, namespace, name, status)
    return get(cluster, kind, namespace, name)


def get(cluster: TestCluster, kind: str, namespace: str, name: str) -> dict[str, Any]:
    resp = cluster.request("GET", f"{PATHS[kind].format(ns=namespace)}/{name}")
    assert resp.ok, resp.body
    return dict(resp.json())


def write_status(cluster: TestCluster, kind: str, namespace: str, name: str, status: dict[str, Any]) -> None:
    path = f"{PATHS[kind].format(ns=namespace)}/{name}/status"
    resp = cluster.request("PATCH", path, body={"status": status}, content_type=MERGE)
    assert resp.ok, resp.body


def patch(cluster: TestCluster, kind: str, namespace: str, name: str, body: dict[str, Any]) -> None:
    resp = cluster.request(
        "PATCH", f"{PATHS[kind].format(ns=namespace)}/{name}", body=body, content_type=MERGE
    )
    assert resp.ok, resp.body


# ---------------------------------------------------------------------------------------- Argo CD scripts

ArgoStep = Callable[["StandIn", str, dict[str, Any]], None]


def _op_state(app: dict[str, Any], phase: str, message: str, **extra: Any) -> dict[str, Any]:
    state = {"operation": app.get("operation"), "phase": phase, "message": message, "startedAt": stamp()}
    state.update(extra)
    return state


def argo_running(s: StandIn, name: str, app: dict[str, Any]) -> None:
    s.status("Application", name, {"operationState": _op_state(app, "Running", "one phase to go")})


def argo_succeed(s: StandIn, name: str, app: dict[str, Any]) -> None:
    revision = (app.get("operation") or {}).get("sync", {}).get("revision", "HEAD")
    state = _op_state(app, "Succeeded", "successfully synced (all tasks run)", finishedAt=stamp())
    s.status("Application", name, {"operationState": state, "sync": {"status": "Synced", "revision": revision},
                                   "health": {"status": "Healthy"}, "reconciledAt": stamp()})  # fmt: skip
    s.patch("Application", name, {"operation": None})


def argo_fail(message: str) -> ArgoStep:
    def step(s: StandIn, name: str, app: dict[str, Any]) -> None:
        state = _op_state(app, "Failed", message, finishedAt=stamp())
        state["syncResult"] = {"resources": [{"kind": "Deployment", "namespace": "shop", "name": "web",
                                              "status": "SyncFailed", "message": "admission webhook denied"}]}  # fmt: skip
        s.status("Application", name, {"operationState": state})
        s.patch("Application", name, {"operation": None})

    return step


def argo_degrade(message: str) -> ArgoStep:
    def step(s: StandIn, name: str, app: dict[str, Any]) -> None:
        state = _op_state(app, "Succeeded", "successfully synced (all tasks run)", finishedAt=stamp())
        s.status("Application", name, {"operationState": state, "sync": {"status": "Synced"},
                                       "health": {"status": "Degraded", "message": message},
                                       "reconciledAt": stamp()})  # fmt: skip
        s.patch("Application", name, {"operation": None})

    return step


def argo_retrying(s: StandIn, name: str, app: dict[str, Any]) -> None:
    """What the controller writes between tries of a failed sync under the app's retry policy."""
    state = _op_state(app, "Running", "one or more objects failed to apply. Retrying attempt #1 at 10:00AM.",
                      finishedAt=stamp(), retryCount=1)  # fmt: skip
    s.status("Application", name, {"operationState": state})


def argo_succeed_unreconciled(s: StandIn, name: str, app: dict[str, Any]) -> None:
    """Succeeded, but health not reassessed since (reconciledAt before finishedAt), still showing Degraded."""
    state = _op_state(app, "Succeeded", "successfully synced (all tasks run)", finishedAt=stamp())
    s.status("Application", name, {"operationState": state, "sync": {"status": "Synced"},
                                   "health": {"status": "Degraded", "message": "old"},
                                   "reconciledAt": stamp(-120)})  # fmt: skip
    s.patch("Application", name, {"operation": None})
    s.on_refresh[name] = lambda: s.status(
        "Application", name, {"health": {"status": "Healthy", "message": None}, "reconciledAt": stamp(5)}
    )


# ------------------------------------------------------------------------------------------- the stand-in


@dataclass
class FluxAnswer:
    ready: str = "True"  # True | False | None (never answers)
    message: str = "Applied revision: main@sha1:1a2b3c4"
    reason: str = "ReconciliationSucceeded"


@dataclass
class StandIn:
    cluster: TestCluster
    namespace: str
    argo: dict[str, list[ArgoStep]] = field(default_factory=dict)
    flux: dict[tuple[str, str], FluxAnswer] = field(default_factory=dict)
    seen: list[tuple[str, str, Any]] = field(default_factory=list)  # (kind, name, operation / requestedAt)
    on_refresh: dict[str, Callable[[], None]] = field(default_factory=dict)
    interval: float = 0.02
    tolerate_outage: bool = False  # keep going (and redo the current answer) while the API server is down
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    def status(self, kind: str, name: str, status: dict[str, Any]) -> None:
        write_status(self.cluster, kind, self.namespace, name, status)

    def patch(self, kind: str, name: str, body: dict[str, Any]) -> None:
        patch(self.cluster, kind, self.namespace, name, body)

    def _items(self, kind: str) -> list[dict[str, Any]]:
        resp = self.cluster.request("GET", PATHS[kind].format(ns=self.namespace))
        return list(resp.json().get("items", [])) if resp.ok else []

    def _tick(self, handled: set[Any]) -> None:
        for app in self._items("Application"):
            name = app["metadata"]["name"]
            annotations = app["metadata"].get("annotations") or {}
            if name in self.on_refresh and annotations.get("argocd.argoproj.io/refresh"):
                self.on_refresh.pop(name)()
                self.patch(
                    "Application", name, {"metadata": {"annotations": {"argocd.argoproj.io/refresh": None}}}
                )
            key = ("Application", name, app["metadata"].get("generation"))
            if app.get("operation") is None or key in handled:
                continue
            handled.add(key)
            self.seen.append(("Application", name, app["operation"]))
            try:
                for step in self.argo.get(name, []):
                    time.sleep(self.interval)
                    step(self, name, app)
            except Exception:
                handled.discard(key)  # answer again once the server is back
                raise
        for kind in ("Kustomization", "HelmRelease", "GitRepository", "OCIRepository", "HelmChart"):
            for obj in self._items(kind):
                name = obj["metadata"]["name"]
                value = (obj["metadata"].get("annotations") or {}).get(REQUESTED_AT)
                if not value or (kind, name, value) in handled:
                    continue
                handled.add((kind, name, value))
                self.seen.append((kind, name, value))
                answer = self.flux.get((kind, name), FluxAnswer())
                if answer.ready is None:
                    continue
                condition = {"type": "Ready", "status": answer.ready, "reason": answer.reason,
                             "message": answer.message, "lastTransitionTime": stamp()}  # fmt: skip
                self.status(kind, name, {"lastHandledReconcileAt": value, "conditions": [condition],
                                         "observedGeneration": obj["metadata"].get("generation")})  # fmt: skip

    def _run(self) -> None:
        handled: set[Any] = set()
        while not self._stop.is_set():
            try:
                self._tick(handled)
            except Exception as e:  # surfaced by __exit__
                if not (self.tolerate_outage and isinstance(e, OSError)):
                    self.errors.append(e)
                    return
            self._stop.wait(self.interval)

    def __enter__(self) -> StandIn:
        self._thread = threading.Thread(target=self._run, daemon=True, name="controller-stand-in")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self.errors:
            raise self.errors[0]
