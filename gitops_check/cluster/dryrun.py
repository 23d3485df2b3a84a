"""Server-side apply dry-run: ask the API server what applying each desired object would leave in the cluster.

This is how ``kubectl diff --server-side`` and ``flux diff`` get exact answers: the server merges the object
into the live one with the agent's field manager and forced conflicts, runs defaulting, conversion and
mutating webhooks, and returns the result without storing it (``dryRun=All``). Comparing that result with
the live object shows exactly what a sync would change.

Per object the answer is one of:

* a predicted object (compared exactly with the live one by the diff engine);
* "would be created": the namespace does not exist yet (404) — or the kind is not served yet, when the CRD
  comes with the same change — the object stays ADDED, with a note;
* not permitted (403): the object is compared offline instead (one warning per kind and namespace), unless
  server-side was demanded explicitly, in which case it is not checked;
* rejected (400/422, e.g. invalid) or failing after retries: not checked, with the server's reason (never
  quoted for Secrets).

Applies that provably change nothing (cluster/noop.py: the agent's field set and every value already as Git
says, and no admission webhook or policy in the cluster) are not sent: the live object is the prediction. That
is what the dry-run would return, for a fraction of the requests; ``--dry-run-all`` sends them anyway.

Read-only by construction: the only non-GET request gitops-check sends is this PATCH, always with
``dryRun=All`` (:meth:`Cluster.request` refuses anything else while ``read_only``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gitops_check.cluster import noop
from gitops_check.cluster.client import ApiError, Cluster, describe
from gitops_check.cluster.discovery import ApiResources
from gitops_check.model.app import App, TrackingMethod
from gitops_check.model.live import LiveState, Prediction
from gitops_check.model.objects import JSON, Manifest, ResourceKey

APPLY_PATCH = "application/apply-patch+yaml"
TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
FLUX_SSA = "kustomize.toolkit.fluxcd.io/ssa"
AGENT_MANAGERS = {
    "argocd": "argocd-controller",
    "flux-kustomization": "kustomize-controller",
    "flux-helmrelease": "helm-controller",
}
DEFAULT_MANAGER = "argocd-controller"
MAX_FAILED = 3  # transient failures (after retries) before the cluster is declared broken


@dataclass(frozen=True)
class DryRunOptions:
    field_manager: str | None = None  # one manager for every object (overrides the per-app choice)
    appliers: frozenset[str] = frozenset()  # managers whose Apply entries on a live object name its applier
    workers: int = 8
    required: bool = False  # --server-side given: a forbidden dry-run means "not checked", not a fallback
    every: bool = False  # dry-run even applies that provably change nothing (cluster/noop.py)


def field_manager(app: App, live: JSON | None, options: DryRunOptions) -> str:
    """The manager the app's agent applies with: forced by option, known for Argo CD/Flux apps, set per app,
    else whichever applier server-side applied the live object, else Argo CD's."""
    if options.field_manager:
        return options.field_manager
    if app.kind in AGENT_MANAGERS:
        return AGENT_MANAGERS[app.kind]
    if app.appliers:
        return app.appliers[0]
    for entry in ((live or {}).get("metadata") or {}).get("managedFields") or ():
        if (
            isinstance(entry, dict)
            and entry.get("operation") == "Apply"
            and entry.get("manager") in options.appliers
        ):
            return str(entry["manager"])
    return DEFAULT_MANAGER


def apply_body(app: App, manifest: Manifest, manager: str = DEFAULT_MANAGER) -> JSON:
    """The object as the agent would send it: namespace filled in, tracking metadata added (copies only).

    Argo CD's tracking annotation or label goes on objects of Argo CD apps and of any app applied as
    ``argocd-controller``; Flux's ownership labels on objects of Flux Kustomizations."""
    body = dict(manifest.body)
    metadata = dict(body.get("metadata") or {})
    key = manifest.key
    if key.namespace:
        metadata["namespace"] = key.namespace
    else:
        metadata.pop("namespace", None)
    tracking = app.tracking
    instance = tracking.app_instance or app.name
    argo = app.kind == "argocd" or manager == AGENT_MANAGERS["argocd"]
    if argo and tracking.method in (TrackingMethod.ANNOTATION, TrackingMethod.ANNOTATION_LABEL):
        annotations = dict(metadata.get("annotations") or {})
        annotations[TRACKING_ANNOTATION] = (
            f"{instance}:{key.group}/{key.kind}:{key.namespace or ''}/{key.name}"
        )
        metadata["annotations"] = annotations
    if argo and tracking.method in (TrackingMethod.LABEL, TrackingMethod.ANNOTATION_LABEL):
        metadata["labels"] = {**(metadata.get("labels") or {}), tracking.label_key: instance}
    if tracking.flux_owner:
        metadata["labels"] = {
            **(metadata.get("labels") or {}),
            "kustomize.toolkit.fluxcd.io/name": tracking.flux_owner[0],
            "kustomize.toolkit.fluxcd.io/namespace": tracking.flux_owner[1],
        }
    body["metadata"] = metadata
    return body


def _skipped(manifest: Manifest, live: JSON | None) -> bool:
    """Flux's ``ssa: Ignore`` / ``IfNotPresent`` objects are never applied (the engine reports them as such)."""
    annotations = (manifest.body.get("metadata") or {}).get("annotations") or {}
    ssa = str(annotations.get(FLUX_SSA, "")).lower()
    return ssa == "ignore" or (ssa == "ifnotpresent" and live is not None)


@dataclass
class _Collector:
    objects: dict[ResourceKey, JSON] = field(default_factory=dict)
    errors: dict[ResourceKey, str] = field(default_factory=dict)
    notes: dict[ResourceKey, str] = field(default_factory=dict)
    fallbacks: dict[str, str] = field(default_factory=dict)  # "Deployment in namespace x" -> message


class _DryRunner:
    def __init__(self, cluster: Cluster, resources: ApiResources, live: LiveState, options: DryRunOptions):
        self.cluster = cluster
        self.resources = resources
        self.live = live
        self.options = options
        self.lock = threading.Lock()
        self.failures = 0
        self.skip_noops = False  # set by predict() once the cluster is known to have no admission hooks
        self.skipped = 0

    def one(self, app: App, manifest: Manifest, out: _Collector) -> None:
        key = manifest.key
        live = self.live.objects.get(key)
        if _skipped(manifest, live):
            return
        resource = self.resources.for_api_version(str(manifest.body.get("apiVersion")), key.kind)
        if resource is None:
            served = self.resources.find(key.group_kind)
            if served is not None:
                message = f"apiVersion {manifest.body.get('apiVersion')} of {key.kind} is not served by the cluster (it serves {served.api_version})"
                self._record(out.errors, key, message)
            elif live is None:
                self._record(
                    out.notes,
                    key,
                    f"kind {key.group_kind} is not served yet (its CRD comes with this change?): would be created",
                )
            return
        manager = field_manager(app, live, self.options)
        body = apply_body(app, manifest, manager)
        if self.skip_noops and live is not None and noop.is_noop(body, live, manager):
            with self.lock:
                out.objects[key] = live  # exactly what the dry-run would return
                self.skipped += 1
            return
        secret = key.group == "" and key.kind == "Secret"
        what = describe("dry-run apply", resource.qualified, key.namespace, key.name)
        try:
            result = self.cluster.request(
                "PATCH",
                resource.path(key.namespace, key.name),
                what=what,
                query={"dryRun": "All", "fieldManager": manager, "force": True},
                body=body,
                content_type=APPLY_PATCH,
                sensitive=secret,
            )
        except ApiError as e:
            self._failed(key, live, e, out, resource.qualified)
            return
        if live is not None and isinstance(result, dict):
            self._record(out.objects, key, result)

    def _record(self, target: dict[ResourceKey, Any], key: ResourceKey, value: Any) -> None:
        with self.lock:
            target[key] = value

    def _failed(
        self, key: ResourceKey, live: JSON | None, e: ApiError, out: _Collector, resource: str
    ) -> None:
        if e.unanswered or e.status == 401 or e.reason == "TLS":
            raise e
        if e.status == 404 and live is None:
            self._record(out.notes, key, f"namespace {key.namespace} does not exist yet: would be created")
            return
        if e.status == 403 and live is None and not self.options.required:
            # Creating needs the create verb, updating only patch: the offline result (ADDED) stands.
            self._record(out.notes, key, "would be created (a dry-run of its creation is not permitted)")
            return
        if e.status == 403 and not self.options.required:
            where = f"{resource} in namespace {key.namespace}" if key.namespace else resource
            with self.lock:
                out.fallbacks.setdefault(where, e.message)
            return
        if e.transient:
            with self.lock:
                self.failures += 1
                if self.failures >= MAX_FAILED:
                    raise ApiError(f"cluster {self.cluster.server} keeps failing dry-runs (last: {e.message})",
                                   status=e.status, reason=e.reason)  # fmt: skip
        if e.status in (400, 422):
            message = f"the API server rejects it: {e.message}"
        else:
            message = f"not checked: {e.message}"
        self._record(out.errors, key, message)


def predict(
    cluster: Cluster,
    resources: ApiResources,
    batch: Sequence[tuple[App, Sequence[Manifest]]],
    live: LiveState,
    options: DryRunOptions,
) -> Mapping[str, Prediction]:
    """Dry-run every object of every app in ``batch`` (bounded parallelism); one Prediction per app."""
    runner = _DryRunner(cluster, resources, live, options)
    collectors = {app.name: _Collector() for app, _ in batch}
    jobs = [(app, m, collectors[app.name]) for app, manifests in batch for m in manifests]
    before = cluster.requests
    runner.skip_noops = not options.every and bool(jobs) and noop.admission_free(cluster, resources)
    with ThreadPoolExecutor(max_workers=max(1, options.workers), thread_name_prefix="dry-run") as pool:
        futures = [pool.submit(runner.one, app, m, out) for app, m, out in jobs]
        for f in futures:
            error = f.exception()
            if error is not None:
                for other in futures:
                    other.cancel()
                raise error
    requests = cluster.requests - before
    out: dict[str, Prediction] = {}
    for app, _ in batch:
        c = collectors[app.name]
        warnings = tuple(
            f"server-side dry-run forbidden for {where}: compared client-side "
            "(grant patch on it, or pass --client-side)"
            for where in sorted(c.fallbacks)
        )
        out[app.name] = Prediction(dict(c.objects), dict(c.errors), dict(c.notes), warnings, requests)
        requests = 0  # counted once, on the first app
    return out
