"""Guard rails (pure): the project file's allow-list, fork pipelines on GitHub and GitLab, and the plan that
refuses apps before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops_check.errors import ConfigError
from gitops_check.model.app import App
from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import AppError, AppResult, CheckResult, ResourceDiff, Status
from gitops_check.model.source import Source
from gitops_check.model.sync import SyncState
from gitops_check.sync.guard import allow_list, fork_pipeline, not_allowed
from gitops_check.sync.plan import Guards, parse_name, plan_syncs
from gitops_check.sync.previous import from_result


def test_allow_list() -> None:
    assert allow_list({}, "f") is None
    assert allow_list({"allow": ["shop", "team-*"]}, "f") == ("shop", "team-*")
    assert allow_list({"allow": "shop"}, "f") == ("shop",)
    with pytest.raises(ConfigError, match="unknown key 'allowed'"):
        allow_list({"allowed": []}, "f")
    with pytest.raises(ConfigError, match="list of app names"):
        allow_list({"allow": [1]}, "f")
    assert not_allowed(["shop", "team-a", "billing"], ("shop", "team-*")) == ["billing"]
    assert not_allowed(["Shop"], ("shop",)) == ["Shop"]
    assert not_allowed(["anything"], None) == []


def github(tmp_path: Path, event: str, payload: Any) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload) if payload is not None else "{broken")
    return {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": str(path)}


def pr(head: str | None, base: str = "acme/deploy", fork: bool = False) -> dict[str, Any]:
    repo = {"full_name": head, "fork": fork} if head else None
    return {"pull_request": {"head": {"repo": repo}, "base": {"repo": {"full_name": base}}}}


def test_github_forks(tmp_path: Path) -> None:
    assert fork_pipeline(github(tmp_path, "pull_request", pr("acme/deploy"))) is None
    # A PR inside a repository that is itself a fork: head.repo.fork is true, yet it is no fork PR.
    assert fork_pipeline(github(tmp_path, "pull_request", pr("acme/deploy", fork=True))) is None
    reason = fork_pipeline(github(tmp_path, "pull_request_target", pr("mallory/deploy", fork=True)))
    assert reason == "GitHub pull_request_target from mallory/deploy into acme/deploy (a fork)"
    assert "deleted fork" in (fork_pipeline(github(tmp_path, "pull_request", pr(None))) or "")
    assert "cannot be read" in (fork_pipeline(github(tmp_path, "pull_request", None)) or "")
    assert fork_pipeline(github(tmp_path, "push", None)) is None


def test_gitlab_forks() -> None:
    base = {"GITLAB_CI": "true", "CI_MERGE_REQUEST_PROJECT_ID": "10"}
    assert fork_pipeline({**base, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "10"}) is None
    reason = fork_pipeline({**base, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "77"})
    assert reason == "GitLab merge request from project 77 into project 10 (a fork)"
    assert fork_pipeline({"GITLAB_CI": "true"}) is None


def test_parse_name() -> None:
    assert parse_name("shop") == (None, "shop")
    assert parse_name("argocd/shop") == ("argocd", "shop")
    with pytest.raises(ConfigError):
        parse_name("a/b/c")


def checked(*, failed: bool = False) -> CheckResult:
    web = ResourceKey("apps", "Deployment", "shop", "web")
    old = ResourceKey("", "Service", "shop", "old")
    apps = [
        AppResult(App("shop", (Source("shop"),)), diffs=[ResourceDiff(web, "shop", Status.CHANGED)]),
        AppResult(App("cache", (Source("cache"),)), diffs=[ResourceDiff(old, "cache", Status.REMOVED)]),
        AppResult(App("calm", (Source("calm"),)), diffs=[ResourceDiff(web, "calm", Status.UNCHANGED)]),
    ]
    if failed:
        apps.append(AppResult(App("broken", (Source("b"),)), errors=[AppError("broken", "helm failed")]))
    return CheckResult(apps=apps, target="t", against="a")


def test_plan_only_drifted() -> None:
    previous = from_result(checked())
    assert previous.drifted_apps() == ["cache", "shop"]
    plan = plan_syncs(
        ["shop", "cache", "calm"], via="v", guards=Guards(), previous=previous, only_drifted=True
    )
    assert [(t.name, [r.name for r in t.resources]) for t in plan.targets] == [("shop", ["web"])]
    assert plan.notes == ["cache: only resources to prune drifted (Service/shop/old); not synced: a sync "
                          "without --prune cannot change anything (pass --prune)",
                          "calm: nothing drifted in the check above; not synced"]  # fmt: skip
    plan = plan_syncs(["cache"], via="v", guards=Guards(), previous=previous, only_drifted=True, prune=True)
    assert [r.name for r in plan.targets[0].resources] == ["old"]
    with pytest.raises(ConfigError, match="needs the check before"):
        plan_syncs(["shop"], via="v", guards=Guards(), only_drifted=True)


def test_plan_skips_an_app_whose_only_drift_is_to_prune_unless_prune() -> None:
    """A sync without prune cannot change such an app (Argo CD ends it at once, PruneSkipped): not asked."""
    previous = from_result(checked())
    plan = plan_syncs(["shop", "cache"], via="v", guards=Guards(), previous=previous)
    assert [t.name for t in plan.targets] == ["shop"]
    assert plan.notes[0].startswith("cache: only resources to prune drifted")
    plan = plan_syncs(["shop", "cache"], via="v", guards=Guards(), previous=previous, prune=True)
    assert [t.name for t in plan.targets] == ["shop", "cache"]


def test_plan_refusals() -> None:
    plan = plan_syncs(["shop"], via="v", guards=Guards(), previous=from_result(checked(failed=True)))
    assert [o.state for o in plan.refused] == [SyncState.REFUSED] and not plan.targets
    assert "not checked: broken" in plan.refused[0].message
    forced = plan_syncs(
        ["shop"], via="v", guards=Guards(force=True), previous=from_result(checked(failed=True))
    )
    assert [t.name for t in forced.targets] == ["shop"]
    plan = plan_syncs(
        ["shop", "argocd/payments"], via="v", guards=Guards(allow=("payments",), allow_file="p.yaml")
    )
    assert [t.app for t in plan.targets] == ["argocd/payments"]
    assert plan.refused[0].message == "refused: shop is not on the sync.allow list of p.yaml (payments)"
    plan = plan_syncs(["shop"], via="v", guards=Guards(fork="GitLab merge request (a fork)"))
    assert "--allow-fork" in plan.refused[0].message
    plan = plan_syncs(["shop"], via="v", guards=Guards(fork="x", allow_fork=True))
    assert [t.name for t in plan.targets] == ["shop"]
