"""Resources changed only by hand (fields Git does not manage): their own category, not drift, unless
``--fail-on manual`` — as Argo CD sees them: Synced, because a sync would keep them."""

from __future__ import annotations

import json

from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import AppResult, Change, ChangeKind, CheckResult, ResourceDiff, Status
from gitops_check.report.jsonout import render_json
from gitops_check.report.terminal import render_terminal
from gitops_check.sync.previous import from_result
from tests.report.results import make_app

CM = ResourceKey("", "ConfigMap", "shop", "settings")
WEB = ResourceKey("apps", "Deployment", "shop", "web")
LABEL = Change(ChangeKind.MANUAL, "metadata.labels.owner", "alice", None, "kubectl-label")


def result(*diffs: ResourceDiff, fail_on_manual: bool = False) -> CheckResult:
    out = CheckResult([AppResult(make_app("shop"), list(diffs))], target="t", against="a")
    out.fail_on_manual = fail_on_manual
    return out


def test_a_resource_changed_only_by_hand_is_not_drift() -> None:
    by_hand = ResourceDiff(CM, "shop", Status.CHANGED, (LABEL,), {"metadata": {}}, {"metadata": {}})
    checked = result(by_hand, ResourceDiff(WEB, "shop", Status.UNCHANGED))
    assert by_hand.by_hand and not by_hand.is_drift
    assert checked.exit_code() == 0
    report = json.loads(render_json(checked))
    assert report["apps"][0]["status"] == "in-sync"
    resource = next(r for r in report["apps"][0]["resources"] if r["name"] == "settings")
    assert (resource["status"], resource["byHand"]) == ("changed", True)
    text = render_terminal(checked, color=False)
    assert "1 resource changed by hand, not managed by Git (a sync would keep them)" in text
    # A sync after this check has nothing to do for it.
    assert from_result(checked).drifted_apps() == []


def test_fail_on_manual_makes_it_fail() -> None:
    by_hand = ResourceDiff(CM, "shop", Status.CHANGED, (LABEL,), {"metadata": {}}, {"metadata": {}})
    checked = result(by_hand, fail_on_manual=True)
    assert checked.exit_code() == 1
    assert "(fails the run: --fail-on manual)" in render_terminal(checked, color=False)


def test_a_hand_change_next_to_real_drift_stays_drift() -> None:
    value = Change(ChangeKind.VALUE, "data.mode", "debug", "production")
    mixed = ResourceDiff(CM, "shop", Status.CHANGED, (LABEL, value), {"data": {}}, {"data": {}})
    assert mixed.is_drift and not mixed.by_hand
    assert result(mixed).exit_code() == 1
    assert "byHand" not in json.loads(render_json(result(mixed)))["apps"][0]["resources"][0]


def test_the_terminal_shows_what_was_changed_by_hand_in_an_app_in_sync() -> None:
    by_hand = ResourceDiff(CM, "shop", Status.CHANGED, (LABEL,), {"metadata": {}}, {"metadata": {}})
    text = render_terminal(result(by_hand), color=False)
    assert "shop [in sync] 1 changed by hand, not managed by Git" in text
    assert "metadata.labels.owner" in text and "kubectl-label" in text
