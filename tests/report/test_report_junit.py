from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from junitparser import Error, Failure, JUnitXml

from gitops_check.model.app import App, Destination
from gitops_check.model.objects import Origin, ResourceKey
from gitops_check.model.result import AppError, AppResult, CheckResult, ResourceDiff, Status
from gitops_check.report.junit import render_junit
from gitops_check.report.text import unified_diff
from tests.report.results import REDACTED_NEW, configmap, huge_result, in_sync_app, make_app


def _cases(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(c.get("classname", ""), c.get("name", "")): c for c in root.iter("testcase")}


def test_structure_and_texts(result: CheckResult) -> None:
    text = render_junit(result)
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    suites = [s.get("name") for s in root.iter("testsuite")]
    assert suites == ["gitops-check", "ingress", "payments", "shop", "alpha", "beta"]
    assert root.get("failures") == "4" and root.get("errors") == "2"
    cases = _cases(root)

    web = cases[("shop", "Deployment/shop/web")]
    assert web.get("file") == "apps/shop/deployment.yaml" and web.get("line") == "1"
    failure = web.find("failure")
    assert failure is not None
    assert failure.get("message") == "changed: 2 fields (1 by hand)"
    assert failure.get("type") == "drift"
    # GitLab shows the text: summary, the manual field with its manager, then the unified diff.
    body = failure.text or ""
    assert body.startswith(
        "Deployment/shop/web: changed: 2 fields (1 by hand)\norigin: apps/shop/deployment.yaml:1\n"
    )
    assert "changed by hand with kubectl-edit; a sync would keep it" in body
    shop = next(a for a in result.apps if a.app.name == "shop")
    web_diff = next(d for d in shop.diffs if d.key.name == "web")
    assert body.endswith(unified_diff(web_diff))

    added = cases[("shop", "ConfigMap/shop/settings")].find("failure")
    assert added is not None and added.get("message") == "would be created"
    removed = cases[("shop", "Service/shop/old")].find("failure")
    assert removed is not None and removed.get("message") == "would be pruned"
    secret = cases[("shop", "Secret/shop/db")].find("failure")
    assert secret is not None and REDACTED_NEW in (secret.text or "")

    # Unchanged: a passing case.
    assert len(cases[("alpha", "ConfigMap/alpha/alpha-cm0")]) == 0

    # ERROR resource and app-level error: <error> cases.
    not_checked = cases[("ingress", "Ingress/edge/public")].find("error")
    assert not_checked is not None and not_checked.get("message", "").startswith("not checked: kind Ingress")
    render = cases[("payments", "render")]
    assert render.get("file") == "charts/payments/values.yaml" and render.get("line") == "12"
    error = render.find("error")
    assert error is not None
    assert error.get("message", "").startswith("helm template failed for app payments")
    assert (error.text or "").startswith("charts/payments/values.yaml:12: helm template failed")
    assert 'function "nope" not defined' in (error.text or "")

    # Run-level warnings.
    out = cases[("gitops-check", "warnings")].find("system-out")
    assert out is not None and "unknown scope" in (out.text or "")


def test_parses_with_a_junit_parser(result: CheckResult) -> None:
    xml = JUnitXml.fromstring(render_junit(result).encode("utf-8"))
    by_name = {}
    for suite in xml:
        for case in suite:
            by_name[(case.classname, case.name)] = case
    results = by_name[("shop", "Service/shop/old")].result
    assert len(results) == 1 and isinstance(results[0], Failure)
    assert results[0].message == "would be pruned" and results[0].type == "drift"
    assert "-kind: Service" in (results[0].text or "")
    errors = by_name[("payments", "render")].result
    assert len(errors) == 1 and isinstance(errors[0], Error)
    assert by_name[("beta", "ConfigMap/beta/beta-cm2")].is_passed


def test_preview_changes_pass_with_their_diff(preview_result: CheckResult) -> None:
    root = ET.fromstring(render_junit(preview_result))
    case = _cases(root)[("shop", "ConfigMap/shop/settings")]
    assert case.find("failure") is None  # the change a pull request intends is not a failed test
    assert "--- base: ConfigMap/shop/settings" in (case.findtext("system-out") or "")


def test_control_characters_give_valid_xml() -> None:
    key = ResourceKey("", "ConfigMap", "ns", "bad\x00\x1bname")
    desired = configmap("x", "ns", {"k": "v\x00\x07\x1b[31m"})
    diff = ResourceDiff(
        key, "weird\x0bapp", Status.ADDED, desired=desired, message="note\x08", notes=("\x01n",)
    )
    app = AppResult(
        make_app("weird\x0bapp\u2028"), diffs=[diff], errors=[AppError("w", "boom\x00\x1b[1m <&>")]
    )
    result = CheckResult(apps=[app], target="t\x00", against="a", warnings=["\x0c"])
    text = render_junit(result)
    root = ET.fromstring(text.encode("utf-8"))
    assert "\x00" not in text and "\x1b" not in text
    cases = _cases(root)
    error = cases[("weirdapp\u2028", "render")].find("error")
    assert error is not None and (error.text or "").startswith("boom[1m <&>")
    JUnitXml.fromstring(text.encode("utf-8"))


def _big_diff(name: str, lines: int) -> ResourceDiff:
    data = {f"key{i:05d}": f"value {i} " + "x" * 60 for i in range(lines)}
    key = ResourceKey("", "ConfigMap", "ns", name)
    return ResourceDiff(key, "big", Status.ADDED, desired=configmap(name, "ns", data))


def test_one_case_text_is_capped_with_a_note() -> None:
    diff = _big_diff("huge", 5000)
    result = CheckResult(apps=[AppResult(make_app("big"), diffs=[diff])], target="t", against="a")
    root = ET.fromstring(render_junit(result))
    failure = root.find(".//failure")
    assert failure is not None
    text = failure.text or ""
    assert len(text.encode()) <= 64 * 1024
    assert text.rstrip().endswith("more lines; see the Markdown/JSON report]")
    assert "[diff truncated: " in text
    # Cut at a line boundary: every kept diff line is whole.
    kept = text.splitlines()[:-1]
    full = set(unified_diff(diff).splitlines())
    assert all(line in full for line in kept[3:])


def test_whole_file_stays_within_budget() -> None:
    diffs = [_big_diff(f"cm{i}", 800) for i in range(40)]  # ~2.6 MB of diffs
    result = CheckResult(apps=[AppResult(make_app("big"), diffs=diffs)], target="t", against="a")
    text = render_junit(result, total_limit=500_000)
    assert len(text.encode()) < 600_000
    root = ET.fromstring(text)
    failures = root.findall(".//failure")
    assert len(failures) == 40  # every case is still there, with its verdict
    assert "reached its size budget" in (failures[-1].text or "")
    assert all(f.get("message") == "would be created" for f in failures)


def test_large_run_is_well_under_gitlab_limit() -> None:
    text = render_junit(huge_result(300, 20))
    assert len(text.encode()) < 30 * 1024 * 1024
    assert len(ET.fromstring(text).findall(".//testcase")) == sum(20 - a % 5 for a in range(300)) + 2


def test_duplicate_names_stay_distinct() -> None:
    """GitLab drops cases with equal classname+name: same Kind/ns/name in two groups, two render errors."""
    core = ResourceDiff(ResourceKey("", "Service", "ns", "web"), "a", Status.UNCHANGED)
    knative = ResourceDiff(ResourceKey("serving.knative.dev", "Service", "ns", "web"), "a", Status.UNCHANGED)
    errors = [AppError("a", "one", stage="render"), AppError("a", "two", stage="render")]
    result = CheckResult(
        apps=[AppResult(make_app("a"), diffs=[core, knative], errors=errors)], target="t", against="a"
    )
    names = [c.get("name") for c in ET.fromstring(render_junit(result)).iter("testcase")]
    assert names == ["render", "render (2)", "Service/ns/web", "Service.serving.knative.dev/ns/web"]


def test_run_errors_and_empty_apps() -> None:
    result = CheckResult(
        apps=[AppResult(make_app("empty")), in_sync_app("x")],
        target="t",
        against="a",
        errors=[
            AppError("", "cluster unreachable", stage="cluster"),
            AppError("app9", "bad", stage="discover"),
        ],
    )
    cases = _cases(ET.fromstring(render_junit(result)))
    assert ("gitops-check", "cluster") in cases and ("gitops-check", "discover: app9") in cases
    assert ("empty", "(no resources)") in cases


@pytest.mark.parametrize("origin", [None, Origin("a"), Origin("a", "f.yaml"), Origin("a", "f.yaml", 7)])
def test_file_and_line_attributes(origin: Origin | None) -> None:
    diff = ResourceDiff(ResourceKey("", "ConfigMap", "ns", "c"), "a", Status.UNCHANGED, origin=origin)
    case = ET.fromstring(
        render_junit(CheckResult(apps=[AppResult(make_app("a"), diffs=[diff])], target="t", against="a"))
    ).find(".//testcase")
    assert case is not None
    assert case.get("file") == (origin.file if origin else None)
    assert case.get("line") == (str(origin.line) if origin and origin.line else None)


def test_an_app_named_only_with_control_characters_keeps_a_classname() -> None:
    # Found by the writers' fuzzing: cleaning left "" and junit_xml then omits the attribute.
    app = App(name="\x9a", sources=(), destination=Destination(), kind="project")
    root = ET.fromstring(render_junit(CheckResult(apps=[AppResult(app)], target="t", against="a")))
    assert [c.get("classname") for c in root.iter("testcase")] == ["\\x9a"]
