"""One preview, end to end: two commits, their apps, content keys, the few renders needed, the comparison.

Returns a CheckResult in mode "preview" (one AppResult per app found at either commit; apps whose content key
did not change are listed unchanged with no resources) and, when a cluster was given, ``baseline``: the cluster
compared with the base render of the apps the change touches. Never decides the exit code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gitops_check import progress, secrethash
from gitops_check.model.result import AppError, AppResult, CheckedSource, CheckResult
from gitops_check.pipeline.check import no_apps_error
from gitops_check.preview.baseline import compare_base_with_cluster
from gitops_check.preview.commits import discover_apps, materialize
from gitops_check.preview.compare import compare_entry, flag_drifted, learn_scopes, note_moves
from gitops_check.preview.plan import Entry, Planner, Side
from gitops_check.preview.request import PreviewRequest
from gitops_check.preview.revisions import resolve_revisions
from gitops_check.project.config import RenderOptions, with_project_render
from gitops_check.render.base import SymlinkGuard, ToolFinder
from gitops_check.render.cache import RenderCache, key_context, open_cache, tool_versions
from gitops_check.sources.git import open_repo


def run_preview(request: PreviewRequest) -> CheckResult:
    start = time.perf_counter()
    timings: dict[str, float] = {}
    for source in (request.default_source, *request.named_sources.values()):
        if source is not None:
            source.prefetch()
    repo = open_repo(request.repo)
    revs = resolve_revisions(
        repo, request.base, request.head, env=os.environ if request.env is None else request.env,
        merge_base=request.merge_base,
    )  # fmt: skip
    warnings: list[str] = []
    cache = (
        open_cache(request.cache_dir, request.repo, request.cache_max_bytes, warnings)
        if request.cache_dir
        else None
    )
    hashing = cache.hashing if cache else secrethash.new_hashing(env={})
    tools = ToolFinder(request.render)
    with contextlib.ExitStack() as stack:
        # Asking helm and kustomize for their versions takes two processes: let them run meanwhile.
        background = stack.enter_context(
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="tool-versions")
        )
        versions = background.submit(tool_versions, tools, cache)
        t = time.perf_counter()
        with progress.stage("reading the commits"):
            commits = materialize(stack, repo, revs, request)
            sides = {"base": commits.base}
        timings["materialize"] = time.perf_counter() - t

        t = time.perf_counter()
        with progress.stage("discovering apps"):
            found = {"base": discover_apps(sides["base"], request)}
            waited = time.perf_counter()
            sides["head"] = commits.head()  # written meanwhile
            waited = time.perf_counter() - waited
            found["head"] = discover_apps(sides["head"], request, sides["base"])
        timings["discover"] = time.perf_counter() - t - waited
        timings["materialize"] += waited

        # Both commits render with the head commit's render section, where the command line left options open:
        # it describes the cluster gitops-check renders for (no agent reads it), so changing it is no app change.
        render = with_project_render(request.render, sides["head"].project)
        if render != request.render:
            binaries = (render.helm_required, render.kustomize_required)
            if binaries != (request.render.helm_required, request.render.kustomize_required):
                tools = ToolFinder(render)
                versions = background.submit(tool_versions, tools, cache)
            request = dataclasses.replace(request, render=render)

        t = time.perf_counter()
        symlinks = SymlinkGuard()
        contexts = _contexts(sides, versions.result(), request.render, symlinks)
        planner = Planner(
            sides, request.render, tools, contexts, cache, hashing, symlinks=symlinks, shard=request.shard
        )
        with progress.stage("rendering", total=0):
            entries = planner.run(found, max(s.options.max_depth for s in sides.values()))
        timings["render"] = time.perf_counter() - t

        t = time.perf_counter()
        scopes = learn_scopes(entries)
        with progress.stage("comparing", total=len(entries)):
            apps = []
            for entry in entries:
                apps.append(compare_entry(entry, scopes, hashing))
                progress.advance()
        note_moves(apps)
        timings["compare"] = time.perf_counter() - t

        result = CheckResult(
            apps=apps,
            target=sides["head"].tree.ws.label,
            against=f"{sides['base'].tree.ws.label} ({revs.describe()})",
            mode="preview",
        )
        head_ws = sides["head"].tree.ws
        if head_ws.revision:
            result.source = CheckedSource(head_ws.revision, repo.prefix, sides["base"].options.this_repo_urls)
        found_names = set(planner.owner) or {
            e.name for e in entries
        }  # sharded: every app, not only this shard's
        if not found_names and not request.job.allow_empty:
            result.errors.append(no_apps_error())
        _run_level_findings(result, sides, request, warnings, found_names)
        if request.default_source is not None or request.named_sources:
            t = time.perf_counter()
            result.baseline = compare_base_with_cluster(request, sides, entries, apps, planner)
            flagged = flag_drifted(result.apps, result.baseline.apps)
            result.stats["flagged"] = flagged
            timings["baseline"] = time.perf_counter() - t
    if cache is not None and cache.writes:
        cache.prune()
    result.stats.update(_stats(entries, apps, planner, cache))
    timings["total"] = time.perf_counter() - start
    result.timings = timings
    return result


# ---------------------------------------------------------------------------------------------------------------
# The two commits


def _contexts(
    sides: Mapping[str, Side],
    versions: Mapping[str, str | None],
    options: RenderOptions,
    symlinks: SymlinkGuard,
) -> dict[str, dict[str, Any]]:
    """What every content key of a commit shares (``render.cache.key_context``), per commit."""
    return {
        name: key_context(versions, options, side.tree.ws, bool(side.tree.links), symlinks)
        for name, side in sides.items()
    }


# ---------------------------------------------------------------------------------------------------------------
# Findings, the cluster, numbers


def _run_level_findings(
    result: CheckResult,
    sides: Mapping[str, Side],
    request: PreviewRequest,
    warnings: list[str],
    names: set[str],
) -> None:
    head, base = sides["head"], sides["base"]
    result.errors.extend(head.errors)
    head_problems = {(e.app, e.message) for e in head.errors}
    result.warnings.extend(warnings)
    result.warnings.extend(head.tree.ws.warnings)
    result.warnings.extend(
        f"base commit: {e.app}: {e.message}" for e in base.errors if (e.app, e.message) not in head_problems
    )
    result.notes.extend(head.notes)
    if request.only_apps:  # ``names``: every app found, also those another shard checks
        for name in sorted(set(request.only_apps) - names):
            result.errors.append(AppError(name, f"no app named {name!r} was found", stage="discover"))


def _stats(
    entries: list[Entry], apps: list[AppResult], planner: Planner, cache: RenderCache | None
) -> dict[str, int]:
    return {
        "apps": len(apps),
        "apps_changed": sum(1 for a in apps if a.drifted and not a.change),
        "apps_added": sum(1 for a in apps if a.change == "added"),
        "apps_removed": sum(1 for a in apps if a.change == "removed"),
        "unchanged_by_key": sum(1 for e in entries if e.same_key),
        "unresolved_keys": sum(1 for e in entries for s in (e.base, e.head) if s and s.unresolved),
        "renders": planner.renders,
        "cache_hits": cache.hits if cache else 0,
        "cache_writes": cache.writes if cache else 0,
        "objects": sum(len(a.diffs) for a in apps),
    }
