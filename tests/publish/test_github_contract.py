"""Sticky comments against the GitHub stand-in: the exact calls, pagination, parts, limits, forks and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_check.errors import PublishError
from gitops_check.publish.comment import publish_comment
from gitops_check.publish.github import GitHubComments, GitHubTarget
from gitops_check.publish.http import HttpError, RetryPolicy
from gitops_check.publish.sticky import marker, parse_marker
from tests.helpers.fake_github import FakeGitHub
from tests.publish.envs import github_env, pull_request_event


class Sleeps:
    """Records waits instead of sleeping, so rate-limit tests take no time."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def post(fake: FakeGitHub, tmp_path: Path, bodies: list[str], **kw: object) -> object:
    env = github_env(fake, tmp_path, **kw)  # type: ignore[arg-type]
    return publish_comment(
        bodies, key="preview", platform="github", env=env, retry=RetryPolicy(sleep=Sleeps())
    )


def test_first_run_creates_one_comment_with_the_exact_calls(fake_github: FakeGitHub, tmp_path: Path) -> None:
    outcome = post(fake_github, tmp_path, ["### gitops-check: drift in 1 of 2 apps\n"])
    assert outcome.status == "posted"  # type: ignore[attr-defined]
    calls = [(r.method, r.path, r.query, r.status) for r in fake_github.requests]
    assert calls == [
        ("GET", "/user", {}, 403),  # an installation token: refused here...
        ("POST", "/graphql", {}, 200),  # ...its bot login from GraphQL's viewer: only its comments are ours
        ("GET", "/repos/acme/deploy/issues/7/comments", {"per_page": "100"}, 200),
        ("POST", "/repos/acme/deploy/issues/7/comments", {}, 201),
    ]
    for r in fake_github.requests:
        assert r.headers["Authorization"] == f"Bearer {FakeGitHub.WRITE_TOKEN}"
        assert r.headers["Accept"] == "application/vnd.github+json"
        assert r.headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert r.headers["User-Agent"].startswith("gitops-check/")
    (comment,) = fake_github.issue_comments(7)
    assert comment["body"] == "<!-- gitops-check:preview -->\n### gitops-check: drift in 1 of 2 apps\n"
    assert comment["user"]["login"] == "github-actions[bot]"


def test_same_report_again_sends_no_edit_and_a_new_report_edits_in_place(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    post(fake_github, tmp_path, ["drift\n"])
    first = fake_github.issue_comments(7)[0]["id"]
    fake_github.requests.clear()
    outcome = post(fake_github, tmp_path, ["drift\n"])
    assert "1 unchanged" in outcome.message  # type: ignore[attr-defined]
    assert [r.method for r in fake_github.requests] == ["GET", "POST", "GET"]  # /user, /graphql, the list
    fake_github.requests.clear()
    post(fake_github, tmp_path, ["### gitops-check: all 2 apps in sync\n"])
    assert [(r.method, r.path) for r in fake_github.requests][-1] == (
        "PATCH",
        f"/repos/acme/deploy/issues/comments/{first}",
    )
    (comment,) = fake_github.issue_comments(7)
    assert comment["id"] == first and "in sync" in comment["body"]


def test_pagination_follows_link_headers_at_100_per_page(fake_github: FakeGitHub, tmp_path: Path) -> None:
    for n in range(230):
        fake_github.add_comment(7, f"review comment {n}")
    ours = fake_github.add_comment(
        7, marker("preview") + "\nold report\n", login="github-actions[bot]", bot=True
    )
    post(fake_github, tmp_path, ["new report\n"])
    lists = [r for r in fake_github.requests if r.method == "GET" and r.path.endswith("/comments")]
    assert [r.query for r in lists] == [
        {"per_page": "100"},
        {"per_page": "100", "page": "2"},
        {"per_page": "100", "page": "3"},
    ]
    assert lists[1].path == "/repositories/4242/issues/7/comments"  # the Link URL, followed as given
    assert fake_github.comments[ours]["body"] == marker("preview") + "\nnew report\n"
    assert len(fake_github.issue_comments(7)) == 231


def test_default_page_size_would_miss_comments(fake_github: FakeGitHub, tmp_path: Path) -> None:
    """The stand-in pages like GitHub: 30 by default, never more than 100, whatever is asked."""
    import requests

    for n in range(150):
        fake_github.add_comment(7, f"c{n}")
    headers = {"Authorization": f"Bearer {FakeGitHub.WRITE_TOKEN}", "User-Agent": "t"}
    url = f"{fake_github.url}/repos/acme/deploy/issues/7/comments"
    assert len(requests.get(url, headers=headers, timeout=5).json()) == 30
    big = requests.get(url, headers=headers, params={"per_page": 500}, timeout=5)
    assert len(big.json()) == 100 and 'rel="next"' in big.headers["Link"]


def test_parts_are_numbered_and_leftover_parts_deleted(fake_github: FakeGitHub, tmp_path: Path) -> None:
    post(fake_github, tmp_path, ["part one\n", "part two\n", "part three\n"])
    comments = fake_github.issue_comments(7)
    assert [parse_marker(c["body"]) for c in comments] == [("preview", 1), ("preview", 2), ("preview", 3)]
    assert comments[1]["body"].startswith("<!-- gitops-check:preview:part 2 -->\n")
    fake_github.requests.clear()
    outcome = post(fake_github, tmp_path, ["### gitops-check: all 3 apps in sync\n"])
    assert "1 updated, 2 deleted" in outcome.message  # type: ignore[attr-defined]
    deletes = [r.path for r in fake_github.requests if r.method == "DELETE"]
    assert deletes == [f"/repos/acme/deploy/issues/comments/{c['id']}" for c in comments[1:]]
    (left,) = fake_github.issue_comments(7)
    assert left["id"] == comments[0]["id"] and "in sync" in left["body"]


def test_leftover_part_is_emptied_when_deleting_is_refused(fake_github: FakeGitHub, tmp_path: Path) -> None:
    env = github_env(fake_github, tmp_path)
    target = GitHubTarget(fake_github.url, "acme/deploy", 7)
    store = GitHubComments(target, FakeGitHub.WRITE_TOKEN, variable="GITHUB_TOKEN")
    publish_comment(["one\n", "two\n"], key="k", platform="github", env=env)

    refused = store.delete

    def delete(comment_id: int) -> None:
        raise HttpError("refused", status=403)

    from gitops_check.publish import sticky

    store.delete = delete  # type: ignore[method-assign]
    result = sticky.publish_sticky(store, "k", ["one again\n"])
    assert (result.updated, result.emptied, result.deleted) == (1, 1, 0)
    bodies = [c["body"] for c in fake_github.issue_comments(7)]
    assert bodies[1] == "<!-- gitops-check:k:part 2 -->\n" + sticky.LEFTOVER_NOTE
    store.delete = refused  # type: ignore[method-assign]


def test_other_keys_and_foreign_markers_are_left_alone(fake_github: FakeGitHub, tmp_path: Path) -> None:
    other = fake_github.add_comment(
        7, marker("diff") + "\nthe diff report\n", login="github-actions[bot]", bot=True
    )
    planted = fake_github.add_comment(7, marker("preview") + "\nall in sync, trust me\n", login="mallory")
    post(fake_github, tmp_path, ["real report\n"])
    assert fake_github.comments[other]["body"].endswith("the diff report\n")
    assert fake_github.comments[planted]["body"].endswith("trust me\n")
    mine = [c for c in fake_github.issue_comments(7) if c["user"]["login"] == "github-actions[bot]"]
    assert [c["body"] for c in mine] == [
        marker("diff") + "\nthe diff report\n",
        marker("preview") + "\nreal report\n",
    ]


def test_personal_token_adopts_only_its_own_comments(fake_github: FakeGitHub, tmp_path: Path) -> None:
    bot = fake_github.add_comment(7, marker("preview") + "\nby a bot\n", login="other-app[bot]", bot=True)
    post(fake_github, tmp_path, ["mine\n"], token=FakeGitHub.PERSONAL_TOKEN)
    assert fake_github.comments[bot]["body"].endswith("by a bot\n")
    post(fake_github, tmp_path, ["mine, updated\n"], token=FakeGitHub.PERSONAL_TOKEN)
    octocat = [c for c in fake_github.issue_comments(7) if c["user"]["login"] == "octocat"]
    assert [c["body"] for c in octocat] == [marker("preview") + "\nmine, updated\n"]


def test_body_over_the_limit_is_refused_before_any_call(fake_github: FakeGitHub, tmp_path: Path) -> None:
    with pytest.raises(PublishError, match=r"65,536"):
        post(fake_github, tmp_path, ["x" * 65520])
    assert fake_github.requests == []
    # Exactly at the limit with the marker: accepted by the client and by the stand-in.
    body = "y" * (65536 - len(marker("preview")) - 1)
    post(fake_github, tmp_path, [body])
    assert len(fake_github.issue_comments(7)[0]["body"]) == 65536


def test_the_stand_in_answers_422_body_too_long(fake_github: FakeGitHub) -> None:
    store = GitHubComments(
        GitHubTarget(fake_github.url, "acme/deploy", 7), FakeGitHub.WRITE_TOKEN, variable="T"
    )
    with pytest.raises(HttpError, match="Body is too long") as e:
        store.create("z" * 65537)
    assert e.value.status == 422


def test_fork_pull_request_falls_back_to_the_summary(fake_github: FakeGitHub, tmp_path: Path) -> None:
    outcome = post(
        fake_github, tmp_path, ["report\n"], token=FakeGitHub.READ_TOKEN, event=pull_request_event(fork=True)
    )
    assert outcome.status == "fallback"  # type: ignore[attr-defined]
    assert "fork" in outcome.message and "job summary" in outcome.message  # type: ignore[attr-defined]
    assert [(r.method, r.status) for r in fake_github.requests][-1] == ("POST", 403)
    assert fake_github.issue_comments(7) == []


def test_read_only_token_on_a_non_fork_names_the_permission(fake_github: FakeGitHub, tmp_path: Path) -> None:
    with pytest.raises(PublishError) as e:
        post(fake_github, tmp_path, ["report\n"], token=FakeGitHub.READ_TOKEN)
    message = str(e.value)
    assert "403" in message and "pull-requests: write" in message and "\n" not in message


def test_bad_token_is_401_without_echoing_it(fake_github: FakeGitHub, tmp_path: Path) -> None:
    with pytest.raises(PublishError) as e:
        post(fake_github, tmp_path, ["report\n"], token="ghs_wrongWrongWrong0000")
    assert "GITHUB_TOKEN" in str(e.value) and "401" in str(e.value)
    assert "ghs_wrongWrongWrong0000" not in str(e.value)


def test_unknown_pull_request_is_404_with_what_to_check(fake_github: FakeGitHub, tmp_path: Path) -> None:
    with pytest.raises(PublishError, match=r"pull request #8 does not exist.*pull-requests: read"):
        post(fake_github, tmp_path, ["r\n"], event=pull_request_event(8))


def test_rate_limit_waits_retry_after_then_succeeds(fake_github: FakeGitHub, tmp_path: Path) -> None:
    sleeps = Sleeps()
    fake_github.fail_next(429, headers={"Retry-After": "3"}, body={"message": "API rate limit exceeded"})
    fake_github.fail_next(403, body={"message": "You have exceeded a secondary rate limit. Please wait."})
    env = github_env(fake_github, tmp_path)
    outcome = publish_comment(["r\n"], key="k", platform="github", env=env, retry=RetryPolicy(sleep=sleeps))
    assert outcome.status == "posted"
    assert sleeps.waits == [3.0, 60.0]
    assert [r.status for r in fake_github.requests][:3] == [429, 403, 403]  # the third: GET /user, as usual


def test_primary_rate_limit_waits_until_the_reset(fake_github: FakeGitHub, tmp_path: Path) -> None:
    sleeps = Sleeps()
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000042"}
    fake_github.fail_next(403, headers=headers, body={"message": "API rate limit exceeded"})
    env = github_env(fake_github, tmp_path)
    retry = RetryPolicy(sleep=sleeps, clock=lambda: 1_000_000.0)
    publish_comment(["r\n"], key="k", platform="github", env=env, retry=retry)
    assert sleeps.waits == [42.0]


def test_waits_are_bounded(fake_github: FakeGitHub, tmp_path: Path) -> None:
    sleeps = Sleeps()
    fake_github.fail_next(429, headers={"Retry-After": "3600"})
    env = github_env(fake_github, tmp_path)
    with pytest.raises(PublishError, match=r"rate limit.*3600 s.*rerun the job later"):
        publish_comment(["r\n"], key="k", platform="github", env=env, retry=RetryPolicy(sleep=sleeps))
    assert sleeps.waits == []
    fake_github.fail_next(429, headers={"Retry-After": "50"}, times=5)
    with pytest.raises(PublishError, match="rate limit"):
        publish_comment(["r\n"], key="k", platform="github", env=env, retry=RetryPolicy(sleep=sleeps))
    assert sum(sleeps.waits) <= 120


def test_not_a_pull_request_is_skipped(fake_github: FakeGitHub, tmp_path: Path) -> None:
    env = github_env(fake_github, tmp_path, event={"ref": "refs/heads/main"})
    env["GITHUB_EVENT_NAME"] = "push"
    outcome = publish_comment(["r\n"], key="k", platform="github", env=env)
    assert outcome.status == "skipped" and "push event" in outcome.message
    assert fake_github.requests == []
    outcome = publish_comment(["r\n"], key="k", platform="github", env=env, number=7)
    assert outcome.status == "posted"


def test_missing_token_is_skipped_with_how_to_fix(fake_github: FakeGitHub, tmp_path: Path) -> None:
    outcome = publish_comment(
        ["r\n"], key="k", platform="github", env=github_env(fake_github, tmp_path, token=None)
    )
    assert outcome.status == "skipped" and "GITHUB_TOKEN is not set" in outcome.message
    assert "github.token" in outcome.message


def test_auto_outside_ci_is_skipped() -> None:
    outcome = publish_comment(["r\n"], key="k", platform="auto", env={})
    assert outcome.status == "skipped" and "not running in GitHub Actions or GitLab CI" in outcome.message


def test_links_to_another_host_are_not_followed(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.fail_next(403, body={"message": "Resource not accessible by integration"})  # GET /user
    fake_github.fail_next(200, body={"data": {"viewer": {"login": "github-actions[bot]"}}})  # POST /graphql
    fake_github.fail_next(
        200, headers={"Link": '<http://attacker.invalid/steal?page=2>; rel="next"'}, body=[]
    )
    with pytest.raises(PublishError, match=r"another host \(attacker.invalid\)"):
        post(fake_github, tmp_path, ["r\n"])
    assert all(r.headers.get("Host", "").startswith("127.0.0.1") for r in fake_github.requests)
