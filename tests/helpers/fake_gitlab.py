"""A stand-in for GitLab's merge request notes API (v4) on 127.0.0.1, recording every request.

What it enforces, as GitLab does (docs.gitlab.com/api/notes, /api/rest/#pagination):

- authentication by the ``PRIVATE-TOKEN`` header; none or an unknown token is 401 "401 Unauthorized"; a token
  without the ``api`` scope (``read_api``) gets 403 ``insufficient_scope`` on writes;
- ``per_page`` defaults to 20 and is capped at 100; ``X-Next-Page`` (empty on the last page), ``X-Page``,
  ``X-Per-Page``, ``X-Total``, ``X-Total-Pages`` and a ``Link`` header;
- a note longer than 1,000,000 characters gets 400 ``{"message": {"note": ["is too long ..."]}}``;
- the project may be named by id or URL-encoded path; unknown projects, merge requests and notes are 404;
- system notes ("added 1 commit") are part of the listing, as on GitLab;
- ``fail_next`` queues canned responses (429 with ``Retry-After``, 502...);
- ``GET /user`` answers the token's user; only a note's author may edit or delete it (403 otherwise), and every
  such attempt is recorded in ``foreign_writes``: the fixture fails a test in which one happened unexpectedly.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

import pytest

from tests.helpers.fake_http import Recorded, RecordingServer

NOTE_LIMIT = 1_000_000


@dataclass
class User:
    id: int
    username: str
    scopes: tuple[str, ...] = ("api",)

    @property
    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "name": self.username,
            "bot": self.username.startswith("project_"),
        }


@dataclass
class FakeGitLab(RecordingServer):
    project_id: int = 42
    project_path: str = "acme/deploy"
    merge_requests: set[int] = field(default_factory=lambda: {5})
    tokens: dict[str, User] = field(
        default_factory=lambda: {
            "glpat-projectToken012345": User(901, "project_42_bot"),
            "glpat-readOnlyToken01234": User(902, "project_42_bot_ro", ("read_api",)),
        }
    )
    requests: list[Recorded] = field(default_factory=list)
    notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    # (method, note id, author id, token user id) of attempts to edit or delete another user's note
    foreign_writes: list[tuple[str, int, int, int]] = field(default_factory=list)
    allow_foreign_writes: bool = False
    _queue: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    _next_id: int = 5000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    TOKEN = "glpat-projectToken012345"
    READ_TOKEN = "glpat-readOnlyToken01234"

    @property
    def api_url(self) -> str:
        return self.url + "/api/v4"

    def add_note(self, iid: int, body: str, *, author_id: int = 7, system: bool = False) -> int:
        with self._lock:
            return self._create(iid, body, {"id": author_id, "username": f"user{author_id}"}, system=system)[
                "id"
            ]

    def mr_notes(self, iid: int, *, system: bool = False) -> list[dict[str, Any]]:
        return [
            n
            for n in sorted(self.notes.values(), key=lambda n: n["id"])
            if n["iid"] == iid and (system or not n["system"])
        ]

    def _create(self, iid: int, body: str, author: dict[str, Any], *, system: bool = False) -> dict[str, Any]:
        self._next_id += 1
        note = {
            "id": self._next_id,
            "iid": iid,
            "body": body,
            "author": author,
            "system": system,
            "noteable_type": "MergeRequest",
            "noteable_iid": iid,
            "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-01T00:00:00.000Z",
        }
        self.notes[note["id"]] = note
        return note

    def _route(self, h: BaseHTTPRequestHandler, r: Recorded) -> tuple[int, dict[str, str], Any]:
        user = self.tokens.get(r.headers.get("PRIVATE-TOKEN", ""))
        if user is None:
            return 401, {}, {"message": "401 Unauthorized"}
        if self._queue:
            return self._queue.pop(0)
        if r.path == "/api/v4/user" and r.method == "GET":
            return 200, {}, user.json
        m = re.fullmatch(r"/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes(?:/(\d+))?", r.path)
        if not m:
            return 404, {}, {"error": "404 Not Found"}
        project = unquote(m.group(1))
        if project not in (str(self.project_id), self.project_path):
            return 404, {}, {"message": "404 Project Not Found"}
        iid = int(m.group(2))
        if iid not in self.merge_requests:
            return 404, {}, {"message": "404 Merge Request Not Found"}
        writes = r.method in ("POST", "PUT", "DELETE")
        if writes and "api" not in user.scopes:
            return (
                403,
                {},
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than provided by the access token.",
                    "scope": "api",
                },
            )
        note_id = m.group(3)
        if note_id is None:
            if r.method == "GET":
                return self._list(h, iid, r)
            if r.method == "POST":
                problem = self._check_body(r.body)
                return problem or (201, {}, self._public(self._create(iid, r.body["body"], user.json)))
            return 405, {}, {"message": "405 Method Not Allowed"}
        note = self.notes.get(int(note_id))
        if note is None or note["iid"] != iid:
            return 404, {}, {"message": "404 Note Not Found"}
        if r.method == "GET":
            return 200, {}, self._public(note)
        if note["author"]["id"] != user.id:
            self.foreign_writes.append((r.method, note["id"], note["author"]["id"], user.id))
            return 403, {}, {"message": "403 Forbidden"}
        if r.method == "PUT":
            problem = self._check_body(r.body)
            if problem:
                return problem
            note["body"] = r.body["body"]
            return 200, {}, self._public(note)
        if r.method == "DELETE":
            del self.notes[note["id"]]
            return 204, {}, None
        return 405, {}, {"message": "405 Method Not Allowed"}

    @staticmethod
    def _public(note: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in note.items() if k != "iid"}

    @staticmethod
    def _check_body(body: Any) -> tuple[int, dict[str, str], Any] | None:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"]:
            return 400, {}, {"error": "body is missing"}
        if len(body["body"]) > NOTE_LIMIT:
            return 400, {}, {"message": {"note": ["is too long (maximum is 1000000 characters)"]}}
        return None

    def _list(self, h: BaseHTTPRequestHandler, iid: int, r: Recorded) -> tuple[int, dict[str, str], Any]:
        try:
            per_page = min(max(int(r.query.get("per_page", "20")), 1), 100)
            page = max(int(r.query.get("page", "1")), 1)
        except ValueError:
            return 400, {}, {"error": "per_page is invalid"}
        items = self.mr_notes(iid, system=True)
        if r.query.get("sort") == "desc" or "sort" not in r.query:
            items = items[::-1]  # GitLab's default: newest first
        total_pages = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
            "X-Next-Page": str(page + 1) if page < total_pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        base = f"http://{h.headers.get('Host')}{r.path}"
        links = []
        if page < total_pages:
            links.append(f'<{base}?page={page + 1}&per_page={per_page}>; rel="next"')
        links.append(f'<{base}?page=1&per_page={per_page}>; rel="first"')
        links.append(f'<{base}?page={total_pages}&per_page={per_page}>; rel="last"')
        headers["Link"] = ", ".join(links)
        return 200, headers, [self._public(n) for n in chunk]


@pytest.fixture
def fake_gitlab() -> Iterator[FakeGitLab]:
    """A running stand-in, stopped after the test."""
    fake = FakeGitLab().start()
    yield fake
    fake.stop()
    if not fake.allow_foreign_writes:
        assert fake.foreign_writes == [], f"notes of another user were written: {fake.foreign_writes}"
