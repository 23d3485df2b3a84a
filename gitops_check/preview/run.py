"""One preview, end to end: two commits, their apps, content keys, the few renders needed, the comparison.

Returns a CheckResult in mode "preview" (one AppResult per app found at either commit; apps whose content key
did not change are listed unchanged with no resources) and, when a cluster was given, ``baseline``: the cluster
compared with the base render of the apps the change touches. Never decides the exit code.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_check import __version__, repourl, secrethash
from gitops_check.check import CheckRequest, Rendered, compare_rendered
from gitops_check.cluster.select import ClusterEntry, ClusterResolver, parse_clusters
from gitops_check.config import DiffOptions, ProjectConfig, RenderOptions
from gitops_check.discover.dispatch import DiscoverOptions, discover
from gitops_check.discover.project import Discovery, load_project
from gitops_check.errors import GitopsCheckError, RenderError, SourceError
from gitops_check.inputs import Tree
from gitops_check.model import App, AppError, AppResult, CheckResult, LiveSource, SecretHashing, Workspace
from gitops_check.preview.compare import compare_entry, flag_drifted, learn_scopes, note_moves
from gitops_check.preview.plan import SIDES, Entry, Planner, Side
from gitops_check.preview.revisions import Revisions, resolve_revisions
from gitops_check.render.base import ToolFinder, check_symlinks, render_app
from gitops_check.render.cache import DEFAULT_MAX_BYTES, RenderCache
from gitops_check.sources.git import RepoHandle, open_repo

_SHM = Path("/dev/shm")
_SHM_MIN_FREE = 256 * 1024 * 1024


@dataclass(frozen=True)
class PreviewRequest:
    repo: Path
    base: str | None = None  # None: from the CI environment
    head: str | None = None  # None: from the CI environment, else HEAD
    merge_base: bool = True
    # The cluster for "already different in the cluster"; None: no cluster comparison.
    default_source: LiveSource | None = None
    source_factory: Callable[[ClusterEntry], LiveSource] | None = None
    render: RenderOptions = field(default_factory=RenderOptions)
    diff: DiffOptions = field(default_factory=DiffOptions)
    only_apps: tuple[str, ...] = ()
    repo_map: Mapping[str, Path] = field(default_factory=dict)
    repo_urls: tuple[str, ...] = ()
    cache_dir: Path | None = None  # None: no render cache
    cache_max_bytes: int = DEFAULT_MAX_BYTES
    work_dir: Path | None = None  # where the two commits are written; None: memory-backed when there is room
    env: Mapping[str, str] | None = None  # None: os.environ (for the CI defaults)


def run_preview(request: PreviewRequest) -> CheckResult:
    start = time.perf_counter()
    timings: dict[str, float] = {}
    if request.default_source is not None:
        request.default_source.prefetch()
    repo = open_repo(request.repo)
    revs = resolve_revisions(
        repo, request.base, request.head, env=os.environ if request.env is None else request.env,
        merge_base=request.merge_base,
    )  # fmt: skip
    warnings: list[str] = []
    cache = _open_cache(request, warnings)
    hashing = cache.hashing if cache else secrethash.new_hashing(env={})
    tools = ToolFinder(request.render)
    with contextlib.ExitStack() as stack:
        # Asking helm and kustomize for their versions takes two processes: let them run meanwhile.
        background = stack.enter_context(
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="tool-versions")
        )
        versions = background.submit(_tool_versions, tools, cache)
        t = time.perf_counter()
        sides = _materialize_somewhere(stack, repo, revs, request)
        timings["materialize"] = time.perf_counter() - t

        t = time.perf_counter()
        found = {"base": _discover(sides["base"], request)}
        found["head"] = _discover(sides["head"], request, sides["base"])
        timings["discover"] = time.perf_counter() - t

        t = time.perf_counter()
        contexts = _contexts(sides, versions.result(), request.render)
        planner = Planner(sides, request.render, tools, contexts, cache, hashing)
        entries = planner.run(found, max(s.options.max_depth for s in sides.values()))
        timings["render"] = time.perf_counter() - t

        t = time.perf_counter()
        scopes = learn_scopes(entries)
        apps = [compare_entry(e, scopes, hashing) for e in entries]
        note_moves(apps)
        timings["compare"] = time.perf_counter() - t

        result = CheckResult(
            apps=apps,
            target=sides["head"].tree.ws.label,
            against=f"{sides['base'].tree.ws.label} ({revs.describe()})",
            mode="preview",
        )
        _run_level_findings(result, sides, request, warnings)
        if request.default_source is not None:
            t = time.perf_counter()
            result.baseline = _baseline(request, revs, sides, entries, apps, planner, hashing)
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


def _materialize_somewhere(
    stack: contextlib.ExitStack[Any], repo: RepoHandle, revs: Revisions, request: PreviewRequest
) -> dict[str, Side]:
    """Both commits in a temporary folder: memory-backed when it has room, on disk when that fills up."""
    parent = request.work_dir or (
        Path(os.environ["GITOPS_CHECK_WORKDIR"]) if os.environ.get("GITOPS_CHECK_WORKDIR") else None
    )
    in_memory = parent is None and _roomy(_SHM)
    tmp = stack.enter_context(_temp(_SHM if in_memory else parent))
    try:
        return _materialize(repo, revs, request, tmp)
    except OSError as e:
        if not in_memory:
            raise SourceError(
                f"cannot write the two commits to {tmp}: {e.strerror or e}; pass --work-dir"
            ) from e
    return _materialize(repo, revs, request, stack.enter_context(_temp(parent)))


@contextmanager
def _temp(parent: Path | None) -> Iterator[Path]:
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gitops-check-preview-", dir=parent) as tmp:
        yield Path(tmp)


def _roomy(path: Path) -> bool:
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize >= _SHM_MIN_FREE and os.access(path, os.W_OK)


def _materialize(repo: RepoHandle, revs: Revisions, request: PreviewRequest, tmp: Path) -> dict[str, Side]:
    urls = frozenset(repourl.canonical(u) for u in (*repo.remote_urls(), *request.repo_urls))
    mapped: dict[str, Workspace] = {}
    for i, (url, path) in enumerate(sorted(request.repo_map.items())):
        mapped[repourl.canonical(url)] = open_repo(path).materialize("HEAD", tmp / f"mapped-{i}")

    parsed: dict[str, Any] = {}  # YAML parsed by blob id, shared by both commits

    def one(side: str) -> Side:
        sha = revs.base if side == "base" else revs.head
        ws = repo.materialize(sha, tmp / side)
        options = DiscoverOptions(this_repo_urls=urls, repo_map=mapped)
        return Side(side, Tree(ws, repo.tree_index(sha), parsed), None, options)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="materialize") as pool:
        base, head = pool.map(one, SIDES)
    return {"base": base, "head": head}


def _discover(side: Side, request: PreviewRequest, other: Side | None = None) -> list[App]:
    ws = side.tree.ws
    try:
        side.project = _same_project(side, other) or load_project(ws)
        found = discover(ws, side.project, side.options)
    except GitopsCheckError as e:
        raise type(e)(
            f"{side.name} commit {(ws.revision or '')[:7]}: {e.message}", file=e.file, line=e.line
        ) from e
    if request.only_apps:
        found = Discovery([a for a in found.apps if a.name in request.only_apps], found.notes, found.errors)
    side.notes.extend(found.notes)
    side.errors.extend(found.errors)
    return found.apps


def _same_project(side: Side, other: Side | None) -> ProjectConfig | None:
    """The other commit's parsed project file when the file is the same blob (parsing 300 apps takes a while)."""
    if other is None or other.project is None or not other.project.path:
        return None
    mine = side.tree.index.get(other.project.path)
    return other.project if mine is not None and mine == other.tree.index.get(other.project.path) else None


def _tool_versions(tools: ToolFinder, cache: RenderCache | None) -> dict[str, str | None]:
    """helm's and kustomize's (else kubectl's) versions; remembered beside the cache by binary path, size, mtime."""

    def version(name: str) -> str | None:
        try:
            tool = tools.find(name)
            if tool is None:
                return None
            st = os.stat(tool.path)
            binary = f"{os.path.realpath(tool.path)}:{st.st_size}:{st.st_mtime_ns}"
            known = cache.remembered("tool-versions", binary) if cache else None
            if known is None:
                known = tools.version(name)
                if cache:
                    cache.remember("tool-versions", binary, known)
            return known
        except (GitopsCheckError, OSError):
            return None

    # kubectl only stands in for a missing kustomize; each version is a process, so they run side by side.
    names = ("helm", "kustomize") if tools.find("kustomize") else ("helm", "kubectl")
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="tool-version") as pool:
        return dict(zip(names, pool.map(version, names), strict=True))


def _contexts(
    sides: Mapping[str, Side], versions: Mapping[str, str | None], options: RenderOptions
) -> dict[str, dict[str, Any]]:
    """What every content key of a commit shares: gitops-check and tool versions, render options, symlink check."""
    shared = {
        "gitops-check": __version__,
        "tools": versions,
        "render": {"kubeVersion": options.kube_version, "apiVersions": list(options.api_versions),
                   "allowRemoteBases": options.allow_remote_bases},
    }  # fmt: skip
    out = {}
    for name, side in sides.items():
        try:
            check_symlinks(side.tree.ws)
            problem = None
        except RenderError as e:
            problem = e.message  # every render of this commit fails the same way
        out[name] = {**shared, "symlinks": problem}
    return out


def _open_cache(request: PreviewRequest, warnings: list[str]) -> RenderCache | None:
    if request.cache_dir is None:
        return None
    try:
        return RenderCache(request.cache_dir, max_bytes=request.cache_max_bytes)
    except OSError as e:
        warnings.append(f"render cache {request.cache_dir} not used: {e.strerror or e}")
        return None


# ---------------------------------------------------------------------------------------------------------------
# Findings, the cluster, numbers


def _run_level_findings(
    result: CheckResult, sides: Mapping[str, Side], request: PreviewRequest, warnings: list[str]
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
    if request.only_apps:
        names = {a.app.name for a in result.apps}
        for name in sorted(set(request.only_apps) - names):
            result.errors.append(AppError(name, f"no app named {name!r} was found", stage="discover"))


def _baseline(
    request: PreviewRequest,
    revs: Revisions,
    sides: Mapping[str, Side],
    entries: list[Entry],
    apps: list[AppResult],
    planner: Planner,
    hashing: SecretHashing,
) -> CheckResult:
    """The cluster against the base render of every app this change touches (changed or removed)."""
    touched = {a.app.name for a in apps if a.drifted and a.change != "added"}
    base = sides["base"]
    rendered: list[Rendered] = []
    for entry in entries:
        state = entry.base
        if entry.name not in touched or state is None or state.output is None:
            continue
        raw = state.raw
        if raw is None and any(_is_secret(o.body) for o in state.output.objects):
            # A cached render holds Secret hashes only; comparing with the cluster needs the values.
            try:
                raw = render_app(state.app, base.tree.ws, request.render, tools=planner.tools,
                                 repos=base.options.repo_map)  # fmt: skip
                planner.renders += 1
            except GitopsCheckError as e:
                rendered.append(Rendered(state.app, error=e))
                continue
        rendered.append(Rendered(state.app, raw or state.output, seconds=state.seconds))
    check_request = CheckRequest(
        repo=request.repo, revision=revs.base, default_source=request.default_source,
        source_factory=request.source_factory, render=request.render, diff=request.diff,
    )  # fmt: skip
    project = base.project
    clusters = parse_clusters(project.clusters, project.path or "") if project else []
    resolver = ClusterResolver(request.default_source, clusters, request.source_factory)
    baseline = CheckResult(apps=[], target=base.tree.ws.label, against="", mode="diff")
    compare_rendered(check_request, rendered, resolver, project, baseline)
    return baseline


def _is_secret(body: object) -> bool:
    return isinstance(body, dict) and body.get("kind") == "Secret"


def _stats(
    entries: list[Entry], apps: list[AppResult], planner: Planner, cache: RenderCache | None
) -> dict[str, int]:
    return {
        "apps": len(apps),
        "apps_changed": sum(1 for a in apps if a.drifted and not a.change),
        "apps_added": sum(1 for a in apps if a.change == "added"),
        "apps_removed": sum(1 for a in apps if a.change == "removed"),
        "unchanged_by_key": sum(1 for e in entries if e.same_key),
        "unresolved_keys": sum(1 for e in entries for s in (e.base, e.head) if s and s.key is None),
        "renders": planner.renders,
        "cache_hits": cache.hits if cache else 0,
        "cache_writes": cache.writes if cache else 0,
        "objects": sum(len(a.diffs) for a in apps),
    }
