"""Markdown for PR/MR comments, GitHub job summaries and the full report artifact.

A comment has a hard size limit (GitHub: 65,536 characters), and a diff cut in the middle is worse than none.
The document is made of uncuttable pieces (``mdblocks``). To fit one limit, apps are taken in order of
significance, each whole when it fits, else with the diffs that still fit, else (for its errors) without its
resources, else left to its table row; a note near the top says what was left out. To split instead, pieces are
packed into numbered parts at app boundaries, and at resource boundaries only when one app does not fit a part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gitops_check.model import CheckResult
from gitops_check.report.links import FileLinks
from gitops_check.report.mdblocks import (
    Options,
    Unit,
    app_sections,
    baseline_head,
    baseline_sections,
    code_span,
    finish,
    hard_cut,
    heading,
    hygiene_block,
    intro,
    make_options,
    rest_rows,
    run_pieces,
    table_head,
    table_rows,
)
from gitops_check.report.text import plural, sentence, sort_apps

GITHUB_COMMENT_LIMIT = 65536
_MAX_NOTE_NAMES = 10
# Room kept in every part for the heading's "(part N of M)".
_PART_SUFFIX = " (part 9999 of 9999)"


# ---------------------------------------------------------------------------------------------------------------
# Fitting under one limit


@dataclass
class _LeftOut:
    """What ``render_markdown`` left out, for the note near the top."""

    limit: int
    opts: Options
    diffs: dict[str, int] = field(default_factory=dict)  # app -> resources whose diff was left out
    briefed: list[str] = field(default_factory=list)  # apps whose resource list was left out
    omitted: list[str] = field(default_factory=list)  # apps whose section was left out
    rows: int = 0  # apps without a table row of their own

    def note(self) -> str:
        what: list[str] = []
        if self.diffs:
            n = sum(self.diffs.values())
            what.append(f"diffs of {plural(n, 'resource')} in {plural(len(self.diffs), 'app')}")
        if self.briefed:
            what.append(f"the resource details of {plural(len(self.briefed), 'app')}")
        if self.omitted:
            what.append(f"the details of {plural(len(self.omitted), 'app')}")
        if self.rows:
            what.append(f"the table rows of {plural(self.rows, 'app')} (summed up in the last row)")
        if not what:
            return ""
        text = sentence(", ".join(what[:-1]) + " and " + what[-1] if len(what) > 1 else what[0])
        text += f" left out to stay under {self.limit:,} {self.opts.unit_name}; {self.opts.see}."
        names = list(dict.fromkeys([*self.diffs, *self.briefed, *self.omitted]))
        if names:
            shown = ", ".join(code_span(n) for n in names[:_MAX_NOTE_NAMES])
            more = f" and {len(names) - _MAX_NOTE_NAMES} more" if len(names) > _MAX_NOTE_NAMES else ""
            text += f" Apps concerned: {shown}{more}."
        return f"> **Note:** {text}\n\n"


def _note_room(result: CheckResult, limit: int, opts: Options) -> int:
    """An upper bound for the note's size: every category, the largest numbers, the longest names."""
    n = max(len(result.apps) + (len(result.baseline.apps) if result.baseline else 0), 1)
    worst = _LeftOut(limit, opts, rows=n)
    candidates = [a.app.name for a in result.apps]
    candidates += [f"{a.app.name} (cluster)" for a in result.baseline.apps] if result.baseline else []
    longest = sorted(candidates, key=opts.measure, reverse=True)[:_MAX_NOTE_NAMES]
    names = [*longest, *(f"{i}" for i in range(n))]  # at least as many apps, with at least as long names
    worst.diffs = dict.fromkeys(names, len(result.diffs) or 1)
    worst.briefed = worst.omitted = names
    return opts.measure(worst.note())


def _fit(result: CheckResult, limit: int, opts: Options) -> str:
    """Greedy by significance: the table first, then each app whole, else with the diffs that still fit."""
    m = opts.measure
    apps = sort_apps(result.apps)
    left = _LeftOut(limit, opts)
    top = heading(result, opts) + intro(result, opts)
    run = "".join(run_pieces(result, opts))
    hygiene = hygiene_block(result, opts)
    room = limit - m(top) - m(run) - m(hygiene) - _note_room(result, limit, opts)

    # The table gets at most half of what is left when it does not fit whole; the apps past that share a row.
    rows = table_rows(apps, result.mode)
    table = ""
    if rows:
        head = table_head(result.mode)
        table = head + "".join(rows) + "\n"
        if m(table) > room:
            rests = rest_rows(apps, result.mode)
            budget, kept, used = room // 2, 0, m(head) + 1
            for row in rows:
                if used + m(row) + m(rests[kept + 1]) > budget:
                    break
                used += m(row)
                kept += 1
            left.rows = len(apps) - kept
            table = head + "".join(rows[:kept]) + rests[kept] + "\n"
    room -= m(table)

    sections = app_sections(result, opts)
    for section in sections:
        name = section.app.app.name
        size = m(section.text())
        if size <= room:
            room -= size
            continue
        resources = [i for i in section.items if i.is_resource and i.body]
        for item in resources:
            item.show_body = False
        size = m(section.text())
        if size <= room:
            room -= size
            # Put back the diffs that still fit, in order of significance.
            for item in resources:
                extra = m(item.head + item.body) - m(item.head_without_body)
                if extra <= room:
                    item.show_body = True
                    room -= extra
            dropped = sum(1 for i in resources if not i.show_body)
            if dropped:
                left.diffs[name] = dropped
            continue
        # Without its resources a section is worth keeping only for its errors and warnings.
        section.level = 1
        size = m(section.text())
        if any(not i.is_resource for i in section.items) and size <= room:
            room -= size
            left.briefed.append(name)
            continue
        section.level = 2
        left.omitted.append(name)

    # What already differed in the cluster comes last: its heading, then whole app sections while they fit.
    base_head = baseline_head(result, opts)
    base_sections = baseline_sections(result, opts)
    if base_head and m(base_head) <= room:
        room -= m(base_head)
    else:
        base_head = ""
    for section in base_sections:
        if base_head and m(section.text()) <= room:
            room -= m(section.text())
        else:
            section.level = 2
            left.omitted.append(f"{section.app.app.name} (cluster)")

    # The note's room was reserved for the worst case; what it does not need goes to diffs that were left out.
    used = m(top) + m(run) + m(table) + m(hygiene) + sum(m(s.text()) for s in sections)
    used += m(base_head) + sum(m(s.text()) for s in base_sections)
    for section in sections:
        name = section.app.app.name
        for item in section.items if section.level == 0 else ():
            if not item.body or item.show_body:
                continue
            extra = m(item.head + item.body) - m(item.head_without_body)
            left.diffs[name] -= 1
            if not left.diffs[name]:
                del left.diffs[name]
            if used + extra + m(left.note()) <= limit:
                item.show_body = True
                used += extra
            else:
                left.diffs[name] = left.diffs.get(name, 0) + 1

    text = finish(
        [
            top,
            left.note(),
            run,
            table,
            hygiene,
            *(s.text() for s in sections),
            base_head,
            *(s.text() for s in base_sections),
        ]
    )
    return text if m(text) <= limit else hard_cut(text, limit, m).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Splitting into parts


class _Packer:
    def __init__(self, cap: int, measure: Callable[[str], int]) -> None:
        self.cap = cap
        self.m = measure
        self.parts: list[list[str]] = [[]]
        self.used = 0

    def _new(self) -> None:
        if self.parts[-1]:
            self.parts.append([])
            self.used = 0

    def _put(self, piece: str) -> None:
        self.parts[-1].append(piece)
        self.used += self.m(piece)

    def add(self, piece: str) -> None:
        if self.used + self.m(piece) > self.cap:
            self._new()
        self._put(piece)

    def section(
        self, open_: str, items: list[str], close: str, open_continued: str, oversize: list[tuple[str, ...]]
    ) -> None:
        """A section stays whole in one part when it can; otherwise it is split between items.

        ``oversize[i]`` holds smaller stand-ins for ``items[i]``, used when the item alone exceeds a part.
        """
        m = self.m
        whole = m(open_) + sum(m(i) for i in items) + m(close)
        if self.used + whole <= self.cap:
            for piece in (open_, *items, close):
                self._put(piece)
            return
        if whole <= self.cap:
            self._new()
            for piece in (open_, *items, close):
                self._put(piece)
            return
        room = self.cap - max(m(open_), m(open_continued)) - m(close)
        fitted = [self._fitting(room, item, *alts) for item, alts in zip(items, oversize, strict=True)]
        first = m(fitted[0]) if fitted else 0
        if self.used + m(open_) + first + m(close) > self.cap:
            self._new()
        self._put(open_)
        for item in fitted:
            if self.used + m(item) + m(close) > self.cap:
                self._put(close)
                self._new()
                self._put(open_continued)
            self._put(item)
        self._put(close)

    def _fitting(self, room: int, *choices: str) -> str:
        """The first choice that fits ``room``; the last cut at a line only for absurdly small limits."""
        for choice in choices:
            if self.m(choice) <= room:
                return choice
        return hard_cut(choices[-1], max(room, 0), self.m)


def _parts(result: CheckResult, limit: int, opts: Options) -> list[str]:
    m = opts.measure
    heading_room = m(heading(result, opts, _PART_SUFFIX))
    cap = limit - heading_room
    if cap <= 0:
        raise ValueError(f"limit {limit} leaves no room for a report")
    packer = _Packer(cap, m)
    packer.add(intro(result, opts))
    for piece in run_pieces(result, opts):
        packer.add(hard_cut(piece, cap, m) if m(piece) > cap else piece)
    rows = table_rows(sort_apps(result.apps), result.mode)
    if rows:
        head = table_head(result.mode)
        packer.section(head, rows, "\n", head, [() for _ in rows])
    hygiene = hygiene_block(result, opts)
    if hygiene:
        packer.add(hard_cut(hygiene, cap, m) if m(hygiene) > cap else hygiene)
    for section in app_sections(result, opts):
        items = [i.text() for i in section.items]
        oversize: list[tuple[str, ...]] = [
            (i.oversize, i.minimal) if i.oversize else () for i in section.items
        ]
        packer.section(section.open, items, section.close, section.open_continued, oversize)
    base_head = baseline_head(result, opts)
    if base_head:
        packer.add(hard_cut(base_head, cap, m) if m(base_head) > cap else base_head)
    for section in baseline_sections(result, opts):
        items = [i.text() for i in section.items]
        oversize = [(i.oversize, i.minimal) if i.oversize else () for i in section.items]
        packer.section(section.open, items, section.close, section.open_continued, oversize)
    count = len(packer.parts)
    out = []
    for n, pieces in enumerate(packer.parts, 1):
        suffix = f" (part {n} of {count})" if count > 1 else ""
        out.append(finish([heading(result, opts, suffix), *pieces]))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Public


def render_markdown(
    result: CheckResult,
    *,
    limit: int = GITHUB_COMMENT_LIMIT,
    title: str | None = None,
    details_url: str | None = None,
    unit: Unit = "chars",
    links: FileLinks | None = None,
) -> str:
    """One Markdown document of at most ``limit`` (characters, or UTF-8 bytes with ``unit="bytes"``).

    When the full report does not fit, whole diffs are left out (least significant apps first) and a note near
    the top says what is missing. ``title`` replaces the "gitops-check" label in the heading (the verdict stays);
    ``details_url`` links the full report.
    """
    return _fit(result, limit, make_options(True, title, details_url, unit, links))


def render_markdown_parts(
    result: CheckResult,
    *,
    limit: int = GITHUB_COMMENT_LIMIT,
    title: str | None = None,
    details_url: str | None = None,
    unit: Unit = "chars",
    links: FileLinks | None = None,
) -> list[str]:
    """The report split into numbered parts ("part 1 of 3"), each of at most ``limit``, for one comment each.

    Parts break between apps; an app too large for one part continues in the next at a resource boundary; a
    single diff too large for any part is replaced by a note. Nothing is cut inside a code block.
    """
    return _parts(result, limit, make_options(True, title, details_url, unit, links))


def render_markdown_full(
    result: CheckResult, *, title: str | None = None, links: FileLinks | None = None
) -> str:
    """The whole report with nothing left out or capped, for the report artifact."""
    opts = make_options(False, title, None, "chars", links)
    apps = sort_apps(result.apps)
    rows = table_rows(apps, result.mode)
    table = table_head(result.mode) + "".join(rows) + "\n" if rows else ""
    pieces = [
        heading(result, opts),
        intro(result, opts),
        *run_pieces(result, opts),
        table,
        hygiene_block(result, opts),
    ]
    pieces += [s.text() for s in app_sections(result, opts)]
    pieces += [baseline_head(result, opts), *(s.text() for s in baseline_sections(result, opts))]
    return finish(pieces)
