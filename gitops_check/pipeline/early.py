"""Comparing apps with a snapshot while other apps still render, so the diff's Python overlaps the renders.

A run's comparison needs every render first: the CRDs of all apps decide the scope (namespaced or not) and the
schema of the kinds they define, and a live cluster is read for exactly the kinds and namespaces all apps touch.
A snapshot, though, is read whole whatever the scope (``LiveSource.whole_state``). So one thread compares each
app whose cluster is a snapshot as soon as its render is packed, with the scopes and schemas known without
rendered CRDs, and notes the kinds the comparison depended on. At the end ``compare_rendered`` takes a result
only where it holds: the same cluster state, and no kind that any rendered CRD defines; any other app (and any
app this thread had not reached, or failed on) is compared there as before. Exact by construction: an app
taken was compared with exactly what the final comparison would have used.
"""

from __future__ import annotations

import queue
import threading

from gitops_check.cluster.select import ClusterResolver
from gitops_check.diff.prune import TrackingIndex
from gitops_check.errors import GitopsCheckError
from gitops_check.identity import KindScopes
from gitops_check.kubeschema.bundled import schemas_for
from gitops_check.model.live import LiveSource, LiveState
from gitops_check.model.objects import GroupKind
from gitops_check.pipeline.comparison import (
    ClusterView,
    Compared,
    Inspect,
    cluster_name,
    compare_app,
    diff_settings,
    in_cluster_crds,
    screen_live,
)
from gitops_check.pipeline.rendering import Rendered
from gitops_check.project.config import DiffOptions, ProjectConfig


class EarlyComparisons:
    """One thread comparing offered renders with their snapshot, in the order offered; ``close`` before the final
    comparison."""

    def __init__(
        self,
        diff_options: DiffOptions,
        resolver: ClusterResolver,
        project: ProjectConfig | None,
        inspect: Inspect | None,
    ):
        self._options = diff_options
        self._resolver = resolver
        self._settings = diff_settings(diff_options, project)
        self._inspect = inspect
        self._queue: queue.SimpleQueue[Rendered | None] = queue.SimpleQueue()
        self._closed = self._abandoned = False
        self._thread: threading.Thread | None = None
        self._views: dict[str, ClusterView | None] = {}  # None: not a source read whole, or unreadable
        self._done: dict[str, tuple[Rendered, str, Compared]] = {}

    def offer(self, r: Rendered) -> None:
        """A packed render, final for this run (its children already found)."""
        if r.output is None or self._closed:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="early-compare", daemon=True)
            self._thread.start()
        self._queue.put(r)

    def close(self) -> None:
        """No more renders: compare those offered (what is left is the same work the final comparison would do,
        so it is done here, in order) and end the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()

    def abandon(self) -> None:
        """The run failed: end the thread without comparing what is left."""
        self._abandoned = True
        self.close()

    def _work(self) -> None:
        while (r := self._queue.get()) is not None:
            if self._abandoned:
                continue
            try:
                self._compare(r)
            except Exception:  # not taken: the final comparison does it again and reports it
                continue

    def _compare(self, r: Rendered) -> None:
        try:
            key, source = self._resolver.resolve(r.app.destination)
        except GitopsCheckError:
            return
        if key not in self._views:
            self._views[key] = self._view(source)
        view = self._views[key]
        if view is None:
            return
        name = cluster_name(key, view.live, source)
        done = compare_app(
            r, (key, view, name), self._settings, self._options, self._inspect, note_kinds=True
        )
        self._done[r.app.name] = (r, key, done)

    def _view(self, source: LiveSource) -> ClusterView | None:
        try:
            state = source.whole_state()
        except GitopsCheckError:
            return None  # the final comparison reads it again and reports why
        if state is None:
            return None
        live, tracker = screen_live(state, track=self._settings.detect_pruning)
        # No rendered CRD yet: apps depending on a kind one defines are compared again at the end.
        schemas = schemas_for(live.schema, in_cluster_crds(live))
        return ClusterView(live, tracker, schemas, {**KindScopes().table, **live.scopes})

    # ---------------------------------------------------------------------------- EarlyResults (comparison)

    def view(self, key: str) -> tuple[LiveState, TrackingIndex | None] | None:
        view = self._views.get(key)
        return (view.live, view.tracker) if view is not None else None

    def take(self, r: Rendered, key: str, live: LiveState, defined: set[GroupKind]) -> Compared | None:
        entry = self._done.pop(r.app.name, None)
        if entry is None:
            return None
        seen, seen_key, done = entry
        view = self._views.get(seen_key)
        if seen is not r or seen_key != key or view is None or view.live is not live:
            return None
        return None if done.kinds & defined else done
