"""The two commits a preview compares: from the options, else from the CI system's pull request variables.

Base means the *merge-base* of the base and head revisions by default, as GitHub's and GitLab's own "files
changed" views do: a pull request is reviewed for what it changes, and commits that landed on the target branch
after the branch point must not show up as if the pull request reverted them. When head is a merge commit of
the pull request into the target branch (GitHub's ``refs/pull/N/merge`` checkout), the merge-base is the target
branch's tip, so the preview shows exactly what merging changes. ``--no-merge-base`` compares the given base as is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_check.errors import ConfigError, SourceError
from gitops_check.sources.git import RepoHandle

_FETCH_HINT = (
    "the CI checkout must hold both commits and their history: actions/checkout with fetch-depth: 0, "
    "GitLab GIT_DEPTH: 0"
)


@dataclass(frozen=True)
class Revisions:
    base: str  # full SHA of the commit compared as base (the merge-base unless asked otherwise)
    head: str  # full SHA
    base_given: str  # as named by the user or the CI system
    head_given: str
    origin: str  # "options", "GitHub pull request event", "GitLab merge request"
    merge_base: bool

    def describe(self) -> str:
        """How base was chosen, for the report: ``merge-base of origin/main and HEAD``."""
        if self.merge_base:
            return f"merge-base of {self.base_given} and {self.head_given}"
        return self.base_given


def ci_defaults(env: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    """(base, head, where they came from) from GitHub pull request events or GitLab merge request pipelines."""
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path and env.get("GITHUB_ACTIONS") == "true":
        try:
            event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read the GitHub event file {event_path}: {e}") from e
        pr = event.get("pull_request") if isinstance(event, dict) else None
        if isinstance(pr, dict):
            base = (pr.get("base") or {}).get("sha")
            head = (pr.get("head") or {}).get("sha")
            if base and head:
                return str(base), str(head), "GitHub pull request event"
        group = event.get("merge_group") if isinstance(event, dict) else None
        if isinstance(group, dict) and group.get("base_sha") and group.get("head_sha"):
            return str(group["base_sha"]), str(group["head_sha"]), "GitHub merge group event"
    base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA")
    if base and env.get("GITLAB_CI"):
        return base, env.get("CI_COMMIT_SHA") or "HEAD", "GitLab merge request"
    return None, None, None


def resolve_revisions(
    repo: RepoHandle,
    base: str | None,
    head: str | None,
    *,
    env: Mapping[str, str],
    merge_base: bool = True,
) -> Revisions:
    """Resolve base and head to commits; base becomes the merge-base unless ``merge_base`` is False."""
    origin = "options"
    if base is None or head is None:
        ci_base, ci_head, ci_origin = ci_defaults(env)
        if ci_origin is not None:
            origin = ci_origin
            base = base or ci_base
            head = head or ci_head
    if base is None:
        raise ConfigError(
            "say what to compare with: --base REV (for example origin/main); in GitHub Actions pull request "
            "events and GitLab merge request pipelines it is found automatically"
        )
    head = head or "HEAD"
    hint = f"; {_FETCH_HINT}" if origin != "options" else ""
    try:
        head_sha = repo.resolve(head)
        base_sha = repo.resolve(base)
        compared = repo.merge_base(base_sha, head_sha) if merge_base else base_sha
    except SourceError as e:
        raise SourceError(f"{e.message}{hint}") from e
    return Revisions(compared, head_sha, base, head, origin, merge_base)
