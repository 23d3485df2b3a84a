"""The JUnit writer against junit_xml's own: the same document, byte for byte, for every kind of result and for
hostile strings, except tabs and line breaks inside attribute values, which it writes as character references
(junit_xml's minidom wrote them raw, and readers turned them into spaces)."""

from __future__ import annotations

import dataclasses
import sys
import xml.etree.ElementTree as ET
from typing import Any

import junit_xml
import pytest
from hypothesis import assume, given

from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import AppError, AppResult, CheckResult, ResourceDiff, Status
from gitops_check.model.sync import SyncOutcome, SyncState
from gitops_check.report import junit
from tests.report.results import build_result, huge_result, make_app
from tests.security.test_writers_fuzz import FUZZ, results

# minidom's pretty printer, which junit_xml's output went through, changed its escaping in Python 3.13.
pytestmark = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11), reason="junit_xml's output as of Python 3.11"
)


def _theirs(suites: list[Any]) -> str:
    return str(junit_xml.to_xml_report_string(suites, prettyprint=True, encoding="utf-8"))


def _ours(suites: list[Any]) -> str:
    # The one difference, undone: attribute values' tabs and line breaks as characters again.
    return junit._xml_document(suites).replace("&#10;", "\n").replace("&#13;", "\r").replace("&#9;", "\t")


def _suites(result: CheckResult) -> list[Any]:
    return junit._suites(result, junit.CASE_LIMIT, junit.TOTAL_LIMIT)


def _with_everything() -> CheckResult:
    result = build_result("preview")
    result.apps[0].warnings.append("a warning\twith a tab")
    result.apps.append(AppResult(make_app("slow"), render_seconds=1.2345678))
    result.errors.append(AppError("", "discovery failed\nsecond line & <more>", "x.yaml", 3, "discover"))
    result.warnings.append('a "quoted" warning')
    planned = SyncOutcome(
        "drifted", "Application argocd/drifted", "Argo CD API", SyncState.PLANNED, request="POST /"
    )
    failed = SyncOutcome(
        "failed", "Application argocd/failed", "Argo CD API", SyncState.FAILED, message="boom"
    )
    result.syncs += [planned, dataclasses.replace(failed, seconds=2.5)]
    result.baseline = build_result("diff")
    return result


EMPTY = CheckResult(apps=[], target="t", against="a")


@pytest.mark.parametrize(
    "result", [build_result(), build_result("preview"), huge_result(30, 6), _with_everything(), EMPTY]
)
def test_the_writer_writes_what_junit_xml_wrote(result: CheckResult) -> None:
    suites = _suites(result)
    assert _ours(suites) == _theirs(suites)


def test_a_case_without_text_and_an_empty_suite() -> None:
    case = junit_xml.TestCase("only \x01 forbidden", classname="c", elapsed_sec=0.5)
    case.add_failure_info(output="\x01\x02")  # nothing left once cleaned: no text, no element body
    case.add_skipped_info()
    suites = [junit_xml.TestSuite("empty", []), junit_xml.TestSuite("s", [case], properties={"k": "v&"})]
    assert _ours(suites) == _theirs(suites)
    assert _ours([]) == _theirs([])


@FUZZ
@given(results())
def test_the_writer_writes_what_junit_xml_wrote_for_hostile_strings(result: CheckResult) -> None:
    suites = _suites(result)
    try:
        theirs = _theirs(suites)
    except Exception:  # a lone surrogate made junit_xml's own reparse fail; the writer drops it
        assume(False)
    assert _ours(suites) == theirs


def test_line_breaks_in_attributes_are_read_back_intact() -> None:
    diff = ResourceDiff(ResourceKey("", "ConfigMap", "ns", "a\nb\tc"), "app", Status.ADDED)
    result = CheckResult(apps=[AppResult(make_app("app"), diffs=[diff])], target="t", against="a")
    root = ET.fromstring(junit.render_junit(result))
    assert [c.get("name") for c in root.iter("testcase")] == ["ConfigMap/ns/a\nb\tc"]
