"""The report a person reads in a terminal or a CI log: what drifted, the diff, what failed, what the exit code means.

Colour is decided by the caller (``should_color``) so the renderer stays a pure function of the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from gitops_check.diff import hooks
from gitops_check.model.result import (
    AppError,
    AppResult,
    ChangeKind,
    CheckResult,
    Finding,
    ResourceDiff,
    Status,
)
from gitops_check.report import findings, syncs
from gitops_check.report.text import (
    BASELINE_TITLE,
    AppStatus,
    app_breakdown,
    app_label,
    app_status,
    baseline_intro,
    change_headline,
    clean,
    describe_change,
    exit_line,
    location,
    one_line,
    plural,
    resource_verdict,
    run_errors,
    sentence,
    sort_apps,
    sort_diffs,
    summary_line,
    unified_diff,
    untouched_apps,
    untouched_title,
    wording,
)

_RESET = "\x1b[0m"
_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
_MARK = {
    Status.ERROR: "!",
    Status.CHANGED: "~",
    Status.ADDED: "+",
    Status.REMOVED: "-",
    Status.UNCHANGED: "=",
}
_MARK_COLOR = {
    Status.ERROR: "red",
    Status.CHANGED: "yellow",
    Status.ADDED: "green",
    Status.REMOVED: "red",
    Status.UNCHANGED: "dim",
}
_APP_COLOR = {
    AppStatus.ERROR: "red",
    AppStatus.DRIFTED: "yellow",
    AppStatus.UNTOUCHED: "dim",
    AppStatus.IN_SYNC: "green",
}
# In-sync apps are listed by name up to this many; beyond it only counted (unless verbose).
_IN_SYNC_NAMES = 20


class _TTY(Protocol):
    def isatty(self) -> bool: ...


def should_color(stream: _TTY, env: Mapping[str, str]) -> bool:
    """ANSI colour on a terminal; ``NO_COLOR`` (any non-empty value) turns it off and wins, ``FORCE_COLOR`` turns it on.

    ``FORCE_COLOR=0``/``false`` counts as off, as in Node and most CLIs. ``TERM=dumb`` turns it off on a terminal.
    """
    if env.get("NO_COLOR"):
        return False
    force = env.get("FORCE_COLOR")
    if force:
        return force.lower() not in ("0", "false", "no", "off")
    if env.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (ValueError, OSError):  # closed or detached stream
        return False


class _Paint:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *styles: str) -> str:
        if not self.color or not styles or not text:
            return text
        return "\x1b[" + ";".join(_CODES[s] for s in styles) + "m" + text + _RESET

    def diff(self, text: str, indent: str) -> list[str]:
        out = []
        for line in text.splitlines():
            if line.startswith(("---", "+++")):
                styled = self(line, "bold")
            elif line.startswith("@@"):
                styled = self(line, "cyan")
            elif line.startswith("-"):
                styled = self(line, "red")
            elif line.startswith("+"):
                styled = self(line, "green")
            else:
                styled = line
            out.append(indent + styled)
        return out


def _error_lines(error: AppError, paint: _Paint, indent: str, subject: str = "") -> list[str]:
    where = location(error.file, error.line)
    message = clean(error.message).rstrip().split("\n")
    about = f" in {clean(subject)}" if subject else ""
    head = f"{indent}{paint('error', 'red', 'bold')} ({error.stage}){about}: " + (
        f"{where}: " if where else ""
    )
    lines = [head + paint(message[0], "red")]
    lines += [f"{indent}  {paint(m, 'red')}" for m in message[1:]]
    return lines


def _block(head: str, text: str, indent: str) -> list[str]:
    """``head`` + the first line of ``text``, its further lines indented: a message never reaches column 0."""
    first, *rest = clean(text).rstrip().split("\n")
    return [head + first, *(f"{indent}  {line}" for line in rest)]


def _resource_lines(diff: ResourceDiff, mode: str, paint: _Paint) -> list[str]:
    mark = paint(_MARK[diff.status], _MARK_COLOR[diff.status], "bold")
    where = location(diff.origin.file, diff.origin.line) if diff.origin else ""
    head = f"  {mark} {paint(clean(str(diff.key)), 'bold')}: {resource_verdict(diff, mode)}"
    if where:
        head += "  " + paint(f"({clean(where)})", "dim")
    lines = [head]
    if diff.status is Status.ERROR:
        if diff.message and "\n" in diff.message.strip():
            lines += [f"      {paint(m, 'red')}" for m in clean(diff.message).strip().split("\n")[1:]]
    elif diff.message:
        lines.append(f"      {paint('note:', 'dim')} {clean(diff.message)}")
    for note in diff.notes:
        lines.append(f"      {paint('note:', 'dim')} {clean(note)}")
    if diff.status is Status.UNCHANGED:
        return lines
    for change in diff.changes:
        text = describe_change(change, mode)
        if change.kind is ChangeKind.MANUAL:
            lines.append(f"      {paint('by hand:', 'yellow', 'bold')} {paint(text, 'yellow')}")
        else:
            lines.append(f"      {text}")
    body = unified_diff(diff, mode=mode)
    if body:
        lines += paint.diff(body, "    ")
    return lines


def _finding_lines(result: CheckResult, found: Sequence[Finding], paint: _Paint) -> list[str]:
    """``hygiene (rule): message (file:line)``: yellow as warnings, red as failures under --strict."""
    color = "red" if findings.failing(result) else "yellow"
    lines = []
    for finding in found:
        where = findings.where(finding)
        text = f"  {paint(findings.label(result), color)} ({clean(finding.rule)}): {clean(finding.message)}"
        lines.append(text + ("  " + paint(f"({clean(where)})", "dim") if where else ""))
    return lines


def _app_lines(
    app: AppResult,
    mode: str,
    paint: _Paint,
    verbose: bool,
    result: CheckResult | None = None,
    found: Sequence[Finding] = (),
) -> list[str]:
    status = app_status(app)
    head = f"{paint(clean(app.app.name), 'bold')} [{paint(app_label(app, mode), _APP_COLOR[status], 'bold')}]"
    breakdown = app_breakdown(app, mode)
    if breakdown:
        head += f" {breakdown}"
    if app.cluster:
        head += "  " + paint(f"cluster {clean(app.cluster)}", "dim")
    if app.app.origin:
        head += "  " + paint(f"({clean(app.app.origin)})", "dim")
    lines = [head]
    for error in app.errors:
        lines += _error_lines(error, paint, "  ")
    for warning in app.warnings:
        lines += _block(f"  {paint('warning:', 'yellow')} ", warning, "  ")
    if app.hooks:
        lines.append(paint(f"  {clean(hooks.summary(app.hooks))}", "dim"))
    for resolved in app.resolved:
        lines.append(f"  {paint('resolved:', 'dim')} {clean(resolved)}")
    if result is not None:
        lines += _finding_lines(result, found, paint)
    for diff in sort_diffs(app.diffs):
        if diff.status is Status.UNCHANGED and not verbose:
            continue
        lines += _resource_lines(diff, mode, paint)
    if verbose and not app.diffs and not app.errors:
        lines.append(paint("  (no resources)", "dim"))
    return lines


# Timings in the order the stages run (unknown ones before the total, by name).
_STAGE_ORDER = {
    name: i
    for i, name in enumerate(
        ("materialize", "discover", "render", "live", "dry_run", "diff", "compare", "baseline")
    )
} | {"total": 99}


def render_terminal(result: CheckResult, *, color: bool, verbose: bool = False) -> str:
    """Human-readable report. Non-verbose hides unchanged resources and lists in-sync apps on one line."""
    paint = _Paint(color)
    w = wording(result.mode)
    lines = [f"{paint('gitops-check', 'bold')}: {clean(result.target)} against {clean(result.against)}", ""]
    for run_error in run_errors(result.errors):
        lines += _error_lines(run_error.error, paint, "", run_error.subject())
    for warning in result.warnings:
        lines += _block(f"{paint('warning:', 'yellow')} ", warning, "")
    if verbose:
        lines += [paint(f"note: {clean(note)}", "dim") for note in result.notes]
    if result.errors or result.warnings or (verbose and result.notes):
        lines.append("")
    quiet: list[AppResult] = []
    found = findings.by_app(result)
    with_findings = set(found)
    untouched = untouched_apps(result)
    for app in sort_apps(result.apps):
        if app_status(app) is AppStatus.UNTOUCHED and not app.warnings and app.app.name not in with_findings:
            continue  # listed together below, one line each
        if (
            app_status(app) is AppStatus.IN_SYNC
            and not verbose
            and not app.warnings
            and not app.hooks
            and not app.resolved
            and not app.by_hand
            and app.app.name not in with_findings
        ):
            quiet.append(app)
            continue
        lines += [*_app_lines(app, result.mode, paint, verbose, result, found.get(app.app.name, [])), ""]
    if quiet:
        label = w.app_status[AppStatus.IN_SYNC]
        if len(quiet) <= _IN_SYNC_NAMES:
            names = ", ".join(clean(a.app.name) for a in quiet)
            lines += [f"{paint(sentence(label), 'green')}: {names}", ""]
        else:
            lines += [
                f"{paint(sentence(label), 'green')}: {plural(len(quiet), 'app')} (--verbose lists them)",
                "",
            ]
    if untouched:
        lines.append(paint(f"{sentence(untouched_title(untouched))}:", "bold"))
        lines += [f"  {clean(a.app.name)}: {clean(a.untouched or '')}" for a in untouched]
        lines.append("")
    if result.baseline is not None:
        lines += _baseline_lines(result.baseline, paint, verbose)
    if result.syncs:
        lines += _sync_lines(result, paint)
    orphans = sorted(with_findings - {a.app.name for a in result.apps})
    for name in orphans:  # findings of apps without a result of their own (not expected from a check)
        lines += [paint(clean(name), "bold"), *_finding_lines(result, found[name], paint), ""]
    if result.findings:
        lines += [
            paint(sentence(findings.summary(result)), "red" if findings.failing(result) else "yellow"),
            "",
        ]
    if verbose and result.timings:
        ordered = sorted(result.timings.items(), key=lambda kv: (_STAGE_ORDER.get(kv[0], 50), kv[0]))
        timings = ", ".join(f"{k} {v:.2f}s" for k, v in ordered)
        lines.append(paint(f"timings: {timings}", "dim"))
    if verbose and result.stats:
        stats = ", ".join(f"{k} {v}" for k, v in sorted(result.stats.items()))
        lines.append(paint(f"stats: {stats}", "dim"))
    code = result.exit_code()
    code_color = {0: "green", 1: "yellow"}.get(code, "red")
    headline = change_headline(result)
    if headline:
        lines.append(paint(headline, "bold"))
    lines.append(paint(summary_line(result), "bold"))
    lines.append(paint(sentence(exit_line(result)), code_color))
    # Each entry is one line by construction; whatever a repository string still carries (a newline in an app
    # name, an escape sequence in a tool's message) is shown escaped, so it can neither start a line of its own
    # (a forged "Exit code 0" or workflow command) nor drive the terminal.
    return "\n".join(one_line(line, keep_colors=color) for line in lines) + "\n"


_SYNC_COLOR = {0: "green", 1: "yellow", 2: "red"}


def _sync_lines(result: CheckResult, paint: _Paint) -> list[str]:
    """The syncs asked after the check, worst first: ``shop: failed: <agent's message> (Application ...)``."""
    lines = [paint(f"Sync: {syncs.summary(result.syncs)}", "bold")]
    for sync in syncs.sorted_syncs(result.syncs):
        safe = replace(sync, app=clean(sync.app), target=clean(sync.target), message=clean(sync.message))
        lines.append("  " + syncs.line(safe, paint(sync.state.value, _SYNC_COLOR[sync.exit_code], "bold")))
    return [*lines, ""]


def _baseline_lines(baseline: CheckResult, paint: _Paint, verbose: bool) -> list[str]:
    """Preview: the cluster against the base commit, apart from the change (apps in sync only with verbose)."""
    lines = [paint(f"{BASELINE_TITLE}:", "bold"), clean(baseline_intro(baseline)), ""]
    for run_error in run_errors(baseline.errors):
        lines += _error_lines(run_error.error, paint, "", run_error.subject())
    if baseline.errors:
        lines.append("")
    for app in sort_apps(baseline.apps):
        if app_status(app) is AppStatus.IN_SYNC and not verbose and not app.warnings:
            continue
        lines += [*_app_lines(app, baseline.mode, paint, verbose), ""]
    return lines
