"""Read the live objects a check needs: one paginated LIST per kind and namespace, never one GET per object.

What is listed (the plan):

* every kind the apps render, in every namespace they touch (cluster-scoped kinds once);
* the *prune kinds* in those namespaces too, so objects an app still owns but Git no longer renders show as
  "would be pruned" even when Git has no object of their kind left (Argo CD watches every kind; listing
  every kind is possible with ``prune kinds = all`` but costs a request per kind and namespace);
* a kind needed in many namespaces (``cluster_wide_from``, default 4) is listed once cluster-wide instead,
  falling back to per-namespace lists when that is forbidden.

Every namespaced kind is read in every namespace of the scope, so the coverage (kinds x namespaces) says
exactly what was read. A kind the cluster does not serve (its CRD comes with this change) is known to have no
objects: it counts as read. A LIST answered 401/403/404 makes that (kind, namespace) *unreadable*; a
cluster that stops answering, or keeps failing after retries, fails the whole read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from gitops_check.cluster.client import ApiError, Cluster, describe
from gitops_check.cluster.discovery import ApiResource, ApiResources
from gitops_check.errors import ConfigError
from gitops_check.model.live import ReadScope
from gitops_check.model.objects import JSON, GroupKind, ResourceKey

# Kinds listed for pruning even when Git renders none of them: what GitOps repositories commonly hold —
# namespaced ones in the apps' namespaces, cluster-scoped ones cluster-wide (an app that no longer renders any
# ClusterRole may still own one in the cluster). Kinds the cluster does not serve are skipped silently.
NAMESPACED_PRUNE_KINDS = (
    "ConfigMap", "Secret", "Service", "ServiceAccount", "PersistentVolumeClaim",
    "Deployment.apps", "StatefulSet.apps", "DaemonSet.apps", "Job.batch", "CronJob.batch",
    "Ingress.networking.k8s.io", "NetworkPolicy.networking.k8s.io", "HorizontalPodAutoscaler.autoscaling",
    "PodDisruptionBudget.policy", "Role.rbac.authorization.k8s.io", "RoleBinding.rbac.authorization.k8s.io",
    # A ReplicaSet or Pod declared in Git and removed from it is pruned by the agents (diff/prune.py): only
    # listing them shows it. Those a controller made carry ownerReferences and are left out there.
    "ReplicaSet.apps", "Pod",
)  # fmt: skip
DEFAULT_PRUNE_KINDS = (
    *NAMESPACED_PRUNE_KINDS,
    "Namespace", "ClusterRole.rbac.authorization.k8s.io", "ClusterRoleBinding.rbac.authorization.k8s.io",
    "CustomResourceDefinition.apiextensions.k8s.io", "StorageClass.storage.k8s.io",
    "PriorityClass.scheduling.k8s.io", "IngressClass.networking.k8s.io",
    "ValidatingWebhookConfiguration.admissionregistration.k8s.io",
    "MutatingWebhookConfiguration.admissionregistration.k8s.io",
)  # fmt: skip
# Never listed for pruning: created by the cluster itself, numerous, and never pruned by the agents.
NOT_PRUNED = frozenset(
    {GroupKind("", "Event"), GroupKind("events.k8s.io", "Event"), GroupKind("", "Endpoints"),
     GroupKind("discovery.k8s.io", "EndpointSlice"), GroupKind("coordination.k8s.io", "Lease"),
     GroupKind("apps", "ControllerRevision"),
     GroupKind("", "Binding"), GroupKind("authorization.k8s.io", "LocalSubjectAccessReview")}
)  # fmt: skip
MAX_FAILED_LISTS = 3  # transient failures (after retries) before the cluster is declared broken


@dataclass(frozen=True)
class ReadOptions:
    prune_kinds: tuple[str, ...] | None = None  # None: DEFAULT_PRUNE_KINDS; ("all",): every listable kind
    cluster_wide_from: int = 4  # list cluster-wide when a kind is needed in at least this many namespaces
    page_size: int = 500
    workers: int = 8


@dataclass(frozen=True)
class Target:
    """One kind to list: in these namespaces, or everywhere (None) / cluster-scoped."""

    resource: ApiResource
    namespaces: frozenset[str] | None
    required: bool = True  # rendered by Git (vs listed for pruning only)


@dataclass
class ReadResult:
    objects: dict[ResourceKey, JSON] = field(default_factory=dict)
    unreadable: dict[tuple[GroupKind, str | None], str] = field(default_factory=dict)
    kinds: set[GroupKind] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


def storable(resource: ApiResource) -> bool:
    """A kind a GitOps agent can own: listable, created and deleted (not metrics or reviews), not NOT_PRUNED."""
    return {"list", "create", "delete"} <= resource.verbs and resource.group_kind not in NOT_PRUNED


def prune_resources(resources: ApiResources, names: Iterable[str] | None) -> list[ApiResource]:
    """The prune kinds the cluster serves (``all``: every kind :func:`storable` but NOT_PRUNED), namespaced or not.

    Names given by the user (``live.pruneKinds``) must name kinds the cluster serves and lists: one that does not
    would silently check nothing, so it is an error.
    """
    wanted = tuple(names) if names is not None else DEFAULT_PRUNE_KINDS
    if any(n.lower() == "all" for n in wanted):
        return [r for r in resources.preferred() if storable(r)]
    out = []
    for name in wanted:
        found = resources.lookup(name)
        if found is not None and found.listable:
            out.append(found)
        elif names is not None:
            why = "is not a kind this cluster serves" if found is None else "cannot be listed"
            raise ConfigError(
                f"live.pruneKinds: {name} {why} (write Kind or Kind.group, e.g. ClusterRole.rbac.authorization.k8s.io)"
            )
    return out


@dataclass
class Plan:
    targets: list[Target] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Kinds Git renders that the cluster does not serve: known to have no objects, so they count as read.
    absent: set[GroupKind] = field(default_factory=set)


def plan(resources: ApiResources, scope: ReadScope, options: ReadOptions) -> Plan:
    """What to list for a scope."""
    out = Plan()
    namespaces = frozenset(set(scope.namespaces) | {ns for _, ns in scope.kinds if ns})
    required: dict[GroupKind, ApiResource] = {}
    for gk, _ns in sorted(scope.kinds, key=lambda p: (p[0], p[1] or "")):
        if gk in required or gk in out.absent:
            continue
        version = scope.versions.get(gk)
        resource = resources.find(gk, version)
        if resource is None:
            out.absent.add(gk)
            out.warnings.append(
                f"kind {gk} is not served by the cluster (its CRD is not installed yet?): "
                "its objects show as to be created"
            )
            continue
        if version and resource.version != version:
            out.warnings.append(f"{gk} is not served in version {version}; read in {resource.version}")
        if resource.listable:
            required[gk] = resource
    for resource in required.values():
        out.targets.append(Target(resource, namespaces if resource.namespaced else None))
    for resource in prune_resources(resources, options.prune_kinds):
        if resource.group_kind in required:
            continue
        if not resource.namespaced:
            out.targets.append(Target(resource, None, required=False))
        elif namespaces:
            out.targets.append(Target(resource, namespaces, required=False))
    return out


class _Reader:
    def __init__(self, cluster: Cluster, options: ReadOptions):
        self.cluster = cluster
        self.options = options
        self.result = ReadResult()
        self.lock = threading.Lock()
        self.failures: list[ApiError] = []

    def list_all(self, resource: ApiResource, namespace: str | None) -> list[JSON]:
        """Every object of a resource in one namespace (or everywhere), page by page."""
        where = namespace if resource.namespaced else None
        what = describe("list", resource.qualified, where) + (
            "" if where or not resource.namespaced else " (all namespaces)"
        )
        items: list[JSON] = []
        token: str | None = None
        restarted = False
        while True:
            query: dict[str, str | int | bool] = {"limit": self.options.page_size}
            if token:
                query["continue"] = token
            try:
                page = self.cluster.request("GET", resource.path(where), what=what, query=query)
            except ApiError as e:
                if e.status == 410 and token and not restarted:  # the continue token expired: start over once
                    items, token, restarted = [], None, True
                    continue
                raise
            for item in page.get("items") or ():
                item["apiVersion"] = resource.api_version  # LIST items carry no apiVersion/kind
                item["kind"] = resource.kind
                items.append(item)
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return items

    def _keep(self, resource: ApiResource, items: list[JSON], namespaces: frozenset[str] | None) -> None:
        with self.lock:
            for item in items:
                metadata = item.get("metadata") or {}
                ns = metadata.get("namespace") or None
                if resource.namespaced and namespaces is not None and ns not in namespaces:
                    continue
                key = ResourceKey(resource.group, resource.kind, ns if resource.namespaced else None,
                                  str(metadata.get("name", "")))  # fmt: skip
                self.result.objects[key] = item

    def _unreadable(self, target: Target, namespace: str | None, error: ApiError) -> None:
        gk = target.resource.group_kind
        with self.lock:
            self.result.unreadable[(gk, namespace)] = error.message
            if not target.required:
                self.result.warnings.append(f"pruning not checked for {gk}: {error.message}")

    def run_target(self, target: Target) -> list[tuple[Target, str]]:
        """List a target cluster-wide when that is cheaper; returns per-namespace work left to do."""
        resource = target.resource
        if not resource.namespaced:
            self._guarded(target, None)
            return []
        namespaces = target.namespaces
        if namespaces is not None and len(namespaces) < self.options.cluster_wide_from:
            return [(target, ns) for ns in sorted(namespaces)]
        try:
            self._keep(resource, self.list_all(resource, None), namespaces)
        except ApiError as e:
            if e.forbidden and namespaces is not None:
                return [(target, ns) for ns in sorted(namespaces)]  # fall back to namespaced lists
            self._failed(target, None, e)
        return []

    def _guarded(self, target: Target, namespace: str | None) -> None:
        try:
            self._keep(target.resource, self.list_all(target.resource, namespace), target.namespaces)
        except ApiError as e:
            self._failed(target, namespace, e)

    def _failed(self, target: Target, namespace: str | None, e: ApiError) -> None:
        if e.unanswered or e.status == 401 or e.reason == "TLS":
            raise e  # the cluster as a whole cannot be read
        if e.transient:
            with self.lock:
                self.failures.append(e)
                if len(self.failures) >= MAX_FAILED_LISTS:
                    raise ApiError(
                        f"cluster {self.cluster.server} keeps failing ({len(self.failures)} lists failed "
                        f"after retries; last: {e.message})",
                        status=e.status,
                        reason=e.reason,
                    )
        self._unreadable(target, namespace, e)


def read(cluster: Cluster, targets: list[Target], options: ReadOptions) -> ReadResult:
    """List every target with bounded parallelism. Raises ClusterError when the cluster cannot be read at all."""
    reader = _Reader(cluster, options)
    reader.result.kinds = {t.resource.group_kind for t in targets}
    workers = max(1, options.workers)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="list") as pool:
        first: list[Future[Any]] = [pool.submit(reader.run_target, t) for t in targets]
        _settle(first, pool)
        rest = [pool.submit(reader._guarded, t, ns) for f in first for t, ns in f.result()]
        _settle(rest, pool)
    return reader.result


def _settle(futures: list[Future[Any]], pool: ThreadPoolExecutor) -> None:
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for f in done:
        error = f.exception()
        if error is not None:
            for p in pending:
                p.cancel()
            raise error
