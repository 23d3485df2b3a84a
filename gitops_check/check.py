"""One check, end to end: materialize the commit, find the apps, render them, read the cluster, diff.

Returns a CheckResult and never decides the exit code (``cli`` does). A failure in one app is recorded for
that app and the others go on; a failure that makes the whole comparison meaningless (snapshot unreadable,
cluster unreachable) is a run-level error, and every app is then "not checked", never "in sync".
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gitops_check.config import DiffOptions, ProjectConfig, RenderOptions
from gitops_check.diff.engine import DiffSettings, diff_app
from gitops_check.diff.prune import TrackingIndex
from gitops_check.discover.project import discover_apps, load_project
from gitops_check.errors import GitopsCheckError
from gitops_check.identity import KindScopes, assign_keys
from gitops_check.model import App, AppError, AppResult, CheckResult, LiveState, Status, Workspace
from gitops_check.render.base import RenderOutput, ToolFinder, render_app
from gitops_check.sources.git import open_repo

LiveLoader = Callable[[], LiveState]


@dataclass(frozen=True)
class CheckRequest:
    repo: Path
    revision: str | None  # None: the working tree
    load_live: LiveLoader
    render: RenderOptions = field(default_factory=RenderOptions)
    diff: DiffOptions = field(default_factory=DiffOptions)
    only_apps: tuple[str, ...] = ()


@dataclass
class _Rendered:
    app: App
    output: RenderOutput | None = None
    error: GitopsCheckError | None = None
    seconds: float = 0.0


def _render_one(app: App, ws: Workspace, options: RenderOptions, tools: ToolFinder) -> _Rendered:
    start = time.perf_counter()
    try:
        output = render_app(app, ws, options, tools=tools)
        return _Rendered(app, output, seconds=time.perf_counter() - start)
    except GitopsCheckError as e:
        return _Rendered(app, error=e, seconds=time.perf_counter() - start)


def render_all(
    apps: Sequence[App], ws: Workspace, options: RenderOptions, tools: ToolFinder | None = None
) -> list[_Rendered]:
    """Render apps in parallel (helm/kustomize run as processes, so threads suffice), results in input order."""
    finder = tools or ToolFinder(options)
    workers = max(1, min(options.workers, len(apps)))
    if workers == 1:
        return [_render_one(app, ws, options, finder) for app in apps]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render") as pool:
        futures = [pool.submit(_render_one, app, ws, options, finder) for app in apps]
        return [f.result() for f in futures]


def _settings(options: DiffOptions, project: ProjectConfig | None) -> DiffSettings:
    appliers = options.appliers
    manual = options.manual_managers
    ignore = options.ignore
    if project is not None:
        appliers = project.appliers if project.appliers is not None else appliers
        manual = project.manual_managers if project.manual_managers is not None else manual
        ignore = ignore + project.ignore
    return DiffSettings(frozenset(appliers), frozenset(manual), ignore, options.detect_pruning)


def _error_of(app: str, e: GitopsCheckError, stage: str) -> AppError:
    return AppError(app, e.message, e.file, e.line, stage)


def run_check(request: CheckRequest) -> CheckResult:
    timings: dict[str, float] = {}
    start = time.perf_counter()
    repo = open_repo(request.repo)
    with tempfile.TemporaryDirectory(prefix="gitops-check-") as tmp:
        ws = repo.materialize(request.revision, Path(tmp) / "tree")
        timings["materialize"] = time.perf_counter() - start

        # Reading the cluster or snapshot overlaps with rendering.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="live") as live_pool:
            live_future: Future[LiveState] = live_pool.submit(_timed, request.load_live, timings, "live")
            t = time.perf_counter()
            project = load_project(ws)
            found = discover_apps(ws, project)
            apps = _select(found.apps, request.only_apps)
            timings["discover"] = time.perf_counter() - t
            t = time.perf_counter()
            rendered = render_all(apps, ws, request.render)
            timings["render"] = time.perf_counter() - t
            try:
                live = live_future.result()
                live_error = None
            except GitopsCheckError as e:
                live, live_error = LiveState(objects={}), e

    result = CheckResult(
        apps=[],
        target=ws.label,
        against=live.source if live_error is None else "the cluster (unreadable)",
        errors=list(found.errors),
        warnings=list(found.notes),
    )
    missing = sorted(set(request.only_apps) - {a.name for a in found.apps})
    for name in missing:
        result.errors.append(AppError(name, f"no app named {name!r} was found", stage="discover"))
    if live_error is not None:
        result.errors.append(_error_of("*", live_error, "cluster"))

    t = time.perf_counter()
    scopes = KindScopes()
    scopes.table.update(live.scopes)
    for r in rendered:
        for obj in r.output.objects if r.output else ():
            scopes.learn_crd(obj.body)
    settings = _settings(request.diff, project)
    tracking = TrackingIndex(live) if live_error is None and settings.detect_pruning else None
    objects = 0
    for r in rendered:
        app_result = AppResult(r.app, render_seconds=r.seconds)
        result.apps.append(app_result)
        if r.error is not None:
            app_result.errors.append(_error_of(r.app.name, r.error, "render"))
            continue
        assert r.output is not None
        app_result.warnings.extend(r.output.warnings)
        keyed = assign_keys(r.app, r.output.objects, scopes)
        for problem in keyed.problems:
            app_result.errors.append(
                AppError(r.app.name, problem.message, problem.origin.file, problem.origin.line, "render")
            )
        if live_error is not None:
            continue  # nothing to compare with: the run-level error makes every app "not checked"
        objects += len(keyed.manifests)
        app_result.diffs.extend(
            diff_app(r.app, keyed.manifests, live, settings, tracking=tracking, notes=keyed.notes)
        )
    timings["diff"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start
    result.timings = timings
    result.stats = {"apps": len(result.apps), "objects": objects, "live_objects": len(live.objects)}
    if live.requests:
        result.stats["api_requests"] = live.requests
    _shared_objects(result)
    return result


def _timed(fn: LiveLoader, timings: dict[str, float], name: str) -> LiveState:
    t = time.perf_counter()
    try:
        return fn()
    finally:
        timings[name] = time.perf_counter() - t


def _select(apps: list[App], names: Sequence[str]) -> list[App]:
    if not names:
        return apps
    wanted = set(names)
    return [a for a in apps if a.name in wanted]


def _shared_objects(result: CheckResult) -> None:
    """The same object rendered by two apps fights itself in the cluster: warn, as Argo CD does."""
    seen: dict[object, str] = {}
    for app_result in result.apps:
        for d in app_result.diffs:
            if d.status is Status.REMOVED:
                continue
            other = seen.setdefault(d.key, app_result.app.name)
            if other != app_result.app.name:
                result.warnings.append(f"{d.key} is rendered by apps {other} and {app_result.app.name}")
