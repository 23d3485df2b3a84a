"""A stand-in for the part of GitHub's REST API that gitops-check uses, on 127.0.0.1, recording every request.

It enforces what the real API does to a client (docs.github.com, REST 2022-11-28), so a client that passes here
behaves on github.com:

- every request needs a ``User-Agent`` (403 otherwise) and a valid ``Authorization: Bearer|token`` (401
  "Bad credentials"); a read-only token (a fork's pull request) gets 403 "Resource not accessible by integration"
  on writes, and so does an installation token on ``GET /user``;
- ``per_page`` defaults to 30 and is capped at 100; further pages are linked from the ``Link`` header, with URLs of
  the ``/repositories/{id}/...`` form GitHub uses;
- a comment body longer than 65,536 characters gets 422 "Body is too long";
- unknown repositories, pull requests and comments get 404;
- ``fail_next`` queues canned responses (rate limits with ``Retry-After``, secondary limits, 502...).

Tokens map to users: an installation token writes as ``github-actions[bot]`` (type Bot), a personal token as its
user. ``POST /graphql`` answers ``{ viewer { login } }`` for both kinds, as GitHub does. GitHub lets a token with
write access edit or delete anybody's comment; the stand-in allows it too but records every such write in
``foreign_writes``, and the fixture fails the test when one happened that the test did not expect (a tool must
only ever touch comments written by its own identity). Nothing here sleeps or depends on time.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.helpers.fake_http import Recorded, RecordingServer

BODY_LIMIT = 65536
REPO_ID = 4242


@dataclass
class Token:
    login: str
    write: bool = True
    installation: bool = True  # GITHUB_TOKEN / app token: a bot, and GET /user is refused

    @property
    def user(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "id": sum(map(ord, self.login)),
            "type": "Bot" if self.installation else "User",
        }


@dataclass
class FakeGitHub(RecordingServer):
    repository: str = "acme/deploy"
    pulls: set[int] = field(default_factory=lambda: {7})
    tokens: dict[str, Token] = field(
        default_factory=lambda: {
            "ghs_writeToken0123456789": Token("github-actions[bot]"),
            "ghs_readOnlyToken0123456": Token("github-actions[bot]", write=False),
            "ghp_personalToken0123456": Token("octocat", installation=False),
        }
    )
    requests: list[Recorded] = field(default_factory=list)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> comment (with "issue")
    # (method, comment id, author login, token login) of edits and deletions of another identity's comment
    foreign_writes: list[tuple[str, int, str, str]] = field(default_factory=list)
    allow_foreign_writes: bool = False
    _queue: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    json_content_type = "application/json; charset=utf-8"
    WRITE_TOKEN = "ghs_writeToken0123456789"
    READ_TOKEN = "ghs_readOnlyToken0123456"
    PERSONAL_TOKEN = "ghp_personalToken0123456"

    # ----------------------------------------------------------------------------------- test controls

    def add_comment(self, number: int, body: str, *, login: str = "someone", bot: bool = False) -> int:
        with self._lock:
            return self._create(number, body, {"login": login, "id": 1, "type": "Bot" if bot else "User"})[
                "id"
            ]

    def issue_comments(self, number: int) -> list[dict[str, Any]]:
        return [c for c in sorted(self.comments.values(), key=lambda c: c["id"]) if c["issue"] == number]

    # ----------------------------------------------------------------------------------- the API

    def _create(self, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        cid = self._next_id
        comment = {
            "id": cid,
            "issue": number,
            "body": body,
            "user": user,
            "html_url": f"https://github.com/{self.repository}/pull/{number}#issuecomment-{cid}",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
        self.comments[cid] = comment
        return comment

    def _route(self, h: BaseHTTPRequestHandler, r: Recorded) -> tuple[int, dict[str, str], Any]:
        if not r.headers.get("User-Agent"):
            return (
                403,
                {},
                {
                    "message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"
                },
            )
        auth = r.headers.get("Authorization", "")
        match = re.fullmatch(r"(?:Bearer|token) (\S+)", auth)
        token = self.tokens.get(match.group(1)) if match else None
        if token is None:
            return (
                401,
                {},
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
            )
        if self._queue:
            return self._queue.pop(0)
        if r.path == "/user" and r.method == "GET":
            if token.installation:
                return 403, {}, {"message": "Resource not accessible by integration"}
            return 200, {}, token.user
        if r.path == "/graphql" and r.method == "POST":
            query = r.body.get("query") if isinstance(r.body, dict) else None
            if not isinstance(query, str) or "viewer" not in query:
                return 200, {}, {"errors": [{"message": "only { viewer { login } } is implemented here"}]}
            return 200, {}, {"data": {"viewer": {"login": token.login}}}
        owner_repo = f"/repos/{self.repository}/issues"
        by_id = f"/repositories/{REPO_ID}/issues"
        m = re.fullmatch(rf"(?:{re.escape(owner_repo)}|{re.escape(by_id)})/(\d+)/comments", r.path)
        if m:
            number = int(m.group(1))
            if number not in self.pulls:
                return 404, {}, {"message": "Not Found"}
            if r.method == "GET":
                return self._list(h, number, r)
            if r.method == "POST":
                if not token.write:
                    return 403, {}, {"message": "Resource not accessible by integration"}
                problem = self._check_body(r.body)
                if problem:
                    return problem
                return 201, {}, self._create(number, r.body["body"], token.user)
        m = re.fullmatch(rf"{re.escape(owner_repo)}/comments/(\d+)", r.path)
        if m:
            comment = self.comments.get(int(m.group(1)))
            if comment is None:
                return 404, {}, {"message": "Not Found"}
            if r.method == "GET":
                return 200, {}, comment
            if not token.write:
                return 403, {}, {"message": "Resource not accessible by integration"}
            if r.method in ("PATCH", "DELETE") and comment["user"]["login"] != token.login:
                self.foreign_writes.append((r.method, comment["id"], comment["user"]["login"], token.login))
            if r.method == "PATCH":
                problem = self._check_body(r.body)
                if problem:
                    return problem
                comment["body"] = r.body["body"]
                comment["updated_at"] = "2026-01-01T00:01:00Z"
                return 200, {}, comment
            if r.method == "DELETE":
                del self.comments[comment["id"]]
                return 204, {}, None
        return 404, {}, {"message": "Not Found"}

    def _check_body(self, body: Any) -> tuple[int, dict[str, str], Any] | None:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            return 422, {}, {"message": 'Invalid request.\n\n"body" wasn\'t supplied.'}
        if len(body["body"]) > BODY_LIMIT:
            return (
                422,
                {},
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "IssueComment",
                            "code": "unprocessable",
                            "field": "data",
                            "message": "Body is too long (maximum is 65536 characters)",
                        }
                    ],
                },
            )
        return None

    def _list(self, h: BaseHTTPRequestHandler, number: int, r: Recorded) -> tuple[int, dict[str, str], Any]:
        try:
            per_page = min(int(r.query.get("per_page", "30")), 100)
            page = max(int(r.query.get("page", "1")), 1)
        except ValueError:
            return 400, {}, {"message": "Invalid per_page or page"}
        items = self.issue_comments(number)
        pages = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        host = h.headers.get("Host")
        base = f"http://{host}/repositories/{REPO_ID}/issues/{number}/comments"
        links = []
        if page < pages:
            links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={pages}>; rel="last"')
        if page > 1:
            links.append(f'<{base}?per_page={per_page}&page={page - 1}>; rel="prev"')
            links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, headers, [{k: v for k, v in c.items() if k != "issue"} for c in chunk]


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A running stand-in, stopped after the test."""
    fake = FakeGitHub().start()
    yield fake
    fake.stop()
    if not fake.allow_foreign_writes:
        assert fake.foreign_writes == [], f"comments of another identity were written: {fake.foreign_writes}"
