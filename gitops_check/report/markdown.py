"""Markdown for PR/MR comments, GitHub job summaries and the full report artifact.

A comment has a hard size limit (GitHub: 65,536 characters), and a diff cut in the middle is worse than none.
The document is made of uncuttable pieces (``mdblocks``). To fit one limit, the least important piece is dropped
or shortened until the whole fits (``_reductions`` gives the order: a diff too large to ever fit, what already
differed in the cluster, then the apps from the least significant: each diff, the resource list, the section,
and last the table's rows); a note near the top says what was left out. To split instead, pieces are
packed into numbered parts at app boundaries, and at resource boundaries only when one app does not fit a part.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from gitops_check.model.result import CheckResult
from gitops_check.report.links import FileLinks
from gitops_check.report.mdblocks import (
    Item,
    Options,
    Section,
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
    rank: dict[str, int]  # app name -> place in order of significance, for the names the note shows
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
        names = sorted(
            {*self.diffs, *self.briefed, *self.omitted}, key=lambda n: self.rank.get(n, len(self.rank))
        )
        if names:
            shown = ", ".join(code_span(n) for n in names[:_MAX_NOTE_NAMES])
            more = f" and {len(names) - _MAX_NOTE_NAMES} more" if len(names) > _MAX_NOTE_NAMES else ""
            text += f" Apps concerned: {shown}{more}."
        return f"> **Note:** {text}\n\n"


class _Document:
    """The comment being fitted: its pieces, what was left out of them, and its size kept up to date."""

    def __init__(self, result: CheckResult, limit: int, opts: Options) -> None:
        m = self.m = opts.measure
        self.limit = limit
        self.top = heading(result, opts) + intro(result, opts)
        self.run = "".join(run_pieces(result, opts))
        self.hygiene = hygiene_block(result, opts)
        self.fixed = m(self.top) + m(self.run) + m(self.hygiene)
        self.apps = sort_apps(result.apps)
        self.rows = table_rows(self.apps, result.mode)
        self.head = table_head(result.mode) if self.rows else ""
        self.rests = rest_rows(self.apps, result.mode)
        self.kept = len(self.rows)  # rows shown; the apps past them share the last row
        self.rows_size = sum(m(r) for r in self.rows)
        self.sections = app_sections(result, opts)
        self.base_head = baseline_head(result, opts)
        self.base_sections = baseline_sections(result, opts)
        names = [s.app.app.name for s in self.sections] + [
            f"{s.app.app.name} (cluster)" for s in self.base_sections
        ]
        self.left = _LeftOut(limit, opts, {n: i for i, n in enumerate(names)})
        self.body_size = sum(m(s.text()) for s in (*self.sections, *self.base_sections)) + m(self.base_head)

    def table(self) -> str:
        if not self.rows:
            return ""
        rest = self.rests[self.kept] if self.kept < len(self.rows) else ""
        return self.head + "".join(self.rows[: self.kept]) + rest + "\n"

    def table_size(self) -> int:
        if not self.rows:
            return 0
        rest = self.rests[self.kept] if self.kept < len(self.rows) else ""
        return self.m(self.head) + self.rows_size + self.m(rest) + 1

    def fits(self) -> bool:
        without_note = self.fixed + self.table_size() + self.body_size
        # The note is built only when it may decide (it lists names, and the loop may take thousands of steps).
        return without_note <= self.limit and without_note + self.m(self.left.note()) <= self.limit

    def text(self) -> str:
        pieces = [self.top, self.left.note(), self.run, self.table(), self.hygiene]
        pieces += [s.text() for s in self.sections]
        pieces += [self.base_head, *(s.text() for s in self.base_sections)]
        return finish(pieces)

    # What can be dropped or shortened, one piece at a time.

    def drop_row(self) -> None:
        self.kept -= 1
        self.rows_size -= self.m(self.rows[self.kept])
        self.left.rows = len(self.apps) - self.kept

    def drop_diff(self, section: Section, item: Item) -> None:
        self.body_size -= self.m(item.text())
        item.show_body = False
        self.body_size += self.m(item.text())
        name = section.app.app.name
        self.left.diffs[name] = self.left.diffs.get(name, 0) + 1

    def shorten(self, section: Section, level: int, name: str) -> None:
        """Level 1: the section without its resources; 2: the section left out (its table row stays)."""
        self.body_size -= self.m(section.text())
        section.level = level
        self.body_size += self.m(section.text())
        self.left.diffs.pop(name, None)
        if name in self.left.briefed:
            self.left.briefed.remove(name)
        (self.left.briefed if level == 1 else self.left.omitted).append(name)

    def drop_base_head(self) -> None:
        self.body_size -= self.m(self.base_head)
        self.base_head = ""

    def diff_size(self, item: Item) -> int:
        return self.m(item.head + item.body) - self.m(item.head_without_body)


def _diffs(section: Section) -> list[Item]:
    return [i for i in section.items if i.is_resource and i.body]


def _reductions(doc: _Document) -> Iterator[Callable[[], None]]:
    """What to drop or shorten next, least important first; the generator looks at the document as it goes."""
    # A table too large to fit beside anything keeps half the room; the apps past it share its last row.
    if doc.table_size() > doc.limit - doc.fixed - doc.m(doc.left.note()):
        while doc.kept and doc.table_size() > (doc.limit - doc.fixed) // 2:
            yield doc.drop_row
    # A diff that could not fit even with every other detail left out goes before anything else does.
    room = doc.limit - doc.fixed - doc.table_size()
    for section in reversed(doc.sections):
        for item in reversed(_diffs(section)):
            if doc.diff_size(item) > room:
                yield functools.partial(doc.drop_diff, section, item)
    # What already differed in the cluster is the least important.
    for section in reversed(doc.base_sections):
        yield functools.partial(doc.shorten, section, 2, f"{section.app.app.name} (cluster)")
    if doc.base_head:
        yield doc.drop_base_head
    # Then the apps, least significant first: their diffs (the last first), their resources, their section.
    for section in reversed(doc.sections):
        name = section.app.app.name
        for item in reversed(_diffs(section)):
            if item.show_body:
                yield functools.partial(doc.drop_diff, section, item)
        if any(not i.is_resource for i in section.items):  # worth keeping for its errors and warnings
            yield functools.partial(doc.shorten, section, 1, name)
        yield functools.partial(doc.shorten, section, 2, name)
    while doc.kept:
        yield doc.drop_row


def _fit(result: CheckResult, limit: int, opts: Options) -> str:
    """Drop or shorten the least important piece until the document fits; cut it only if nothing is left to drop."""
    doc = _Document(result, limit, opts)
    reductions = _reductions(doc)
    while not doc.fits():
        step = next(reductions, None)
        if step is None:
            break
        step()
    text = doc.text()
    return text if doc.m(text) <= limit else hard_cut(text, limit, doc.m).rstrip("\n") + "\n"


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
