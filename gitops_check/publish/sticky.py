"""Sticky comments: one comment per report key and part, found again by a hidden marker and edited in place.

A pull request that is pushed to ten times should carry one gitops-check comment that tells the current state,
not ten. Each comment starts with ``<!-- gitops-check:<key> -->`` (part 1) or ``<!-- gitops-check:<key>:part N -->``,
so several reports (``preview`` and ``diff``, or one per repository folder) live side by side under their own keys.
When a report shrinks from three parts to one, parts 2 and 3 are deleted (or, where deleting is refused, emptied
to a one-line note), so no stale diff is left in the conversation.

The platform-specific calls sit behind ``CommentStore``; this module decides what to create, update and delete.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gitops_check.publish.http import HttpError

log = logging.getLogger("gitops_check.publish")

KEY_LIMIT = 100
# Characters a marker line can take: ``<!-- gitops-check:`` + key + ``:part NNNN -->`` + newline.
MARKER_ROOM = 160
LEFTOVER_NOTE = (
    "_This part of an earlier gitops-check report is no longer needed: the report is shorter now._\n"
)
_MARKER = re.compile(r"\A\s*<!-- gitops-check:(?P<key>[^\s<>]+?)(?::part (?P<part>[1-9][0-9]{0,3}))? -->")
_KEY_BAD = re.compile(r"[^A-Za-z0-9._/:@+=-]+")


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    url: str | None = None
    # Written by the identity publishing now. Anyone can type a marker into a comment; only our own are adopted,
    # or a contributor could plant one and later edit "our" report to say "in sync".
    mine: bool = True


class CommentStore(Protocol):
    """The comments of one pull request (GitHub) or merge request (GitLab)."""

    service: str  # "GitHub" / "GitLab", for messages
    limit: int  # the largest body the platform accepts, in ``measure`` units
    unit: str  # "characters"

    def measure(self, body: str) -> int: ...
    def list(self) -> list[Comment]:
        """All comments, oldest first, with ``mine`` set."""
        ...

    def create(self, body: str) -> Comment: ...
    def update(self, comment_id: int, body: str) -> Comment: ...
    def delete(self, comment_id: int) -> None: ...


def normalize_key(raw: str) -> str:
    """A key safe inside an HTML comment: no spaces, no ``--``, at most 100 characters; "default" when empty."""
    key = _KEY_BAD.sub("-", raw.strip())
    key = re.sub(r"-{2,}", "-", key).strip("-:")[:KEY_LIMIT].strip("-:")
    return key or "default"


def marker(key: str, part: int = 1) -> str:
    suffix = f":part {part}" if part > 1 else ""
    return f"<!-- gitops-check:{key}{suffix} -->"


def parse_marker(body: str) -> tuple[str, int] | None:
    """(key, part) of a comment written by gitops-check, else None. The marker must open the body."""
    match = _MARKER.match(body)
    if not match:
        return None
    return match.group("key"), int(match.group("part") or 1)


def with_marker(key: str, part: int, body: str) -> str:
    return f"{marker(key, part)}\n{body}"


def _same(a: str, b: str) -> bool:
    return a.replace("\r\n", "\n").rstrip() == b.replace("\r\n", "\n").rstrip()


@dataclass
class StickyResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    emptied: int = 0
    urls: list[str] = field(default_factory=list)  # the report's comments, part 1 first
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        done = [
            f"{n} {word}"
            for n, word in (
                (self.created, "created"),
                (self.updated, "updated"),
                (self.unchanged, "unchanged"),
                (self.deleted, "deleted"),
                (self.emptied, "emptied"),
            )
            if n
        ]
        return ", ".join(done) or "nothing to do"


def check_sizes(store: CommentStore, key: str, bodies: Sequence[str], names: Sequence[str]) -> None:
    """Refuse before any call when a part cannot be posted whole: a comment is never cut."""
    from gitops_check.errors import PublishError

    for n, (body, name) in enumerate(zip(bodies, names, strict=True), 1):
        size = store.measure(with_marker(key, n, body))
        if size > store.limit:
            raise PublishError(
                f"{name} is {size:,} {store.unit} with its marker; {store.service} comments hold at most"
                f" {store.limit:,}: split the report into parts (e.g. preview --markdown-parts-dir, or"
                " diff --comment, which splits by itself)"
            )


def publish_sticky(store: CommentStore, key: str, bodies: Sequence[str]) -> StickyResult:
    """Make the comments for ``key`` say ``bodies`` (part 1 first): update, create, and remove leftovers."""
    if not bodies:
        raise ValueError("nothing to publish")
    result = StickyResult()
    ours: dict[int, list[Comment]] = {}
    comments = store.list()
    unknown = getattr(store, "identity_warning", None)  # the token's identity could not be read
    if unknown:
        result.warnings.append(str(unknown))
    for comment in comments:
        found = parse_marker(comment.body)
        if found and found[0] == key:
            if comment.mine:
                ours.setdefault(found[1], []).append(comment)
            else:
                log.debug(
                    "comment %s carries the marker of %s but was written by someone else", comment.id, key
                )

    for n, body in enumerate(bodies, 1):
        text = with_marker(key, n, body)
        candidates = sorted(ours.pop(n, []), key=lambda c: c.id)
        target = candidates[0] if candidates else None
        if target is not None and _same(target.body, text):
            result.unchanged += 1
            result.urls.append(target.url or "")
        elif target is not None:
            try:
                result.urls.append(store.update(target.id, text).url or "")
                result.updated += 1
            except HttpError as e:
                if e.status not in (403, 404):
                    raise
                # Not ours to edit after all (or deleted meanwhile): post a fresh one rather than fail.
                result.warnings.append(
                    f"could not edit comment {target.id} ({e.status}); posted part {n} as a new comment"
                )
                result.urls.append(store.create(text).url or "")
                result.created += 1
        else:
            result.urls.append(store.create(text).url or "")
            result.created += 1
        for duplicate in candidates[1:]:  # two jobs raced and both created the part
            _remove(store, key, duplicate, n, result)

    for n in sorted(ours):
        for leftover in ours[n]:
            _remove(store, key, leftover, n, result)
    return result


def _remove(store: CommentStore, key: str, comment: Comment, part: int, result: StickyResult) -> None:
    """Delete a comment that is no longer part of the report; empty it when deleting is refused."""
    try:
        store.delete(comment.id)
        result.deleted += 1
        return
    except HttpError as e:
        if e.status == 404:
            return  # already gone
        if e.status != 403:
            raise
    stub = with_marker(key, part, LEFTOVER_NOTE)
    if _same(comment.body, stub):
        return
    try:
        store.update(comment.id, stub)
        result.emptied += 1
    except HttpError as e:
        if e.status not in (403, 404):
            raise
        result.warnings.append(f"could not delete or empty the outdated comment {comment.id} ({e.status})")
