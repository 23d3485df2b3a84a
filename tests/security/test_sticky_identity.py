"""Issue 10, item 8: only comments written by the token's own identity are adopted as "our" sticky comments.

Anyone can type the hidden marker. Any bot-authored comment carrying it used to count as ours, so gitops-check
edited renovate[bot]'s comment and deleted codecov[bot]'s. Now the identity is the token's: GitHub's ``GET /user``
(a personal token) or GraphQL's ``viewer`` (GITHUB_TOKEN, an app's installation token: ``github-actions[bot]``,
``my-app[bot]``); GitLab's ``GET /user``. The stand-ins record every write to a comment of another identity and
fail the test when one happens.
"""

from __future__ import annotations

from pathlib import Path

from gitops_check.publish.comment import publish_comment
from gitops_check.publish.http import RetryPolicy
from gitops_check.publish.sticky import marker
from tests.helpers.fake_github import FakeGitHub, Token
from tests.helpers.fake_gitlab import FakeGitLab
from tests.publish.envs import github_env, gitlab_env

APP_TOKEN = "ghs_appInstallationToken01"


def _no_sleep(seconds: float) -> None:
    raise AssertionError("no retry expected")


def post_github(fake: FakeGitHub, tmp_path: Path, body: str, token: str = FakeGitHub.WRITE_TOKEN) -> object:
    env = github_env(fake, tmp_path, token=token)
    return publish_comment(
        [body], key="preview", platform="github", env=env, retry=RetryPolicy(sleep=_no_sleep)
    )


def test_other_bots_comments_with_our_marker_are_left_alone(fake_github: FakeGitHub, tmp_path: Path) -> None:
    renovate = fake_github.add_comment(
        7, f"{marker('preview')}\nrenovate's text", login="renovate[bot]", bot=True
    )
    codecov = fake_github.add_comment(
        7, f"{marker('preview', 2)}\ncodecov's text", login="codecov[bot]", bot=True
    )
    outcome = post_github(fake_github, tmp_path, "drift\n")
    assert "1 created" in outcome.message  # type: ignore[attr-defined]
    bodies = {c["id"]: c["body"] for c in fake_github.issue_comments(7)}
    assert bodies[renovate].endswith("renovate's text") and bodies[codecov].endswith("codecov's text")
    assert fake_github.foreign_writes == []
    assert [c["user"]["login"] for c in fake_github.issue_comments(7)][-1] == "github-actions[bot]"


def test_an_app_token_adopts_only_its_own_bot_comments(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.tokens[APP_TOKEN] = Token("my-deploy-app[bot]")
    actions_comment = fake_github.add_comment(
        7, f"{marker('preview')}\nfrom GITHUB_TOKEN", login="github-actions[bot]", bot=True
    )
    post_github(fake_github, tmp_path, "first\n", token=APP_TOKEN)
    post_github(fake_github, tmp_path, "second\n", token=APP_TOKEN)
    comments = fake_github.issue_comments(7)
    assert [c["user"]["login"] for c in comments] == ["github-actions[bot]", "my-deploy-app[bot]"]
    assert comments[0]["id"] == actions_comment and comments[0]["body"].endswith("from GITHUB_TOKEN")
    assert comments[1]["body"].endswith("second\n")
    assert fake_github.foreign_writes == []


def test_a_personal_token_adopts_only_its_users_comments(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.add_comment(7, f"{marker('preview')}\nby a bot", login="github-actions[bot]", bot=True)
    mine = fake_github.add_comment(7, f"{marker('preview')}\nold", login="octocat")
    post_github(fake_github, tmp_path, "new\n", token=FakeGitHub.PERSONAL_TOKEN)
    comments = {c["id"]: c for c in fake_github.issue_comments(7)}
    assert len(comments) == 2 and comments[mine]["body"].endswith("new\n")
    assert fake_github.foreign_writes == []


def test_gitlab_adopts_only_notes_of_the_tokens_user(fake_gitlab: FakeGitLab) -> None:
    other = fake_gitlab.add_note(5, f"{marker('preview')}\nsomeone else's", author_id=7)
    env = gitlab_env(fake_gitlab)
    publish_comment(
        ["drift\n"], key="preview", platform="gitlab", env=env, retry=RetryPolicy(sleep=_no_sleep)
    )
    publish_comment(
        ["again\n"], key="preview", platform="gitlab", env=env, retry=RetryPolicy(sleep=_no_sleep)
    )
    notes = fake_gitlab.mr_notes(5)
    assert [n["author"]["id"] for n in notes] == [7, 901]
    assert notes[0]["id"] == other and notes[0]["body"].endswith("someone else's")
    assert notes[1]["body"].endswith("again\n")
    assert fake_gitlab.foreign_writes == []
