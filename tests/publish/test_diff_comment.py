"""``diff --comment`` / ``--github-summary`` on real repositories, publishing to the GitHub and GitLab stand-ins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitops_check.cli import main
from gitops_check.publish.actions import SUMMARY_LIMIT
from gitops_check.publish.sticky import parse_marker
from tests.ci.actionrunner import workflow_commands
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.fake_gitlab import FakeGitLab
from tests.publish.envs import github_env, gitlab_env, pull_request_event
from tests.publish.repos import SECRETS, big_repo, drift_repo, drift_snapshot, fix_drift, write_snapshot


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in (
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "GITHUB_TOKEN",
        "GITOPS_CHECK_GITLAB_TOKEN",
        "GITHUB_STEP_SUMMARY",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def run_diff(repo: Path, snapshot: Path, *extra: str) -> int:
    return main(["diff", "--repo", str(repo), "--snapshot", str(snapshot), "--no-color", *extra])


def test_diff_comments_annotates_and_summarizes_then_says_in_sync(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = drift_repo(tmp_path / "repo")
    snapshot = drift_snapshot(tmp_path / "snap.json")
    env = github_env(fake_github, tmp_path)
    env["GITHUB_WORKSPACE"] = str(tmp_path)  # the GitOps root is the folder "repo" of the checkout
    set_env(monkeypatch, env)

    assert run_diff(repo.path, snapshot, "--comment", "github", "--github-summary") == 2
    out, err = capsys.readouterr()
    (comment,) = fake_github.issue_comments(7)
    assert parse_marker(comment["body"]) == ("diff:repo", 1)
    assert "web-config" in comment["body"] and "broken" in comment["body"]
    assert "https://github.com/acme/deploy/actions/runs/99" in comment["body"]  # the full report: the run
    assert "comment: gitops-check comment 'diff:repo' on pull request #7: 1 created" in err

    # The whole run is fenced (no workflow command in between is acted on); only the annotations are printed
    # with the fence lifted, and the fence is up again (with a fresh token) before the report.
    lines = out.splitlines()
    assert re.fullmatch(r"::stop-commands::[0-9a-f]{32}", lines[0])
    assert workflow_commands(out) == [
        (
            "error file=repo/apps/broken/cm.yaml,line=4,title=gitops-check%3A broken could not be checked",
            "invalid YAML: did not find expected ',' or ']'",
        )
    ]
    annotation = next(i for i, line in enumerate(lines) if line.startswith("::error "))
    restop = lines[annotation + 1]
    assert restop.startswith("::stop-commands::") and restop != lines[0]
    token = restop.split("::")[2]
    report = next(i for i, line in enumerate(lines) if "web-config" in line)
    assert annotation < report < lines.index(f"::{token}::") == len(lines) - 1

    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("### gitops-check: 1 of 2 apps not checked; drift in 1")
    for text in (comment["body"], summary, out, err):
        for value in SECRETS:
            assert value not in text

    fix_drift(repo)
    assert run_diff(repo.path, snapshot, "--comment", "github") == 0
    (updated,) = fake_github.issue_comments(7)
    assert updated["id"] == comment["id"]
    assert "### gitops-check: all 1 app in sync" in updated["body"]


def test_fork_keeps_to_the_summary_and_the_exit_code_is_the_checks(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = drift_repo(tmp_path / "repo", broken=False)
    env = github_env(fake_github, tmp_path, token=FakeGitHub.READ_TOKEN, event=pull_request_event(fork=True))
    set_env(monkeypatch, env)
    assert run_diff(repo.path, drift_snapshot(tmp_path / "s.json"), "--comment", "auto") == 1
    assert fake_github.issue_comments(7) == []
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("> pull request #7 comes from a fork")
    assert "web-config" in summary
    assert "comes from a fork" in capsys.readouterr().err


def test_a_comment_that_fails_still_writes_the_summary_and_exits_2(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = drift_repo(tmp_path / "repo", broken=False)
    env = github_env(fake_github, tmp_path, token="ghs_revoked000000000000")
    set_env(monkeypatch, env)
    code = run_diff(repo.path, drift_snapshot(tmp_path / "s.json"), "--comment", "github", "--github-summary")
    assert code == 2
    err = capsys.readouterr().err
    assert "error: GitHub rejected the token in GITHUB_TOKEN (401" in err
    assert "ghs_revoked000000000000" not in err
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "> The comment could not be posted: GitHub rejected the token" in summary


def test_large_report_is_split_into_parts_and_leftovers_removed(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, live = big_repo(tmp_path / "repo", apps=24, keys=80)
    snapshot = write_snapshot(tmp_path / "s.json", live)
    set_env(monkeypatch, github_env(fake_github, tmp_path))
    assert run_diff(repo.path, snapshot, "--comment", "github", "--comment-key", "prod") == 1
    comments = fake_github.issue_comments(7)
    assert len(comments) >= 3
    assert [parse_marker(c["body"]) for c in comments] == [("prod", n) for n in range(1, len(comments) + 1)]
    assert all(len(c["body"]) <= 65536 for c in comments)
    for c in comments:  # every diff block closed inside its comment
        assert c["body"].count("```diff") * 2 == c["body"].count("```")
    everything = "".join(c["body"] for c in comments)
    assert all(f"app{a:02d}" in everything for a in range(24))

    small, live_small = big_repo(tmp_path / "small", apps=1, keys=3)
    assert run_diff(small.path, write_snapshot(tmp_path / "s2.json", live_small), "--comment", "github",
                    "--comment-key", "prod") == 1  # fmt: skip
    (left,) = fake_github.issue_comments(7)
    assert left["id"] == comments[0]["id"] and "part" not in left["body"].splitlines()[1]


def test_gitlab_note_from_diff(
    fake_gitlab: FakeGitLab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = drift_repo(tmp_path / "repo", broken=False)
    env = gitlab_env(fake_gitlab)
    env["CI_PROJECT_DIR"] = str(repo.path)
    set_env(monkeypatch, env)
    assert run_diff(repo.path, drift_snapshot(tmp_path / "s.json"), "--comment", "auto") == 1
    (note,) = fake_gitlab.mr_notes(5)
    assert parse_marker(note["body"]) == ("diff", 1)
    assert "https://gitlab.example.com/acme/deploy/-/jobs/1" in note["body"]
    assert not any(s in note["body"] for s in SECRETS)


def test_gitlab_without_token_is_skipped_and_the_exit_code_unchanged(
    fake_gitlab: FakeGitLab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = drift_repo(tmp_path / "repo", broken=False)
    set_env(monkeypatch, gitlab_env(fake_gitlab, token=None))
    assert run_diff(repo.path, drift_snapshot(tmp_path / "s.json"), "--comment", "gitlab") == 1
    assert "GITOPS_CHECK_GITLAB_TOKEN is not set: merge request note skipped" in capsys.readouterr().err
    assert fake_gitlab.requests == []


def test_summary_stays_within_one_mib(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, live = big_repo(tmp_path / "repo", apps=30, keys=400)
    snapshot = write_snapshot(tmp_path / "s.json", live)
    env = github_env(fake_github, tmp_path)
    summary = Path(env["GITHUB_STEP_SUMMARY"])
    summary.write_text("earlier output of this step\n" * 10000)
    set_env(monkeypatch, env)
    assert (
        run_diff(repo.path, snapshot, "--github-summary", "--markdown-full", str(tmp_path / "full.md")) == 1
    )
    assert (tmp_path / "full.md").stat().st_size > SUMMARY_LIMIT  # the report itself is larger than the limit
    size = summary.stat().st_size
    assert SUMMARY_LIMIT - 70_000 < size <= SUMMARY_LIMIT
    assert "left out to stay under" in summary.read_text()


def test_more_than_ten_parts_become_one_comment_with_the_most_significant_details(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, live = big_repo(tmp_path / "repo", apps=90, keys=80)
    set_env(monkeypatch, github_env(fake_github, tmp_path))
    assert run_diff(repo.path, write_snapshot(tmp_path / "s.json", live), "--comment", "github") == 1
    (comment,) = fake_github.issue_comments(7)
    body = comment["body"]
    assert parse_marker(body) == ("diff:repo", 1) and len(body) <= 65536
    assert "left out to stay under" in body
    assert "[full report](https://github.com/acme/deploy/actions/runs/99)" in body
    assert body.count("```diff") * 2 == body.count("```")
