"""Rendering many apps: in parallel threads (helm and kustomize run as processes), and App of Apps level by level.

``Rendered`` is one app's render or its error; ``render_tree`` renders what discovery found, then the apps those
renders declare, with a depth limit and each app rendered once; with a shard, only the apps it owns (``shards``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from gitops_check.config import RenderOptions
from gitops_check.discover.dispatch import DiscoverOptions, expand_new
from gitops_check.discover.project import Discovery
from gitops_check.errors import GitopsCheckError
from gitops_check.model import (
    App,
    AppError,
    Workspace,
)
from gitops_check.render.base import RenderOutput, ToolFinder, render_app
from gitops_check.shards import ParentSniffer, Shard


@dataclass
class Rendered:
    app: App
    output: RenderOutput | None = None
    error: GitopsCheckError | None = None
    seconds: float = 0.0


def _render_one(
    app: App, ws: Workspace, options: RenderOptions, tools: ToolFinder, repos: Mapping[str, Workspace]
) -> Rendered:
    start = time.perf_counter()
    try:
        output = render_app(app, ws, options, tools=tools, repos=repos)
        return Rendered(app, output, seconds=time.perf_counter() - start)
    except GitopsCheckError as e:
        return Rendered(app, error=e, seconds=time.perf_counter() - start)


def render_all(
    apps: Sequence[App],
    ws: Workspace,
    options: RenderOptions,
    tools: ToolFinder | None = None,
    repos: Mapping[str, Workspace] | None = None,
) -> list[Rendered]:
    """Render apps in parallel (helm/kustomize run as processes, so threads suffice), results in input order."""
    finder = tools or ToolFinder(options)
    mapped = repos or {}
    workers = max(1, min(options.workers, len(apps)))
    if workers == 1:
        return [_render_one(app, ws, options, finder, mapped) for app in apps]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render") as pool:
        return list(pool.map(lambda a: _render_one(a, ws, options, finder, mapped), apps))


def render_tree(
    found: Discovery,
    ws: Workspace,
    options: RenderOptions,
    discover_options: DiscoverOptions,
    tools: ToolFinder,
    shard: Shard | None = None,
    known: set[str] | None = None,
) -> tuple[list[Rendered], Discovery]:
    """Render the discovered apps, then the apps they declare (App of Apps), level by level, with a depth limit.

    With ``shard``, the result holds the apps it owns only; other apps are rendered only when every shard must
    (a parent known to all whose files may declare apps), to find the apps they declare. ``known`` receives the
    name of every app found, whichever shard checks it.
    """
    rendered: list[Rendered] = []
    extra = Discovery()
    seen = {a.name for a in found.apps}
    pending = list(found.apps)
    # Sharded: the owner of each app this shard knows (discovery's apps are known to every shard).
    owner = {a.name: shard.owner_of(a.name) for a in found.apps} if shard else {}
    known_to_all = set(owner)
    sniffer = ParentSniffer(ws) if shard else None
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
        level = render_all(pending, ws, options, tools, discover_options.repo_map)
        rendered.extend(r for r in level if shard is None or owner[r.app.name] == shard.index)
        pending = []
        for r in level:
            if r.output is None:
                continue
            children = expand_new(r.app, r.output.objects, ws, discover_options, seen)
            if shard is not None:
                if r.app.name in parents:  # every shard rendered it: its children go by the hash
                    known_to_all.update(c.name for c in children.apps)
                    owner.update((c.name, shard.owner_of(c.name)) for c in children.apps)
                else:  # only its owner knows them: the owner keeps them
                    owner.update((c.name, owner[r.app.name]) for c in children.apps)
            extra.notes.extend(children.notes)
            extra.errors.extend(children.errors)
            pending.extend(children.apps)
        depth += 1
    return rendered, extra
