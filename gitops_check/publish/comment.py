"""Posting a report as sticky comment(s): pick the platform, find the pull/merge request and the token, publish.

Two steps, so a caller that renders the report can size it for the platform first: ``open_destination`` works out
where the comment goes (or why it does not go anywhere: not in CI, not a pull request, no token), then
``publish`` writes the parts. ``publish_comment`` does both for Markdown that is already written.

Outcomes a CI job should not fail over are ``skipped`` (nothing to comment on, GitLab token not configured) and
``fallback`` (a pull request from a fork, where GitHub's token is read-only: the report stays in the job
summary). A wrong token or missing permission is a PublishError with a one-line message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from gitops_check.errors import PublishError
from gitops_check.publish import github, gitlab
from gitops_check.publish.http import HttpError, RetryPolicy, debug_logging
from gitops_check.publish.sticky import MARKER_ROOM, CommentStore, check_sizes, normalize_key, publish_sticky

log = logging.getLogger("gitops_check.publish")

Platform = Literal["github", "gitlab", "auto"]
Status = Literal["posted", "skipped", "fallback"]


@dataclass(frozen=True)
class CommentOutcome:
    status: Status
    message: str  # one line for the job log
    urls: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass
class Destination:
    """Where comments go: a platform, a pull/merge request and an authenticated store."""

    platform: str  # "github" | "gitlab"
    store: CommentStore
    label: str  # "pull request #12" / "merge request !7"
    details_url: str | None  # the CI run/job, where the full report and the summary are
    fork: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def part_limit(self) -> int:
        """The size a rendered part may have so that it still fits once its marker is added."""
        return self.store.limit - MARKER_ROOM


def detect_platform(platform: Platform, env: Mapping[str, str]) -> str | None:
    if platform != "auto":
        return platform
    if env.get("GITHUB_ACTIONS") == "true":
        return "github"
    if env.get("GITLAB_CI") == "true":
        return "gitlab"
    return None


def open_destination(
    platform: Platform,
    env: Mapping[str, str],
    *,
    number: int | None = None,
    token_env: str | None = None,
    retry: RetryPolicy | None = None,
) -> Destination | CommentOutcome:
    """The destination, or a ``skipped`` outcome saying why nothing will be posted."""
    debug_logging(env)
    chosen = detect_platform(platform, env)
    if chosen is None:
        return CommentOutcome("skipped", "not running in GitHub Actions or GitLab CI: no comment posted")
    if chosen == "github":
        target = github.github_target(env, number)
        if isinstance(target, str):
            return CommentOutcome("skipped", target)
        variable = token_env or github.DEFAULT_TOKEN_ENV
        token = env.get(variable, "")
        if not token.strip():
            return CommentOutcome(
                "skipped",
                f"{variable} is not set: no comment posted (give the step `env: {variable}: ${{{{ github.token }}}}`)",
            )
        store: CommentStore = github.GitHubComments(target, token, variable=variable, retry=retry)
        return Destination(
            "github",
            store,
            f"pull request #{target.number}",
            target.run_url or target.pull_url,
            fork=target.fork,
        )
    if chosen == "gitlab":
        gl_target = gitlab.gitlab_target(env, number)
        if isinstance(gl_target, str):
            return CommentOutcome("skipped", gl_target)
        variable = token_env or gitlab.DEFAULT_TOKEN_ENV
        token = env.get(variable, "")
        if not token.strip():
            return CommentOutcome(
                "skipped",
                f"{variable} is not set: merge request note skipped (CI_JOB_TOKEN cannot post notes; store a"
                " project or group access token with the 'api' scope in that CI/CD variable)",
            )
        store = gitlab.GitLabNotes(gl_target, token, variable=variable, retry=retry)
        return Destination("gitlab", store, f"merge request !{gl_target.iid}", gl_target.job_url)
    raise PublishError(f"unknown comment platform {chosen!r}: use github, gitlab or auto")


def publish(
    destination: Destination, key: str, bodies: Sequence[str], names: Sequence[str] | None = None
) -> CommentOutcome:
    """Write ``bodies`` as the sticky comments of ``key`` (one per part)."""
    key = normalize_key(key)
    names = names or [f"part {n}" if len(bodies) > 1 else "the report" for n in range(1, len(bodies) + 1)]
    check_sizes(destination.store, key, bodies, names)
    what = "comment" if destination.platform == "github" else "note"
    try:
        result = publish_sticky(destination.store, key, bodies)
    except HttpError as e:
        if e.status == 403 and destination.fork:
            return CommentOutcome(
                "fallback",
                f"{destination.label} comes from a fork, and GitHub gives such workflows a read-only token:"
                " no comment posted, the report is in the job summary",
            )
        raise
    plural = "s" if len(bodies) > 1 else ""
    where = next((u for u in result.urls if u), "")
    message = f"gitops-check {what}{plural} '{key}' on {destination.label}: {result.summary()}"
    return CommentOutcome(
        "posted", message + (f" ({where})" if where else ""), tuple(result.urls), tuple(result.warnings)
    )


def publish_comment(
    bodies: Sequence[str],
    *,
    key: str,
    platform: Platform = "auto",
    env: Mapping[str, str],
    number: int | None = None,
    token_env: str | None = None,
    names: Sequence[str] | None = None,
    retry: RetryPolicy | None = None,
) -> CommentOutcome:
    """Publish Markdown that is already rendered (one body per part) as sticky comments."""
    if not bodies:
        raise PublishError("nothing to publish: no Markdown given")
    destination = open_destination(platform, env, number=number, token_env=token_env, retry=retry)
    if isinstance(destination, CommentOutcome):
        return destination
    return publish(destination, key, bodies, names)
