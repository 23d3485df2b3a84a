"""Diff an app's rendered objects against the live state: one ResourceDiff per object (pure).

Ties the pieces together: normalization, ignore rules, the field walk, Secret values compared apart and never
shown, objects missing from the cluster told apart from objects the snapshot did not capture, and objects
that would be pruned.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitops_check import secrethash
from gitops_check.diff import hooks, normalize, paths
from gitops_check.diff.compare import Walk
from gitops_check.diff.managed import LAST_APPLIED, ExactOwnership, Owner, Ownership
from gitops_check.diff.paths import Field, Path
from gitops_check.diff.prune import TrackingIndex
from gitops_check.kubeschema.model import Node, Schemas
from gitops_check.model.app import App, IgnoreRule, TrackingMethod
from gitops_check.model.live import LiveState, SecretHashing
from gitops_check.model.objects import Manifest, ResourceKey
from gitops_check.model.result import Change, ChangeKind, ResourceDiff, Status

REDACTED = "<redacted>"
REDACTED_LIVE = "<redacted: value in cluster>"
REDACTED_GIT = "<redacted: value in Git>"
# What a preview compares: the base commit's render (old side) with the head commit's (new side).
REDACTED_BASE = "<redacted: value in base>"
REDACTED_HEAD = "<redacted: value in head>"
FLUX_SSA = hooks.FLUX_SSA
# Change.manager of fields claimed through the last-applied annotation (client-side apply).
LAST_APPLIED_REMOVAL = (ChangeKind.REMOVED, "last-applied-configuration")


@dataclass(frozen=True)
class DiffSettings:
    appliers: frozenset[str]
    manual_managers: frozenset[str]
    ignore: tuple[IgnoreRule, ...] = ()  # global rules, added to each app's own
    detect_pruning: bool = True
    # Both sides are complete objects (server-side dry-run result vs live, or base render vs head render):
    # a field only one side has is a difference, never a server default.
    exact: bool = False
    # The markers standing for a Secret value that differs: (old side, new side). A preview says base and head.
    secret_markers: tuple[str, str] = (REDACTED_LIVE, REDACTED_GIT)


def _tracking_labels(app: App) -> tuple[str, ...]:
    if app.tracking.method in (TrackingMethod.LABEL, TrackingMethod.ANNOTATION_LABEL):
        return (app.tracking.label_key,)
    return ()


def diff_object(
    key: ResourceKey,
    desired: Manifest | None,
    live: dict[str, Any] | None,
    app: App,
    settings: DiffSettings,
    hashing: SecretHashing | None = None,
    schemas: Schemas | None = None,
    paths_out: list[tuple[Change, Path]] | None = None,
) -> ResourceDiff:
    """Compare one object. ``desired`` None: live-only (pruning); ``live`` None: missing in the cluster.

    ``schemas``: what the API server knows about the kind (list keys, atomic structs, defaults), when known.
    ``paths_out`` receives each field change with its path as segments.
    """
    origin = desired.origin if desired else None
    tracking_labels = _tracking_labels(app)
    if desired is None:
        assert live is not None
        view = normalize.strip(live, tracking_labels=tracking_labels)
        if normalize.is_secret(key):
            view = _redacted_secret_view(view, REDACTED)
        return ResourceDiff(key, app.name, Status.REMOVED, (), None, view)
    body = desired.body
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    ssa = str(annotations.get(FLUX_SSA, "")).lower()
    if ssa == "ignore" or (ssa == "ifnotpresent" and live is not None):
        return ResourceDiff(
            key, app.name, Status.UNCHANGED, origin=origin, notes=(f"skipped: {FLUX_SSA}: {ssa}",)
        )
    if hooks.reconcile_disabled(app, body, live):
        return ResourceDiff(
            key,
            app.name,
            Status.UNCHANGED,
            origin=origin,
            notes=(f"skipped: {hooks.FLUX_RECONCILE}: disabled",),
        )
    desired_view = normalize.strip(body)
    if live is None:
        if normalize.is_secret(key):
            desired_view = _redacted_secret_view(desired_view, REDACTED, desired=True)
        return ResourceDiff(key, app.name, Status.ADDED, (), desired_view, None, origin=origin)

    live_metadata = live.get("metadata") or {}
    d = desired_view
    lv = normalize.strip(live, tracking_labels=tracking_labels)
    rules = tuple(r for r in (*app.ignore, *settings.ignore) if r.matches(key))
    if rules:
        d, lv, _ = normalize.apply_ignore_rules(key, d, lv, rules, live_metadata)
    appliers = settings.appliers.union(app.appliers)
    # Flux leaves the field managers of an object marked ssa: Merge (in Git or in the cluster) alone.
    merge = hooks.flux_ssa_merge(body, live)
    ownership = Ownership.of(live, appliers, settings.manual_managers, () if merge else app.taken_over)
    if settings.exact:
        ownership = ExactOwnership(reference=ownership)

    secret = normalize.is_secret(key)
    secret_changes: list[Change] = []
    secret_views: tuple[dict[str, str], dict[str, str]] = ({}, {})
    if secret:
        try:
            secret_changes, secret_views = _compare_secret_values(
                d, lv, ownership, hashing, settings.secret_markers
            )
        except (normalize.SecretDataError, secrethash.MissingSnapshotKey) as e:
            return ResourceDiff(key, app.name, Status.ERROR, message=str(e), origin=origin)
        d = normalize.without_secret_values(d)
        lv = normalize.without_secret_values(lv)

    schema = None
    if schemas:
        schema = schemas.lookup(str(live.get("apiVersion") or body.get("apiVersion") or ""), key.kind)
    defaults = not settings.exact
    walk = Walk(ownership, live_metadata, schema=schema, defaults=defaults)
    walk.run(d, lv)
    if paths_out is not None:
        paths_out.extend(zip(walk.changes, walk.paths, strict=True))
    changes = walk.changes + secret_changes
    if not changes:
        return ResourceDiff(key, app.name, Status.UNCHANGED, origin=origin)
    view_walk = Walk(ownership, live_metadata, views=True, schema=schema, defaults=defaults)
    dview, lview = view_walk.run(d, lv)
    if secret:
        if secret_views[0]:
            dview["data"] = secret_views[0]
        if secret_views[1]:
            lview["data"] = secret_views[1]
    return ResourceDiff(key, app.name, Status.CHANGED, tuple(changes), dview, lview, origin=origin)


def _redacted_secret_view(view: dict[str, Any], marker: str, *, desired: bool = False) -> dict[str, Any]:
    keys = list((view.get("data") or {}).keys())
    if desired:
        keys += [k for k in (view.get("stringData") or {}) if k not in keys]
    out = normalize.without_secret_values(view)
    if keys:
        out["data"] = {str(k): marker for k in sorted(keys)}
    return out


def _compare_secret_values(
    desired: dict[str, Any],
    live: dict[str, Any],
    ownership: Ownership,
    hashing: SecretHashing | None,
    markers: tuple[str, str] = (REDACTED_LIVE, REDACTED_GIT),
) -> tuple[list[Change], tuple[dict[str, str], dict[str, str]]]:
    """Per-key comparison of Secret values; changes and views carry markers, never values."""
    old_marker, new_marker = markers
    want = normalize.secret_bytes(desired, desired=True)
    have = normalize.secret_bytes(live, desired=False)
    changes: list[Change] = []
    dview: dict[str, str] = {}
    lview: dict[str, str] = {}
    for name in sorted(set(want) | set(have)):
        path = f"data.{name}"
        if name in want and name in have:
            if _secret_equal(want[name], have[name], hashing):
                dview[name] = lview[name] = REDACTED
            else:
                changes.append(Change(ChangeKind.VALUE, path, old_marker, new_marker))
                dview[name], lview[name] = new_marker, old_marker
        elif name in want:
            changes.append(Change(ChangeKind.ADDED, path, None, new_marker))
            dview[name] = new_marker
        else:
            owner, manager, _ = ownership.claim((Field("data"), Field(name)))
            if owner is Owner.OTHER:
                continue
            kind = ChangeKind.REMOVED if owner is Owner.APPLIER else ChangeKind.MANUAL
            changes.append(Change(kind, path, old_marker, None, manager))
            lview[name] = old_marker
    return changes, (dview, lview)


def _secret_equal(want: bytes | str, have: bytes | str, hashing: SecretHashing | None) -> bool:
    if isinstance(have, str):  # hashed in a snapshot
        if hashing is None:
            raise secrethash.MissingSnapshotKey(
                "the cluster's Secret value is hashed but the snapshot has no hashing info"
            )
        if isinstance(want, str):
            return want == have
        return secrethash.hash_value(want, hashing) == have
    if isinstance(want, str):
        return False
    return want == have


def diff_app(
    app: App,
    manifests: Iterable[Manifest],
    live: LiveState,
    settings: DiffSettings,
    *,
    tracking: TrackingIndex | None = None,
    notes: Mapping[ResourceKey, str] | None = None,
    predicted: Mapping[ResourceKey, dict[str, Any]] | None = None,
    schemas: Schemas | None = None,
) -> list[ResourceDiff]:
    """Every object of an app compared with the cluster, plus live objects it owns that Git no longer has.

    ``predicted``: server-side apply dry-run results for some objects; those are compared exactly with the
    live object (see :func:`diff_predicted`).
    """
    notes = notes or {}
    predicted = predicted or {}
    present = live.present_kinds()
    out: list[ResourceDiff] = []
    desired_keys: set[ResourceKey] = set()
    for manifest in manifests:
        key = manifest.key
        desired_keys.add(key)
        body = live.objects.get(key)
        reason = _unreadable(live, key)
        if body is None and reason is not None:
            result = ResourceDiff(key, app.name, Status.ERROR, message=reason, origin=manifest.origin)
        elif body is None and not live.coverage.covers(key, present):
            result = ResourceDiff(
                key, app.name, Status.ERROR, message=_not_captured(key, live), origin=manifest.origin
            )
        elif body is not None and key in predicted:
            result = diff_predicted(
                key, manifest, predicted[key], body, app, settings, live.secret_hashing, schemas
            )
        else:
            result = diff_object(key, manifest, body, app, settings, live.secret_hashing, schemas)
        if key in notes:
            result = dataclasses.replace(result, notes=(*result.notes, notes[key]))
        out.append(result)
    if settings.detect_pruning:
        index = tracking or TrackingIndex(live)
        for key in sorted(index.owned_by(app) - desired_keys):
            body = live.objects[key]
            if app.kind != "flux-kustomization" and hooks.live_hook(body):
                continue  # left by a hook run: the agent never prunes it
            if key in index.extraneous:
                note = "not in Git; compare-options IgnoreExtraneous leaves it out of the app's sync status"
                out.append(ResourceDiff(key, app.name, Status.UNCHANGED, notes=(note,)))
                continue
            kept = hooks.prune_disabled(body)
            if kept is not None and (app.kind in hooks.FLUX_KINDS or not kept.endswith("Prune=false")):
                note = f"not in Git, but a sync keeps it ({kept})"
                out.append(ResourceDiff(key, app.name, Status.UNCHANGED, notes=(note,)))
                continue
            removed = diff_object(key, None, body, app, settings)
            if kept is not None:  # Argo CD keeps it, and shows the app OutOfSync for it
                note = f"a sync keeps it ({kept}); Argo CD shows the app OutOfSync until it is deleted"
                removed = dataclasses.replace(removed, notes=(*removed.notes, note))
            out.append(removed)
    return out


def diff_predicted(
    key: ResourceKey,
    desired: Manifest,
    predicted: dict[str, Any],
    live: dict[str, Any],
    app: App,
    settings: DiffSettings,
    hashing: SecretHashing | None = None,
    schemas: Schemas | None = None,
) -> ResourceDiff:
    """Compare the dry-run result exactly with the live object: every difference is what a sync would change.

    The dry-run keeps fields other managers own, so hand edits a sync would keep (a label added with kubectl
    label) and fields Git dropped from a client-side applied object are invisible to it; the offline
    comparison still sees those, and they are added (MANUAL changes, and REMOVED ones derived from the
    last-applied annotation), so both modes report the same findings for them. Fields of managers the agent takes
    over before applying (Flux, ``App.taken_over``) are removed by the real apply though the dry-run keeps them:
    they are taken out of the prediction like the client-side removals.
    """
    exact_settings = dataclasses.replace(settings, exact=True)
    exact = _exact_diff(key, desired, predicted, live, app, exact_settings, hashing, schemas)
    if exact.status is Status.ERROR or not _hand_edited_or_client_applied(live, settings, app):
        return exact

    def removal(c: Change) -> bool:
        return (c.kind, c.manager) == LAST_APPLIED_REMOVAL or (
            c.kind is ChangeKind.REMOVED and _taken_over(app, c.manager)
        )

    offline_paths: list[tuple[Change, Path]] = []
    offline = diff_object(key, desired, live, app, settings, hashing, schemas, offline_paths)
    seen = {c.path for c in exact.changes}
    extra = tuple(
        c for c in offline.changes if c.path not in seen and (c.kind is ChangeKind.MANUAL or removal(c))
    )
    # What a client-side apply would remove is still in the dry-run result (server-side apply keeps fields it
    # does not own): take it out and compare again, so the unified diff shows the removal the summary lists.
    removals = [path for c, path in offline_paths if c in extra and removal(c)]
    if removals:
        trimmed = copy.deepcopy(predicted)
        for path in removals:
            paths.delete(trimmed, path)
        exact = _exact_diff(key, desired, trimmed, live, app, exact_settings, hashing, schemas)
        seen = {c.path for c in exact.changes}
        extra = tuple(c for c in extra if c.path not in seen)
    if not extra:
        return exact
    if exact.status is Status.UNCHANGED:
        return dataclasses.replace(offline, changes=extra)
    return dataclasses.replace(exact, changes=exact.changes + extra)


def _exact_diff(
    key: ResourceKey,
    desired: Manifest,
    predicted: dict[str, Any],
    live: dict[str, Any],
    app: App,
    settings: DiffSettings,
    hashing: SecretHashing | None,
    schemas: Schemas | None,
) -> ResourceDiff:
    """The exact comparison, with a value Git leaves out that goes back to the schema's default marked as such
    (``5 -> 3 (the server's default)``), worded as the offline comparison words it."""
    found: list[tuple[Change, Path]] = []
    result = diff_object(
        key, Manifest(key, predicted, desired.origin), live, app, settings, hashing, schemas, found
    )
    schema = schemas.lookup(str(predicted.get("apiVersion", "")), key.kind) if schemas else None
    if schema is None:
        return result
    marked: dict[int, Change] = {}
    for change, path in found:
        if change.kind is not ChangeKind.VALUE or not _absent(desired.body, path):
            continue
        node = _schema_at(schema, path)
        if node is not None and node.has_default and change.new == node.default:
            marked[id(change)] = dataclasses.replace(change, server_default=True)
    if not marked:
        return result
    return dataclasses.replace(result, changes=tuple(marked.get(id(c), c) for c in result.changes))


def _absent(body: Any, path: Path) -> bool:
    for seg in path:
        body = seg.find(body)
        if body is paths.MISSING:
            return True
    return False


def _schema_at(node: Node | None, path: Path) -> Node | None:
    for seg in path:
        if node is None:
            return None
        node = node.child(seg.name) if isinstance(seg, Field) else node.items
    return node


def _taken_over(app: App, manager: str | None) -> bool:
    return manager is not None and any(manager.startswith(prefix) for prefix, _ in app.taken_over)


def _hand_edited_or_client_applied(live: dict[str, Any], settings: DiffSettings, app: App) -> bool:
    """Whether the offline pass of diff_predicted can find anything: a manual manager, a manager the agent takes
    over, or last-applied."""
    metadata = live.get("metadata") or {}
    if LAST_APPLIED in (metadata.get("annotations") or {}):
        return True
    return any(
        isinstance(e, dict)
        and (e.get("manager") in settings.manual_managers or _taken_over(app, str(e.get("manager") or "")))
        for e in metadata.get("managedFields") or ()
    )


def _unreadable(live: LiveState, key: ResourceKey) -> str | None:
    gk = key.group_kind
    return live.unreadable.get((gk, key.namespace)) or live.unreadable.get((gk, None))


def _not_captured(key: ResourceKey, live: LiveState) -> str:
    where = f" in namespace {key.namespace}" if key.namespace else ""
    return (
        f"not checked: {live.source or 'the snapshot'} does not cover {key.group_kind}{where}; "
        "capture it (gitops-check snapshot --for-repo) or pass --assume-complete-snapshot"
    )
