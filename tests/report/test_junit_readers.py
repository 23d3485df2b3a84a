"""Issue 14, proof: the JUnit reports validate against Jenkins' JUnit schema and read as GitLab reads them.

The schema (tests/fixtures/junit/jenkins-junit.xsd) is written from the rules of the JUnit schema the Jenkins
xUnit plugin publishes; validation is offline. GitLab's rules: a test is keyed by classname + name (duplicates are
dropped, so keys must be unique), the widget shows the text of ``<failure>`` (not its ``message``), and output only
inside a test case. Results come from the writers' fuzzing strategy, so hostile strings are part of it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema
from hypothesis import given

from gitops_check.model.result import CheckResult
from gitops_check.report.junit import render_junit
from tests.security.test_writers_fuzz import FUZZ, results

SCHEMA = xmlschema.XMLSchema(Path(__file__).resolve().parents[1] / "fixtures" / "junit" / "jenkins-junit.xsd")


@FUZZ
@given(results())
def test_junit_validates_against_the_jenkins_schema_and_reads_as_gitlab_reads_it(result: CheckResult) -> None:
    xml = render_junit(result)
    SCHEMA.validate(xml)
    root = ET.fromstring(xml)
    keys = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
    assert len(keys) == len(set(keys)), "GitLab drops test cases with the same classname and name"
    for case in root.iter("testcase"):
        for failure in [*case.findall("failure"), *case.findall("error")]:
            assert (failure.text or "").strip(), "GitLab shows the text of a failure, which must say why"


def test_cases_carry_their_apps_render_time() -> None:
    from gitops_check.model.app import App
    from gitops_check.model.objects import ResourceKey
    from gitops_check.model.result import AppResult, ResourceDiff, Status

    diffs = [ResourceDiff(ResourceKey("", "ConfigMap", "shop", n), "web", Status.ADDED) for n in ("a", "b")]
    result = CheckResult(apps=[AppResult(App(name="web", sources=()), diffs=diffs, render_seconds=2.0)],
                         target="t", against="a")  # fmt: skip
    root = ET.fromstring(render_junit(result))
    assert [c.get("time") for c in root.iter("testcase")] == ["1.000000", "1.000000"]
