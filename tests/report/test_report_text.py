from __future__ import annotations

from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import Change, ChangeKind, CheckResult, ResourceDiff, Status
from gitops_check.report.text import (
    AppStatus,
    app_status,
    clean,
    describe_change,
    sort_apps,
    sort_diffs,
    summary_line,
    unified_diff,
    verdict,
)
from tests.report.results import configmap, drifted_app, failed_app, in_sync_app

KEY = ResourceKey("", "ConfigMap", "shop", "settings")


def test_unified_diff_changed_has_headers_and_hunks() -> None:
    old = configmap("settings", "shop", {"mode": "slow", "size": "1"})
    new = configmap("settings", "shop", {"mode": "fast", "size": "1"})
    text = unified_diff(ResourceDiff(KEY, "shop", Status.CHANGED, desired=new, live=old))
    lines = text.splitlines()
    assert lines[0] == "--- live: ConfigMap/shop/settings"
    assert lines[1] == "+++ git: ConfigMap/shop/settings"
    assert lines[2].startswith("@@ ")
    assert "-  mode: slow" in lines and "+  mode: fast" in lines
    assert "   size: '1'" in lines  # context
    assert text.endswith("\n")


def test_unified_diff_added_is_all_plus_and_removed_all_minus() -> None:
    body = configmap("settings", "shop", {"mode": "fast"})
    added = unified_diff(ResourceDiff(KEY, "shop", Status.ADDED, desired=body)).splitlines()
    assert added[2] == "@@ -0,0 +1,7 @@"
    assert all(line.startswith("+") for line in added[3:])
    removed = unified_diff(ResourceDiff(KEY, "shop", Status.REMOVED, live=body)).splitlines()
    assert removed[2] == "@@ -1,7 +0,0 @@"
    assert all(line.startswith("-") for line in removed[3:])


def test_unified_diff_empty_for_unchanged_error_and_identical_views() -> None:
    body = configmap("settings", "shop", {"mode": "fast"})
    assert unified_diff(ResourceDiff(KEY, "shop", Status.UNCHANGED, desired=body, live=body)) == ""
    assert unified_diff(ResourceDiff(KEY, "shop", Status.ERROR, desired=body, message="x")) == ""
    assert unified_diff(ResourceDiff(KEY, "shop", Status.CHANGED, desired=body, live=dict(body))) == ""


def test_unified_diff_context_and_preview_labels() -> None:
    old = configmap("settings", "shop", {f"k{i}": str(i) for i in range(20)})
    new = configmap("settings", "shop", {**old["data"], "k10": "changed"})
    diff = ResourceDiff(KEY, "shop", Status.CHANGED, desired=new, live=old)
    assert len(unified_diff(diff, context=0).splitlines()) == 5
    preview = unified_diff(diff, mode="preview").splitlines()
    assert preview[:2] == ["--- base: ConfigMap/shop/settings", "+++ head: ConfigMap/shop/settings"]


def test_unified_diff_strips_control_characters_from_names() -> None:
    key = ResourceKey("", "ConfigMap", "shop", "evil\x1b[31m\x00name")
    text = unified_diff(ResourceDiff(key, "shop", Status.ADDED, desired={"a": "b\x1b"}))
    assert "\x1b" not in text and "\x00" not in text


def test_summary_line_counts_apps_and_resources() -> None:
    result = CheckResult(apps=[in_sync_app("a"), drifted_app(), failed_app()], target="t", against="a")
    assert summary_line(result) == (
        "2 of 3 apps checked: 1 in sync, 1 drifted (2 changed, 1 would be created, 1 would be pruned), 1 not checked"
    )
    result.mode = "preview"
    assert summary_line(result) == (
        "2 of 3 apps compared: 1 unchanged, 1 with changes (2 changed, 1 added, 1 removed), 1 not checked"
    )


def test_summary_line_singular_and_run_errors() -> None:
    from gitops_check.model.result import AppError

    result = CheckResult(
        apps=[in_sync_app("a")], target="t", against="a", errors=[AppError("", "cluster down")]
    )
    assert summary_line(result) == "1 app checked: 1 in sync; 1 error outside any app"
    assert verdict(result) == "check incomplete"


def test_verdicts() -> None:
    assert verdict(CheckResult(apps=[in_sync_app("a")], target="t", against="a")) == "all 1 app in sync"
    drift = CheckResult(apps=[in_sync_app("a"), drifted_app()], target="t", against="a")
    assert verdict(drift) == "drift in 1 of 2 apps"
    drift.mode = "preview"
    assert verdict(drift) == "changes in 1 of 2 apps"
    failed = CheckResult(apps=[in_sync_app("a"), drifted_app(), failed_app()], target="t", against="a")
    assert verdict(failed) == "1 of 3 apps not checked; drift in 1"
    assert verdict(CheckResult(apps=[], target="t", against="a")) == "no apps found"


def test_sort_order_apps_and_resources() -> None:
    apps = [in_sync_app("a"), drifted_app(), failed_app(), in_sync_app("0")]
    assert [a.app.name for a in sort_apps(apps)] == ["payments", "shop", "0", "a"]
    assert [app_status(a) for a in sort_apps(apps)][:2] == [AppStatus.ERROR, AppStatus.DRIFTED]
    ns = ResourceKey("", "Namespace", None, "shop")
    diffs = [
        ResourceDiff(ns, "x", Status.UNCHANGED),
        ResourceDiff(ResourceKey("", "Service", "b", "s"), "x", Status.REMOVED),
        ResourceDiff(ResourceKey("", "ConfigMap", "b", "z"), "x", Status.ADDED),
        ResourceDiff(ResourceKey("", "ConfigMap", "b", "a"), "x", Status.ADDED),
        ResourceDiff(ResourceKey("", "ConfigMap", "a", "c"), "x", Status.CHANGED),
        ResourceDiff(ResourceKey("", "ConfigMap", None, "e"), "x", Status.ERROR),
    ]
    ordered = sort_diffs(diffs)
    assert [d.status for d in ordered] == [
        Status.ERROR,
        Status.CHANGED,
        Status.ADDED,
        Status.ADDED,
        Status.REMOVED,
        Status.UNCHANGED,
    ]
    assert [d.key.name for d in ordered][2:4] == ["a", "z"]


def test_describe_change_kinds() -> None:
    manual = Change(ChangeKind.MANUAL, "metadata.labels.debug", "true", None, manager="kubectl-edit")
    assert describe_change(manual, "diff") == (
        'metadata.labels.debug: "true", changed by hand with kubectl-edit; a sync would keep it'
    )
    assert describe_change(Change(ChangeKind.VALUE, "spec.replicas", 2, 3), "diff") == "spec.replicas: 2 -> 3"
    assert (
        describe_change(Change(ChangeKind.ADDED, "a", None, "x"), "diff")
        == 'a: not in the cluster; Git sets "x"'
    )
    assert describe_change(Change(ChangeKind.ADDED, "a", None, "x"), "preview") == 'a: added: "x"'
    removed = describe_change(Change(ChangeKind.REMOVED, "a", 1, None, manager="argocd-controller"), "diff")
    assert removed == "a: 1 in the cluster, no longer in Git; a sync would remove it"
    long = describe_change(Change(ChangeKind.VALUE, "a", "x" * 500, {"b": [1, 2]}), "diff")
    assert len(long) < 200 and long.endswith('{"b": [1, 2]}')


def test_clean_keeps_tabs_and_newlines_only() -> None:
    assert clean("a\tb\r\nc\x1b[0m\x00\x7f\x85d\ud800") == "a\tb\nc[0md"
