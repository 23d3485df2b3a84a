"""Which apps to render, at which commit, and rendering them: content keys decide, the cache answers first.

For every app found at base or head (level by level, App of Apps included):

* at both commits with the same content key: unchanged, not rendered, unless it may declare other apps
  (``sniff``), in which case one render (or cache entry) serves both commits, to find the apps it declares;
* otherwise each commit that has it gets its own render: the cache by key when there is one, else ``helm`` /
  ``kustomize`` / the directory reader, in parallel with a bounded number of workers.

Every render is sealed (Secret values hashed, ``render.cache``) before anything compares or stores it; the
unsealed base render is kept in memory for the comparison with the cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gitops_check import progress
from gitops_check.discover.dispatch import DiscoverOptions, expand_new
from gitops_check.errors import GitopsCheckError
from gitops_check.model.app import App
from gitops_check.model.live import SecretHashing
from gitops_check.model.result import AppError
from gitops_check.pipeline.shards import Shard
from gitops_check.preview.sniff import Sniffer
from gitops_check.project.config import ProjectConfig, RenderOptions
from gitops_check.remote.charts import resolution_key
from gitops_check.render.app import render_app
from gitops_check.render.base import RenderOutput, SharedWork, SymlinkGuard, ToolFinder
from gitops_check.render.cache import RenderCache, seal
from gitops_check.render.inputs import (
    AppInputs,
    Tree,
    app_inputs,
    app_material,
    change_key,
    content_key,
    context_text,
    same_inputs,
)

SIDES = ("base", "head")


@dataclass
class Side:
    """One commit: its tree, project file and discovery options; what discovery said goes to notes/errors."""

    name: str  # base | head
    tree: Tree
    project: ProjectConfig | None
    options: DiscoverOptions
    notes: list[str] = field(default_factory=list)
    errors: list[AppError] = field(default_factory=list)


@dataclass
class AppState:
    """One app at one commit; its content key is computed when something asks for it."""

    app: App
    inputs: AppInputs
    keyer: Callable[[], str | None] = field(repr=False)
    parent: bool  # its render may declare other apps
    output: RenderOutput | None = None  # sealed
    raw: RenderOutput | None = None  # unsealed, only for fresh renders
    error: GitopsCheckError | None = None
    source: str = ""  # "" not rendered | render | cache | shared
    seconds: float = 0.0
    expanded: bool = False
    # ``inputs.change_key``: defined even for unresolved inputs, to tell whether the change touches the app.
    changer: Callable[[], str | None] | None = field(default=None, repr=False)
    _key: str | None = field(default=None, repr=False)
    _keyed: bool = field(default=False, repr=False)

    @property
    def unresolved(self) -> tuple[str, ...]:
        return self.inputs.unresolved

    @property
    def key(self) -> str | None:
        """``inputs.content_key``; None when the inputs are unresolved (always rendered, never cached)."""
        if not self._keyed:
            self._key, self._keyed = self.keyer(), True
        return self._key

    @property
    def change_key(self) -> str | None:
        # The content key when there is one (the same hash); None too when a fetched input (chart, artifact)
        # cannot be resolved now: then its names and wanted versions tell whether the change touches it.
        key = self.key if not self.inputs.unresolved else None
        if key is not None:
            return key
        return self.changer() if self.changer else None

    @property
    def done(self) -> bool:
        return self.output is not None or self.error is not None


@dataclass
class Entry:
    """One app name across both commits."""

    name: str
    level: int
    base: AppState | None = None
    head: AppState | None = None
    # True: head reads what base read, with the same settings (inputs.same_inputs), so the keys are equal
    # without computing them.
    carried: bool = False

    @property
    def same_key(self) -> bool:
        if self.carried:
            # Same inputs: the same key, unless a fetched input cannot be resolved now (no key: always rendered).
            assert self.base is not None
            return not self.base.inputs.remote or self.base.key is not None
        return (
            self.base is not None
            and self.head is not None
            and self.base.key is not None
            and self.base.key == self.head.key
        )

    @property
    def untouched(self) -> bool:
        """The change alters nothing this app reads at either commit (it may still read things from elsewhere)."""
        if self.same_key:
            return True
        return (
            self.base is not None
            and self.head is not None
            and self.base.change_key is not None
            and self.base.change_key == self.head.change_key
        )

    def state(self, side: str) -> AppState | None:
        return self.base if side == "base" else self.head


def _key_of(state: AppState) -> Callable[[], str | None]:
    return lambda: state.key


def _change_key_of(state: AppState) -> Callable[[], str | None]:
    return lambda: state.change_key


@dataclass
class Planner:
    sides: Mapping[str, Side]
    render: RenderOptions
    tools: ToolFinder
    contexts: Mapping[str, Mapping[str, Any]]  # per commit: key material every app shares (tools, options)
    cache: RenderCache | None
    hashing: SecretHashing
    sniffer: Sniffer = field(default_factory=Sniffer)
    symlinks: SymlinkGuard = field(default_factory=SymlinkGuard)  # the one _contexts checked the commits with
    shared: SharedWork = field(default_factory=SharedWork)  # work the renders of both commits do once
    entries: dict[str, Entry] = field(default_factory=dict)
    renders: int = 0
    # Sharded: only the apps this shard owns are returned (``shards``); parents known to every shard are rendered by
    # every shard, so their children spread by the hash, and other parents' children stay with their owner.
    shard: Shard | None = None
    owner: dict[str, int] = field(default_factory=dict)
    known_to_all: set[str] = field(default_factory=set)
    _materials: dict[int, tuple[App, str]] = field(default_factory=dict)

    def run(self, found: Mapping[str, list[App]], max_depth: int) -> list[Entry]:
        pending = {side: list(found[side]) for side in SIDES}
        seen = {side: {a.name for a in found[side]} for side in SIDES}
        if self.shard is not None:
            roots = {a.name for side in SIDES for a in found[side]}
            self.owner.update((name, self.shard.owner_of(name)) for name in roots)
            self.known_to_all.update(roots)
        level = 0
        while any(pending.values()):
            if level > max_depth:
                for side in SIDES:
                    self.sides[side].errors.extend(
                        AppError(a.name, f"App of Apps nested deeper than {max_depth} levels; not rendered "
                                 "(cycle?)", stage="discover")
                        for a in pending[side]
                    )  # fmt: skip
                break
            current = self._states(pending, level)
            if self.shard is not None:
                current = [e for e in current if self._ours(e) or self._shared_parent(e)]
            self._produce(current)
            pending = {side: [] for side in SIDES}
            for entry in current:
                for side in SIDES:
                    self._expand(entry, side, pending[side], seen[side])
            level += 1
        if self.shard is None:
            return list(self.entries.values())
        return [e for e in self.entries.values() if self._ours(e)]

    def _ours(self, entry: Entry) -> bool:
        return self.shard is None or self.owner.get(entry.name) == self.shard.index

    def _shared_parent(self, entry: Entry) -> bool:
        """Known to every shard and may declare apps: every shard renders it, to find them."""
        parent = any(s.parent for s in (entry.base, entry.head) if s is not None)
        return parent and entry.name in self.known_to_all

    def _states(self, pending: Mapping[str, list[App]], level: int) -> list[Entry]:
        current: dict[str, Entry] = {}
        contexts = {side: context_text(self.contexts[side]) for side in SIDES}
        for side in SIDES:
            tree = self.sides[side].tree
            for app in pending[side]:
                # An app may sit at another level at the other commit (moved into an App of Apps).
                entry = current.setdefault(app.name, self.entries.get(app.name) or Entry(app.name, level))
                if side == "head" and self._carries(entry.base, app, contexts):
                    assert entry.base is not None
                    base = entry.base
                    entry.head = AppState(
                        app, base.inputs, _key_of(base), base.parent, changer=_change_key_of(base)
                    )
                    entry.carried = True
                    continue
                inputs = app_inputs(app, tree, plugins_discover=any(p.discovers for p in self.render.plugins))
                state = AppState(
                    app, inputs, self._keyer(app, inputs, tree, contexts[side]),
                    self.sniffer.may_declare_apps(inputs, tree),
                    changer=self._changer(app, inputs, tree, contexts[side]),
                )  # fmt: skip
                if side == "base":
                    entry.base = state
                else:
                    entry.head = state
        for name, entry in current.items():
            self.entries.setdefault(name, entry)
        return list(current.values())

    def _carries(self, base: AppState | None, app: App, contexts: Mapping[str, str]) -> bool:
        """Whether ``app`` at head has base's key without computing either (same settings, same inputs)."""
        if base is None or contexts["base"] != contexts["head"]:
            return False
        if base.app is not app and self._material(base.app) != self._material(app):
            return False
        return same_inputs(app, base.inputs, self.sides["base"].tree, self.sides["head"].tree)

    def _keyer(self, app: App, inputs: AppInputs, tree: Tree, context: str) -> Callable[[], str | None]:
        network = self.render.network

        def resolve(item: tuple[str, str, str, str]) -> str | None:
            return resolution_key(item, network)

        return lambda: content_key(app, inputs, tree, context, material=self._material(app), resolve=resolve)

    def _changer(self, app: App, inputs: AppInputs, tree: Tree, context: str) -> Callable[[], str | None]:
        return lambda: change_key(app, inputs, tree, context, material=self._material(app))

    def _material(self, app: App) -> str:
        """``app_material``, once per App object: both commits share them when the project file is unchanged."""
        known = self._materials.get(id(app))
        if known is None or known[0] is not app:
            known = self._materials[id(app)] = (app, app_material(app))
        return known[1]

    def _produce(self, current: list[Entry]) -> None:
        """Fill in the outputs this level needs: from the cache, else rendered in parallel."""
        jobs: list[tuple[AppState, str]] = []
        for entry in current:
            if entry.same_key:
                assert entry.base is not None and entry.head is not None
                needed = entry.base.parent or entry.head.parent
                if needed and not entry.base.done and not entry.head.done:
                    jobs.append((entry.head, "head"))
                continue
            jobs += [(s, side) for side in SIDES if (s := entry.state(side)) is not None and not s.done]
        to_render = [(s, side) for s, side in jobs if not self._from_cache(s)]
        self.renders += len(to_render)
        progress.add_total(len(to_render))
        if to_render:
            workers = max(1, min(self.render.workers, len(to_render)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="preview-render") as pool:
                list(pool.map(lambda job: self._render(*job), to_render))
        for entry in current:
            if entry.same_key and entry.head is not None and entry.base is not None:
                done, other = (entry.head, entry.base) if entry.head.done else (entry.base, entry.head)
                if done.done and not other.done:
                    other.output, other.error, other.source = done.output, done.error, "shared"

    def _from_cache(self, state: AppState) -> bool:
        if self.cache is None or state.key is None:
            return False
        output = self.cache.get(state.key)
        if output is None:
            return False
        state.output, state.source = output, "cache"
        return True

    def _render(self, state: AppState, side: str) -> None:
        s = self.sides[side]
        start = time.perf_counter()
        try:
            raw = render_app(
                state.app,
                s.tree.ws,
                self.render,
                tools=self.tools,
                repos=s.options.repo_map,
                symlinks=self.symlinks,
                shared=self.shared,
            )
        except GitopsCheckError as e:
            state.error = e
        else:
            state.raw = raw
            state.output = seal(raw, self.hashing)
            if self.cache is not None and state.key is not None:
                self.cache.put(state.key, state.output)
        state.source = "render"
        state.seconds = time.perf_counter() - start
        progress.advance()

    def _expand(self, entry: Entry, side: str, pending: list[App], seen: set[str]) -> None:
        state = entry.state(side)
        if state is None or state.output is None or state.expanded:
            return
        state.expanded = True
        s = self.sides[side]
        children = expand_new(state.app, state.output.objects, s.tree.ws, s.options, seen)
        if self.shard is not None:
            if self._shared_parent(entry):
                self.known_to_all.update(c.name for c in children.apps)
                for c in children.apps:
                    self.owner.setdefault(c.name, self.shard.owner_of(c.name))
            else:
                for c in children.apps:
                    self.owner.setdefault(c.name, self.owner[entry.name])
        s.notes.extend(children.notes)
        s.errors.extend(children.errors)
        pending.extend(children.apps)
