"""The cluster side: what a snapshot or a live read returns (``LiveState`` with its ``Coverage``), what to read
(``ReadScope``), server-side predictions, and the ``LiveSource`` / ``Predictor`` protocols a cluster implements.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gitops_check.model.app import App
from gitops_check.model.objects import JSON, GroupKind, Manifest, ResourceKey


@dataclass(frozen=True)
class Coverage:
    """What a snapshot or a live read actually looked at.

    ``kinds`` None means unknown: only kinds that appear in the snapshot count as covered. ``namespaces`` None
    means all namespaces were captured.
    """

    kinds: frozenset[GroupKind] | None = None
    namespaces: frozenset[str] | None = None
    complete: bool = False  # the user vouches that every kind was captured

    def covers(self, key: ResourceKey, present_kinds: frozenset[GroupKind]) -> bool:
        gk = key.group_kind
        if not self.complete:
            kinds = self.kinds if self.kinds is not None else present_kinds
            if gk not in kinds:
                return False
        if key.namespace is not None and self.namespaces is not None:
            return key.namespace in self.namespaces
        return True


@dataclass(frozen=True)
class SecretHashing:
    """How Secret values in a snapshot were hashed (a snapshot never holds them in clear)."""

    algorithm: str  # "hmac-sha256"
    salt: str  # hex; combined with an optional key from the environment
    keyed: bool = False  # True when a key from GITOPS_CHECK_SNAPSHOT_KEY was mixed in


@dataclass(frozen=True)
class LiveState:
    """The cluster as read live or from a snapshot: objects by key, plus what was covered and what failed."""

    objects: Mapping[ResourceKey, JSON]
    coverage: Coverage = field(default_factory=Coverage)
    # Kinds (with namespace, or None for all) that could not be read, with the reason.
    unreadable: Mapping[tuple[GroupKind, str | None], str] = field(default_factory=dict)
    # Scope of kinds learned from discovery or CRDs: True when namespaced.
    scopes: Mapping[GroupKind, bool] = field(default_factory=dict)
    source: str = ""  # "snapshot cluster.json (taken 2026-11-20T10:00:00Z from prod)" / "live cluster prod"
    secret_hashing: SecretHashing | None = None
    server_version: str | None = None
    requests: int = 0  # API requests sent to read it (0 for snapshots)
    # What the reader wants the user to know (e.g. pruning not checked for a kind).
    warnings: tuple[str, ...] = ()
    # The cluster's schema for kinds the bundled one lacks, compact (gitops_check.kubeschema.compact).
    schema: JSON | None = None
    # The cluster a snapshot says it was taken from (its metadata.cluster / metadata.server), when it says.
    cluster: str | None = None
    server: str | None = None

    @functools.cached_property
    def _present_kinds(self) -> frozenset[GroupKind]:
        return frozenset(GroupKind(k.group, k.kind) for k in self.objects)

    def present_kinds(self) -> frozenset[GroupKind]:
        """Kinds with at least one object (computed once: objects never change after loading)."""
        return self._present_kinds


# The annotations that say who owns a live object (Argo CD's tracking id and compare options, Flux's prune switch,
# Helm's release): diff/prune.py reads them; packed snapshot objects keep them with the labels (cluster/packed.py).
OWNER_ANNOTATIONS = frozenset(
    {"argocd.argoproj.io/tracking-id", "argocd.argoproj.io/compare-options", "kustomize.toolkit.fluxcd.io/prune",
     "meta.helm.sh/release-name", "meta.helm.sh/release-namespace"}
)  # fmt: skip


@dataclass(frozen=True)
class ReadScope:
    """What the apps compared with one cluster touch: the live reader lists exactly these (kind, namespace) pairs.

    ``namespace`` None in a pair means a cluster-scoped kind. ``namespaces`` are the apps' destination
    namespaces, where objects to prune may live even when Git no longer has any object of their kind.
    """

    kinds: frozenset[tuple[GroupKind, str | None]] = frozenset()
    namespaces: frozenset[str] = frozenset()
    # The API version Git uses for each kind (the most common one when several), so a live reader lists in it.
    versions: Mapping[GroupKind, str] = field(default_factory=dict)
    # Kinds listed in ``namespaces`` for pruning even when Git renders none (None: the reader's default set).
    prune_kinds: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Prediction:
    """What applying an app's objects would leave in the cluster, from a server-side apply dry-run.

    ``objects`` are complete objects to compare exactly with the live ones; objects in ``errors`` are not
    checked; objects in neither are compared by the offline engine (e.g. dry-run not permitted for them).
    """

    objects: Mapping[ResourceKey, JSON] = field(default_factory=dict)
    errors: Mapping[ResourceKey, str] = field(default_factory=dict)
    notes: Mapping[ResourceKey, str] = field(default_factory=dict)  # e.g. "namespace x does not exist yet"
    warnings: tuple[str, ...] = ()
    requests: int = 0


class Predictor(Protocol):
    """Predicts, through the API server, what an apply would produce (a live cluster in a server-side mode)."""

    def predict(
        self, batch: Sequence[tuple[App, Sequence[Manifest]]], live: LiveState
    ) -> Mapping[str, Prediction]:
        """One Prediction per app name of ``batch``, all sent with bounded parallelism."""


class LiveSource(Protocol):
    """A cluster to compare with: a snapshot file or a live API server."""

    name: str

    def prefetch(self) -> None:
        """Start work that does not depend on the scope (a snapshot loads while apps render)."""

    def load(self, scope: ReadScope) -> LiveState:
        """The cluster's objects for ``scope``; raises GitopsCheckError when it cannot be read at all."""

    def whole_state(self) -> LiveState | None:
        """The state ``load`` returns whatever the scope, for a source that reads all there is (a snapshot: waits
        for ``prefetch``), so apps can be compared with it before every app is rendered; None for a source
        that reads per scope (a live cluster)."""

    def predictor(self) -> Predictor | None:
        """What predicts applies in this cluster, whose apps then wait for their batch; None: the offline engine
        alone compares them (a snapshot, a live cluster in client-side mode)."""
