"""Base render against head render, per app: the objects a change adds, changes and removes.

The comparison is the diff engine's exact mode (``DiffSettings(exact=True)``): both sides are complete renders,
so a field only one of them has is a change, never a server default. Identity, normalization and Secret
handling are those of ``diff``; Secret values arrive sealed (hashed) on both sides and leave as markers.
Two things of ``diff`` do not apply: ignore rules (they hide cluster-side differences; a change to an ignored
field is still a change a reviewer should see) and tracking labels (a render setting
``app.kubernetes.io/instance`` must not look like a change).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from gitops_check.diff.engine import REDACTED_BASE, REDACTED_HEAD, DiffSettings, diff_object
from gitops_check.diff.hooks import hook_phases
from gitops_check.errors import GitopsCheckError
from gitops_check.identity import KindScopes, assign_keys, flatten_lists
from gitops_check.model.app import App, Tracking
from gitops_check.model.live import SecretHashing
from gitops_check.model.objects import Manifest, ResourceKey
from gitops_check.model.rendered import RawObject
from gitops_check.model.result import AppError, AppResult, ResourceDiff, Status
from gitops_check.preview.plan import AppState, Entry

EXACT = DiffSettings(
    frozenset(),
    frozenset(),
    (),
    detect_pruning=False,
    exact=True,
    secret_markers=(REDACTED_BASE, REDACTED_HEAD),
)


def learn_scopes(entries: Iterable[Entry]) -> KindScopes:
    """Kind scopes from the CRDs rendered at either commit, so both sides key objects the same way."""
    scopes = KindScopes()
    for entry in entries:
        for state in (entry.base, entry.head):
            for obj in state.output.objects if state and state.output else ():
                scopes.learn_crd(obj.body)
    return scopes


def compare_entry(entry: Entry, scopes: KindScopes, hashing: SecretHashing) -> AppResult:
    base, head = entry.base, entry.head
    shown = head or base
    assert shown is not None
    result = AppResult(shown.app, render_seconds=sum(s.seconds for s in (base, head) if s))
    if base is not None and head is not None and entry.untouched:
        failed = head if head.error is not None else base if base.error is not None else None
        if failed is not None and (base.parent or head.parent):
            # Its files name apps it declares; those read other files, which this change may touch.
            result.errors.append(_failed(
                failed, "render", "untouched by this change, but it declares apps the change may touch, and "
                "it could not be rendered to find them: ",
            ))  # fmt: skip
            return result
        if failed is not None:
            assert failed.error is not None
            result.untouched = failed.error.message
            return result
        if entry.same_key:
            result.untouched = unsupported(shown.app)
            return result
    same_failure = (
        base is not None and head is not None and base.error is not None and head.error is not None
        and base.error.message == head.error.message
    )  # fmt: skip
    if head is not None and head.error is not None:
        prefix = "" if base is None or same_failure else "head commit: "
        result.errors.append(_failed(head, "render", prefix))
    if base is not None and base.error is not None and not same_failure:
        prefix = "base commit (not compared): " if head is not None else "removed app; its objects unknown: "
        result.errors.append(_failed(base, "render", prefix))
    if result.errors:
        return result
    if base is None:
        result.change = "added"
    elif head is None:
        result.change = "removed"
    old = _keyed(base, scopes, result, "base commit: ")
    new = _keyed(head, scopes, result, "")
    app = dataclasses.replace(shown.app, ignore=(), tracking=Tracking())
    for key in sorted(set(old) | set(new), key=_order):
        desired = new.get(key)
        before = old.get(key)
        diff = diff_object(key, desired, before.body if before else None, app, EXACT, hashing)
        if desired is None and before is not None:
            diff = dataclasses.replace(diff, origin=before.origin)
        result.diffs.append(diff)
    return result


def unsupported(app: App) -> str | None:
    """Why the app cannot be rendered, when discovery knows it already (``Source.unsupported``)."""
    reasons = [f"not checked: {s.unsupported.reason}" for s in app.sources if s.unsupported is not None]
    return "; ".join(reasons) or None


def _failed(state: AppState, stage: str, prefix: str) -> AppError:
    error = state.error
    assert isinstance(error, GitopsCheckError)
    return AppError(state.app.name, prefix + error.message, error.file, error.line, stage)


def _keyed(
    state: AppState | None, scopes: KindScopes, result: AppResult, prefix: str
) -> dict[ResourceKey, Manifest]:
    if state is None or state.output is None:
        return {}
    keyed = assign_keys(state.app, named_hooks(state.app, state.output.objects), scopes)
    for problem in keyed.problems:
        if prefix:  # the base commit's problems are not this change's; they only make its diff less precise
            result.warnings.append(f"{prefix}{problem.message} ({problem.origin})")
        else:
            result.errors.append(
                AppError(state.app.name, problem.message, problem.origin.file, problem.origin.line, "render")
            )
    result.warnings.extend(prefix + w for w in state.output.warnings)
    result.resolved.extend(prefix + r for r in state.output.resolved)
    return {m.key: m for m in keyed.manifests}


def named_hooks(app: App, objects: Iterable[RawObject]) -> list[RawObject]:
    """The render with ``generateName`` hooks named ``<generateName>*``: a preview compares hooks too (a change
    to a migration Job is a change to review), and both commits name them the same way."""
    out = []
    for obj in flatten_lists(objects):
        metadata = obj.body.get("metadata") if isinstance(obj.body, dict) else None
        if (
            isinstance(metadata, dict)
            and not metadata.get("name")
            and metadata.get("generateName")
            and hook_phases(app, obj.body) is not None
        ):
            body = {**obj.body, "metadata": {**metadata, "name": f"{metadata['generateName']}*"}}
            obj = dataclasses.replace(obj, body=body)
        out.append(obj)
    return out


def _order(key: ResourceKey) -> tuple[str, str, str, str]:
    return (key.kind, key.namespace or "", key.name, key.group)


def note_moves(results: Iterable[AppResult]) -> None:
    """An object removed from one app and added to another moves between them: say so on both."""
    removed: dict[ResourceKey, str] = {}
    added: dict[ResourceKey, str] = {}
    for r in results:
        for d in r.diffs:
            if d.status is Status.REMOVED:
                removed[d.key] = r.app.name
            elif d.status is Status.ADDED:
                added[d.key] = r.app.name
    for r in results:
        for i, d in enumerate(r.diffs):
            if d.status is Status.REMOVED and d.key in added:
                r.diffs[i] = _with_note(d, f"moves to app {added[d.key]}")
            elif d.status is Status.ADDED and d.key in removed:
                r.diffs[i] = _with_note(d, f"moves from app {removed[d.key]}")


def flag_drifted(results: Iterable[AppResult], baseline: Iterable[AppResult]) -> int:
    """Flag the objects this change touches that already differ in the cluster; returns how many."""
    drift: Mapping[tuple[str, ResourceKey], ResourceDiff] = {
        (r.app.name, d.key): d for r in baseline for d in r.diffs if d.is_drift
    }
    flagged = 0
    for r in results:
        for i, d in enumerate(r.diffs):
            live = drift.get((r.app.name, d.key))
            if not d.is_drift or live is None:
                continue
            r.diffs[i] = _with_note(d, drift_note(d, live))
            flagged += 1
    return flagged


DRIFT_NOTE = "already different in the cluster"


def drift_note(change: ResourceDiff, live: ResourceDiff) -> str:
    if live.status is not Status.CHANGED:
        what = {
            Status.ADDED: "missing from the cluster",
            Status.REMOVED: "in the cluster, not at the base commit",
        }
        return f"{DRIFT_NOTE}: {what.get(live.status, live.status.value)}"
    drifted = {c.path for c in live.changes}
    touched = sorted({c.path for c in change.changes if any(_overlaps(c.path, p) for p in drifted)})
    text = f"{DRIFT_NOTE} ({len(drifted)} field{'s' if len(drifted) != 1 else ''})"
    if touched:
        shown = ", ".join(touched[:5]) + (f" and {len(touched) - 5} more" if len(touched) > 5 else "")
        text += f"; this change touches drifted field{'s' if len(touched) != 1 else ''} {shown}"
    return text


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith((b + ".", b + "[")) or b.startswith((a + ".", a + "["))


def _with_note(diff: ResourceDiff, note: str) -> ResourceDiff:
    return dataclasses.replace(diff, notes=(*diff.notes, note))
