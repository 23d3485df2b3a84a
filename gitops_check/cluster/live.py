"""A live cluster as a LiveSource: read what the apps touch, and (server-side mode) predict applies by dry-run.

``check.py`` sees the same protocol as for a snapshot — ``prefetch()`` then ``load(scope)`` — plus
``predict(batch, live)`` from the Predictor protocol. Connecting (an exec plugin may take a second), API
discovery and ``/version`` start in ``prefetch`` and overlap with rendering.

Modes:

* ``auto`` (default): server-side dry-run for every object; where the dry-run is forbidden, that kind and
  namespace is compared client-side, with a warning naming it;
* ``server`` (``--server-side``): as auto, but a forbidden dry-run leaves the object "not checked" (exit 2);
* ``client`` (``--client-side``): no dry-run; the offline engine on the LIST results, exactly as with a
  snapshot taken at this moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gitops_check.cluster import dryrun, openapi, reader
from gitops_check.cluster.client import Cluster, RetryPolicy, connect
from gitops_check.cluster.discovery import ApiResources, discover
from gitops_check.errors import ClusterError
from gitops_check.model.app import App
from gitops_check.model.live import Coverage, LiveState, Prediction, Predictor, ReadScope
from gitops_check.model.objects import Manifest

MODES = ("auto", "server", "client")


@dataclass(frozen=True)
class LiveOptions:
    kubeconfig: str | None = None
    context: str | None = None
    mode: str = "auto"  # auto | server | client
    field_manager: str | None = None  # dry-run field manager for every app (default: the app's agent)
    appliers: frozenset[str] = frozenset()  # managers that count as "the agent" on live objects
    workers: int = 8  # parallel LIST and dry-run requests
    dry_run_all: bool = False  # also dry-run applies that provably change nothing (see cluster/noop.py)
    read: reader.ReadOptions = field(default_factory=reader.ReadOptions)
    retry: RetryPolicy | None = None  # None: client.DEFAULT_RETRY
    timeout: float = 60.0


class LiveCluster:
    """A cluster reached through a kubeconfig context (or in-cluster credentials), read-only."""

    def __init__(
        self,
        options: LiveOptions,
        *,
        name: str = "live",
        connector: Callable[..., Cluster] = connect,
    ):
        if options.mode not in MODES:
            raise ClusterError(f"unknown live mode {options.mode!r} ({', '.join(MODES)})")
        self.name = name
        self.options = options
        self._connector = connector
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cluster: Cluster | None = None
        self._resources: ApiResources | None = None
        self._version: str | None = None
        self._error: BaseException | None = None

    # ------------------------------------------------------------------------------------------ connect

    def _connect(self) -> None:
        try:
            o = self.options
            cluster = self._connector(
                o.kubeconfig,
                o.context,
                retry=o.retry,
                timeout=o.timeout,
                pool_size=max(o.workers, o.read.workers) + 2,
                read_only=True,
            )
            self._cluster = cluster
            version = cluster.request("GET", "/version", what="get the server version")
            self._version = str((version or {}).get("gitVersion") or "") or None
            self._resources = discover(cluster)
        except BaseException as e:  # re-raised in the caller's thread
            self._error = e

    def prefetch(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._connect, name=f"connect-{self.name}", daemon=True
                )
                self._thread.start()

    def connection(self) -> tuple[Cluster, ApiResources]:
        """The connected cluster and its discovered resources (waits for prefetch; raises its error)."""
        self.prefetch()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._cluster is not None and self._resources is not None
        return self._cluster, self._resources

    @property
    def server_version(self) -> str | None:
        return self._version

    def describe(self) -> str:
        cluster = self._cluster
        where = f"{cluster.context} ({cluster.server})" if cluster else self.name
        mode = {"client": "client-side", "server": "server-side dry-run", "auto": "server-side dry-run"}
        return f"live cluster {where}, {mode[self.options.mode]}"

    # --------------------------------------------------------------------------------------------- read

    def load(self, scope: ReadScope) -> LiveState:
        cluster, resources = self.connection()
        read_options = self.options.read
        if scope.prune_kinds is not None:
            read_options = reader.ReadOptions(
                scope.prune_kinds,
                read_options.cluster_wide_from,
                read_options.page_size,
                read_options.workers,
            )
        todo = reader.plan(resources, scope, read_options)
        result = reader.read(cluster, todo.targets, read_options)
        namespaces = frozenset(set(scope.namespaces) | {ns for _, ns in scope.kinds if ns})
        schema, schema_warnings = openapi.read_schema(
            cluster, {t.resource.api_version for t in todo.targets if t.required}
        )
        return LiveState(
            objects=result.objects,
            coverage=Coverage(kinds=frozenset(result.kinds | todo.absent), namespaces=namespaces),
            unreadable=result.unreadable,
            scopes=resources.scopes(),
            source=self.describe(),
            server_version=self._version,
            requests=cluster.requests,  # discovery and /version included
            warnings=tuple(todo.warnings + result.warnings + schema_warnings),
            schema=schema,
        )

    # ------------------------------------------------------------------------------------------ predict

    def whole_state(self) -> None:
        """A live cluster is read per scope: only what the apps touch."""
        return None

    def predictor(self) -> Predictor | None:
        """Itself, unless in client-side mode (no dry-run is asked for)."""
        return None if self.options.mode == "client" else self

    def predict(
        self, batch: Sequence[tuple[App, Sequence[Manifest]]], live: LiveState
    ) -> Mapping[str, Prediction]:
        """Server-side dry-run of every object (nothing in client-side mode)."""
        if self.options.mode == "client" or not batch:
            return {}
        cluster, resources = self.connection()
        options = dryrun.DryRunOptions(
            field_manager=self.options.field_manager,
            appliers=self.options.appliers,
            workers=self.options.workers,
            required=self.options.mode == "server",
            every=self.options.dry_run_all,
        )
        return dryrun.predict(cluster, resources, batch, live, options)
