"""JUnit XML, so CI systems show drift as failed tests: a suite per app, a case per resource.

GitLab's merge request widget shows a ``<failure>``'s text (not its ``message``), keys cases by classname+name,
and refuses files over 30 MB; GitHub readers use ``failure@message`` and ``testcase@file/@line``. So the message
is a short verdict, the text carries the field summary and the unified diff, each text is capped, and the whole
file stays under a byte budget. The only module that imports junit_xml.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import junit_xml

from gitops_check.model.result import AppError, AppResult, CheckResult, Finding, ResourceDiff, Status
from gitops_check.model.sync import SyncState
from gitops_check.report import findings, syncs
from gitops_check.report.text import (
    UNTOUCHED_LABEL,
    app_status,
    clean,
    describe_change,
    first_line,
    location,
    one_line,
    plural,
    resource_verdict,
    sort_apps,
    sort_diffs,
    unified_diff,
    wording,
)

CASE_LIMIT = 64 * 1024  # bytes of text in one case
TOTAL_LIMIT = 25 * 1024 * 1024  # bytes of text in the file; GitLab refuses files over 30 MB
RUN_SUITE = "gitops-check"
_MESSAGE_WIDTH = 300


def _size(text: str) -> int:
    """Bytes once written: UTF-8, with XML escapes for ``&``, ``<`` and ``>``."""
    escapes = 4 * text.count("&") + 3 * (text.count("<") + text.count(">"))
    return len(text.encode("utf-8", "replace")) + escapes


class _Budget:
    """Bytes of case text left for the whole file; once spent, cases keep their verdict but drop their diff."""

    def __init__(self, case_limit: int, total_limit: int) -> None:
        self.case_limit = case_limit
        self.left = total_limit

    def fit(self, head: str, body: str) -> str:
        """``head`` (verdict, fields) is kept; ``body`` (the diff) is cut at a line with an explicit note."""
        text = head + body
        size = _size(text)
        if size <= min(self.case_limit, self.left):
            self.left -= size
            return text
        if self.left < self.case_limit:
            note = "[diff left out: this JUnit file reached its size budget; see the Markdown/JSON report]\n"
            text = _cut(head, self.case_limit // 4) + note
            self.left = max(0, self.left - _size(text))
            return text
        note_room = 200
        kept: list[str] = []
        used = 0
        lines = text.splitlines(keepends=True)
        for line in lines:
            n = _size(line)
            if used + n > self.case_limit - note_room:
                break
            kept.append(line)
            used += n
        more = len(lines) - len(kept)
        text = (
            "".join(kept) + f"[diff truncated: {plural(more, 'more line')}; see the Markdown/JSON report]\n"
        )
        self.left -= _size(text)
        return text


def _cut(text: str, limit: int) -> str:
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore").rsplit("\n", 1)[0] + "\n"


def _unique(names: Iterable[str]) -> list[str]:
    """GitLab drops cases with the same classname+name, so repeated names get `` (2)``, `` (3)``..."""
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _case_names(diffs: list[ResourceDiff]) -> list[str]:
    # Kind/namespace/name can be shared by two API groups (Service vs Knative Service): qualify those.
    plain = Counter(str(d.key) for d in diffs)
    return _unique(clean(str(d.key) if plain[str(d.key)] == 1 else d.key.qualified) for d in diffs)


# The note preview puts on a change to an object that already differs in the cluster (preview.compare.DRIFT_NOTE;
# report cannot import preview, its sibling layer).
PREVIEW_CONFLICT = "already different in the cluster"


def _resource_case(
    diff: ResourceDiff, name: str, classname: str, mode: str, budget: _Budget
) -> junit_xml.TestCase:
    origin = diff.origin
    case = junit_xml.TestCase(
        name,
        classname=classname,
        file=clean(origin.file) if origin and origin.file else None,
        line=origin.line if origin and origin.file and origin.line else None,
    )
    if diff.status is Status.UNCHANGED and not diff.notes and not diff.message:
        return case  # nothing to say (most of a fleet's resources): no head to build
    verdict = resource_verdict(diff, mode)
    head = [f"{clean(str(diff.key))}: {verdict}"]
    where = location(origin.file, origin.line) if origin else ""
    if where:
        head.append(f"origin: {clean(where)}")
    if diff.message and diff.status is not Status.ERROR:
        head.append(f"note: {clean(diff.message)}")
    head += [f"note: {clean(n)}" for n in diff.notes]
    if diff.status is Status.UNCHANGED:
        if diff.notes or diff.message:
            case.stdout = "\n".join(head) + "\n"
        return case
    if diff.status is Status.ERROR:
        message = clean(diff.message or "").strip() or "not checked"
        text = budget.fit("\n".join([*head[1:], message]) + "\n", "")
        case.add_error_info(
            message=first_line(verdict, _MESSAGE_WIDTH), output=text, error_type="not-checked"
        )
        return case
    head += [describe_change(c, mode) for c in diff.changes]
    body = unified_diff(diff, mode=mode)
    text = budget.fit("\n".join(head) + "\n" + ("\n" if body else ""), body)
    if mode == "preview" and not any(n.startswith(PREVIEW_CONFLICT) for n in diff.notes):
        # A preview's change is what the pull request intends, not a failed test: it passes and carries its
        # diff as output. Only objects the change touches that already differ in the cluster fail.
        case.stdout = text
        return case
    case.add_failure_info(
        message=first_line(verdict, _MESSAGE_WIDTH), output=text, failure_type=wording(mode).failure_type
    )
    return case


def _error_cases(
    errors: list[AppError], classname: str, budget: _Budget, *, with_app: bool
) -> list[junit_xml.TestCase]:
    names = _unique(clean(f"{e.stage}: {e.app}" if with_app and e.app else e.stage) for e in errors)
    cases = []
    for error, name in zip(errors, names, strict=True):
        case = junit_xml.TestCase(
            name,
            classname=classname,
            file=clean(error.file) if error.file else None,
            line=error.line if error.file and error.line else None,
        )
        where = location(error.file, error.line)
        message = clean(error.message).strip() or f"{error.stage} failed (no message)"
        text = budget.fit((f"{clean(where)}: " if where else "") + message + "\n", "")
        case.add_error_info(
            message=first_line(message, _MESSAGE_WIDTH), output=text, error_type=f"{error.stage}-error"
        )
        cases.append(case)
    return cases


def _finding_cases(
    result: CheckResult, found: list[Finding], budget: _Budget, classname: str | None = None
) -> list[junit_xml.TestCase]:
    """A case per hygiene finding, classname = its app: a failure under --strict, else skipped (shown, not failing)."""
    names = _unique(clean(f"hygiene {f.rule}" + (f" {findings.where(f)}" if f.file else "")) for f in found)
    cases = []
    for finding, name in zip(found, names, strict=True):
        case = junit_xml.TestCase(
            name,
            classname=classname or _classname(finding.app),
            file=clean(finding.file) if finding.file else None,
            line=finding.line if finding.file and finding.line else None,
        )
        message = clean(finding.message).strip() or f"hygiene {clean(finding.rule)}"
        where = findings.where(finding)
        text = budget.fit((f"{clean(where)}: " if where else "") + message + "\n", "")
        if result.strict:
            case.add_failure_info(message=first_line(message, _MESSAGE_WIDTH), output=text,
                                  failure_type=f"hygiene-{finding.rule}")  # fmt: skip
        else:
            case.add_skipped_info(
                message=first_line(f"hygiene warning (fails only with --strict): {message}", _MESSAGE_WIDTH),
                output=text,
            )
        cases.append(case)
    return cases


def _classname(name: str) -> str:
    """The app's name as a case's classname; escaped when cleaning leaves nothing (junit_xml omits an empty one)."""
    return clean(name) or one_line(name) or "(no name)"


def _app_suite(
    app: AppResult,
    mode: str,
    budget: _Budget,
    result: CheckResult | None = None,
    found: list[Finding] | None = None,
) -> junit_xml.TestSuite:
    """``result`` and ``found`` (the app's findings): for a check's app, not for the baseline's."""
    classname = _classname(app.app.name)
    cases = _error_cases(app.errors, classname, budget, with_app=False)
    if result is not None and found:
        cases += _finding_cases(result, found, budget, classname)
    diffs = sort_diffs(app.diffs)
    for diff, name in zip(diffs, _case_names(diffs), strict=True):
        cases.append(_resource_case(diff, name, classname, mode, budget))
    if app.untouched and not app.failed:
        # Shown, not failing: the change cannot alter what this app renders, whatever it is.
        case = junit_xml.TestCase(UNTOUCHED_LABEL, classname=classname)
        case.add_skipped_info(message=first_line(clean(app.untouched), _MESSAGE_WIDTH),
                              output=budget.fit(clean(app.untouched) + "\n", ""))  # fmt: skip
        cases.append(case)
    if not cases:
        cases.append(junit_xml.TestCase("(no resources)", classname=classname))
    # Readers show a duration per case (GitLab's widget, Jenkins): the app's render time, shared by its cases.
    share = round(app.render_seconds / len(cases), 3)
    for case in cases:
        if case.elapsed_sec is None:
            case.elapsed_sec = share
    properties = {"kind": app.app.kind, "status": app_status(app).value}
    if app.cluster:
        properties["cluster"] = clean(app.cluster)
    if app.app.origin:
        properties["origin"] = clean(app.app.origin)
    if app.warnings:
        # In a test case of its own: GitLab shows output only inside test cases, and Jenkins' schema puts a
        # suite's own output after its cases (junit_xml writes it before them).
        warnings = junit_xml.TestCase("warnings", classname=classname, elapsed_sec=0.0)
        warnings.stdout = "\n".join(f"warning: {clean(w)}" for w in app.warnings)
        cases.append(warnings)
    return junit_xml.TestSuite(classname, cases, properties=properties)


def render_junit(result: CheckResult, *, case_limit: int = CASE_LIMIT, total_limit: int = TOTAL_LIMIT) -> str:
    """JUnit XML: per app a suite of resource cases (failure = drift, error = not checked) plus its error cases
    and hygiene findings (failures under --strict, skipped otherwise).

    Run-level errors and warnings go to a suite named ``gitops-check``.
    """
    return _xml_document(_suites(result, case_limit, total_limit))


def _suites(result: CheckResult, case_limit: int, total_limit: int) -> list[junit_xml.TestSuite]:
    budget = _Budget(case_limit, total_limit)
    found = findings.by_app(result)
    suites = [
        _app_suite(app, result.mode, budget, result, found.get(app.app.name))
        for app in sort_apps(result.apps)
    ]
    known = {a.app.name for a in result.apps}
    orphans = findings.sorted_findings([f for f in result.findings if f.app not in known])
    if result.errors or result.warnings or orphans:
        cases = _error_cases(result.errors, RUN_SUITE, budget, with_app=True)
        cases += _finding_cases(result, orphans, budget)
        if result.warnings:
            warnings = junit_xml.TestCase("warnings", classname=RUN_SUITE)
            warnings.stdout = "\n".join(f"warning: {clean(w)}" for w in result.warnings)
            cases.append(warnings)
        suites.insert(0, junit_xml.TestSuite(RUN_SUITE, cases))
    if result.baseline is not None:
        suites += _baseline_suites(result.baseline, budget)
    if result.syncs:
        suites.append(_sync_suite(result, budget))
    _readable_everywhere(suites)
    return suites


def _readable_everywhere(suites: list[junit_xml.TestSuite]) -> None:
    """Every case carries a time (readers show one), and classname + name is unique across the report: GitLab
    keys tests by that pair and drops duplicates (two apps of the same name, say)."""
    seen: set[tuple[str, str]] = set()
    for suite in suites:
        for case in suite.test_cases:
            if case.elapsed_sec is None:
                case.elapsed_sec = 0.0
            name, n = case.name, 2
            while (case.classname, name) in seen:
                name, n = f"{case.name} ({n})", n + 1
            case.name = name
            seen.add((case.classname, name))


SYNC_SUITE = "gitops-check sync"


def _sync_suite(result: CheckResult, budget: _Budget) -> junit_xml.TestSuite:
    """A case per app asked to sync: failure when the agent says it failed, error when not asked or not
    confirmed, skipped when only printed; the text holds the agent's message and exactly what was sent."""
    ordered = syncs.sorted_syncs(result.syncs)
    cases = []
    for sync, name in zip(ordered, _unique(clean(s.app) for s in ordered), strict=True):
        case = junit_xml.TestCase(name, classname=SYNC_SUITE, elapsed_sec=sync.seconds or None)
        summary = clean(syncs.line(sync))
        text = budget.fit(summary + "\n" + (f"request:\n{clean(sync.request)}\n" if sync.request else ""), "")
        if sync.state is SyncState.PLANNED:
            case.add_skipped_info(message="printed only (--plan): nothing was sent", output=text)
        elif sync.exit_code == 1:
            case.add_failure_info(message=first_line(summary, _MESSAGE_WIDTH), output=text,
                                  failure_type=f"sync-{sync.state.value}")  # fmt: skip
        elif sync.exit_code == 2:
            case.add_error_info(message=first_line(summary, _MESSAGE_WIDTH), output=text,
                                error_type=f"sync-{sync.state.value}")  # fmt: skip
        else:
            case.stdout = text
        cases.append(case)
    return junit_xml.TestSuite(SYNC_SUITE, cases, properties={"via": clean(result.syncs[0].via)})


BASELINE_SUFFIX = " (already in the cluster)"


def _baseline_suites(baseline: CheckResult, budget: _Budget) -> list[junit_xml.TestSuite]:
    """Preview: what already differed in the cluster, as *skipped* cases, so it shows without failing the change.

    Cases that could not be checked stay errors: an incomplete comparison must not look green.
    """
    suites = []
    for app in sort_apps(baseline.apps):
        if not app.drifted and not app.failed:
            continue
        suite = _app_suite(app, baseline.mode, budget)
        suite.name = clean(app.app.name) + BASELINE_SUFFIX
        for case in suite.test_cases:
            case.classname = suite.name
            for failure in case.failures:
                case.add_skipped_info(message=f"already different before this change: {failure['message']}",
                                      output=failure["output"])  # fmt: skip
            case.failures = []
        suites.append(suite)
    if baseline.errors:
        name = RUN_SUITE + BASELINE_SUFFIX
        suites.append(junit_xml.TestSuite(name, _error_cases(baseline.errors, name, budget, with_app=True)))
    return suites


# ---------------------------------------------------------------------------------------------------------------
# Writing: junit_xml's own writer builds an ElementTree, serializes it, parses that again with minidom and
# pretty-prints the result, which took half of a fleet's merge. This writes the same document in one pass: the
# same elements, attributes in the same order, tab-indented, a text-only element on one line, and characters XML
# 1.0 forbids dropped. One deliberate difference: tabs and line breaks inside attribute values are written as
# character references, which readers parse back as themselves (minidom wrote them raw, read back as spaces).

# What junit_xml drops from its output: characters XML 1.0 forbids, and those it discourages.
_ILLEGAL_CHARACTERS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufdd0-\ufddf\ufffe\uffff"
    + "".join(f"{chr(plane + 0xFFFE)}-{chr(plane + 0xFFFF)}" for plane in range(0x10000, 0x110000, 0x10000))
)
_XML_ILLEGAL = re.compile(f"[{_ILLEGAL_CHARACTERS}]")


def _plain(text: str) -> bool:
    """Printable ASCII without markup: nothing to drop or escape (most values; a search with the class above
    took longer than the rest of the writer)."""
    return (
        text.isascii()
        and text.isprintable()
        and not ("&" in text or "<" in text or ">" in text or '"' in text)
    )


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace(">", "&gt;")


def _text(value: object) -> str:
    text = str(value)
    if _plain(text.replace("\n", "").replace("\t", "")):
        return text
    # A carriage return is dropped from text, as junit_xml did (clean() has already made line ends "\n").
    return _escaped(_XML_ILLEGAL.sub("", text.replace("\r", "")))


def _attribute(value: object) -> str:
    text = str(value)
    if _plain(text):
        return text
    text = _escaped(_XML_ILLEGAL.sub("", text))
    return text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")


def _attributes(pairs: Iterable[tuple[str, object]]) -> str:
    return "".join(f' {name}="{_attribute(value)}"' for name, value in pairs)


def _element(out: list[str], indent: str, tag: str, attributes: str, text: object = None) -> None:
    """An element without children: on one line, with its text if it has any left."""
    body = _text(text) if text else ""
    out.append(f"{indent}<{tag}{attributes}>{body}</{tag}>\n" if body else f"{indent}<{tag}{attributes}/>\n")


def _suite_attributes(suite: junit_xml.TestSuite) -> dict[str, str]:
    cases = suite.test_cases
    return {
        "disabled": str(sum(1 for c in cases if not c.is_enabled)),
        "errors": str(sum(1 for c in cases if c.is_error())),
        "failures": str(sum(1 for c in cases if c.is_failure())),
        "name": suite.name,
        "skipped": str(sum(1 for c in cases if c.is_skipped())),
        "tests": str(len(cases)),
        "time": str(sum(c.elapsed_sec for c in cases if c.elapsed_sec)),
    }


def _write_case(out: list[str], case: junit_xml.TestCase) -> None:
    attributes = [("name", case.name)]
    if case.elapsed_sec:
        attributes.append(("time", f"{case.elapsed_sec:f}"))
    if case.classname:
        attributes.append(("classname", case.classname))
    if case.file:
        attributes.append(("file", case.file))
    if case.line:
        attributes.append(("line", case.line))
    children: list[str] = []
    for tag, outcomes in (("failure", case.failures), ("error", case.errors)):
        for outcome in outcomes:
            if outcome["message"] or outcome["output"]:
                pairs = [("type", outcome["type"] or tag)]
                if outcome["message"]:
                    pairs.append(("message", outcome["message"]))
                _element(children, "\t\t\t", tag, _attributes(pairs), outcome["output"])
    for skipped in case.skipped:
        pairs = [("type", "skipped")] + ([("message", skipped["message"])] if skipped["message"] else [])
        _element(children, "\t\t\t", "skipped", _attributes(pairs), skipped["output"])
    if case.stdout:
        _element(children, "\t\t\t", "system-out", "", case.stdout)
    if case.stderr:
        _element(children, "\t\t\t", "system-err", "", case.stderr)
    if children:
        out.append(f"\t\t<testcase{_attributes(attributes)}>\n")
        out += children
        out.append("\t\t</testcase>\n")
    else:
        out.append(f"\t\t<testcase{_attributes(attributes)}/>\n")


def _xml_document(suites: list[junit_xml.TestSuite]) -> str:
    """The JUnit XML document of these suites (see above)."""
    totals: dict[str, float] = {}
    body: list[str] = []
    for suite in suites:
        attributes = _suite_attributes(suite)
        for key in ("disabled", "errors", "failures", "tests"):
            totals[key] = totals.get(key, 0) + int(attributes[key])
        totals["time"] = totals.get("time", 0) + float(attributes["time"])
        head = f"\t<testsuite{_attributes(attributes.items())}"
        children: list[str] = []
        if suite.properties:
            children.append("\t\t<properties>\n")
            for name, value in suite.properties.items():
                _element(children, "\t\t\t", "property", _attributes([("name", name), ("value", value)]))
            children.append("\t\t</properties>\n")
        if suite.stdout:
            _element(children, "\t\t", "system-out", "", suite.stdout)
        if suite.stderr:
            _element(children, "\t\t", "system-err", "", suite.stderr)
        for case in suite.test_cases:
            _write_case(children, case)
        if children:
            body += [head, ">\n", *children, "\t</testsuite>\n"]
        else:
            body.append(head + "/>\n")
    root = f"<testsuites{_attributes((k, str(v)) for k, v in totals.items())}"
    lines = ['<?xml version="1.0" encoding="utf-8"?>\n', root + (">\n" if body else "/>\n"), *body]
    if body:
        lines.append("</testsuites>\n")
    return "".join(lines)
