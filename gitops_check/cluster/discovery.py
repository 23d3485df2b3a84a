"""API discovery: which resources the cluster serves, their URL names (plural), scope, versions and verbs.

Kinds become URLs only through discovery (``Deployment.apps`` -> ``/apis/apps/v1/.../deployments``), and CRDs
are only known this way. Aggregated discovery (``apidiscovery.k8s.io/v2``, GA in Kubernetes 1.30) answers
everything in two requests (``/api`` and ``/apis``); older servers get the classic walk over every
group-version, in parallel.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from gitops_check.cluster.client import ApiError, Cluster
from gitops_check.model.objects import GroupKind, split_api_version

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


@dataclass(frozen=True)
class ApiResource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]
    short_names: tuple[str, ...] = ()
    preferred: bool = True  # the group's preferred version

    @property
    def group_kind(self) -> GroupKind:
        return GroupKind(self.group, self.kind)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps`` / ``configmaps``: how kubectl and RBAC name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base

    @property
    def listable(self) -> bool:
        return "list" in self.verbs


class ApiResources:
    """Every served (group, version, kind) with its resource; lookups by kind, version or the names users type."""

    def __init__(self, resources: Iterable[ApiResource]):
        self.all = list(resources)
        self._by_gk: dict[GroupKind, list[ApiResource]] = {}
        for r in self.all:
            self._by_gk.setdefault(r.group_kind, []).append(r)
        for entries in self._by_gk.values():
            entries.sort(key=lambda r: not r.preferred)

    def find(self, gk: GroupKind, version: str | None = None) -> ApiResource | None:
        """The resource for a kind, in ``version`` when served, else in the preferred version."""
        entries = self._by_gk.get(gk)
        if not entries:
            return None
        if version:
            for r in entries:
                if r.version == version:
                    return r
        return entries[0]

    def for_api_version(self, api_version: str, kind: str) -> ApiResource | None:
        """Exactly this apiVersion and kind, or None when the cluster does not serve it."""
        group, version = split_api_version(api_version)
        for r in self._by_gk.get(GroupKind(group, kind), ()):
            if r.version == version:
                return r
        return None

    def preferred(self) -> Iterator[ApiResource]:
        for entries in self._by_gk.values():
            yield entries[0]

    def scopes(self) -> dict[GroupKind, bool]:
        return {gk: entries[0].namespaced for gk, entries in self._by_gk.items()}

    def lookup(self, name: str) -> ApiResource | None:
        """A kind as users write it: ``Deployment``, ``deployments``, ``deploy``, ``deployments.apps``,
        ``Deployment.apps``. Case-insensitive; the core group wins over others for bare names."""
        text = name.strip()
        base, _, group = text.partition(".")
        matches = []
        for r in self.preferred():
            names = {r.kind.lower(), r.plural.lower(), *(s.lower() for s in r.short_names)}
            if base.lower() in names and (not group or group.lower() == r.group.lower()):
                matches.append(r)
        matches.sort(key=lambda r: (r.group != "", r.group))
        return matches[0] if matches else None


def _aggregated(doc: Any, core: bool) -> list[ApiResource]:
    out = []
    for item in doc.get("items") or ():
        group = "" if core else str((item.get("metadata") or {}).get("name", ""))
        for i, version in enumerate(item.get("versions") or ()):
            for res in version.get("resources") or ():
                kind = (res.get("responseKind") or {}).get("kind")
                if not kind:
                    continue
                out.append(
                    ApiResource(
                        group=group,
                        version=str(version.get("version")),
                        kind=str(kind),
                        plural=str(res.get("resource")),
                        namespaced=res.get("scope") == "Namespaced",
                        verbs=frozenset(res.get("verbs") or ()),
                        short_names=tuple(res.get("shortNames") or ()),
                        preferred=i == 0,
                    )
                )
    return out


def _legacy_group_version(
    cluster: Cluster, path: str, group: str, version: str, preferred: bool
) -> list[ApiResource]:
    doc = cluster.request("GET", path, what=f"discover {path}")
    out = []
    for res in doc.get("resources") or ():
        if "/" in str(res.get("name", "")):
            continue  # subresources (deployments/scale)
        out.append(
            ApiResource(
                group=group,
                version=version,
                kind=str(res.get("kind")),
                plural=str(res.get("name")),
                namespaced=bool(res.get("namespaced")),
                verbs=frozenset(res.get("verbs") or ()),
                short_names=tuple(res.get("shortNames") or ()),
                preferred=preferred,
            )
        )
    return out


def _legacy(cluster: Cluster, core: Any) -> list[ApiResource]:
    jobs: list[tuple[str, str, str, bool]] = []
    for i, version in enumerate(core.get("versions") or ("v1",)):
        jobs.append((f"/api/{version}", "", str(version), i == 0))
    groups = cluster.request("GET", "/apis", what="discover the API groups")
    for g in groups.get("groups") or ():
        preferred = (g.get("preferredVersion") or {}).get("version")
        for v in g.get("versions") or ():
            version = str(v.get("version"))
            jobs.append((f"/apis/{v.get('groupVersion')}", str(g.get("name")), version, version == preferred))
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="discovery") as pool:
        parts = pool.map(lambda j: _legacy_group_version(cluster, *j), jobs)
        return [r for part in parts for r in part]


def discover(cluster: Cluster, *, aggregated: bool = True) -> ApiResources:
    """Ask the cluster what it serves. Raises ApiError when discovery itself is refused or fails.

    ``aggregated=False`` forces the classic walk (what servers before Kubernetes 1.30 answer)."""
    accept = AGGREGATED if aggregated else "application/json"
    try:
        core = cluster.request("GET", "/api", what="discover the core API", accept=accept)
    except ApiError as e:
        if e.forbidden:
            raise ApiError(f"{e.message} (API discovery needs the system:discovery role)", status=e.status,
                           reason=e.reason) from None  # fmt: skip
        raise
    if core.get("kind") == "APIGroupDiscoveryList":
        apis = cluster.request("GET", "/apis", what="discover the API groups", accept=AGGREGATED)
        return ApiResources(_aggregated(core, core=True) + _aggregated(apis, core=False))
    return ApiResources(_legacy(cluster, core))
