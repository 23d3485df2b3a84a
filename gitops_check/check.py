"""One check, end to end: materialize the commit, find the apps, render them, read the clusters, diff.

Returns a CheckResult and never decides the exit code (``cli`` does). A failure in one app is recorded for
that app and the others go on; a cluster that cannot be read makes every app compared with it "not
checked", never "in sync".

Order of work: snapshots start loading while apps render; apps rendered by other apps (App of Apps) are
discovered and rendered level by level; then each cluster is read once for exactly the kinds and
namespaces its apps touch; then every app is keyed and diffed against its cluster.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gitops_check import hygiene, repourl
from gitops_check.cluster.select import ClusterEntry, ClusterResolver, parse_clusters
from gitops_check.config import DiffOptions, ProjectConfig, RenderOptions, with_project_render
from gitops_check.diff.engine import DiffSettings, diff_app
from gitops_check.diff.prune import TrackingIndex
from gitops_check.discover.dispatch import DiscoverOptions, discover, expand_new
from gitops_check.discover.project import Discovery, load_project
from gitops_check.errors import ClusterError, GitopsCheckError
from gitops_check.identity import KeyedApp, KindScopes, ObjectProblem, assign_keys, key_for, validate
from gitops_check.model import (
    JSON,
    App,
    AppError,
    AppResult,
    CheckResult,
    Destination,
    GroupKind,
    LiveSource,
    LiveState,
    Prediction,
    ReadScope,
    ResourceDiff,
    ResourceKey,
    Status,
    Workspace,
    split_api_version,
)
from gitops_check.render.base import RenderOutput, ToolFinder, render_app
from gitops_check.sources.git import RepoHandle, open_repo


@dataclass(frozen=True)
class CheckRequest:
    repo: Path
    revision: str | None  # None: the working tree
    # The cluster given on the command line (snapshot or live); None when every app maps to a named cluster.
    default_source: LiveSource | None
    # Makes the source of a cluster named in the project file's ``clusters:`` list.
    source_factory: Callable[[ClusterEntry], LiveSource] | None = None
    render: RenderOptions = field(default_factory=RenderOptions)
    diff: DiffOptions = field(default_factory=DiffOptions)
    only_apps: tuple[str, ...] = ()
    # Other repositories Applications point at: URL -> local clone (checked at its HEAD).
    repo_map: Mapping[str, Path] = field(default_factory=dict)
    repo_urls: tuple[str, ...] = ()  # extra URLs that mean "this repository"
    honour_target_revision: bool = False
    strict: bool = False  # hygiene findings fail the run (exit 1) instead of only warning


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
) -> tuple[list[Rendered], Discovery]:
    """Render the discovered apps, then the apps they declare (App of Apps), level by level, with a depth limit."""
    rendered: list[Rendered] = []
    extra = Discovery()
    seen = {a.name for a in found.apps}
    pending = list(found.apps)
    depth = 0
    while pending:
        if depth > discover_options.max_depth:
            for app in pending:
                extra.errors.append(
                    AppError(app.name, f"App of Apps nested deeper than {discover_options.max_depth} levels; "
                             "not rendered (cycle?)", stage="discover")
                )  # fmt: skip
            break
        level = render_all(pending, ws, options, tools, discover_options.repo_map)
        rendered.extend(level)
        pending = []
        for r in level:
            if r.output is None:
                continue
            children = expand_new(r.app, r.output.objects, ws, discover_options, seen)
            extra.notes.extend(children.notes)
            extra.errors.extend(children.errors)
            pending.extend(children.apps)
        depth += 1
    return rendered, extra


def _settings(options: DiffOptions, project: ProjectConfig | None) -> DiffSettings:
    appliers, manual, ignore = options.appliers, options.manual_managers, options.ignore
    if project is not None:
        appliers = project.appliers if project.appliers is not None else appliers
        manual = project.manual_managers if project.manual_managers is not None else manual
        ignore = ignore + project.ignore
    return DiffSettings(frozenset(appliers), frozenset(manual), ignore, options.detect_pruning)


def _error_of(app: str, e: GitopsCheckError, stage: str) -> AppError:
    return AppError(app, e.message, e.file, e.line, stage)


def _scope_of(
    rendered: Sequence[Rendered], scopes: KindScopes, prune_kinds: tuple[str, ...] | None = None
) -> ReadScope:
    """The (kind, namespace) pairs these apps render, for the live reader to list."""
    kinds: set[tuple[GroupKind, str | None]] = set()
    namespaces: set[str] = set()
    versions: dict[GroupKind, Counter[str]] = {}
    for r in rendered:
        if r.app.destination.namespace:
            namespaces.add(r.app.destination.namespace)
        for obj in r.output.objects if r.output else ():
            try:
                body = validate(obj)
            except ObjectProblem:
                continue
            key, _ = key_for(body, r.app.destination.namespace, scopes)
            kinds.add((key.group_kind, key.namespace))
            versions.setdefault(key.group_kind, Counter())[split_api_version(body["apiVersion"])[1]] += 1
            if key.namespace:
                namespaces.add(key.namespace)
    common = {gk: counts.most_common(1)[0][0] for gk, counts in versions.items()}
    return ReadScope(frozenset(kinds), frozenset(namespaces), common, prune_kinds)


def _materialize_mapped(request: CheckRequest, tmp: Path) -> dict[str, Workspace]:
    repos: dict[str, Workspace] = {}
    for i, (url, path) in enumerate(sorted(request.repo_map.items())):
        handle = open_repo(path)
        repos[repourl.canonical(url)] = handle.materialize("HEAD", tmp / f"mapped-{i}")
    return repos


def _object_lookup(resolver: ClusterResolver) -> Callable[[Destination, ResourceKey], JSON | None]:
    """One object of the cluster an app's destination maps to, for discovery (Flux substituteFrom/valuesFrom).

    The source's own ``lookup`` when it has one; otherwise a read of that kind in that namespace (a snapshot
    answers from what it loaded). An object the read could not see is an error, never "absent".
    """

    def lookup(dest: Destination, key: ResourceKey) -> JSON | None:
        _, source = resolver.resolve(dest)
        own = getattr(source, "lookup", None)
        if callable(own):
            found: JSON | None = own(key)
            return found
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


def _at_revision(repo: RepoHandle, tmp: Path) -> Callable[[str], Workspace]:
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


def render_repo(request: CheckRequest) -> RenderedRepo:
    """Materialize the commit, discover its apps and render them (App of Apps included)."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    repo = open_repo(request.repo)
    with tempfile.TemporaryDirectory(prefix="gitops-check-") as tmp_name:
        tmp = Path(tmp_name)
        ws = repo.materialize(request.revision, tmp / "tree")
        timings["materialize"] = time.perf_counter() - start

        t = time.perf_counter()
        project = load_project(ws)
        entries = parse_clusters(project.clusters, project.path or "") if project else []
        resolver = ClusterResolver(request.default_source, entries, request.source_factory)
        urls = {repourl.canonical(u) for u in (*repo.remote_urls(), *request.repo_urls)}
        discover_options = DiscoverOptions(
            this_repo_urls=frozenset(urls),
            repo_map=_materialize_mapped(request, tmp),
            honour_target_revision=request.honour_target_revision,
            materialize=_at_revision(repo, tmp),
            # No cluster at all (``apps``): an object not in Git or the project file counts as absent.
            cluster_lookup=_object_lookup(resolver) if request.default_source or entries else None,
        )
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
        rendered, more = render_tree(found, ws, render, discover_options, tools)
        timings["render"] = time.perf_counter() - t
    errors = [*found.errors, *more.errors]
    if request.only_apps:
        rendered = [r for r in rendered if r.app.name in wanted]
        for name in sorted(wanted - {r.app.name for r in rendered}):
            errors.append(AppError(name, f"no app named {name!r} was found", stage="discover"))
    return RenderedRepo(
        ws.label, project, rendered, resolver, errors, [*found.notes, *more.notes], list(ws.warnings), timings
    )


def run_check(request: CheckRequest) -> CheckResult:
    start = time.perf_counter()
    if request.default_source is not None:
        request.default_source.prefetch()
    done = render_repo(request)
    result = CheckResult(apps=[], target=done.label, against="", errors=done.errors)
    result.warnings = done.warnings
    result.notes = done.notes
    result.timings = done.timings
    compare_rendered(request, done.rendered, done.resolver, done.project, result)
    _hygiene(request, done, result)
    result.timings["total"] = time.perf_counter() - start
    return result


def _hygiene(request: CheckRequest, done: RenderedRepo, result: CheckResult) -> None:
    """Hygiene findings on what rendered (every reporter lists them); failing the run under --strict."""
    result.strict = request.strict
    result.findings = hygiene.findings_for(
        ((r.app, r.output.objects) for r in done.rendered if r.output is not None), done.project
    )


@dataclass
class ClusterGroups:
    """Rendered apps grouped by the cluster they are compared with."""

    kind_scopes: KindScopes
    apps: dict[str, list[Rendered]]
    sources: dict[str, LiveSource]
    unresolved: dict[str, str]  # app -> why it has no cluster

    def read_scope(self, key: str, project: ProjectConfig | None) -> ReadScope:
        prune_kinds = project.prune_kinds if project is not None else None
        return _scope_of(self.apps[key], self.kind_scopes, prune_kinds)


def group_by_cluster(rendered: Sequence[Rendered], resolver: ClusterResolver) -> ClusterGroups:
    scopes = KindScopes()
    for r in rendered:
        for obj in r.output.objects if r.output else ():
            scopes.learn_crd(obj.body)
    groups = ClusterGroups(scopes, {}, {}, {})
    for r in rendered:
        try:
            key, source = resolver.resolve(r.app.destination)
        except GitopsCheckError as e:
            groups.unresolved[r.app.name] = e.message
            continue
        groups.apps.setdefault(key, []).append(r)
        groups.sources[key] = source
    return groups


def compare_rendered(
    request: CheckRequest,
    rendered: Sequence[Rendered],
    resolver: ClusterResolver,
    project: ProjectConfig | None,
    result: CheckResult,
) -> None:
    """Read each cluster once for exactly what ``rendered`` touches, then key and diff every app into ``result``.

    Fills ``result.apps``, the run-level cluster errors, ``against``, the live/diff timings and the stats.
    ``preview`` uses it too, to compare the base commit's render with the cluster.
    """
    timings = result.timings
    # Group apps by the cluster they are compared with, then read each cluster once.
    t = time.perf_counter()
    groups = group_by_cluster(rendered, resolver)
    scopes, by_cluster, sources = groups.kind_scopes, groups.apps, groups.sources
    unresolved = groups.unresolved
    lives: dict[str, LiveState] = {}
    live_errors: dict[str, str] = {}

    def read(key: str) -> None:
        try:
            lives[key] = sources[key].load(groups.read_scope(key, project))
        except GitopsCheckError as e:
            live_errors[key] = str(e)

    with ThreadPoolExecutor(max_workers=max(1, len(by_cluster)), thread_name_prefix="live") as pool:
        list(pool.map(read, list(by_cluster)))
    timings["live"] = time.perf_counter() - t
    result.against = ", ".join(lives[k].source for k in sorted(lives)) or "no cluster"
    for key, message in sorted(live_errors.items()):
        result.errors.append(AppError("*", f"cluster {key}: {message}", stage="cluster"))
    for key in sorted(lives):
        result.warnings.extend(f"cluster {key}: {w}" for w in lives[key].warnings)

    t = time.perf_counter()
    settings = _settings(request.diff, project)
    trackers = {k: TrackingIndex(live) for k, live in lives.items()} if settings.detect_pruning else {}
    cluster_of = {r.app.name: k for k, rs in by_cluster.items() for r in rs}
    objects = 0
    pending: list[tuple[App, AppResult, KeyedApp, str]] = []
    for r in rendered:
        app_result = AppResult(r.app, render_seconds=r.seconds)
        result.apps.append(app_result)
        if r.error is not None:
            app_result.errors.append(_error_of(r.app.name, r.error, "render"))
            continue
        assert r.output is not None
        app_result.warnings.extend(r.output.warnings)
        if r.app.name in unresolved:
            app_result.errors.append(AppError(r.app.name, unresolved[r.app.name], stage="cluster"))
            continue
        key = cluster_of[r.app.name]
        live = lives.get(key)
        if live is None:
            app_result.errors.append(
                AppError(r.app.name, f"not checked: cluster {key} could not be read", stage="cluster")
            )
            continue
        app_scopes = KindScopes(dict(scopes.table))
        app_scopes.table.update(live.scopes)
        keyed = assign_keys(r.app, r.output.objects, app_scopes)
        for problem in keyed.problems:
            app_result.errors.append(
                AppError(r.app.name, problem.message, problem.origin.file, problem.origin.line, "render")
            )
        objects += len(keyed.manifests)
        pending.append((r.app, app_result, keyed, key))
    timings["diff"] = time.perf_counter() - t
    t = time.perf_counter()
    predictions = _predict(pending, sources, lives, result)
    if predictions:
        timings["dry_run"] = time.perf_counter() - t
    t = time.perf_counter()
    for app, app_result, keyed, key in pending:
        prediction = predictions.get(app.name) or Prediction()
        notes = dict(keyed.notes)
        for k, note in prediction.notes.items():
            notes[k] = f"{notes[k]}; {note}" if k in notes else note
        diffs = diff_app(app, keyed.manifests, lives[key], settings, tracking=trackers.get(key), notes=notes,
                         predicted=prediction.objects)  # fmt: skip
        app_result.diffs.extend(_not_checked(diffs, prediction.errors))
        app_result.warnings.extend(prediction.warnings)
    timings["diff"] += time.perf_counter() - t
    result.stats = {
        "apps": len(result.apps),
        "objects": objects,
        "live_objects": sum(len(live.objects) for live in lives.values()),
    }
    requests = sum(live.requests for live in lives.values())
    requests += sum(p.requests for p in predictions.values())
    if requests:
        result.stats["api_requests"] = requests
    _shared_objects(result, cluster_of)


def _predict(
    pending: Sequence[tuple[App, AppResult, KeyedApp, str]],
    sources: Mapping[str, LiveSource],
    lives: Mapping[str, LiveState],
    result: CheckResult,
) -> dict[str, Prediction]:
    """Server-side dry-run predictions, one batch per cluster whose source can make them (live, not snapshot).

    A cluster that fails during the dry-run leaves every object compared with it "not checked".
    """
    out: dict[str, Prediction] = {}
    for key in sorted({k for *_, k in pending}):
        predict = getattr(sources[key], "predict", None)
        if predict is None:
            continue
        batch = [(app, keyed.manifests) for app, _, keyed, k in pending if k == key]
        try:
            out.update(predict(batch, lives[key]))
        except GitopsCheckError as e:
            result.errors.append(AppError("*", f"cluster {key}: {e}", stage="cluster"))
            for app, manifests in batch:
                out[app.name] = Prediction(errors={m.key: f"not checked: {e}" for m in manifests})
    return out


def _not_checked(diffs: list[ResourceDiff], errors: Mapping[ResourceKey, str]) -> list[ResourceDiff]:
    if not errors:
        return diffs
    return [
        ResourceDiff(d.key, d.app, Status.ERROR, message=errors[d.key], origin=d.origin, notes=d.notes)
        if d.key in errors and d.status is not Status.REMOVED
        else d
        for d in diffs
    ]


def _shared_objects(result: CheckResult, cluster_of: Mapping[str, str]) -> None:
    """The same object rendered by two apps fights itself in the cluster: warn, as Argo CD does.

    Only within one cluster: the same object in two clusters (one tree per cluster) is no conflict.
    """
    seen: dict[object, str] = {}
    for app_result in result.apps:
        cluster = cluster_of.get(app_result.app.name)
        for d in app_result.diffs:
            if d.status is Status.REMOVED:
                continue
            other = seen.setdefault((cluster, d.key), app_result.app.name)
            if other != app_result.app.name:
                result.warnings.append(f"{d.key} is rendered by apps {other} and {app_result.app.name}")
