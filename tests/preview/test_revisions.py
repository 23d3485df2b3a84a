"""Which commits are compared: options, GitHub pull request events, GitLab merge request variables, merge-base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_check.errors import ConfigError, SourceError
from gitops_check.preview.revisions import ci_defaults, resolve_revisions
from gitops_check.sources.git import open_repo
from tests.helpers.gitrepo import GitRepo
from tests.preview.conftest import Preview, changed_apps
from tests.preview.repos import MIXED, make_repo


def diverged(tmp_path: Path) -> tuple[GitRepo, str, str, str]:
    """main: initial -> M (scales web-b); branch pr from initial: P (scales web-a). Returns (repo, initial, M, P)."""
    repo = make_repo(tmp_path / "repo", MIXED)
    initial = repo.head()
    repo.git("checkout", "-q", "-b", "pr")
    repo.write({"values/web-a.yaml": "replicas: 5\n"})
    pr = repo.commit("pr: scale web-a")
    repo.git("checkout", "-q", "main")
    repo.write({"values/web-b.yaml": "replicas: 9\n"})
    main = repo.commit("main moved on: scale web-b")
    return repo, initial, main, pr


def test_merge_base_keeps_later_target_commits_out(tmp_path: Path, preview: Preview) -> None:
    repo, initial, _main, pr = diverged(tmp_path)

    merged_base = preview(repo.path, "main", pr)
    as_given = preview(repo.path, "main", pr, merge_base=False)

    assert changed_apps(merged_base) == {"web-a"}  # only what the pull request does
    assert changed_apps(as_given) == {"web-a", "web-b"}  # web-b would look reverted
    assert "merge-base of main and" in merged_base.against and initial[:7] in merged_base.against


def test_github_pull_request_event(tmp_path: Path, preview: Preview) -> None:
    repo, _initial, main, pr = diverged(tmp_path)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {
        "number": 7, "base": {"sha": main, "ref": "main"}, "head": {"sha": pr, "ref": "pr"}}}))  # fmt: skip
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(event)}

    assert ci_defaults(env) == (main, pr, "GitHub pull request event")
    result = preview(repo.path, None, None, env=env)
    assert changed_apps(result) == {"web-a"}
    assert result.target.endswith(pr[:7])


def test_gitlab_merge_request_variables(tmp_path: Path) -> None:
    repo, initial, _main, pr = diverged(tmp_path)
    env = {"GITLAB_CI": "true", "CI_MERGE_REQUEST_DIFF_BASE_SHA": initial, "CI_COMMIT_SHA": pr}

    revs = resolve_revisions(open_repo(repo.path), None, None, env=env)

    assert (revs.base, revs.head, revs.origin) == (initial, pr, "GitLab merge request")


def test_push_event_and_no_ci_need_an_explicit_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "after": repo.head()}))

    for env in ({}, {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_PATH": str(event)}):
        with pytest.raises(ConfigError, match="--base REV"):
            resolve_revisions(open_repo(repo.path), None, None, env=env)


def test_missing_ci_commit_says_how_to_fetch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    env = {"GITLAB_CI": "true", "CI_MERGE_REQUEST_DIFF_BASE_SHA": "0" * 40, "CI_COMMIT_SHA": repo.head()}

    with pytest.raises(SourceError, match="GIT_DEPTH: 0"):
        resolve_revisions(open_repo(repo.path), None, None, env=env)


def test_tree_index_lists_every_path_with_its_object_id(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a/b/c.yaml": "x: 1\n", "d.txt": "d\n"})
    repo.symlink("a/link", "b/c.yaml")
    sha = repo.commit("link")
    handle = open_repo(repo.path)

    index = handle.tree_index(sha)

    assert set(index) == {"", "a", "a/b", "a/b/c.yaml", "a/link", "d.txt"}
    assert index["a/link"][0] == "120000" and index["a"][0] == "040000"
    ids = handle.tree_ids(sha, ["", "a", "a/b/c.yaml"])
    assert {p: index[p][1] for p in ids} == ids
    inner = open_repo(repo.path / "a").tree_index(sha)
    assert set(inner) == {"", "b", "b/c.yaml", "link"} and inner[""][1] == index["a"][1]
