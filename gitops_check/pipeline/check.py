"""One check, end to end: materialize the commit, find the apps, render them, read the clusters, diff.

Returns a CheckResult and never decides the exit code (``cli`` does). A failure in one app is recorded for
that app and the others go on; a cluster that cannot be read makes every app compared with it "not
checked", never "in sync".

Order of work: snapshots start loading while apps render; apps rendered by other apps (App of Apps) are
discovered and rendered level by level; then each cluster is read once for exactly the kinds and
namespaces its apps touch; then every app is keyed and diffed against its cluster.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitops_check import hygiene, progress, repourl, scratch
from gitops_check.cluster.kubeconfig import KubeServers
from gitops_check.cluster.select import ClusterEntry, ClusterResolver, parse_clusters
from gitops_check.discover.dispatch import DiscoverOptions, discover
from gitops_check.discover.project import Discovery, load_project
from gitops_check.errors import ClusterError, GitopsCheckError, SourceError
from gitops_check.model.app import App, Destination
from gitops_check.model.live import LiveSource, ReadScope
from gitops_check.model.objects import JSON, ResourceKey
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.result import AppError, CheckedSource, CheckResult, Finding
from gitops_check.pipeline.comparison import Inspect, compare_rendered
from gitops_check.pipeline.early import EarlyComparisons
from gitops_check.pipeline.rendering import Rendered, render_tree
from gitops_check.pipeline.shards import Shard
from gitops_check.project.config import (
    DiffOptions,
    JobOptions,
    ProjectConfig,
    RenderOptions,
    with_project_render,
)
from gitops_check.remote import http
from gitops_check.render.base import SymlinkGuard, ToolFinder
from gitops_check.render.cache import DEFAULT_MAX_BYTES, key_context, open_cache, tool_versions
from gitops_check.render.inputs import Tree, context_text
from gitops_check.render.keyed import KeyedRenders
from gitops_check.sources.folder import FolderHandle, open_tree
from gitops_check.sources.git import RepoHandle


@dataclass(frozen=True)
class CheckRequest:
    repo: Path
    revision: str | None  # None: the working tree
    # The cluster given on the command line (snapshot or live); None when every app maps to a named cluster.
    default_source: LiveSource | None
    # Makes the source of a cluster named in the project file's ``clusters:`` list.
    source_factory: Callable[[ClusterEntry], LiveSource] | None = None
    # Clusters named on the command line (--snapshot NAME=FILE): they win over the project file.
    named_sources: Mapping[str, LiveSource] = field(default_factory=dict)
    render: RenderOptions = field(default_factory=RenderOptions)
    diff: DiffOptions = field(default_factory=DiffOptions)
    only_apps: tuple[str, ...] = ()
    # Other repositories Applications point at: URL -> local clone (checked at its HEAD).
    repo_map: Mapping[str, Path] = field(default_factory=dict)
    repo_urls: tuple[str, ...] = ()  # extra URLs that mean "this repository"
    honour_target_revision: bool = False
    strict: bool = False  # hygiene findings fail the run (exit 1) instead of only warning
    job: JobOptions = field(default_factory=JobOptions)
    shard: Shard | None = None  # check only the apps this shard owns (``gitops-check merge`` joins the parts)
    fail_on_manual: bool = False  # resources changed only by hand fail the run (exit 1) like drift
    # --live: the kubeconfig's contexts by server URL (destinations given by URL map to them).
    kube_servers: KubeServers | None = None
    cache_dir: Path | None = None  # the render cache (``render.keyed``); None: every app is rendered
    cache_max_bytes: int = DEFAULT_MAX_BYTES


def _materialize_mapped(request: CheckRequest, tmp: Path) -> dict[str, Workspace]:
    repos: dict[str, Workspace] = {}
    for i, (url, path) in enumerate(sorted(request.repo_map.items())):
        handle = open_tree(path)
        repos[repourl.canonical(url)] = handle.materialize("HEAD", tmp / f"mapped-{i}")
    return repos


def _object_lookup(resolver: ClusterResolver) -> Callable[[Destination, ResourceKey], JSON | None]:
    """One object of the cluster an app's destination maps to, for discovery (Flux substituteFrom/valuesFrom).

    A read of that kind in that namespace (a snapshot answers from what it loaded). An object the read could not
    see is an error, never "absent".
    """

    def lookup(dest: Destination, key: ResourceKey) -> JSON | None:
        _, source = resolver.resolve(dest)
        gk = key.group_kind
        namespaces = frozenset({key.namespace}) if key.namespace else frozenset()
        state = source.load(ReadScope(frozenset({(gk, key.namespace)}), namespaces, prune_kinds=()))
        if key in state.objects:
            return dict(state.objects[key])
        reason = state.unreadable.get((gk, key.namespace)) or state.unreadable.get((gk, None))
        if reason or not state.coverage.covers(key, state.present_kinds()):
            raise ClusterError(
                f"{gk} objects in namespace {key.namespace} were not read ({reason or 'not captured'}), so "
                f"whether {key} exists is unknown"
            )
        return None

    return lookup


def _at_revision(repo: RepoHandle | FolderHandle, tmp: Path) -> Callable[[str], Workspace]:
    """This repository at an Application's targetRevision (a branch may exist only as origin/<branch>)."""
    counter = itertools.count()

    def materialize(revision: str) -> Workspace:
        error: GitopsCheckError | None = None
        for candidate in (revision, f"origin/{revision}"):
            try:
                return repo.materialize(candidate, tmp / f"revision-{next(counter)}")
            except GitopsCheckError as e:
                error = error or e
        assert error is not None
        raise error

    return materialize


@dataclass
class RenderedRepo:
    """A commit's apps, discovered and rendered (the first half of a check)."""

    label: str
    project: ProjectConfig | None
    rendered: list[Rendered]
    resolver: ClusterResolver
    errors: list[AppError]
    notes: list[str]
    warnings: list[str]
    timings: dict[str, float]
    source: CheckedSource | None = None
    cache: KeyedRenders | None = None
    early: EarlyComparisons | None = None  # apps compared with a snapshot while others rendered


def _keyed_renders(
    request: CheckRequest,
    repo: RepoHandle | FolderHandle,
    ws: Workspace,
    render: RenderOptions,
    tools: ToolFinder,
    symlinks: SymlinkGuard,
    said: list[str],
) -> KeyedRenders | None:
    """The render cache for this commit, when asked for and the files checked are those of a commit (the content
    key is made of git object ids); ``said``: why not, when not."""
    if request.cache_dir is None:
        return None
    if not isinstance(repo, RepoHandle) or (ws.revision is None and not repo.worktree_is_head()):
        said.append(
            "render cache not used: the working tree is not a clean git checkout (its files are not those of "
            "a commit); commit them, or check a revision with --rev"
        )
        return None
    cache = open_cache(request.cache_dir, request.repo, request.cache_max_bytes, said)
    if cache is None:
        return None
    tree = Tree(ws, repo.tree_index(ws.revision or "HEAD"))
    context = context_text(key_context(tool_versions(tools, cache), render, ws, bool(tree.links), symlinks))
    discovers = any(p.discovers for p in render.plugins)
    return KeyedRenders(cache, tree, context, render.network, plugins_discover=discovers)


def _materialize(
    stack: contextlib.ExitStack, repo: RepoHandle | FolderHandle, revision: str | None
) -> tuple[Path, Workspace]:
    """The commit's files in a scratch folder (``scratch``: memory-backed when it has room; on disk when the
    commit does not fit there), and the folder, which also takes the other commits and repositories read."""
    where, in_memory = scratch.chosen()
    tmp = stack.enter_context(scratch.folder(where))
    try:
        return tmp, repo.materialize(revision, tmp / "tree")
    except OSError as e:
        if not in_memory:
            raise SourceError(
                f"cannot write the commit to {tmp}: {e.strerror or e}; set ${scratch.WORKDIR_VARIABLE}"
            ) from e
        scratch.empty(tmp)
    tmp = stack.enter_context(scratch.folder(None))
    return tmp, repo.materialize(revision, tmp / "tree")


def render_repo(
    request: CheckRequest,
    *,
    pack: bool = False,
    early: Callable[[ProjectConfig | None, ClusterResolver], EarlyComparisons | None] | None = None,
) -> RenderedRepo:
    """Materialize the commit, discover its apps and render them (App of Apps included); ``pack``: renders are
    held compressed until diffed (``Rendered.pack``); ``early``: makes what compares packed renders while
    others render (``pipeline.early``), from the project file and the clusters."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    repo = open_tree(request.repo)
    with contextlib.ExitStack() as stack:
        with progress.stage("reading the commit"):
            tmp, ws = _materialize(stack, repo, request.revision)
        timings["materialize"] = time.perf_counter() - start

        t = time.perf_counter()
        project = load_project(ws)
        entries = parse_clusters(project.clusters, project.path or "") if project else []
        resolver = ClusterResolver(
            request.default_source,
            entries,
            request.source_factory,
            named=request.named_sources,
            kube_servers=request.kube_servers,
        )
        urls = {repourl.canonical(u) for u in (*repo.remote_urls(), *request.repo_urls)}
        discover_options = DiscoverOptions(
            this_repo_urls=frozenset(urls),
            repo_map=_materialize_mapped(request, tmp),
            honour_target_revision=request.honour_target_revision,
            materialize=_at_revision(repo, tmp),
            # No cluster at all (``apps``): an object not in Git or the project file counts as absent.
            cluster_lookup=(
                _object_lookup(resolver)
                if request.default_source or entries or request.named_sources
                else None
            ),
            job=request.job,
        )
        with progress.stage("discovering apps"):
            found = discover(ws, project, discover_options)
        wanted = set(request.only_apps)
        if wanted and wanted <= {a.name for a in found.apps}:
            found = Discovery([a for a in found.apps if a.name in wanted], found.notes, found.errors)
        # Otherwise an app asked for may be declared by another (App of Apps): render all, keep the ones asked for.
        timings["discover"] = time.perf_counter() - t

        t = time.perf_counter()
        # The project file's render section (read from this commit) fills in what the command line left open.
        render = with_project_render(request.render, project)
        tools = ToolFinder(render)
        cache_notes: list[str] = []
        symlinks = SymlinkGuard()  # shared by the content keys and the renders of this run
        keyed = _keyed_renders(request, repo, ws, render, tools, symlinks, cache_notes)
        known: set[str] = set()  # every app found, also those another shard checks
        comparing = early(project, resolver) if early is not None and pack else None
        try:
            with progress.stage("rendering", total=len(found.apps) if request.shard is None else None):
                rendered, more = render_tree(
                    found,
                    ws,
                    render,
                    discover_options,
                    tools,
                    request.shard,
                    known,
                    pack=pack,
                    keyed=keyed,
                    symlinks=symlinks,
                    on_packed=comparing.offer if comparing is not None else None,
                )
        except BaseException:
            if comparing is not None:
                comparing.abandon()
            raise
        if keyed is not None and keyed.cache.writes:
            keyed.cache.prune()
        timings["render"] = time.perf_counter() - t
        if comparing is not None:
            t = time.perf_counter()
            comparing.close()
            timings["diff"] = time.perf_counter() - t  # the apps the thread had not reached yet
    errors = [*found.errors, *more.errors]
    if not known and not errors and not request.job.allow_empty:
        errors.append(no_apps_error())
    notes = [*found.notes, *more.notes, *cache_notes]
    if request.only_apps:
        rendered = [r for r in rendered if r.app.name in wanted]
        # Another app's problem does not make the apps asked for incomplete: it is mentioned, not counted. An app
        # asked for that its (failed) parent would have declared is still an error below.
        notes += [
            f"not selected, so not counted: {e.app}: {e.message}"
            for e in errors
            if e.app and e.app != "*" and e.app not in wanted
        ]
        errors = [e for e in errors if not e.app or e.app == "*" or e.app in wanted]
        for name in sorted(wanted - known):  # known: also the apps another shard checks
            errors.append(AppError(name, f"no app named {name!r} was found", stage="discover"))
    source = CheckedSource(ws.revision, repo.prefix, frozenset(urls)) if ws.revision else None
    return RenderedRepo(
        ws.label,
        project,
        rendered,
        resolver,
        errors,
        notes,
        list(ws.warnings),
        timings,
        source,
        keyed,
        comparing,
    )


def _hygiene(config: hygiene.HygieneConfig) -> Inspect:
    def inspect(app: App, objects: Sequence[RawObject]) -> list[Finding]:
        return hygiene.check_app(app, objects, config)

    return inspect


def _early(
    request: CheckRequest, project: ProjectConfig | None, resolver: ClusterResolver
) -> EarlyComparisons | None:
    """Compare apps with a snapshot while others render, when the hygiene settings read (else the final
    comparison meets that error as before)."""
    try:
        config = hygiene.parse_hygiene(project)
    except GitopsCheckError:
        return None
    return EarlyComparisons(request.diff, resolver, project, _hygiene(config))


def no_apps_error() -> AppError:
    """Nothing found is not green: a wrong --repo, a moved folder or a broken project file look just like it."""
    return AppError(
        "*",
        "no apps found: nothing was checked (declare apps in .gitops-check.yaml or check --repo; pass "
        "--allow-empty if a repository without apps is expected)",
        stage="discover",
    )


def run_check(request: CheckRequest) -> CheckResult:
    start = time.perf_counter()
    fetches = http.STATS.total
    for source in (request.default_source, *request.named_sources.values()):
        if source is not None:
            source.prefetch()
    done = render_repo(request, pack=True, early=lambda project, resolver: _early(request, project, resolver))
    result = CheckResult(apps=[], target=done.label, against="", errors=done.errors)
    result.warnings = done.warnings
    result.notes = done.notes
    result.timings = done.timings
    result.source = done.source
    # Hygiene looks at each app's objects while it is diffed; then they are dropped (a fleet's renders are never
    # all unpacked at once).
    config = hygiene.parse_hygiene(done.project)
    result.strict = request.strict
    result.fail_on_manual = request.fail_on_manual

    compare_rendered(
        request.diff,
        done.rendered,
        done.resolver,
        done.project,
        result,
        inspect=_hygiene(config),
        release=True,
        early=done.early,
    )
    result.timings["total"] = time.perf_counter() - start
    result.stats["fetch_requests"] = http.STATS.total - fetches  # HTTP requests for charts and artifacts
    if done.cache is not None:
        result.stats["cache_hits"] = done.cache.hits
        result.stats["cache_writes"] = done.cache.cache.writes
        result.stats["cache_with_secrets"] = done.cache.with_secrets  # cached but rendered again
    return result
