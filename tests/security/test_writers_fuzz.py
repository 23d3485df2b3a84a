"""Issue 10: property-based fuzzing of the Markdown, JUnit and terminal writers over hostile result strings.

Any app name, file, message, key, value or warning (control characters, newlines, Unicode separators, backtick
runs, HTML, ``<details>``, ``::commands::``) must give: no crash; no unescaped control character (terminal: none
but newline and tab; XML: none that XML 1.0 forbids, parsed back intact); Markdown whose code fences and
``<details>`` are balanced and in which nothing from the result opens or closes one.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops_check.model.app import App
from gitops_check.model.objects import Origin, ResourceKey
from gitops_check.model.result import (
    AppError,
    AppResult,
    Change,
    ChangeKind,
    CheckResult,
    Finding,
    ResourceDiff,
    Status,
)
from gitops_check.report.junit import render_junit
from gitops_check.report.markdown import render_markdown, render_markdown_full, render_markdown_parts
from gitops_check.report.terminal import render_terminal

NASTY = [
    "\n", "\r", "\r\n", "\x00", "\x1b[31m", "\x1b]0;title\x07", "\x85", "\u2028", "\u2029", "\t", "\x7f",
    "```", "````", "~~~", "<details>", "</details>", "<summary>", "</summary>", "<!--", "-->", "::error::x",
    "::add-mask::y", "::stop-commands::z", "Exit code 0", "@team", "|", "\\", "`", "*", "_", "[x](y)", "&amp;",
]  # fmt: skip
text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=12)), max_size=6).map("".join)
json_values: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def diffs(draw: Any, app: str) -> ResourceDiff:
    status = draw(st.sampled_from(list(Status)))
    key = ResourceKey(draw(text), draw(text) or "Kind", draw(st.none() | text), draw(text) or "name")
    kinds = list(ChangeKind)
    changes = tuple(
        Change(
            draw(st.sampled_from(kinds)),
            draw(text),
            draw(json_values),
            draw(json_values),
            draw(st.none() | text),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    desired = draw(st.none() | st.dictionaries(text, json_values, max_size=3))
    live = draw(st.none() | st.dictionaries(text, json_values, max_size=3))
    origin = draw(
        st.none() | st.builds(Origin, st.just(app), st.none() | text, st.none() | st.integers(1, 9))
    )
    return ResourceDiff(key, app, status, changes, desired, live, draw(st.none() | text), origin,
                        tuple(draw(st.lists(text, max_size=2))))  # fmt: skip


@st.composite
def results(draw: Any) -> CheckResult:
    apps = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(text) or "app"
        errors = [AppError(name, draw(text), draw(st.none() | text), draw(st.none() | st.integers(1, 99)),
                           draw(st.sampled_from(["render", "cluster", "discover"])))
                  for _ in range(draw(st.integers(0, 2)))]  # fmt: skip
        apps.append(
            AppResult(
                App(name=name, sources=(), origin=draw(text)),
                diffs=[draw(diffs(name)) for _ in range(draw(st.integers(0, 3)))],
                errors=errors,
                warnings=draw(st.lists(text, max_size=2)),
                change=draw(st.sampled_from([None, "added", "removed"])),
            )
        )
    found = [Finding("plain-secret", a.app.name, draw(text), draw(st.none() | text)) for a in apps[:1]]
    return CheckResult(
        apps=apps,
        target=draw(text),
        against=draw(text),
        errors=[AppError(draw(text), draw(text))] if draw(st.booleans()) else [],
        warnings=draw(st.lists(text, max_size=2)),
        notes=draw(st.lists(text, max_size=2)),
        mode=draw(st.sampled_from(["diff", "preview"])),
        findings=found,
    )


FUZZ = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def without_literals(line: str) -> str:
    """The line without code spans and backslash escapes, read left to right as CommonMark does: a backslash
    inside a code span is literal (`\\` is a span holding a backslash), one outside escapes the next character."""
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            i += 2
            continue
        if c == "`":
            run = len(line[i:]) - len(line[i:].lstrip("`"))
            close = re.compile(r"(?<!`)" + "`" * run + r"(?!`)").search(line, i + run)
            if close:
                i = close.end()
                continue
            i += run  # no closing run: the backticks are literal text
            continue
        out.append(c)
        i += 1
    return "".join(out)


def check_markdown(md: str) -> None:
    assert "\x00" not in md and not XML_FORBIDDEN.search(md.replace("\r", "")), "control character"
    open_fence: str | None = None
    depth = 0
    for line in md.split("\n"):
        m = FENCE.match(line)
        if open_fence is not None:
            if (
                m
                and m.group(1)[0] == open_fence[0]
                and len(m.group(1)) >= len(open_fence)
                and not m.group(2).strip()
            ):
                open_fence = None
            continue
        if m:
            open_fence = m.group(1)
            continue
        line = without_literals(line)
        depth += len(re.findall(r"<details\b", line)) - len(re.findall(r"</details>", line))
        assert depth >= 0, "</details> closes more than was opened"
        assert "<summary" not in line or "</summary>" in line, "a <summary> left open"
    assert open_fence is None, "a code fence is left open"
    assert depth == 0, "<details> left open"


@FUZZ
@given(results())
def test_terminal_report(result: CheckResult) -> None:
    for color in (False, True):
        out = render_terminal(result, color=color, verbose=True)
        plain = re.sub("\x1b\\[[0-9;]*m", "", out) if color else out
        assert not CONTROL.search(plain.replace("\t", "")), repr(CONTROL.search(plain))
        # Every line is one the reporter made: its own verdict stays the last line, whatever the strings hold.
        assert plain.rstrip("\n").split("\n")[-1].startswith("Exit code ")


@FUZZ
@given(results())
def test_markdown_reports(result: CheckResult) -> None:
    check_markdown(render_markdown_full(result))
    check_markdown(render_markdown(result, limit=4000))
    for part in render_markdown_parts(result, limit=3000):
        check_markdown(part)


@FUZZ
@given(results())
def test_junit_report(result: CheckResult) -> None:
    xml = render_junit(result)
    assert not XML_FORBIDDEN.search(xml)
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    for case in root.iter("testcase"):
        assert case.get("name") is not None and case.get("classname") is not None
