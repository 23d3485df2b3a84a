"""Snapshot capture: read a live cluster once and write it in gitops-check's snapshot format.

A scheduled job with cluster credentials captures; pull-request jobs without credentials (forks, air-gapped CI)
compare with the file. What is captured is either what a repository's apps touch (the same ReadScope a live
check would read, prune kinds included) or kinds x namespaces asked for on the command line. The coverage
written with it says exactly what was listed, so a later diff can tell "absent from the cluster" from "not
captured"; kinds that could not be listed are recorded as unreadable. Secret values are replaced by keyed
hashes (cluster/snapshot.py), so the file never holds them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitops_check import __version__, secrethash
from gitops_check.cluster import openapi, reader
from gitops_check.cluster.live import LiveCluster
from gitops_check.cluster.snapshot import build_snapshot
from gitops_check.errors import ClusterError
from gitops_check.model.live import Coverage, LiveState, ReadScope
from gitops_check.model.objects import GroupKind

# What ``snapshot --live`` captures when neither --kinds nor --for-repo says: the common GitOps kinds.
DEFAULT_KINDS = (*reader.NAMESPACED_PRUNE_KINDS, "Namespace", "ClusterRole.rbac.authorization.k8s.io",
                 "ClusterRoleBinding.rbac.authorization.k8s.io", "CustomResourceDefinition.apiextensions.k8s.io")  # fmt: skip


@dataclass
class Captured:
    snapshot: dict[str, Any]
    state: LiveState
    warnings: list[str] = field(default_factory=list)


def read_kinds(live: LiveCluster, kinds: Sequence[str], namespaces: Iterable[str] | None) -> LiveState:
    """List ``kinds`` (names as users type them, or ``all``) in ``namespaces`` (None: all namespaces)."""
    cluster, resources = live.connection()
    if any(k.lower() == "all" for k in kinds):
        chosen = [r for r in resources.preferred() if reader.storable(r)]
    else:
        chosen = []
        for name in kinds:
            found = resources.lookup(name)
            if found is None:
                raise ClusterError(
                    f"kind {name!r} is not served by cluster {cluster.server} (see kubectl api-resources)"
                )
            if not found.listable:
                raise ClusterError(f"kind {name!r} cannot be listed")
            chosen.append(found)
    ns = frozenset(namespaces) if namespaces is not None else None
    options = live.options.read
    # Every namespace was asked for: one cluster-wide list per kind, never a fallback per namespace.
    targets = [
        reader.Target(r, ns if r.namespaced else None) for r in {r.group_kind: r for r in chosen}.values()
    ]
    result = reader.read(cluster, targets, options)
    schema, schema_warnings = openapi.read_schema(cluster, {t.resource.api_version for t in targets})
    return LiveState(
        objects=result.objects,
        coverage=Coverage(kinds=frozenset(result.kinds), namespaces=ns),
        unreadable=result.unreadable,
        scopes=resources.scopes(),
        source=live.describe(),
        server_version=live.server_version,
        requests=cluster.requests,
        warnings=tuple(result.warnings + schema_warnings),
        schema=schema,
    )


def read_scope(live: LiveCluster, scope: ReadScope) -> LiveState:
    """Exactly what a live check of the same apps would read."""
    return live.load(scope)


def to_snapshot(live: LiveCluster, state: LiveState, *, env: dict[str, str] | None = None) -> Captured:
    cluster, _ = live.connection()
    kinds: list[tuple[GroupKind, bool]] = [
        (gk, bool(state.scopes.get(gk, True))) for gk in sorted(state.coverage.kinds or ())
    ]
    meta = {
        "takenAt": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cluster": cluster.context or live.name,
        "server": cluster.server,
        "serverVersion": state.server_version,
        "tool": f"gitops-check {__version__}",
    }
    snapshot = build_snapshot(
        state.objects.values(),
        kinds=kinds,
        namespaces=state.coverage.namespaces,
        unreadable=dict(state.unreadable),
        meta=meta,
        hashing=secrethash.new_hashing(env=env),
        schema=state.schema,
    )
    warnings = list(state.warnings)
    for (gk, ns), reason in sorted(state.unreadable.items(), key=lambda i: (i[0][0], i[0][1] or "")):
        if not any(reason in w for w in warnings):
            warnings.append(f"not captured: {gk}{f' in namespace {ns}' if ns else ''}: {reason}")
    return Captured(snapshot, state, warnings)
