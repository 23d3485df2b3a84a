"""Rendering many apps: in parallel threads (helm and kustomize run as processes), and App of Apps level by level.

``Rendered`` is one app's render or its error; ``render_tree`` renders what discovery found, then the apps those
renders declare, with a depth limit and each app rendered once; with a shard, only the apps it owns (``shards``).
With a render cache (``render.keyed``), an app whose inputs were rendered before is read from it instead.
"""

from __future__ import annotations

import pickle
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gitops_check import proc, progress
from gitops_check.diff.hooks import split_hooks
from gitops_check.discover.dispatch import DiscoverOptions, expand_new
from gitops_check.discover.project import Discovery
from gitops_check.errors import GitopsCheckError
from gitops_check.kubeschema.bundled import CRD_GROUP, CRD_KIND
from gitops_check.model.app import App
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.result import AppError
from gitops_check.pipeline.shards import ParentSniffer, Shard
from gitops_check.project.config import RenderOptions
from gitops_check.render.app import render_app
from gitops_check.render.base import RenderOutput, SharedWork, SymlinkGuard, ToolFinder
from gitops_check.render.keyed import KeyedRenders


@dataclass
class Rendered:
    app: App
    output: RenderOutput | None = None
    error: GitopsCheckError | None = None
    seconds: float = 0.0
    # After ``pack``: the output's objects compressed while they wait to be diffed, and the CRDs among them (the
    # keys of every app depend on them) as they are.
    packed: bytes | None = field(default=None, repr=False)
    crds: list[Any] | None = field(default=None, repr=False)

    def objects(self) -> list[RawObject]:
        """The rendered objects; when packed, unpacked anew on each call (the caller holds them while it needs
        them, and only one app's at a time)."""
        if self.packed is not None:
            objects: list[RawObject] = pickle.loads(zlib.decompress(self.packed))
            return objects
        return self.output.objects if self.output is not None else []

    def crd_bodies(self) -> list[Any]:
        """The CustomResourceDefinitions among the objects (Lists flattened, hooks left out)."""
        if self.crds is not None:
            return self.crds
        return [o.body for o in split_hooks(self.app, self.objects())[0] if _is_crd(o.body)]

    def pack(self) -> None:
        """Hold the objects compressed until they are diffed: a few percent of their size as Python objects, so
        a fleet's renders do not sit in memory beside the cluster's objects while they wait."""
        if self.output is None or self.packed is not None:
            return
        self.crds = self.crd_bodies()
        # pickle is safe here: only objects this process made, read back by this process (never a file).
        self.packed = zlib.compress(pickle.dumps(self.output.objects, pickle.HIGHEST_PROTOCOL), 1)
        self.output.objects = []

    def release(self) -> None:
        """Diffed: nothing needs its objects any more."""
        self.packed = None
        if self.output is not None:
            self.output.objects = []


def _is_crd(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("kind") == CRD_KIND
        and str(body.get("apiVersion") or "").split("/")[0] == CRD_GROUP
    )


def _render_one(
    app: App,
    ws: Workspace,
    options: RenderOptions,
    tools: ToolFinder,
    repos: Mapping[str, Workspace],
    symlinks: SymlinkGuard,
    shared: SharedWork,
    keyed: KeyedRenders | None,
) -> Rendered:
    waited = proc.slot_wait()
    start = time.perf_counter()

    def seconds() -> float:  # the app's own time: waiting for a program slot left out
        return time.perf_counter() - start - (proc.slot_wait() - waited)

    try:
        key = keyed.key(app) if keyed is not None else None
        cached = keyed.get(key) if keyed is not None and key is not None else None
        if cached is not None:
            return Rendered(app, cached, seconds=seconds())
        output = render_app(app, ws, options, tools=tools, repos=repos, symlinks=symlinks, shared=shared)
        if keyed is not None and key is not None:
            keyed.put(key, output)
        return Rendered(app, output, seconds=seconds())
    except GitopsCheckError as e:
        return Rendered(app, error=e, seconds=seconds())
    finally:
        progress.advance()


def render_stream(
    apps: Sequence[App],
    ws: Workspace,
    options: RenderOptions,
    tools: ToolFinder | None = None,
    repos: Mapping[str, Workspace] | None = None,
    symlinks: SymlinkGuard | None = None,
    keyed: KeyedRenders | None = None,
    shared: SharedWork | None = None,
) -> Iterator[Rendered]:
    """Render apps in parallel (helm/kustomize run as processes, so threads suffice), each render given in input
    order as soon as it and those before it are done (the caller works on it while later apps render);
    ``keyed``: the render cache answers first."""
    finder = tools or ToolFinder(options)
    mapped = repos or {}
    guard = symlinks or SymlinkGuard()
    work = shared or SharedWork()
    workers = max(1, min(options.workers, len(apps)))
    if workers == 1:
        for app in apps:
            yield _render_one(app, ws, options, finder, mapped, guard, work, keyed)
        return
    # ``workers`` programs at a time (``proc.child_slots``), by twice as many threads: a thread parsing its
    # program's output leaves its slot to another thread's program instead of holding it empty.
    with (
        proc.child_slots(workers),
        ThreadPoolExecutor(max_workers=min(2 * workers, len(apps)), thread_name_prefix="render") as pool,
    ):
        # Leaving early (an error) cancels the renders not started yet.
        yield from pool.map(lambda a: _render_one(a, ws, options, finder, mapped, guard, work, keyed), apps)


def render_tree(
    found: Discovery,
    ws: Workspace,
    options: RenderOptions,
    discover_options: DiscoverOptions,
    tools: ToolFinder,
    shard: Shard | None = None,
    known: set[str] | None = None,
    *,
    pack: bool = False,
    keyed: KeyedRenders | None = None,
    symlinks: SymlinkGuard | None = None,
    shared: SharedWork | None = None,
    on_packed: Callable[[Rendered], None] | None = None,
) -> tuple[list[Rendered], Discovery]:
    """Render the discovered apps, then the apps they declare (App of Apps), level by level, with a depth limit.

    With ``shard``, the result holds the apps it owns only; other apps are rendered only when every shard must
    (a parent known to all whose files may declare apps), to find the apps they declare. ``known`` receives the
    name of every app found, whichever shard checks it. ``pack``: each render is packed (``Rendered.pack``) once
    the apps it declares are found, and then given to ``on_packed`` when this shard owns it (apps compared while
    others render). ``keyed``: the render cache answers first. ``symlinks``, ``shared``: the run's guard and
    shared work (made when not given).
    """
    rendered: list[Rendered] = []
    extra = Discovery()
    seen = {a.name for a in found.apps}
    pending = list(found.apps)
    # Sharded: the owner of each app this shard knows (discovery's apps are known to every shard).
    owner = {a.name: shard.owner_of(a.name) for a in found.apps} if shard else {}
    known_to_all = set(owner)
    sniffer = ParentSniffer(ws) if shard else None
    # One for every level: a link removed at one level is still reported at the next.
    symlinks = symlinks or SymlinkGuard()
    shared = shared or SharedWork()
    depth = 0
    while pending:
        if depth > discover_options.max_depth:
            for app in pending:
                extra.errors.append(
                    AppError(app.name, f"App of Apps nested deeper than {discover_options.max_depth} levels; "
                             "not rendered (cycle?)", stage="discover")
                )  # fmt: skip
            break
        if known is not None:
            known.update(a.name for a in pending)
        parents: set[str] = set()
        if shard is not None and sniffer is not None:
            parents = {a.name for a in pending if a.name in known_to_all and sniffer.may_declare_apps(a)}
            pending = [a for a in pending if owner[a.name] == shard.index or a.name in parents]
        level = render_stream(pending, ws, options, tools, discover_options.repo_map, symlinks, keyed, shared)
        pending = []
        for r in level:  # in order, each as soon as it is rendered (later ones render meanwhile)
            owned = shard is None or owner[r.app.name] == shard.index
            if owned:
                rendered.append(r)
            if r.output is None:
                continue
            children = expand_new(r.app, r.output.objects, ws, discover_options, seen)
            if pack:
                r.pack()
                if owned and on_packed is not None:
                    on_packed(r)
            if shard is not None:
                if r.app.name in parents:  # every shard rendered it: its children go by the hash
                    known_to_all.update(c.name for c in children.apps)
                    owner.update((c.name, shard.owner_of(c.name)) for c in children.apps)
                else:  # only its owner knows them: the owner keeps them
                    owner.update((c.name, owner[r.app.name]) for c in children.apps)
            extra.notes.extend(children.notes)
            extra.errors.extend(children.errors)
            pending.extend(children.apps)
            progress.add_total(len(children.apps))
        depth += 1
    return rendered, extra
