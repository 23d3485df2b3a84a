"""Hygiene findings in every report: JSON (optional ``findings``), JUnit (failure under --strict, else skipped, classname
= app), Markdown (a Hygiene list), terminal (under each app, and in the exit line when they decide the code).

The findings come from the real rules (hygiene.check_app) over a Secret whose value is known, so the tests can
prove that no report prints it.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from gitops_check.hygiene import check_app, parse_hygiene
from gitops_check.model.app import App, SyncPolicy
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject
from gitops_check.model.result import AppError, CheckResult
from gitops_check.model.source import Source
from gitops_check.report.formats import FORMATS
from gitops_check.report.jsonout import render_json, schema
from gitops_check.report.junit import render_junit
from gitops_check.report.markdown import render_markdown, render_markdown_full
from gitops_check.report.terminal import render_terminal
from tests.report.results import drifted_app, in_sync_app

SECRET = "hunter2-not-a-real-password"


def result_with_findings(*, strict: bool) -> CheckResult:
    shop = drifted_app()
    calm = in_sync_app("calm")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "stringData": {"password": SECRET},
        "data": {"token": base64.b64encode(SECRET.encode()).decode()},
    }
    found = check_app(
        shop.app, [RawObject(secret, Origin("shop", "apps/shop/secret.yaml", 7))], parse_hygiene(None)
    )
    prod = App(
        "calm", (Source("apps/calm"),), labels={"env": "production"}, origin="apps/calm.yaml:3",
        sync_policy=SyncPolicy(automated=True, prune=True),
    )  # fmt: skip
    found += check_app(prod, [], parse_hygiene(None))
    result = CheckResult(apps=[shop, calm], target="commit 1a2b3c4 of ./k8s", against="live cluster prod")
    result.findings, result.strict = found, strict
    return result


def test_findings_come_from_the_rules() -> None:
    result = result_with_findings(strict=False)
    assert [(f.app, f.rule, f.file, f.line) for f in result.findings] == [
        ("shop", "plain-secret", "apps/shop/secret.yaml", 7),
        ("calm", "prune-in-production", "apps/calm.yaml", 3),
    ]


@pytest.mark.parametrize("strict", [False, True])
def test_no_report_prints_the_secret(strict: bool) -> None:
    result = result_with_findings(strict=strict)
    texts = [render(result) for render in FORMATS.values()]
    texts += [render_markdown(result, limit=2000), render_terminal(result, color=True, verbose=True)]
    for text in texts:
        assert "plain-secret" in text
        assert SECRET not in text and base64.b64encode(SECRET.encode()).decode() not in text


@pytest.mark.parametrize(("strict", "severity"), [(False, "warning"), (True, "failure")])
def test_json_lists_them_and_validates(strict: bool, severity: str) -> None:
    doc = json.loads(render_json(result_with_findings(strict=strict)))
    jsonschema.Draft202012Validator(schema()).validate(doc)
    assert [(f["app"], f["rule"], f["severity"], f["file"], f["line"]) for f in doc["findings"]] == [
        ("calm", "prune-in-production", severity, "apps/calm.yaml", 3),
        ("shop", "plain-secret", severity, "apps/shop/secret.yaml", 7),
    ]
    assert doc["findings"][1]["message"].startswith("Secret shop/db (apps/shop/secret.yaml) has 2 values")
    assert not [w for a in doc["apps"] for w in a["warnings"] if "hygiene" in w]
    plain = json.loads(render_json(CheckResult(apps=[in_sync_app("a")], target="t", against="a")))
    assert "findings" not in plain  # optional: only when there are any


def test_junit_skipped_without_strict_failing_with_it() -> None:
    def cases(strict: bool) -> dict[tuple[str, str], ET.Element]:
        root = ET.fromstring(render_junit(result_with_findings(strict=strict)).encode())
        return {(c.get("classname", ""), c.get("name", "")): c for c in root.iter("testcase")}

    loose = cases(False)
    secret = loose[("shop", "hygiene plain-secret apps/shop/secret.yaml:7")]
    assert (secret.get("file"), secret.get("line")) == ("apps/shop/secret.yaml", "7")
    skipped = secret.find("skipped")
    assert skipped is not None and secret.find("failure") is None
    assert (skipped.get("message") or "").startswith(
        "hygiene warning (fails only with --strict): Secret shop/db"
    )
    assert loose[("calm", "hygiene prune-in-production apps/calm.yaml:3")].find("skipped") is not None

    strict = cases(True)
    failure = strict[("shop", "hygiene plain-secret apps/shop/secret.yaml:7")].find("failure")
    assert failure is not None and failure.get("type") == "hygiene-plain-secret"
    assert (failure.text or "").startswith("apps/shop/secret.yaml:7: Secret shop/db (apps/shop/secret.yaml)")
    calm = strict[("calm", "hygiene prune-in-production apps/calm.yaml:3")]
    assert calm.find("failure") is not None  # an app in sync still fails on its finding
    assert ("calm", "(no resources)") not in strict


def test_junit_finding_of_an_app_without_a_result_goes_to_the_run_suite() -> None:
    result = result_with_findings(strict=True)
    result.apps = [a for a in result.apps if a.app.name != "calm"]
    root = ET.fromstring(render_junit(result).encode())
    run = next(s for s in root.iter("testsuite") if s.get("name") == "gitops-check")
    assert [(c.get("classname"), c.get("name")) for c in run.iter("testcase")] == [
        ("calm", "hygiene prune-in-production apps/calm.yaml:3")
    ]


def test_markdown_hygiene_list() -> None:
    """After the summary table, collapsed (open under --strict, where they fail the run), grouped by rule."""
    text = render_markdown_full(result_with_findings(strict=False))
    assert (
        "<details><summary><b>Hygiene</b>: 2 hygiene findings in 2 apps (warnings; --strict makes them fail)"
        "</summary>\n\n**plain-secret** (1)\n\n- `shop`: Secret shop/db" in text
    )
    assert "**prune-in-production** (1)\n\n- `calm`: app calm is marked production" in text
    assert "(`apps/shop/secret.yaml:7`)" in text  # no link outside CI
    assert text.index("| App |") < text.index("<b>Hygiene</b>") < text.index("<summary><b>shop</b>")
    strict = render_markdown(result_with_findings(strict=True))
    assert "<details open><summary><b>Hygiene</b>: 2 hygiene findings in 2 apps (failing: --strict)" in strict
    assert "hygiene findings fail the run (--strict)" in strict


def test_terminal_under_each_app_and_in_the_exit_line() -> None:
    result = result_with_findings(strict=False)
    result.apps = [a for a in result.apps if a.app.name == "calm"]  # in sync: listed for its finding
    text = render_terminal(result, color=False)
    assert "calm [in sync]" in text
    assert "  hygiene (prune-in-production): app calm is marked production" in text
    assert "shop\n  hygiene (plain-secret): Secret shop/db" in text  # an app without a result of its own
    assert "2 hygiene findings in 2 apps (warnings; --strict makes them fail)" in text
    assert text.rstrip().endswith("Exit code 0: everything checked is in sync")

    result.strict = True
    text = render_terminal(result, color=False)
    assert "  hygiene failure (prune-in-production): app calm" in text
    assert "2 hygiene findings in 2 apps (failing: --strict)" in text
    assert text.rstrip().endswith("Exit code 1: hygiene findings fail the run (--strict)")

    result.errors.append(AppError("*", "cluster prod: unreachable", stage="cluster"))
    assert render_terminal(result, color=False).rstrip().endswith("(this wins over drift)")
