"""GitLab merge request notes: where to post (from the CI environment) and the REST calls to do it.

Endpoints (API v4): ``GET|POST /projects/:id/merge_requests/:iid/notes`` (``per_page`` at most 100, the next page
in ``X-Next-Page``), ``PUT|DELETE .../notes/:note_id``, authenticated with the ``PRIVATE-TOKEN`` header. A note
holds at most 1,000,000 characters.

The job token (``CI_JOB_TOKEN``) cannot write notes, so posting needs a project or group access token with the
``api`` scope in a CI/CD variable. Without it the note is skipped with a message and the job result is unaffected:
the JUnit report still reaches the merge request's test widget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gitops_check.errors import PublishError
from gitops_check.publish.http import Api, RetryPolicy, check_token
from gitops_check.publish.sticky import Comment

GITLAB_LIMIT = 1_000_000
PER_PAGE = 100
MAX_PAGES = 100
DEFAULT_TOKEN_ENV = "GITOPS_CHECK_GITLAB_TOKEN"


@dataclass(frozen=True)
class GitLabTarget:
    api_url: str
    project: str  # numeric id or full path
    iid: int
    project_url: str | None = None
    job_url: str | None = None

    def note_url(self, note_id: int) -> str | None:
        if not self.project_url:
            return None
        return f"{self.project_url}/-/merge_requests/{self.iid}#note_{note_id}"


def gitlab_target(env: Mapping[str, str], iid: int | None = None) -> GitLabTarget | str:
    """Where to post, or the reason there is nothing to post on (a branch pipeline, a schedule)."""
    api_url = env.get("CI_API_V4_URL")
    if not api_url:
        server = env.get("CI_SERVER_URL")
        if not server:
            raise PublishError(
                "CI_API_V4_URL is not set: run inside GitLab CI or set it (with CI_PROJECT_ID)"
            )
        api_url = server.rstrip("/") + "/api/v4"
    # In a pipeline of a fork, CI_PROJECT_ID is the fork; the merge request lives in the target project.
    project = env.get("CI_MERGE_REQUEST_PROJECT_ID") or env.get("CI_PROJECT_ID")
    if not project:
        raise PublishError("CI_PROJECT_ID is not set: run inside GitLab CI or set it")
    if iid is None:
        raw = env.get("CI_MERGE_REQUEST_IID", "")
        if not raw:
            source = env.get("CI_PIPELINE_SOURCE") or "this"
            return f"the {source} pipeline is not a merge request pipeline: no note posted (pass --pr IID to name one)"
        if not raw.isdigit():
            raise PublishError(f"CI_MERGE_REQUEST_IID is not a number: {raw[:20]!r}")
        iid = int(raw)
    return GitLabTarget(
        api_url=api_url,
        project=project,
        iid=iid,
        project_url=env.get("CI_MERGE_REQUEST_PROJECT_URL") or env.get("CI_PROJECT_URL"),
        job_url=env.get("CI_JOB_URL"),
    )


def _explain(target: GitLabTarget, variable: str) -> Any:
    def explain(status: int, what: str, message: str) -> str:
        said = f" ({message})" if message else ""
        if status == 401:
            return f"GitLab rejected the token in {variable} (401{said}): it is missing, expired or revoked"
        if status == 403:
            return (
                f"GitLab refused to {what} (403{said}): the token needs the 'api' scope and at least the Reporter"
                " role in the project (a project or group access token; CI_JOB_TOKEN cannot post notes)"
            )
        if status == 404:
            return (
                f"GitLab answered 404 to {what}: project {target.project} or merge request !{target.iid} does not"
                " exist, or the token cannot see it (it needs to be a member of the project)"
            )
        return f"GitLab answered {status} to {what}{said}"

    return explain


class GitLabNotes:
    """The notes of one merge request, as a ``CommentStore``."""

    service = "GitLab"
    limit = GITLAB_LIMIT
    unit = "characters"

    def __init__(self, target: GitLabTarget, token: str, *, variable: str, retry: RetryPolicy | None = None):
        token = check_token(token, variable)
        self.target = target
        self.api = Api(
            service="GitLab",
            base_url=target.api_url,
            auth={"PRIVATE-TOKEN": token},
            secret=token,
            explain=_explain(target, variable),
            retry=retry,
        )
        project = quote(target.project, safe="")
        self._notes = f"projects/{project}/merge_requests/{target.iid}/notes"
        self._asked = False
        self._me: int | None = None
        self.identity_warning: str | None = None

    def measure(self, body: str) -> int:
        return len(body)

    def whoami(self) -> int | None:
        """The token's user id (access tokens are bot users with an id of their own)."""
        if not self._asked:
            data = self.api.request("GET", "user", what="read the token's user").json()
            me = data.get("id") if isinstance(data, dict) else None
            self._me = me if isinstance(me, int) and not isinstance(me, bool) else None
            self._asked = True
            if self._me is None:
                self.identity_warning = (
                    "GitLab did not say which user the token writes as: earlier gitops-check notes are not"
                    " updated, a new one is posted"
                )
        return self._me

    def list(self) -> list[Comment]:
        me = self.whoami()
        what = f"list the notes of merge request !{self.target.iid}"
        page = "1"
        out: list[Comment] = []
        for _ in range(MAX_PAGES):
            params = {"per_page": PER_PAGE, "page": page, "sort": "asc", "order_by": "created_at"}
            response = self.api.request("GET", self._notes, what=what, params=params)
            data = response.json()
            if not isinstance(data, list):
                raise PublishError(f"GitLab answered something other than a list to {what}")
            out += [self._note(n, me) for n in data if isinstance(n, dict) and not n.get("system")]
            page = response.headers.get("X-Next-Page", "").strip()
            if not page:
                return out
            if not page.isdigit():
                raise PublishError(f"GitLab answered an invalid X-Next-Page to {what}")
        raise PublishError(f"merge request !{self.target.iid} has more than {MAX_PAGES * PER_PAGE} notes")

    def create(self, body: str) -> Comment:
        what = f"add a note to merge request !{self.target.iid}"
        return self._note(self.api.request("POST", self._notes, what=what, json={"body": body}).json())

    def update(self, comment_id: int, body: str) -> Comment:
        what = f"edit note {comment_id} of merge request !{self.target.iid}"
        response = self.api.request("PUT", f"{self._notes}/{comment_id}", what=what, json={"body": body})
        return self._note(response.json())

    def delete(self, comment_id: int) -> None:
        what = f"delete note {comment_id} of merge request !{self.target.iid}"
        self.api.request("DELETE", f"{self._notes}/{comment_id}", what=what)

    def _note(self, data: Any, me: int | None = None) -> Comment:
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise PublishError("GitLab answered a note without an id")
        author = data.get("author")
        author = author if isinstance(author, dict) else {}
        return Comment(
            id=data["id"],
            body=str(data.get("body") or ""),
            url=self.target.note_url(data["id"]),
            mine=me is not None and author.get("id") == me,
        )
