"""Sync outcomes in every report: terminal, JSON (schema v1 with the optional ``syncs``), JUnit, Markdown."""

from __future__ import annotations

import json

import jsonschema
from junitparser import Error, Failure, JUnitXml, Skipped

from gitops_check.model.app import App
from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import AppResult, CheckResult, ResourceDiff, Status
from gitops_check.model.source import Source
from gitops_check.model.sync import SyncOutcome, SyncState
from gitops_check.report.jsonout import render_json, schema
from gitops_check.report.junit import render_junit
from gitops_check.report.markdown import render_markdown, render_markdown_full
from gitops_check.report.terminal import render_terminal

VIA = "Argo CD API https://argocd.example.com"
WEB = ResourceKey("apps", "Deployment", "shop", "web")


def outcome(app: str, state: SyncState, message: str = "", **kw: object) -> SyncOutcome:
    return SyncOutcome(app, f"Application argocd/{app}", VIA, state, message,
                       request=f'POST {VIA}/api/v1/applications/{app}/sync {{"name": "{app}"}}', **kw)  # type: ignore[arg-type]  # fmt: skip


def drifted() -> CheckResult:
    app = AppResult(App("shop", (Source("shop"),)), diffs=[ResourceDiff(WEB, "shop", Status.CHANGED)])
    return CheckResult(apps=[app], target="commit abc", against="live cluster")


def test_a_failed_sync_decides_the_exit_line() -> None:
    result = drifted()
    result.syncs = [outcome("shop", SyncState.FAILED, "sync failed: quota exceeded", seconds=3.2,
                            resources=(WEB,), revision="4f2c1e0d9b8a7c6d")]  # fmt: skip
    assert result.exit_code() == 1
    text = render_terminal(result, color=False)
    assert "Sync: 1 sync: 1 failed" in text
    assert ("  shop: failed: sync failed: quota exceeded (Application argocd/shop, revision 4f2c1e0d9b8a, "
            "1 resource, 3.2s)") in text  # fmt: skip
    assert text.rstrip().endswith(
        "Exit code 1: drift found; and the agent reports a failed sync or a degraded app"
    )
    colored = render_terminal(result, color=True)
    assert "\x1b[33;1mfailed\x1b[0m" in colored


def test_after_a_good_sync_the_check_speaks() -> None:
    result = CheckResult(apps=[AppResult(App("shop", (Source("shop"),)))], target="t", against="a")
    result.syncs = [
        outcome("shop", SyncState.SUCCEEDED, "successfully synced", sync_status="Synced", health="Healthy")
    ]
    text = render_terminal(result, color=False)
    assert "shop: succeeded: successfully synced (Application argocd/shop, Synced / Healthy)" in text
    assert "Exit code 0: everything checked is in sync" in text


def test_json_is_schema_v1_with_syncs() -> None:
    result = drifted()
    result.syncs = [outcome("shop", SyncState.TIMEOUT, "no verdict", resources=(WEB,)),
                    outcome("cart", SyncState.SUCCEEDED)]  # fmt: skip
    doc = json.loads(render_json(result))
    jsonschema.validate(doc, schema())
    assert doc["schemaVersion"] == 1 and doc["exitCode"] == 2
    assert [(s["app"], s["state"], s["exitCode"]) for s in doc["syncs"]] == [("shop", "timeout", 2),
                                                                             ("cart", "succeeded", 0)]  # fmt: skip
    assert doc["syncs"][0]["resources"] == [
        {
            "group": "apps",
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web",
            "id": "Deployment/shop/web",
        }
    ]
    assert "syncs" not in json.loads(render_json(drifted()))  # optional: absent without a sync


def test_sync_mode_report() -> None:
    result = CheckResult(apps=[], target="sync of shop", against=VIA, mode="sync")
    result.syncs = [outcome("shop", SyncState.PLANNED, "printed only")]
    doc = json.loads(render_json(result))
    jsonschema.validate(doc, schema())
    assert doc["mode"] == "sync" and doc["exitCode"] == 0
    markdown = render_markdown_full(result)
    assert markdown.startswith("### gitops-check: sync of 1 app printed")
    assert "Sync of shop through Argo CD API" in markdown


def test_junit_case_per_synced_app() -> None:
    result = drifted()
    result.syncs = [outcome("shop", SyncState.DEGRADED, "health Degraded: CrashLoopBackOff"),
                    outcome("cart", SyncState.REFUSED, "refused: not on the sync.allow list"),
                    outcome("web", SyncState.SUCCEEDED, "synced"),
                    outcome("api", SyncState.PLANNED)]  # fmt: skip
    xml = JUnitXml.fromstring(render_junit(result))
    suite = next(s for s in xml if s.name == "gitops-check sync")
    cases = {c.name: c for c in suite}
    assert set(cases) == {"shop", "cart", "web", "api"}
    assert isinstance(cases["shop"].result[0], Failure)
    assert cases["shop"].result[0].type == "sync-degraded"
    assert isinstance(cases["cart"].result[0], Error)
    assert isinstance(cases["api"].result[0], Skipped)
    assert not cases["web"].result
    assert "request:\nPOST https://argocd.example.com" not in str(cases["web"])  # stdout holds it as sent
    assert f"POST {VIA}/api/v1/applications/web/sync" in (cases["web"].system_out or "")


def test_markdown_table() -> None:
    result = drifted()
    result.syncs = [outcome("shop", SyncState.FAILED, "sync failed: a|b <x>", dry_run=True)]
    text = render_markdown(result)
    assert "**Sync** (1 sync: 1 failed)" in text
    assert "| `shop` | Application argocd/shop | ❌ failed (dry run) | sync failed: a\\|b &lt;x&gt; |" in text
    assert text.startswith("### gitops-check: drift in 1 of 1 app; sync failed for 1 of 1 app")
