"""GitHub pull request comments: where to post (from the Actions environment) and the REST calls to do it.

Endpoints (REST API 2022-11-28): list ``GET /repos/{o}/{r}/issues/{n}/comments`` (``per_page`` at most 100,
``Link`` headers for the next page), create ``POST`` on the same path, edit ``PATCH /repos/{o}/{r}/issues/comments/{id}``,
delete ``DELETE`` on that path. A body holds at most 65,536 characters; longer ones get 422.

On a pull request from a fork the workflow token is read-only and writes answer 403: the caller falls back to the
job summary instead of failing, so ``GitHubTarget.fork`` is worked out from the event here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_check.errors import PublishError
from gitops_check.publish.http import Api, RetryPolicy, check_token
from gitops_check.publish.sticky import Comment

GITHUB_LIMIT = 65536
PER_PAGE = 100
MAX_PAGES = 100  # 10,000 comments: a conversation longer than that is not one we should page through
DEFAULT_TOKEN_ENV = "GITHUB_TOKEN"
_PERMISSION = (
    "the token needs 'pull-requests: write' (workflow 'permissions:') or, for a personal token, repo access"
)


@dataclass(frozen=True)
class GitHubTarget:
    api_url: str
    repository: str  # owner/name
    number: int
    fork: bool = False  # the pull request comes from a fork: the workflow token is read-only
    server_url: str = "https://github.com"
    run_url: str | None = None  # this workflow run, where the job summary is

    @property
    def pull_url(self) -> str:
        return f"{self.server_url}/{self.repository}/pull/{self.number}"


def read_event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PublishError(f"cannot read the GitHub event file {path}: {type(e).__name__}") from None
    return data if isinstance(data, dict) else {}


def pull_number(event: Mapping[str, Any]) -> int | None:
    """The pull request of a pull_request / pull_request_target / issue_comment (on a PR) event."""
    pr = event.get("pull_request")
    if isinstance(pr, dict) and isinstance(pr.get("number"), int):
        return int(pr["number"])
    issue = event.get("issue")
    if isinstance(issue, dict) and issue.get("pull_request") and isinstance(issue.get("number"), int):
        return int(issue["number"])
    return None


def is_fork(event: Mapping[str, Any]) -> bool:
    pr = event.get("pull_request")
    if not isinstance(pr, dict):
        return False
    head = (pr.get("head") or {}).get("repo")
    base = (pr.get("base") or {}).get("repo") or {}
    if head is None:
        return True  # the fork was deleted
    return bool(head.get("fork")) or head.get("full_name") != base.get("full_name")


def github_target(env: Mapping[str, str], number: int | None = None) -> GitHubTarget | str:
    """Where to comment, or the reason there is nothing to comment on (a push, a schedule)."""
    repository = env.get("GITHUB_REPOSITORY", "")
    if "/" not in repository:
        raise PublishError(
            "GITHUB_REPOSITORY is not set to owner/name: run inside GitHub Actions or set it (with --pr N)"
        )
    event = read_event(env)
    if number is None:
        number = pull_number(event)
    if number is None:
        name = env.get("GITHUB_EVENT_NAME") or "this"
        return f"the {name} event is not about a pull request: no comment posted (pass --pr N to name one)"
    server = env.get("GITHUB_SERVER_URL") or "https://github.com"
    run_id = env.get("GITHUB_RUN_ID")
    return GitHubTarget(
        api_url=env.get("GITHUB_API_URL") or "https://api.github.com",
        repository=repository,
        number=number,
        fork=is_fork(event) if pull_number(event) == number else False,
        server_url=server,
        run_url=f"{server}/{repository}/actions/runs/{run_id}" if run_id else None,
    )


def _explain(target: GitHubTarget, variable: str) -> Any:
    def explain(status: int, what: str, message: str) -> str:
        said = f" ({message})" if message else ""
        if status == 401:
            return f"GitHub rejected the token in {variable} (401{said}): it is missing, expired or revoked"
        if status == 403:
            return f"GitHub refused to {what} (403{said}): {_PERMISSION}"
        if status == 404:
            return (
                f"GitHub answered 404 to {what}: {target.repository} or pull request #{target.number} does not exist,"
                " or the token cannot see it (it needs 'pull-requests: read' on the repository)"
            )
        if status == 422:
            return f"GitHub refused the comment to {what} (422{said})"
        return f"GitHub answered {status} to {what}{said}"

    return explain


class GitHubComments:
    """The comments of one pull request, as a ``CommentStore``."""

    service = "GitHub"
    limit = GITHUB_LIMIT
    unit = "characters"

    def __init__(self, target: GitHubTarget, token: str, *, variable: str, retry: RetryPolicy | None = None):
        token = check_token(token, variable)
        self.target = target
        self.api = Api(
            service="GitHub",
            base_url=target.api_url,
            auth={"Authorization": f"Bearer {token}"},
            secret=token,
            explain=_explain(target, variable),
            retry=retry,
            extra_headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
        )
        self._issue = f"repos/{target.repository}/issues"
        self._asked = False
        self._login: str | None = None
        self.identity_warning: str | None = None

    def measure(self, body: str) -> int:
        # Counted like JavaScript strings (UTF-16 units): never less than GitHub's own count.
        return len(body.encode("utf-16-le", "surrogatepass")) // 2

    def whoami(self) -> str | None:
        """The login the token writes comments as; None when GitHub does not tell (nothing is adopted then).

        A personal token reads it from ``GET /user``. An app installation token (GITHUB_TOKEN, a GitHub App's
        token) is refused there; GraphQL's ``viewer`` answers it with the app's bot login
        (``github-actions[bot]``, ``my-app[bot]``). Any other bot's comment is not ours, even with our marker.
        """
        if not self._asked:
            self._asked = True
            response = self.api.request("GET", "user", what="read the token's user", ok=(200, 403))
            login = _login(response.json()) if response.status_code == 200 else None
            if login is None:
                response = self.api.request(
                    "POST",
                    graphql_url(self.target.api_url),
                    what="read the token's identity",
                    json={"query": "query { viewer { login } }"},
                    ok=(200, 401, 403),
                )
                data = response.json() if response.status_code == 200 else None
                viewer = (data.get("data") or {}).get("viewer") if isinstance(data, dict) else None
                login = _login(viewer)
            self._login = login
            if login is None:
                self.identity_warning = (
                    "GitHub did not say which account the token writes as: earlier gitops-check comments are"
                    " not updated, a new one is posted"
                )
        return self._login

    def list(self) -> list[Comment]:
        me = self.whoami()
        what = f"list the comments of pull request #{self.target.number}"
        url: str | None = f"{self._issue}/{self.target.number}/comments"
        params: dict[str, Any] | None = {"per_page": PER_PAGE}
        out: list[Comment] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return out
            response = self.api.request("GET", url, what=what, params=params)
            data = response.json()
            if not isinstance(data, list):
                raise PublishError(f"GitHub answered something other than a list to {what}")
            out += [_comment(c, me) for c in data if isinstance(c, dict)]
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries them
        raise PublishError(
            f"pull request #{self.target.number} has more than {MAX_PAGES * PER_PAGE} comments"
        )

    def create(self, body: str) -> Comment:
        what = f"comment on pull request #{self.target.number}"
        response = self.api.request(
            "POST", f"{self._issue}/{self.target.number}/comments", what=what, json={"body": body}
        )
        return _comment(response.json())

    def update(self, comment_id: int, body: str) -> Comment:
        what = f"edit comment {comment_id} on pull request #{self.target.number}"
        response = self.api.request(
            "PATCH", f"{self._issue}/comments/{comment_id}", what=what, json={"body": body}
        )
        return _comment(response.json())

    def delete(self, comment_id: int) -> None:
        what = f"delete comment {comment_id} on pull request #{self.target.number}"
        self.api.request("DELETE", f"{self._issue}/comments/{comment_id}", what=what)


def graphql_url(api_url: str) -> str:
    """GitHub's GraphQL endpoint next to its REST API: ``/graphql`` on api.github.com, ``/api/graphql`` on GHES."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


def _login(user: Any) -> str | None:
    login = user.get("login") if isinstance(user, dict) else None
    return login if isinstance(login, str) and login else None


def _comment(data: Any, me: str | None = None) -> Comment:
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise PublishError("GitHub answered a comment without an id")
    author = _login(data.get("user"))
    # Logins are case-insensitive on GitHub. Without a known identity nothing is ours: a bot account is not
    # enough (renovate[bot] and codecov[bot] are bots too).
    mine = me is not None and author is not None and author.casefold() == me.casefold()
    return Comment(id=data["id"], body=str(data.get("body") or ""), url=data.get("html_url"), mine=mine)
