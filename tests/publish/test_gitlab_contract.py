"""Sticky merge request notes against the GitLab stand-in: calls, pagination, limits, tokens and errors."""

from __future__ import annotations

import pytest

from gitops_check.errors import PublishError
from gitops_check.publish.comment import CommentOutcome, publish_comment
from gitops_check.publish.gitlab import GitLabNotes, GitLabTarget
from gitops_check.publish.http import HttpError, RetryPolicy
from gitops_check.publish.sticky import marker
from tests.helpers.fake_gitlab import FakeGitLab
from tests.publish.envs import gitlab_env


def post(
    fake: FakeGitLab, bodies: list[str], sleep: list[float] | None = None, **kw: object
) -> CommentOutcome:
    retry = RetryPolicy(sleep=(sleep if sleep is not None else []).append)
    return publish_comment(bodies, key="preview", platform="gitlab", env=gitlab_env(fake, **kw), retry=retry)  # type: ignore[arg-type]


def test_first_note_with_the_exact_calls(fake_gitlab: FakeGitLab) -> None:
    outcome = post(fake_gitlab, ["### gitops-check: drift\n"])
    assert outcome.status == "posted"
    calls = [(r.method, r.path, r.query, r.status) for r in fake_gitlab.requests]
    query = {"per_page": "100", "page": "1", "sort": "asc", "order_by": "created_at"}
    assert calls == [
        ("GET", "/api/v4/user", {}, 200),
        ("GET", "/api/v4/projects/42/merge_requests/5/notes", query, 200),
        ("POST", "/api/v4/projects/42/merge_requests/5/notes", {}, 201),
    ]
    assert all(r.headers["PRIVATE-TOKEN"] == FakeGitLab.TOKEN for r in fake_gitlab.requests)
    assert all("Authorization" not in r.headers for r in fake_gitlab.requests)
    (note,) = fake_gitlab.mr_notes(5)
    assert note["body"] == "<!-- gitops-check:preview -->\n### gitops-check: drift\n"
    assert outcome.urls == (f"https://gitlab.example.com/acme/deploy/-/merge_requests/5#note_{note['id']}",)


def test_pagination_by_x_next_page_and_system_notes_ignored(fake_gitlab: FakeGitLab) -> None:
    for n in range(120):
        fake_gitlab.add_note(5, f"added {n} commits", system=True)
    for n in range(100):
        fake_gitlab.add_note(5, f"looks good {n}")
    ours = fake_gitlab.add_note(5, marker("preview") + "\nold\n", author_id=901)
    post(fake_gitlab, ["new\n", "second part\n"])
    pages = [r.query["page"] for r in fake_gitlab.requests if r.method == "GET" and r.path.endswith("/notes")]
    assert pages == ["1", "2", "3"]
    assert fake_gitlab.notes[ours]["body"] == marker("preview") + "\nnew\n"
    assert fake_gitlab.mr_notes(5)[-1]["body"] == "<!-- gitops-check:preview:part 2 -->\nsecond part\n"
    fake_gitlab.requests.clear()
    post(fake_gitlab, ["### gitops-check: no changes\n"])
    assert [r.method for r in fake_gitlab.requests if r.method != "GET"] == ["PUT", "DELETE"]
    assert [n["body"] for n in fake_gitlab.mr_notes(5) if n["author"]["id"] == 901] == [
        marker("preview") + "\n### gitops-check: no changes\n"
    ]


def test_notes_of_other_users_with_the_marker_are_not_adopted(fake_gitlab: FakeGitLab) -> None:
    planted = fake_gitlab.add_note(5, marker("preview") + "\nnothing to see\n", author_id=7)
    post(fake_gitlab, ["real\n"])
    assert fake_gitlab.notes[planted]["body"].endswith("nothing to see\n")
    assert [n["body"] for n in fake_gitlab.mr_notes(5) if n["author"]["id"] == 901] == [
        marker("preview") + "\nreal\n"
    ]


def test_missing_token_skips_the_note_with_a_clear_message(fake_gitlab: FakeGitLab) -> None:
    outcome = post(fake_gitlab, ["r\n"], token=None)
    assert outcome.status == "skipped"
    assert "GITOPS_CHECK_GITLAB_TOKEN is not set" in outcome.message and "CI_JOB_TOKEN" in outcome.message
    assert fake_gitlab.requests == []


def test_branch_pipeline_is_skipped(fake_gitlab: FakeGitLab) -> None:
    outcome = post(fake_gitlab, ["r\n"], iid=None)
    assert outcome.status == "skipped" and "not a merge request pipeline" in outcome.message


def test_read_api_token_gets_a_one_line_error_naming_the_scope(fake_gitlab: FakeGitLab) -> None:
    with pytest.raises(PublishError) as e:
        post(fake_gitlab, ["r\n"], token=FakeGitLab.READ_TOKEN)
    message = str(e.value)
    assert "403" in message and "'api' scope" in message and "\n" not in message
    assert FakeGitLab.READ_TOKEN not in message


def test_unknown_token_is_401(fake_gitlab: FakeGitLab) -> None:
    with pytest.raises(PublishError, match=r"rejected the token in GITOPS_CHECK_GITLAB_TOKEN \(401"):
        post(fake_gitlab, ["r\n"], token="glpat-nope")


def test_unknown_merge_request_is_404(fake_gitlab: FakeGitLab) -> None:
    with pytest.raises(PublishError, match=r"merge request !6 does not exist"):
        post(fake_gitlab, ["r\n"], iid=6)


def test_fork_pipeline_posts_to_the_target_project(fake_gitlab: FakeGitLab) -> None:
    env = gitlab_env(fake_gitlab)
    env["CI_PROJECT_ID"] = "777"  # the fork, where the pipeline runs
    env["CI_MERGE_REQUEST_SOURCE_PROJECT_ID"] = "777"
    publish_comment(["r\n"], key="k", platform="gitlab", env=env)
    assert {r.path for r in fake_gitlab.requests if r.method == "POST"} == {
        "/api/v4/projects/42/merge_requests/5/notes"
    }


def test_project_path_is_url_encoded(fake_gitlab: FakeGitLab) -> None:
    store = GitLabNotes(GitLabTarget(fake_gitlab.api_url, "acme/deploy", 5), FakeGitLab.TOKEN, variable="T")
    store.create("hello")
    assert fake_gitlab.requests[-1].path == "/api/v4/projects/acme%2Fdeploy/merge_requests/5/notes"


def test_the_stand_in_refuses_notes_over_a_million_characters(fake_gitlab: FakeGitLab) -> None:
    store = GitLabNotes(GitLabTarget(fake_gitlab.api_url, "42", 5), FakeGitLab.TOKEN, variable="T")
    with pytest.raises(HttpError, match="is too long") as e:
        store.create("z" * 1_000_001)
    assert e.value.status == 400
    with pytest.raises(PublishError, match=r"1,000,000"):
        post(fake_gitlab, ["z" * 999_990])


def test_429_retry_after_is_honoured(fake_gitlab: FakeGitLab) -> None:
    waits: list[float] = []
    fake_gitlab.fail_next(429, headers={"Retry-After": "2"}, body={"message": "Retry later"})
    fake_gitlab.fail_next(502, body={"message": "502 Bad Gateway"})
    assert post(fake_gitlab, ["r\n"], sleep=waits).status == "posted"
    assert waits == [2.0, 2.0]
