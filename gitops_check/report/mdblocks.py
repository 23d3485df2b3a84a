"""The building blocks of the Markdown report: escaping, and the pieces a document is made of.

Pieces are never cut: the header, table rows, and per app an opening, its errors and warnings, and one piece per
resource (its field summary, and separately its diff block). ``markdown`` decides which pieces go where.

Everything taken from the result (names, messages, values) is escaped for Markdown and HTML, and code blocks use
a fence longer than any backtick run inside them. Inline code spans are not HTML-escaped: GitHub shows their
content literally.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from gitops_check.diff import hooks
from gitops_check.model.result import AppError, AppResult, CheckResult, Finding, ResourceDiff, Status
from gitops_check.report import findings, syncs
from gitops_check.report.links import FileLinks, from_this_repository
from gitops_check.report.text import (
    BASELINE_TITLE,
    PREVIEW_UNCHANGED_ROWS,
    AppStatus,
    app_breakdown,
    app_label,
    app_status,
    baseline_intro,
    change_headline,
    clean,
    describe_change,
    error_count,
    exit_line,
    location,
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
    verdict,
    wording,
)

Unit = Literal["chars", "bytes"]

# Caps that keep one piece far below any sensible limit; the full report (no limit) has none.
_MAX_CHANGES = 25
_MAX_MESSAGE = 4000
_MAX_WARNINGS = 20


# ---------------------------------------------------------------------------------------------------------------
# Escaping


# ``@name`` / ``@org/team`` would notify that user or team from the comment (GitHub and GitLab alike), and
# ``#12`` / ``!12`` would link another issue or merge request; a word joiner after the sign keeps the text as
# it reads and makes it no reference. Code spans and blocks are never scanned for references.
_REFERENCE = re.compile(r"([@#!])(?=[\w-])")


def no_references(text: str) -> str:
    return _REFERENCE.sub("\\1\u2060", text)


def html_text(text: str) -> str:
    """For HTML contexts (``<summary>``), where Markdown is not processed."""
    return no_references(html.escape(clean(text).replace("\n", " "), quote=False))


FENCE_LINE = re.compile(r"^ {0,3}(`{3,})")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#!])")


def md_text(text: str) -> str:
    """Inline Markdown text: HTML-escaped, Markdown punctuation backslash-escaped, one line."""
    return _MD_SPECIAL.sub(r"\\\1", html_text(text))


def longest_run(text: str, char: str = "`") -> int:
    runs = re.findall(re.escape(char) + "+", text)
    return max((len(r) for r in runs), default=0)


def code_span(text: str) -> str:
    """An inline code span that survives backticks in ``text``."""
    text = clean(text).replace("\n", " ")
    ticks = "`" * (longest_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fenced(body: str, info: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run in ``body``."""
    fence = "`" * max(3, longest_run(body) + 1)
    if not body.endswith("\n"):
        body += "\n"
    return f"{fence}{info}\n{body}{fence}\n\n"


def cell(text: str) -> str:
    return md_text(text) or " "


def link(url: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in " ()<>[]\"'`" or ord(c) < 0x20 else c for c in clean(url))


def cap(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[:limit].rsplit("\n", 1)[0] + f"\n[... {len(text) - limit} more characters in the full report]"


# ---------------------------------------------------------------------------------------------------------------
# Pieces


@dataclass
class Options:
    limited: bool  # caps on lists and messages apply
    title: str
    details_url: str | None
    measure: Callable[[str], int]
    unit_name: str = "characters"
    links: FileLinks | None = None  # file locations become links to the file at the commit checked

    def place(self, file: str | None, line: int | None, linked: bool = True) -> str:
        """``file:line`` as a code span, a link to the file at the commit checked when there is one."""
        where = location(file, line)
        if not where:
            return ""
        url = self.links.url(file or "", line) if self.links is not None and linked else None
        return f"[{code_span(where)}]({link(url)})" if url else code_span(where)

    @property
    def see(self) -> str:
        return (
            f"see the [full report]({link(self.details_url)})"
            if self.details_url
            else "see the full report artifact"
        )


@dataclass
class Item:
    """One uncuttable piece inside an app section: an error, the warnings, or a resource."""

    head: str
    body: str = ""  # the diff block, droppable on its own
    head_without_body: str = ""  # head saying the diff was left out
    oversize: str = ""  # head saying the diff is too large for any part
    minimal: str = ""  # the same without the field list, should even that not fit
    is_resource: bool = False
    show_body: bool = True

    def text(self) -> str:
        if not self.body:
            return self.head
        return self.head + self.body if self.show_body else self.head_without_body


@dataclass
class Section:
    app: AppResult
    open: str
    open_continued: str
    items: list[Item]
    close: str = "</details>\n\n"
    brief: str = ""  # replaces the resource items when they are left out
    level: int = 0  # 0 full, 1 brief (no resources), 2 left out

    def text(self) -> str:
        if self.level == 2:
            return ""
        items = [i for i in self.items if self.level == 0 or not i.is_resource]
        body = "".join(i.text() for i in items) + (self.brief if self.level == 1 else "")
        return self.open + body + self.close


def error_item(error: AppError, opts: Options, subject: str = "") -> Item:
    where = location(error.file, error.line)
    about = f" of {md_text(subject)}" if subject else ""
    head = (
        f"**Error** ({md_text(error.stage)}){about}" + (f" in {code_span(where)}" if where else "") + ":\n\n"
    )
    message = cap(clean(error.message).strip(), _MAX_MESSAGE if opts.limited else None)
    return Item(head + fenced(message, "text"))


def warnings_item(warnings: list[str], opts: Options) -> Item:
    shown = warnings[:_MAX_WARNINGS] if opts.limited else warnings
    lines = [f"- {md_text(cap(w, 500 if opts.limited else None))}" for w in shown]
    if len(shown) < len(warnings):
        lines.append(f"- {len(warnings) - len(shown)} more in the full report")
    return Item("**Warnings**\n\n" + "\n".join(lines) + "\n\n")


def resource_item(diff: ResourceDiff, mode: str, opts: Options, linked: bool = False) -> Item:
    where = opts.place(diff.origin.file, diff.origin.line, linked) if diff.origin else ""
    title = f"**{md_text(str(diff.key))}**: {md_text(resource_verdict(diff, mode))}" + (
        f" ({where})" if where else ""
    )
    lines: list[str] = []
    if diff.message and diff.status is not Status.ERROR:
        lines.append(f"Note: {md_text(diff.message)}")
    lines += [f"Note: {md_text(n)}" for n in diff.notes]
    rest = "".join(f"{line}\n\n" for line in lines)
    if diff.status is Status.ERROR and diff.message and "\n" in clean(diff.message).strip():
        rest += fenced(cap(clean(diff.message).strip(), _MAX_MESSAGE if opts.limited else None), "text")
    changes = diff.changes if diff.status is not Status.ERROR else ()
    shown = changes[:_MAX_CHANGES] if opts.limited else changes
    bullets = [f"- {describe_change(c, mode, quote=code_span, arrow='→')}" for c in shown]
    if len(shown) < len(changes):
        bullets.append(f"- {len(changes) - len(shown)} more in the full report")
    if bullets:
        rest += "\n".join(bullets) + "\n\n"
    diff_text = unified_diff(diff, mode=mode)
    body = fenced(diff_text, "diff") if diff_text else ""
    too_large = (
        f"_Diff too large for one comment ({plural(diff_text.count(chr(10)), 'line')}); {opts.see}._\n\n"
    )
    return Item(
        head=f"{title}\n\n{rest}",
        body=body,
        head_without_body=f"{title} (diff left out)\n\n{rest}",
        oversize=f"{title}\n\n{rest}{too_large}",
        minimal=f"{title}\n\n{too_large}",
        is_resource=True,
    )


def app_section(app: AppResult, mode: str, opts: Options) -> Section:
    status = app_status(app)
    name = html_text(app.app.name)
    breakdown = app_breakdown(app, mode)
    summary = f"<b>{name}</b>: {html_text(app_label(app, mode))}" + (
        f", {html_text(breakdown)}" if breakdown else ""
    )
    opened = " open" if status is AppStatus.ERROR else ""
    head = f"<details{opened}><summary>{summary}</summary>\n\n"
    if app.cluster:
        head += f"Compared with cluster {code_span(app.cluster)}.\n\n"
    if app.app.origin:
        head += f"Declared in {code_span(app.app.origin)}.\n\n"
    items = [error_item(e, opts) for e in app.errors]
    if app.warnings:
        items.append(warnings_item(app.warnings, opts))
    if app.hooks:
        items.append(Item(md_text(cap(hooks.summary(app.hooks), 1000 if opts.limited else None)) + "\n\n"))
    if app.resolved:
        items.append(Item("**Fetched**\n\n" + "\n".join(f"- {md_text(r)}" for r in app.resolved) + "\n\n"))
    resources = [d for d in sort_diffs(app.diffs) if d.status is not Status.UNCHANGED]
    linked = from_this_repository(app)
    items += [resource_item(d, mode, opts, linked) for d in resources]
    brief = f"Details of {plural(len(resources), 'resource')} left out; {opts.see}.\n\n" if resources else ""
    return Section(
        app,
        open=head,
        open_continued=f"<details{opened}><summary><b>{name}</b> (continued)</summary>\n\n",
        items=items,
        brief=brief,
    )


def table_row(name: str, counts: tuple[int, int, int, int], status: str) -> str:
    added, changed, removed, errors = counts
    return f"| {name} | {added} | {changed} | {removed} | {errors} | {status} |\n"


def row_counts(app: AppResult) -> tuple[int, int, int, int]:
    changed = sum(1 for d in app.diffs if d.status is Status.CHANGED and d.is_drift)  # not the by-hand ones
    return (app.count(Status.ADDED), changed, app.count(Status.REMOVED), error_count(app))


def table_head(mode: str) -> str:
    col = wording(mode).column
    names = ["App", col[Status.ADDED], col[Status.CHANGED], col[Status.REMOVED], "Errors", "Status"]
    return "| " + " | ".join(names) + " |\n| --- | ---: | ---: | ---: | ---: | --- |\n"


def table_rows(apps: list[AppResult], mode: str) -> list[str]:
    """One row per app (sorted); in a preview, many unchanged apps share one last row."""
    rows = [table_row(cell(a.app.name), row_counts(a), app_label(a, mode)) for a in apps]
    if mode == "preview":
        quiet = (AppStatus.IN_SYNC, AppStatus.UNTOUCHED)
        first = next((i for i, a in enumerate(apps) if app_status(a) in quiet), len(apps))
        if len(apps) - first > PREVIEW_UNCHANGED_ROWS:
            return [*rows[:first], rest_rows(apps, mode)[first]]
    return rows


def rest_rows(apps: list[AppResult], mode: str) -> list[str]:
    """``out[k]``: one row standing for ``apps[k:]``, for when their own rows are left out ("" for none)."""
    w = wording(mode)
    out = [""]
    totals = (0, 0, 0, 0)
    status: AppStatus | None = None
    mixed = False
    for n, app in enumerate(reversed(apps), 1):
        totals = tuple(a + b for a, b in zip(totals, row_counts(app), strict=True))  # type: ignore[assignment]
        mixed = mixed or (status is not None and status is not app_status(app))
        status = app_status(app)
        label = "mixed" if mixed else w.app_status[status]
        out.append(table_row(f"_{plural(n, 'more app')}_", totals, label))
    return out[::-1]


def heading(result: CheckResult, opts: Options, part: str = "") -> str:
    return f"### {md_text(opts.title)}: {md_text(verdict(result))}{part}\n\n"


def intro(result: CheckResult, opts: Options) -> str:
    w = wording(result.mode)
    first = f"{sentence(w.checked)} {md_text(result.target)} against {md_text(result.against)}."
    second = f"{md_text(summary_line(result))}. {md_text(sentence(exit_line(result)))}."
    if result.mode == "sync":
        first = f"{md_text(sentence(result.target))} through {md_text(result.against)}."
        second = f"{md_text(syncs.summary(result.syncs))}. {md_text(sentence(exit_line(result)))}."
    if opts.details_url:
        second += f" [Full report]({link(opts.details_url)})."
    headline = change_headline(result)
    top = f"**{md_text(headline)}**\n\n" if headline else ""
    return f"{top}{first}\n{second}\n\n"


def run_pieces(result: CheckResult, opts: Options) -> list[str]:
    """What concerns the whole run, before the table: errors, warnings, syncs (hygiene comes after the table)."""
    pieces = [error_item(e.error, opts, e.subject()).head for e in run_errors(result.errors)]
    if result.warnings:
        pieces.append(warnings_item(result.warnings, opts).head)
    if result.syncs:
        pieces.append(sync_table(result, opts))
    untouched = untouched_apps(result)
    if untouched:
        pieces.append(untouched_list(untouched, opts))
    return pieces


def untouched_list(apps: list[AppResult], opts: Options) -> str:
    """Collapsed: the apps that could not be rendered but that the change does not touch, and why, one line each."""
    shown = apps[:_MAX_WARNINGS] if opts.limited else apps
    lines = [f"- {code_span(a.app.name)}: {md_text(cap(a.untouched or '', 300 if opts.limited else None))}"
             for a in shown]  # fmt: skip
    if len(shown) < len(apps):
        lines.append(f"- {len(apps) - len(shown)} more in the full report")
    summary = md_text(untouched_title(apps))
    return f"<details><summary>{summary}</summary>\n\n" + "\n".join(lines) + "\n\n</details>\n\n"


def hygiene_block(result: CheckResult, opts: Options) -> str:
    """The hygiene findings after the summary table, collapsed (open when --strict makes them fail), grouped by
    rule: hundreds of near-identical bullets must not push the table and the diffs down the page."""
    if not result.findings:
        return ""
    linked = {a.app.name for a in result.apps if from_this_repository(a)}
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings.sorted_findings(result.findings):
        by_rule.setdefault(finding.rule, []).append(finding)
    opened = " open" if findings.failing(result) else ""
    parts = [f"<details{opened}><summary><b>Hygiene</b>: {html_text(findings.summary(result))}</summary>\n\n"]
    for rule in sorted(by_rule):
        found = by_rule[rule]
        shown = found[:_MAX_WARNINGS] if opts.limited else found
        lines = []
        for finding in shown:
            where = opts.place(finding.file, finding.line, finding.app in linked)
            message = md_text(cap(finding.message, 500 if opts.limited else None))
            lines.append(f"- {code_span(finding.app)}: {message}" + (f" ({where})" if where else ""))
        if len(shown) < len(found):
            lines.append(f"- {len(found) - len(shown)} more in the full report")
        parts.append(f"**{md_text(rule)}** ({len(found)})\n\n" + "\n".join(lines) + "\n\n")
    return "".join(parts) + "</details>\n\n"


_SYNC_ICON = {0: "✅", 1: "❌", 2: "⚠️"}


def sync_table(result: CheckResult, opts: Options) -> str:
    """One row per sync asked after the check (``--sync-on-drift``) or by ``gitops-check sync``."""
    head = f"**Sync** ({md_text(syncs.summary(result.syncs))})\n\n| App | Object | Result | Message |\n|---|---|---|---|\n"
    rows = []
    for sync in syncs.sorted_syncs(result.syncs):
        message = cap(" ".join(sync.message.split()), _MAX_MESSAGE // 8 if opts.limited else None)
        result_text = f"{_SYNC_ICON[sync.exit_code]} {sync.state.value}" + (
            " (dry run)" if sync.dry_run else ""
        )
        rows.append(f"| {code_span(sync.app)} | {cell(sync.target)} | {result_text} | {cell(message)} |\n")
    return head + "".join(rows) + "\n"


def app_sections(result: CheckResult, opts: Options) -> list[Section]:
    return [
        app_section(a, result.mode, opts)
        for a in sort_apps(result.apps)
        if app_status(a) not in (AppStatus.IN_SYNC, AppStatus.UNTOUCHED) or a.warnings
    ]


def measure_for(unit: Unit) -> Callable[[str], int]:
    if unit == "bytes":
        return lambda s: len(s.encode("utf-8", "replace"))
    if unit == "chars":
        # GitHub counts UTF-16 code units like JavaScript does; characters outside the BMP count twice.
        return lambda s: len(s.encode("utf-16-le", "surrogatepass")) // 2
    raise ValueError(f"unit must be 'chars' or 'bytes', not {unit!r}")


def finish(pieces: Iterable[str]) -> str:
    return "".join(pieces).rstrip() + "\n"


def hard_cut(text: str, limit: int, m: Callable[[str], int]) -> str:
    """Last resort for absurdly small limits: whole lines only, and never an open code block."""
    if m(text) <= limit:
        return text
    marker = "\n[report cut to fit the size limit]\n"
    out: list[str] = []
    used = m(marker) + 1
    fence: str | None = None
    fence_at = 0
    for line in text.splitlines(keepends=True):
        if used + m(line) > limit:
            if fence is not None:
                del out[fence_at:]
            break
        match = FENCE_LINE.match(line)
        if fence is None and match:
            fence, fence_at = match.group(1), len(out)
        elif (
            fence is not None
            and line.strip()
            and set(line.strip()) == {"`"}
            and len(line.strip()) >= len(fence)
        ):
            fence = None
        out.append(line)
        used += m(line)
    return "".join(out).rstrip("\n") + marker + "\n"


def make_options(
    limited: bool, title: str | None, details_url: str | None, unit: Unit, links: FileLinks | None = None
) -> Options:
    return Options(
        limited=limited,
        title=title or "gitops-check",
        details_url=details_url,
        measure=measure_for(unit),
        unit_name="bytes" if unit == "bytes" else "characters",
        links=links,
    )


# ---------------------------------------------------------------------------------------------------------------
# Preview: what already differed in the cluster


def baseline_head(result: CheckResult, opts: Options) -> str:
    """The heading and intro of the section comparing the cluster with the base commit ("" without one)."""
    if result.baseline is None:
        return ""
    head = f"### {md_text(BASELINE_TITLE)}\n\n{md_text(baseline_intro(result.baseline))}\n\n"
    return head + "".join(run_pieces(result.baseline, opts))


def baseline_sections(result: CheckResult, opts: Options) -> list[Section]:
    """One collapsible section per app that already differs in the cluster (or could not be compared)."""
    return app_sections(result.baseline, opts) if result.baseline is not None else []
