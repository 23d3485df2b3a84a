"""Comparing rendered apps with their clusters: each cluster read once, every app keyed and diffed.

Apps are grouped by the cluster their destination maps to; each cluster is read for exactly the kinds and
namespaces its apps touch (``ReadScope``); a source that can (a live cluster in server-side mode) predicts
objects with a dry-run; then every object is diffed. A cluster that cannot be read makes its apps "not
checked". Used by ``check`` and by ``preview`` (the base commit against the cluster).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from gitops_check import progress, redact, yamlio
from gitops_check.cluster.packed import PackedObjects
from gitops_check.cluster.select import DEFAULT, ClusterResolver
from gitops_check.diff.engine import DiffSettings, diff_app
from gitops_check.diff.hooks import split_hooks
from gitops_check.diff.prune import TrackingIndex
from gitops_check.errors import GitopsCheckError
from gitops_check.identity import (
    KeyedApp,
    KindScopes,
    ObjectProblem,
    assign_keys,
    flatten_lists,
    key_for,
    validate,
)
from gitops_check.kubeschema.bundled import CRD_GROUP, CRD_KIND, schemas_for
from gitops_check.kubeschema.model import Schemas
from gitops_check.model.app import App
from gitops_check.model.live import LiveSource, LiveState, Prediction, ReadScope
from gitops_check.model.objects import JSON, GroupKind, ResourceKey, split_api_version
from gitops_check.model.rendered import RawObject
from gitops_check.model.result import AppError, AppResult, CheckResult, Finding, ResourceDiff, Status
from gitops_check.pipeline.rendering import Rendered
from gitops_check.project.config import DiffOptions, ProjectConfig


def diff_settings(options: DiffOptions, project: ProjectConfig | None) -> DiffSettings:
    appliers, manual, ignore = options.appliers, options.manual_managers, options.ignore
    if project is not None:
        appliers = project.appliers if project.appliers is not None else appliers
        manual = project.manual_managers if project.manual_managers is not None else manual
        ignore = ignore + project.ignore
    return DiffSettings(frozenset(appliers), frozenset(manual), ignore, options.detect_pruning)


def screen_live(live: LiveState, *, track: bool = False) -> tuple[LiveState, TrackingIndex | None]:
    """``live`` without objects nested deeper than any stage can walk; their kind and namespace become unreadable
    (not checked), since a hostile object in the cluster must neither crash the run nor vanish silently. Its
    Secret values are registered for scrubbing on the way; ``track``: the objects kept are also indexed by owner
    (pruning), in the same pass. A packed snapshot's object is decoded only when it is a Secret or may nest too
    deep: its owner view stands for it in the index (``PackedObjects.owner_view``)."""
    deep: set[ResourceKey] = set()
    tracker = TrackingIndex(live, indexed=False) if track else None
    packed = live.objects if isinstance(live.objects, PackedObjects) else None
    for key in live.objects:
        if packed is not None and key.kind != "Secret" and not packed.may_be_deep(key):
            if tracker is not None:
                tracker.add(key, packed.owner_view(key))  # no decoding: most objects of a snapshot
            continue
        body = live.objects[key]
        if key.kind == "Secret":
            redact.add_secret_object(
                body
            )  # the cluster's (or snapshot's) Secret values: scrubbed from outputs
        if yamlio.depth_exceeds(body):
            deep.add(key)
        elif tracker is not None:
            tracker.add(key, body)
    if not deep:
        return live, tracker
    unreadable = dict(live.unreadable)
    for key in deep:
        unreadable[(key.group_kind, key.namespace)] = (
            f"{key} is nested more than {yamlio.MAX_DEPTH} levels deep, so this kind is not checked here"
        )
    objects: Mapping[ResourceKey, JSON] = (
        packed.without(deep)
        if packed is not None
        else {k: v for k, v in live.objects.items() if k not in deep}
    )
    if tracker is not None:
        tracker.objects = objects
    return dataclasses.replace(live, objects=objects, unreadable=unreadable), tracker


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
        for obj in split_hooks(r.app, r.objects())[0] if r.output else ():
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
        for body in r.crd_bodies():
            scopes.learn_crd(body)
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


@dataclass
class ClusterView:
    """What comparing an app with one cluster needs, fixed for the run: the screened state, its owner index
    (pruning), the schemas and the kind scopes (the rendered CRDs' learned first, then the cluster's)."""

    live: LiveState
    tracker: TrackingIndex | None
    schemas: Schemas
    scopes: Mapping[GroupKind, bool]


@dataclass
class Compared:
    """One app compared: its result, how many objects it keyed, what ``inspect`` found, the keyed objects when
    they wait for the cluster's dry-run batch, and every kind the comparison depended on."""

    result: AppResult
    objects: int = 0
    findings: list[Finding] = dataclasses.field(default_factory=list)
    waiting: KeyedApp | None = None
    kinds: frozenset[GroupKind] = frozenset()


Inspect = Callable[[App, Sequence[RawObject]], Sequence[Finding]]


def compare_app(
    r: Rendered,
    cluster: tuple[str, ClusterView | None, str] | str,
    settings: DiffSettings,
    diff_options: DiffOptions,
    inspect: Inspect | None,
    *,
    predicting: bool = False,
    release: bool = False,
    note_kinds: bool = False,
) -> Compared:
    """Key and diff one rendered app. ``cluster``: (key, its view or None when it could not be read, the name
    reports give it), or why the app has no cluster. ``predicting``: the keyed objects wait for the cluster's
    dry-run batch instead of being diffed here. ``release``: the app's objects are dropped once unpacked.
    ``note_kinds``: ``Compared.kinds`` is filled (only an early comparison is checked against it)."""
    app_result = AppResult(r.app, render_seconds=r.seconds)
    done = Compared(app_result)
    if r.error is not None:
        app_result.errors.append(_error_of(r.app.name, r.error, "render"))
        return done
    assert r.output is not None
    app_result.warnings.extend(r.output.warnings)
    app_result.resolved.extend(r.output.resolved)
    raw = r.objects()
    if inspect is not None:
        done.findings.extend(inspect(r.app, raw))
    if release:
        r.release()
    if isinstance(cluster, str):
        app_result.errors.append(AppError(r.app.name, cluster, stage="cluster"))
        return done
    key, view, app_result.cluster = cluster
    if view is None:
        app_result.errors.append(
            AppError(r.app.name, f"not checked: cluster {key} could not be read", stage="cluster")
        )
        return done
    kinds = _kinds_of(raw) if note_kinds else set()
    objects_of_app, app_result.hooks = split_hooks(r.app, raw)
    del raw
    keyed = assign_keys(r.app, objects_of_app, KindScopes(dict(view.scopes)))
    for problem in keyed.problems:
        app_result.errors.append(
            AppError(r.app.name, problem.message, problem.origin.file, problem.origin.line, "render")
        )
    done.objects = len(keyed.manifests)
    if predicting:
        done.waiting = keyed
    else:
        diff_keyed(r.app, app_result, keyed, view, settings, diff_options, Prediction())
    if note_kinds:
        kinds.update(d.key.group_kind for d in app_result.diffs)
        done.kinds = frozenset(kinds)
    return done


def _kinds_of(raw: Sequence[RawObject]) -> set[GroupKind]:
    """The kinds of an app's documents (Lists' items included): what its keys and schemas were looked up for."""
    kinds: set[GroupKind] = set()
    for obj in flatten_lists(raw):
        body = obj.body
        if (
            isinstance(body, dict)
            and isinstance(body.get("apiVersion"), str)
            and isinstance(body.get("kind"), str)
        ):
            kinds.add(GroupKind(split_api_version(body["apiVersion"])[0], body["kind"]))
    return kinds


def diff_keyed(
    app: App,
    app_result: AppResult,
    keyed: KeyedApp,
    view: ClusterView,
    settings: DiffSettings,
    diff_options: DiffOptions,
    prediction: Prediction,
) -> None:
    notes = dict(keyed.notes)
    for k, note in prediction.notes.items():
        notes[k] = f"{notes[k]}; {note}" if k in notes else note
    diffs = diff_app(app, keyed.manifests, view.live, settings, tracking=view.tracker, notes=notes,
                     predicted=prediction.objects, schemas=view.schemas)  # fmt: skip
    app_result.diffs.extend(_not_checked(diffs, prediction.errors))
    app_result.warnings.extend(prediction.warnings)
    if settings.detect_pruning:
        _unreadable_prune_kinds(app, keyed, view.live, diff_options, app_result)


def crd_kinds(bodies: Iterable[Any]) -> set[GroupKind]:
    """The kinds these CRDs define, read as loosely as any reader of them does (a superset is only cautious)."""
    kinds: set[GroupKind] = set()
    for body in bodies:
        spec = body.get("spec") if isinstance(body, dict) else None
        names = spec.get("names") if isinstance(spec, dict) else None
        if isinstance(names, dict) and names.get("kind") is not None:
            kinds.add(GroupKind(str(spec.get("group")), str(names["kind"])))  # type: ignore[union-attr]
    return kinds


class EarlyResults(Protocol):
    """Apps compared while others still rendered (``pipeline.early``)."""

    def view(self, key: str) -> tuple[LiveState, TrackingIndex | None] | None:
        """The screened state and owner index of cluster ``key`` the early comparisons used, if any."""

    def take(self, r: Rendered, key: str, live: LiveState, defined: set[GroupKind]) -> Compared | None:
        """``r``'s early comparison, when it holds for the run's final view: made with ``live`` and depending on
        no kind that a rendered CRD defines (``defined``: those kinds' scopes and schemas were not known yet)."""


def compare_rendered(
    diff_options: DiffOptions,
    rendered: Sequence[Rendered],
    resolver: ClusterResolver,
    project: ProjectConfig | None,
    result: CheckResult,
    *,
    inspect: Inspect | None = None,
    release: bool = False,
    early: EarlyResults | None = None,
) -> None:
    """Read each cluster once for exactly what ``rendered`` touches, then key and diff every app into ``result``.

    Fills ``result.apps``, the run-level cluster errors, ``against``, the live/diff timings and the stats.
    ``preview`` uses it too, to compare the base commit's render with the cluster.

    Apps are diffed one after another, each as soon as it is keyed, so only one app's objects are unpacked at a
    time (``Rendered.pack``); ``inspect`` sees every app's objects meanwhile (hygiene), and ``release`` drops them
    once diffed. Apps of a cluster that predicts objects (server-side dry-run) wait for their cluster's batch.
    ``early``: apps already compared while others rendered; their results are taken where they hold.
    """
    timings = result.timings
    # Group apps by the cluster they are compared with, then read each cluster once.
    t = time.perf_counter()
    groups = group_by_cluster(rendered, resolver)
    scopes, by_cluster, sources = groups.kind_scopes, groups.apps, groups.sources
    unresolved = groups.unresolved
    lives: dict[str, LiveState] = {}
    trackers: dict[str, TrackingIndex] = {}
    live_errors: dict[str, str] = {}
    settings = diff_settings(diff_options, project)

    def read(key: str) -> None:
        try:
            seen = early.view(key) if early is not None else None
            if seen is not None:  # a source read whole, already screened for the early comparisons
                lives[key], tracker = seen
            else:
                loaded = sources[key].load(groups.read_scope(key, project))
                lives[key], tracker = screen_live(loaded, track=settings.detect_pruning)
            if tracker is not None:
                trackers[key] = tracker
        except GitopsCheckError as e:
            live_errors[key] = str(e)
        finally:
            progress.advance()

    with (
        progress.stage("reading the cluster", total=len(by_cluster), unit="cluster"),
        ThreadPoolExecutor(max_workers=max(1, len(by_cluster)), thread_name_prefix="live") as pool,
    ):
        list(pool.map(read, list(by_cluster)))
    timings["live"] = time.perf_counter() - t
    result.against = ", ".join(lives[k].source for k in sorted(lives)) or "no cluster"
    unmapped = [r.app.destination for r in rendered if r.app.name in unresolved]
    ambiguous = resolver.unused_default(set(by_cluster), unmapped)
    if ambiguous:
        result.errors.append(AppError("*", ambiguous, stage="cluster"))
        if not lives:
            result.against = "no cluster: the --snapshot given is the snapshot of none of the apps' clusters"
    for key, message in sorted(live_errors.items()):
        result.errors.append(AppError("*", f"cluster {key}: {message}", stage="cluster"))
    for key in sorted(lives):
        result.warnings.extend(f"cluster {key}: {w}" for w in lives[key].warnings)

    t = time.perf_counter()
    cluster_of = {r.app.name: k for k, rs in by_cluster.items() for r in rs}
    schemas = _schemas(by_cluster, lives)
    views = {
        key: ClusterView(lives[key], trackers.get(key), schemas[key], {**scopes.table, **lives[key].scopes})
        for key in lives
    }
    predicting = {k for k in lives if sources[k].predictor() is not None}
    defined = crd_kinds(body for r in rendered for body in r.crd_bodies()) if early is not None else set()

    objects = taken = 0
    pending: list[tuple[App, AppResult, KeyedApp, str]] = []
    # Closed on any way out of the loop, so a failure here never leaves the stage open until the run ends.
    with progress.stage("comparing", total=len(rendered)):
        for r in rendered:
            progress.advance()
            key = cluster_of.get(r.app.name, "")
            done = early.take(r, key, lives[key], defined) if early is not None and key in lives else None
            if done is not None:
                taken += 1
                if release:
                    r.release()
            elif r.app.name in unresolved:
                done = compare_app(
                    r, unresolved[r.app.name], settings, diff_options, inspect, release=release
                )
            else:
                cluster = (key, views.get(key), cluster_name(key, lives.get(key), sources[key]))
                done = compare_app(r, cluster, settings, diff_options, inspect,
                                   predicting=key in predicting, release=release)  # fmt: skip
            result.apps.append(done.result)
            result.findings.extend(done.findings)
            objects += done.objects
            if done.waiting is not None:
                pending.append((r.app, done.result, done.waiting, key))
    timings["diff"] = timings.get("diff", 0.0) + time.perf_counter() - t  # after the early comparisons' wait
    t = time.perf_counter()
    dry_runs = any(sources[k].predictor() is not None for *_, k in pending)
    with progress.stage("dry-running in the cluster") if dry_runs else contextlib.nullcontext():
        predictions = _predict(pending, sources, lives, result)
    if predictions:
        timings["dry_run"] = time.perf_counter() - t
    t = time.perf_counter()
    with (
        progress.stage("comparing with the dry-runs", total=len(pending))
        if pending
        else contextlib.nullcontext()
    ):
        for app, app_result, keyed, key in pending:
            prediction = predictions.get(app.name) or Prediction()
            diff_keyed(app, app_result, keyed, views[key], settings, diff_options, prediction)
            progress.advance()
    timings["diff"] += time.perf_counter() - t
    result.stats = {
        "apps": len(result.apps),
        "objects": objects,
        "live_objects": sum(len(live.objects) for live in lives.values()),
    }
    if early is not None:
        result.stats["compared_early"] = taken  # while others rendered
    requests = sum(live.requests for live in lives.values())
    requests += sum(p.requests for p in predictions.values())
    if requests:
        result.stats["api_requests"] = requests
    _shared_objects(result, cluster_of)


def in_cluster_crds(live: LiveState) -> list[JSON]:
    """The cluster's own CRDs (by key first: a packed snapshot decodes an object on each access)."""
    return [live.objects[k] for k in live.objects if k.kind == CRD_KIND and k.group == CRD_GROUP]


def _schemas(
    by_cluster: Mapping[str, Sequence[Rendered]], lives: Mapping[str, LiveState]
) -> dict[str, Schemas]:
    """Per cluster read: bundled built-ins, the cluster's own schema, then CRDs it has and CRDs Git renders for it
    (known before any app is diffed, so apps can be diffed one by one)."""
    crds: dict[str, list[Mapping[str, Any]]] = {}
    for key in lives:
        crds[key] = [
            body for r in by_cluster.get(key, ()) for body in r.crd_bodies()
            if isinstance(body.get("metadata"), dict) and body["metadata"].get("name")
        ]  # fmt: skip
    out = {}
    for key in crds:
        out[key] = schemas_for(lives[key].schema, [*in_cluster_crds(lives[key]), *crds[key]])
    return out


def cluster_name(key: str, live: LiveState | None, source: LiveSource) -> str:
    """What reports call the cluster an app was compared with: its name, or for the command line's cluster the
    name its snapshot gives (else the source's own name: ``snapshot``, ``live``)."""
    if key != DEFAULT:
        return key
    return (live.cluster if live is not None else None) or source.name


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
        predictor = sources[key].predictor()
        if predictor is None:
            continue
        batch = [(app, keyed.manifests) for app, _, keyed, k in pending if k == key]
        try:
            out.update(predictor.predict(batch, lives[key]))
        except GitopsCheckError as e:
            result.errors.append(AppError("*", f"cluster {key}: {e}", stage="cluster"))
            for app, manifests in batch:
                out[app.name] = Prediction(errors={m.key: f"not checked: {e}" for m in manifests})
    return out


def _unreadable_prune_kinds(
    app: App, keyed: KeyedApp, live: LiveState, options: DiffOptions, app_result: AppResult
) -> None:
    """Kinds that could not be listed in the app's namespaces: objects of theirs that would be pruned are unknown.

    Kinds Git renders there already make those objects "not checked"; this covers the kinds listed only to find
    what would be pruned (an extra Secret nobody can see must not pass as in sync).
    """
    namespaces = {m.key.namespace for m in keyed.manifests if m.key.namespace} | (
        {app.destination.namespace} if app.destination.namespace else set()
    )
    rendered = {(m.key.group_kind, m.key.namespace) for m in keyed.manifests}
    for (gk, namespace), reason in sorted(
        live.unreadable.items(), key=lambda i: (str(i[0][0]), i[0][1] or "")
    ):
        if namespace not in namespaces or (gk, namespace) in rendered:
            continue
        message = (
            f"what would be pruned is unknown: {gk} in namespace {namespace} could not be listed ({reason})"
        )
        if options.accept_unreadable_prune_kinds:
            app_result.warnings.append(f"{message}; accepted (--accept-unreadable-prune-kinds)")
        else:
            app_result.errors.append(
                AppError(app.name, f"not checked: {message}; grant list on it, or pass "
                         "--accept-unreadable-prune-kinds to accept that", stage="cluster")
            )  # fmt: skip


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
