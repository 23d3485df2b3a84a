"""Ask Flux to reconcile a Kustomization or HelmRelease now, optionally its source first, and read the verdict.

The request is what ``flux reconcile`` sends: a merge patch setting the annotation
``reconcile.fluxcd.io/requestedAt`` to a new RFC3339Nano time. The controller copies the value it handled to
``status.lastHandledReconcileAt``; the request is done when that equals ours and the ``Ready`` condition is
True (False: failed, with its message). A suspended object would never answer, so it is refused up front.

With ``--with-source`` the source is reconciled first and the object only once the source is Ready with our
request handled, as ``flux reconcile --with-source`` does: a Kustomization's ``spec.sourceRef``; a
HelmRelease's ``spec.chartRef``, else the HelmChart the helm-controller made for it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from gitops_check.cluster.agents import AgentObjects, agent_kind
from gitops_check.errors import SyncError
from gitops_check.model.sync import SyncState
from gitops_check.sync.base import Prepared, Progress, SyncSettings, SyncTarget
from gitops_check.sync.policy import RetryPolicy, retrying

REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
FLUX_KINDS = {"kustomization": "Kustomization", "helmrelease": "HelmRelease"}
_SOURCE_KINDS = ("GitRepository", "OCIRepository", "Bucket", "HelmRepository", "HelmChart")


def requested_at(now: datetime) -> str:
    """RFC3339Nano as Go prints it: UTC, trailing zeros of the fraction dropped."""
    text = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def _ready(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == "Ready":
            return cond
    return None


def progress(obj: Mapping[str, Any], requested: str) -> Progress:
    """Where a reconcile request stands: handled (``lastHandledReconcileAt``) and Ready True / False."""
    status = obj.get("status") or {}
    ready = _ready(obj) or {}
    ready_status = ready.get("status")
    message = str(ready.get("message") or "")
    reason = str(ready.get("reason") or "")
    if status.get("lastHandledReconcileAt") != requested:
        now = f" (Ready {ready_status}: {message})" if ready_status else ""
        return Progress(None, f"waiting for the controller to handle the request{now}", ready_status)
    generation = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return Progress(None, f"waiting for generation {generation} to be observed", ready_status)
    if ready_status == "True":
        return Progress(SyncState.SUCCEEDED, message or "Ready", ready_status)
    if ready_status == "False":
        text = f"{reason}: {message}" if reason and message else message or reason or "Ready is False"
        return Progress(SyncState.FAILED, text, ready_status)
    return Progress(None, "reconciling" + (f": {message}" if message else ""), ready_status)


def source_of(kind: str, obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """(kind, namespace, name) of the source ``flux reconcile --with-source`` reconciles first."""
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    spec = obj.get("spec") or {}
    if kind == "Kustomization":
        ref = spec.get("sourceRef") or {}
    elif spec.get("chartRef"):
        ref = spec["chartRef"]
    else:
        chart_ref = ((spec.get("chart") or {}).get("spec") or {}).get("sourceRef") or {}
        made = str((obj.get("status") or {}).get("helmChart") or "")
        if "/" in made:
            chart_ns, _, chart_name = made.partition("/")
            return "HelmChart", chart_ns, chart_name
        return "HelmChart", str(chart_ref.get("namespace") or namespace), f"{namespace}-{name}"
    if not ref.get("kind") or not ref.get("name"):
        raise SyncError(f"{kind} {namespace}/{name} names no source (spec.sourceRef / spec.chartRef)")
    if ref["kind"] not in _SOURCE_KINDS:
        raise SyncError(f"{kind} {namespace}/{name}: cannot reconcile a source of kind {ref['kind']}")
    return str(ref["kind"]), str(ref.get("namespace") or namespace), str(ref["name"])


class FluxBackend:
    def __init__(
        self,
        objects: AgentObjects,
        *,
        kind: str = "Kustomization",
        namespace: str = "flux-system",
        say: Callable[[str], None] = lambda _: None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.objects = objects
        self.kind = kind
        self.namespace = namespace
        self.say = say
        self.sleep = sleep
        self.now = now
        self.via = f"Kubernetes API {objects.server}"

    def _get(self, step: tuple[str, str, str], policy: RetryPolicy, deadline: float | None = None) -> Any:
        kind, namespace, name = step
        return retrying(
            lambda: self.objects.get(kind, namespace, name), policy, deadline=deadline, sleep=self.sleep
        )

    def _check(self, step: tuple[str, str, str], obj: Mapping[str, Any]) -> None:
        kind, namespace, name = step
        if (obj.get("spec") or {}).get("suspend") is True:
            raise SyncError(
                f"{kind} {namespace}/{name} is suspended (spec.suspend: true), so Flux would never reconcile it; "
                f"resume it first (flux resume {kind.lower()} {name} -n {namespace})"
            )

    def prepare(self, target: SyncTarget, settings: SyncSettings) -> Prepared:
        if target.resources:
            raise SyncError(
                "Flux reconciles a whole object: syncing only the drifted resources is for Argo CD"
            )
        policy = settings.retry or RetryPolicy()
        kind = target.kind or self.kind
        main = (kind, target.namespace or self.namespace, target.name)
        obj = self._get(main, policy)
        self._check(main, obj)
        steps = [main]
        if settings.with_source:
            source = source_of(kind, obj)
            self._check(source, self._get(source, policy))
            steps.insert(0, source)
        value = requested_at(self.now())
        patch = {"metadata": {"annotations": {REQUESTED_AT: value}}}
        text = json.dumps(patch, sort_keys=True)
        requests = [f"PATCH {agent_kind(k).resource} {ns}/{n} (merge patch) {text}" for k, ns, n in steps]
        prepared = Prepared(target, kind, main[1], requests, retry=policy, pending_steps=len(steps) - 1)
        if settings.with_source:
            prepared.notes.append(f"the source {steps[0][0]} {steps[0][1]}/{steps[0][2]} is reconciled first")
        prepared.state = {"steps": steps, "current": 0, "value": value, "patch": patch}
        return prepared

    def _send(self, prepared: Prepared) -> None:
        kind, namespace, name = prepared.state["steps"][prepared.state["current"]]
        # Setting the same annotation again changes nothing, so retrying this write is safe.
        retrying(
            lambda: self.objects.merge_patch(kind, namespace, name, prepared.state["patch"]),
            prepared.retry,
            deadline=prepared.deadline,
            sleep=self.sleep,
        )

    def trigger(self, prepared: Prepared, settings: SyncSettings) -> None:
        self._send(prepared)

    def poll(self, prepared: Prepared, settings: SyncSettings) -> Progress:
        steps = prepared.state["steps"]
        current = prepared.state["current"]
        step = steps[current]
        result = progress(self._get(step, prepared.retry, prepared.deadline), prepared.state["value"])
        if current == len(steps) - 1:
            return result
        where = f"source {step[0]} {step[1]}/{step[2]}"
        if result.state is SyncState.SUCCEEDED:
            prepared.state["current"] = current + 1
            prepared.pending_steps -= 1
            self.say(f"  {where} is ready; requesting the reconcile of {prepared.display}")
            self._send(prepared)
            return Progress(None, f"{where} ready; reconcile of {prepared.display} requested")
        if result.state is not None:
            return Progress(result.state, f"{where}: {result.message}", result.sync_status)
        return Progress(None, f"{where}: {result.message}", result.sync_status)
