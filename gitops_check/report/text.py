"""What every reporter says the same way: wording per mode, ordering, summary line, field changes, unified diffs.

Reporters differ in markup only. Keeping the words in one table per mode ("diff": Git against the cluster,
"preview": base render against head render) means a change of wording, or a new mode, is one edit here.
"""

from __future__ import annotations

import difflib
import enum
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import (
    AppError,
    AppResult,
    Change,
    ChangeKind,
    CheckResult,
    ResourceDiff,
    Status,
)
from gitops_check.report import findings, syncs
from gitops_check.yamlio import dump_yaml

# ---------------------------------------------------------------------------------------------------------------
# Wording


class AppStatus(enum.StrEnum):
    """One verdict per app; an app that failed counts as failed even when parts of it drifted."""

    IN_SYNC = "in-sync"
    DRIFTED = "drifted"
    ERROR = "error"
    # Preview: could not be rendered, but the change does not touch what it reads, so it cannot change it.
    UNTOUCHED = "untouched"


@dataclass(frozen=True)
class Wording:
    checked: str  # verb in the summary line: "5 apps checked"
    drift: str  # noun for what was found: "drift in 2 of 5 apps"
    no_drift: str  # title when nothing was found: "all 5 apps in sync"
    app_status: Mapping[AppStatus, str]
    status: Mapping[Status, str]  # one resource
    column: Mapping[Status, str]  # summary table column headings
    old_label: str  # unified diff headers: --- old / +++ new
    new_label: str
    failure_type: str  # JUnit failure@type
    field_added: str  # Change wording; {new} {old} {who} are pre-formatted
    field_removed: str
    field_manual: str
    field_manual_who: str
    exit_meaning: Mapping[int, str]


_NOT_CHECKED = "not checked"
UNTOUCHED_LABEL = "not checked, untouched by this change"

WORDING: dict[str, Wording] = {
    "diff": Wording(
        checked="checked",
        drift="drift",
        no_drift="all {n} in sync",
        app_status={
            AppStatus.IN_SYNC: "in sync",
            AppStatus.DRIFTED: "drifted",
            AppStatus.ERROR: _NOT_CHECKED,
            AppStatus.UNTOUCHED: UNTOUCHED_LABEL,
        },
        status={
            Status.CHANGED: "changed",
            Status.ADDED: "would be created",
            Status.REMOVED: "would be pruned",
            Status.UNCHANGED: "in sync",
            Status.ERROR: _NOT_CHECKED,
        },
        column={Status.ADDED: "Added", Status.CHANGED: "Changed", Status.REMOVED: "Pruned"},
        old_label="live",
        new_label="git",
        failure_type="drift",
        field_added="not in the cluster; Git sets {new}",
        field_removed="{old} in the cluster, no longer in Git; a sync would remove it",
        field_manual="{old}, changed by hand; a sync would keep it",
        field_manual_who="{old}, changed by hand with {who}; a sync would keep it",
        exit_meaning={
            0: "everything checked is in sync",
            1: "drift found",
            2: "not everything could be checked, so the result is incomplete (this wins over drift)",
        },
    ),
    "preview": Wording(
        checked="compared",
        drift="changes",
        no_drift="no changes in {n}",
        app_status={
            AppStatus.IN_SYNC: "unchanged",
            AppStatus.DRIFTED: "with changes",
            AppStatus.ERROR: _NOT_CHECKED,
            AppStatus.UNTOUCHED: UNTOUCHED_LABEL,
        },
        status={
            Status.CHANGED: "changed",
            Status.ADDED: "added",
            Status.REMOVED: "removed",
            Status.UNCHANGED: "unchanged",
            Status.ERROR: _NOT_CHECKED,
        },
        column={Status.ADDED: "Added", Status.CHANGED: "Changed", Status.REMOVED: "Removed"},
        old_label="base",
        new_label="head",
        failure_type="change",
        field_added="added: {new}",
        field_removed="removed (was {old})",
        field_manual="{old}, changed by hand; a sync would keep it",
        field_manual_who="{old}, changed by hand with {who}; a sync would keep it",
        exit_meaning={
            0: "the change renders no differences",
            1: "the change alters rendered resources",
            2: "not everything could be rendered or compared, so the result is incomplete (this wins over changes)",
        },
    ),
}


def wording(mode: str) -> Wording:
    """The words for ``CheckResult.mode``; an unknown mode reads like "diff" rather than failing a report."""
    return WORDING.get(mode, WORDING["diff"])


def sentence(text: str) -> str:
    """Upper-case the first letter only (``str.capitalize`` would lower-case the rest)."""
    return text[:1].upper() + text[1:]


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


# ---------------------------------------------------------------------------------------------------------------
# Ordering and counts


def app_status(app: AppResult) -> AppStatus:
    if app.failed:
        return AppStatus.ERROR
    if app.drifted:
        return AppStatus.DRIFTED
    return AppStatus.UNTOUCHED if app.untouched else AppStatus.IN_SYNC


def untouched_apps(result: CheckResult) -> list[AppResult]:
    """Preview: the apps that could not be rendered but that the change does not touch, by name."""
    return sorted((a for a in result.apps if app_status(a) is AppStatus.UNTOUCHED), key=lambda a: a.app.name)


def untouched_title(apps: list[AppResult]) -> str:
    return f"{plural(len(apps), 'app')} {UNTOUCHED_LABEL}"


def drift_count(app: AppResult) -> int:
    return sum(1 for d in app.diffs if d.is_drift) if app.drifted else 0


def error_count(app: AppResult) -> int:
    """App-level errors plus resources that could not be checked."""
    return len(app.errors) + app.count(Status.ERROR)


_APP_RANK = {AppStatus.ERROR: 0, AppStatus.DRIFTED: 1, AppStatus.UNTOUCHED: 2, AppStatus.IN_SYNC: 3}
_RESOURCE_RANK = {Status.ERROR: 0, Status.CHANGED: 1, Status.ADDED: 2, Status.REMOVED: 3, Status.UNCHANGED: 4}


def key_order(key: ResourceKey) -> tuple[str, str, str, str]:
    # ResourceKey's own ordering breaks on namespace None vs str.
    return (key.kind, key.namespace or "", key.name, key.group)


def sort_apps(apps: Iterable[AppResult]) -> list[AppResult]:
    """Most significant first: failed apps, then drifted apps (most drifted objects first), then in sync."""
    return sorted(
        apps, key=lambda a: (_APP_RANK[app_status(a)], -drift_count(a) - error_count(a), a.app.name)
    )


def sort_diffs(diffs: Iterable[ResourceDiff]) -> list[ResourceDiff]:
    """Errors, changed, added, removed, unchanged; then by key."""
    return sorted(diffs, key=lambda d: (_RESOURCE_RANK[d.status], key_order(d.key)))


def drift_totals(apps: Iterable[AppResult]) -> dict[Status, int]:
    out = {Status.CHANGED: 0, Status.ADDED: 0, Status.REMOVED: 0}
    for app in apps:
        for d in app.diffs:
            if d.status in out and d.is_drift:
                out[d.status] += 1
    return out


BY_HAND = "changed by hand, not managed by Git"


def drift_breakdown(counts: Mapping[Status, int], mode: str) -> str:
    """``1 changed, 1 would be pruned``; zero counts left out."""
    w = wording(mode)
    order = (Status.CHANGED, Status.ADDED, Status.REMOVED)
    return ", ".join(f"{counts[s]} {w.status[s]}" for s in order if counts.get(s))


def app_breakdown(app: AppResult, mode: str) -> str:
    """What one app's header says after its verdict: ``1 changed, 1 would be created, 2 not checked``."""
    parts = [drift_breakdown(drift_totals([app]), mode)]
    if app.by_hand:
        parts.append(f"{app.by_hand} {BY_HAND}")
    errors = error_count(app)
    if errors:
        parts.append(plural(errors, "error"))
    return ", ".join(p for p in parts if p)


def summary_line(result: CheckResult) -> str:
    """``3 apps checked: 2 in sync, 1 drifted (1 changed, 1 would be pruned)``; apps that could not be checked are
    not counted as checked: ``2 of 3 apps checked: ..., 1 not checked``, ``none of 12 apps could be checked``."""
    w = wording(result.mode)
    by_status = {s: 0 for s in AppStatus}
    for app in result.apps:
        by_status[app_status(app)] += 1
    n = len(result.apps)
    drifted_apps = [a for a in result.apps if app_status(a) is AppStatus.DRIFTED]
    failed_apps = [a for a in result.apps if app_status(a) is AppStatus.ERROR]
    parts: list[str] = []
    if by_status[AppStatus.IN_SYNC]:
        parts.append(f"{by_status[AppStatus.IN_SYNC]} {w.app_status[AppStatus.IN_SYNC]}")
    if drifted_apps:
        parts.append(
            f"{len(drifted_apps)} {w.app_status[AppStatus.DRIFTED]} ({drift_breakdown(drift_totals(drifted_apps), result.mode)})"
        )
    if failed_apps:
        parts.append(f"{len(failed_apps)} {w.app_status[AppStatus.ERROR]}")
    untouched = by_status[AppStatus.UNTOUCHED]
    if untouched:
        parts.append(f"{untouched} untouched by this change (not checked)")
    unchecked = len(failed_apps) + untouched  # neither counts as checked
    if failed_apps and unchecked == n:
        line = f"none of {plural(n, 'app')} could be {w.checked}"
    elif unchecked:
        line = f"{n - unchecked} of {plural(n, 'app')} {w.checked}: " + ", ".join(parts)
    else:
        line = f"{plural(n, 'app')} {w.checked}" + (": " + ", ".join(parts) if parts else "")
    partial = drift_breakdown(drift_totals(failed_apps), result.mode)
    if partial:
        line += f"; {w.drift} in what could be checked: {partial}"
    if result.errors:
        line += f"; {plural(len(run_errors(result.errors)), 'error')} outside any app"
    if result.findings:
        line += f"; {plural(len(result.findings), 'hygiene finding')}"
    by_hand = sum(a.by_hand for a in result.apps)
    if by_hand:
        line += f"; {plural(by_hand, 'resource')} {BY_HAND}" + (
            " (fails the run: --fail-on manual)" if result.fail_on_manual else " (a sync would keep them)"
        )
    return line


def verdict(result: CheckResult) -> str:
    """Short verdict for titles: ``drift in 2 of 5 apps``, ``1 of 5 apps not checked``, ``all 5 apps in sync``."""
    w = wording(result.mode)
    n = len(result.apps)
    apps = plural(n, "app")
    drifted = sum(1 for a in result.apps if a.drifted)
    failed = sum(1 for a in result.apps if a.failed)
    parts: list[str] = []
    if failed:
        parts.append(f"{failed} of {apps} {_NOT_CHECKED}")
    elif result.errors:
        parts.append("check incomplete")
    elif result.baseline is not None and result.baseline.incomplete:
        parts.append("cluster comparison incomplete")
    if drifted:
        parts.append(f"{w.drift} in {drifted} of {apps}" if not failed else f"{w.drift} in {drifted}")
    if result.mode == "sync":
        return syncs.verdict(result.syncs)
    if not parts:
        parts.append(w.no_drift.format(n=apps) if n else "no apps found")
    if result.syncs:
        parts.append(syncs.verdict(result.syncs))
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------------------------
# Preview: apps that appear or disappear, the change at a glance, what already differed

APP_CHANGE = {"added": "new app", "removed": "app removed"}
# Unchanged apps get their own table row up to this many in a preview; beyond it they share one.
PREVIEW_UNCHANGED_ROWS = 10
BASELINE_TITLE = "Already different in the cluster"


def app_label(app: AppResult, mode: str) -> str:
    """The app's verdict as shown: ``with changes``, or ``new app`` / ``app removed`` in a preview."""
    status = app_status(app)
    if status is AppStatus.DRIFTED and app.change in APP_CHANGE:
        return APP_CHANGE[app.change]
    return wording(mode).app_status[status]


def change_headline(result: CheckResult) -> str:
    """``4 apps changed: 7 added, 12 changed, 1 removed objects (1 new app)``; preview only, else ""."""
    if result.mode != "preview":
        return ""
    changed = [a for a in result.apps if a.drifted]
    if not changed:
        return f"No app changed ({plural(len(result.apps), 'app')} compared)"
    counts = drift_totals(changed)
    objects = ", ".join(f"{counts[s]} {s.value}" for s in (Status.ADDED, Status.CHANGED, Status.REMOVED))
    line = f"{plural(len(changed), 'app')} changed: {objects} objects"
    added = sum(1 for a in changed if a.change == "added")
    removed = sum(1 for a in changed if a.change == "removed")
    apps = [plural(added, "new app")] if added else []
    apps += [f"{plural(removed, 'app')} removed"] if removed else []
    if apps:
        line += f" ({', '.join(apps)})"
    flagged = result.stats.get("flagged", 0)
    if flagged:
        line += f"; {plural(flagged, 'object')} it touches already differ in the cluster"
    return line


def baseline_intro(baseline: CheckResult) -> str:
    """What the section of differences already in the cluster compares, and why it stands apart."""
    return (
        f"{baseline.target} (the base commit) against {baseline.against}, for the apps this change touches: "
        f"{summary_line(baseline)}. These differences exist before the change; they are not caused by it."
    )


def exit_line(result: CheckResult) -> str:
    code = result.exit_code()
    sync_meaning = syncs.exit_meaning(result)
    check_meaning = None
    if result.mode != "sync" and syncs.check_code(result) == code:
        check_meaning = wording(result.mode).exit_meaning[code]
    hygiene_meaning = findings.exit_meaning(result)
    meanings = (check_meaning, hygiene_meaning, sync_meaning)
    return f"exit code {code}: " + "; and ".join(m for m in meanings if m)


# ---------------------------------------------------------------------------------------------------------------
# Field changes and small values

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """Drop control characters (ANSI escapes from tool output, NULs) that would corrupt a terminal, XML or Markdown."""
    if text.isascii() and text.isprintable():  # most text, and none of it matches: skip the search
        return text
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


# Everything that can end or rewrite a line in a log or a terminal: C0/C1 controls (newlines included), DEL, the
# Unicode line and paragraph separators, and lone surrogates. Tab is kept: it cannot start a line.
_LINE_BREAKERS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_SGR = re.compile("\x1b\\[[0-9;]*m")


def _escape_char(match: re.Match[str]) -> str:
    c = match.group(0)
    named = {"\n": "\\n", "\r": "\\r", "\x1b": "\\e"}
    if c in named:
        return named[c]
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def log_lines(text: str, indent: str = "  ") -> str:
    """A message for the log: each line escaped (``one_line``), lines after the first indented. The first line
    starts with the caller's own prefix (``error:``), so nothing a message quotes reaches column 0."""
    first, *rest = text.replace("\r\n", "\n").split("\n")
    return "\n".join([one_line(first), *(indent + one_line(line) for line in rest)])


def one_line(text: str, *, keep_colors: bool = False) -> str:
    """``text`` on one line, every control character shown as an escape (``\\n``, ``\\e``, ``\\x07``).

    Repository strings (app names, files, messages) printed this way cannot start a line of their own, so they
    cannot pass for a workflow command or for gitops-check's own verdict. ``keep_colors`` keeps SGR colour
    sequences (``ESC [ ... m``), which the terminal reporter adds itself.
    """
    if not keep_colors:
        return _LINE_BREAKERS.sub(_escape_char, text)
    out: list[str] = []
    last = 0
    for m in _SGR.finditer(text):
        out.append(_LINE_BREAKERS.sub(_escape_char, text[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_LINE_BREAKERS.sub(_escape_char, text[last:]))
    return "".join(out)


def format_value(value: Any, width: int = 80) -> str:
    """Compact one-line JSON (strings keep their quotes so ``"3"`` and ``3`` differ), cut at ``width``."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str, separators=(", ", ": "))
    except ValueError:  # circular
        text = repr(value)
    text = clean(text).replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


def _same(text: str) -> str:
    return text


def describe_change(
    change: Change, mode: str, *, quote: Callable[[str], str] = _same, arrow: str = "->", width: int = 80
) -> str:
    """One line per differing field; ``quote`` marks up path and values (Markdown code spans, say)."""
    w = wording(mode)
    path = quote(clean(change.path))
    old = quote(format_value(change.old, width))
    new = quote(format_value(change.new, width))
    who = quote(clean(change.manager)) if change.manager else ""
    if change.kind is ChangeKind.ADDED:
        return f"{path}: " + w.field_added.format(new=new, old=old, who=who)
    if change.kind is ChangeKind.REMOVED:
        return f"{path}: " + w.field_removed.format(new=new, old=old, who=who)
    if change.kind is ChangeKind.MANUAL:
        return f"{path}: " + (w.field_manual_who if who else w.field_manual).format(new=new, old=old, who=who)
    by = f" (set by {who})" if who else ""
    if change.server_default:
        return f"{path}: {old} {arrow} {new} (the server's default; no longer in Git){by}"
    return f"{path}: {old} {arrow} {new}{by}"


def resource_verdict(diff: ResourceDiff, mode: str) -> str:
    """``changed: 2 fields (1 by hand)`` / ``would be created`` / ``not checked: <why>``."""
    w = wording(mode)
    label = w.status[diff.status]
    if diff.by_hand:
        return f"{BY_HAND}: {plural(len(diff.changes), 'field')}"
    if diff.status is Status.CHANGED and diff.changes:
        manual = sum(1 for c in diff.changes if c.kind is ChangeKind.MANUAL)
        extra = f" ({manual} by hand)" if manual else ""
        return f"{label}: {plural(len(diff.changes), 'field')}{extra}"
    if diff.status is Status.ERROR and diff.message:
        why = first_line(diff.message)
        while why.lower().startswith(_NOT_CHECKED + ": "):  # "not checked: not checked: ..." says it twice
            why = why[len(_NOT_CHECKED) + 2 :]
        return f"{label}: {why}"
    return label


def first_line(text: str, width: int = 300) -> str:
    line = clean(text).strip().split("\n", 1)[0]
    return line if len(line) <= width else line[: width - 3] + "..."


RUN_LEVEL = ("", "*")  # AppError.app of an error that belongs to no app (a cluster, the whole run)
_MAX_SUBJECT_NAMES = 10


@dataclass(frozen=True)
class RunError:
    """One run-level error as reporters show it: errors that differ only in their app are said once."""

    error: AppError
    apps: tuple[str, ...]  # the apps it belongs to (none: the run, or a cluster its message names)

    def subject(self) -> str:
        """``app web`` / ``apps web, api`` / "" (a run-level error names its cluster in its message)."""
        if not self.apps:
            return ""
        shown = ", ".join(self.apps[:_MAX_SUBJECT_NAMES])
        more = (
            f" and {len(self.apps) - _MAX_SUBJECT_NAMES} more" if len(self.apps) > _MAX_SUBJECT_NAMES else ""
        )
        return f"{'app' if len(self.apps) == 1 else 'apps'} {shown}{more}"


def run_errors(errors: Iterable[AppError]) -> list[RunError]:
    """``CheckResult.errors`` grouped: the same message (stage, file, line) for several apps is one entry naming
    them all, so a reader sees one problem with its apps instead of copies that look alike."""
    grouped: OrderedDict[tuple[str, str, str | None, int | None], list[AppError]] = OrderedDict()
    for e in errors:
        grouped.setdefault((e.stage, e.message, e.file, e.line), []).append(e)
    out = []
    for same in grouped.values():
        apps = tuple(dict.fromkeys(e.app for e in same if e.app not in RUN_LEVEL))
        out.append(RunError(same[0], apps))
    return out


def location(file: str | None, line: int | None) -> str:
    if not file:
        return ""
    return f"{file}:{line}" if line else file


# ---------------------------------------------------------------------------------------------------------------
# Unified diff


def _yaml_lines(body: Any) -> list[str]:
    if body is None:
        return []
    # split("\n"), not splitlines(): the latter also breaks at characters YAML keeps inside a line.
    return dump_yaml(body).rstrip("\n").split("\n")


# Every reporter of a run prints the same diffs and YAML dumping is the slow part, so recent ones are kept.
# Entries hold the ResourceDiff itself, so an id() reused after garbage collection never matches.
_DIFF_CACHE: OrderedDict[tuple[int, int, str], tuple[ResourceDiff, str]] = OrderedDict()
_DIFF_CACHE_SIZE = 20_000


def unified_diff(diff: ResourceDiff, context: int = 3, *, mode: str = "diff") -> str:
    """The unified diff of the redacted YAML views, ``--- live: Kind/ns/name`` to ``+++ git: Kind/ns/name``.

    Empty for unchanged and error entries, and when the two views print the same.
    """
    if diff.status in (Status.UNCHANGED, Status.ERROR):
        return ""
    key = (id(diff), context, mode)
    hit = _DIFF_CACHE.get(key)
    if hit is not None and hit[0] is diff:
        _DIFF_CACHE.move_to_end(key)
        return hit[1]
    text = _unified_diff(diff, context, mode)
    _DIFF_CACHE[key] = (diff, text)
    if len(_DIFF_CACHE) > _DIFF_CACHE_SIZE:
        _DIFF_CACHE.popitem(last=False)
    return text


def _unified_diff(diff: ResourceDiff, context: int, mode: str) -> str:
    w = wording(mode)
    old = _yaml_lines(diff.live) if diff.status is not Status.ADDED else []
    new = _yaml_lines(diff.desired) if diff.status is not Status.REMOVED else []
    if old == new:
        return ""
    name = clean(str(diff.key)).replace("\n", " ")
    lines = difflib.unified_diff(
        old, new, fromfile=f"{w.old_label}: {name}", tofile=f"{w.new_label}: {name}", n=context, lineterm=""
    )
    return clean("\n".join(lines)) + "\n"
