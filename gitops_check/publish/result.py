"""What ``diff`` and ``preview`` do behind ``--comment`` and ``--github-summary``, around the terminal report.

Before the report: annotations for what could not be checked, then ``::stop-commands::`` so repository text in the
report cannot issue workflow commands. After it: commands resumed, the sticky comment(s) posted, and the job summary
written, with a line saying where the comment went or why it did not. A failed comment does not stop the summary
from being written; its error is raised afterwards so the command exits 2.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitops_check.errors import PublishError
from gitops_check.model.result import CheckResult
from gitops_check.publish import actions
from gitops_check.publish.comment import CommentOutcome, Platform, open_destination, publish
from gitops_check.publish.sticky import normalize_key

MAX_PARTS = 10


def default_key(mode: str, repo: Path, env: Mapping[str, str]) -> str:
    """``preview``, ``diff``, or ``diff:deploy/k8s`` when the GitOps root is a folder of the checkout."""
    base = env.get("GITHUB_WORKSPACE") or env.get("CI_PROJECT_DIR") or os.getcwd()
    try:
        rel = os.path.relpath(repo.resolve(), Path(base).resolve())
    except ValueError:
        rel = repo.name
    if rel in (".", ""):
        return mode
    if rel.startswith(".."):
        rel = repo.resolve().name
    return normalize_key(f"{mode}:{rel.replace(os.sep, '/')}")


@dataclass
class ResultPublisher:
    result: CheckResult
    repo: Path
    # The report as Markdown: ``parts(limit, details_url)`` split for comments, ``fitted(limit, details_url)`` one
    # comment with the most significant details, ``whole(limit)`` fit into ``limit`` bytes for the job summary.
    # The renderers live in ``report``; publishing only moves text.
    parts: Callable[[int, str | None], list[str]]
    fitted: Callable[[int, str | None], str]
    whole: Callable[[int], str]
    comment: Platform | None = None
    key: str | None = None
    github_summary: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    out: Callable[[str], None] = print  # stdout: workflow commands
    err: Callable[[str], None] = print  # stderr: one-line status messages
    _fence: actions.CommandFence | None = None

    @property
    def in_actions(self) -> bool:
        return self.env.get("GITHUB_ACTIONS") == "true"

    def before_report(self) -> None:
        if not self.github_summary:
            return
        if not self.in_actions:
            self.err("note: --github-summary has effect only inside GitHub Actions (GITHUB_ACTIONS=true)")
            return
        prefix = actions.repo_prefix(self.repo, self.env.get("GITHUB_WORKSPACE"))
        actions.emit_commands((a.command() for a in actions.error_annotations(self.result, prefix)), self.out)
        if not actions.fenced():  # the command line fences the whole run; this is for other callers
            self._fence = actions.CommandFence(self.out).start()

    def after_report(self) -> None:
        if self._fence is not None:
            self._fence.end()
            self._fence = None
        outcome: CommentOutcome | None = None
        failure: PublishError | None = None
        if self.comment:
            try:
                outcome = self._comment(self.comment)
                self.err(f"comment: {outcome.message}")
                for warning in outcome.warnings:
                    self.err(f"warning: {warning}")
            except PublishError as e:
                failure = e
        wants_summary = self.github_summary or (outcome is not None and outcome.status == "fallback")
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if wants_summary and self.in_actions and path:
            notes = []
            if outcome is not None and outcome.status != "posted":
                notes.append(outcome.message)
            if failure is not None:
                notes.append(f"The comment could not be posted: {failure}")
            actions.append_summary(
                path, actions.summary_of_result(self.whole, actions.summary_room(path), notes)
            )
        elif self.github_summary and self.in_actions:
            self.err("note: GITHUB_STEP_SUMMARY is not set: no job summary written")
        if failure is not None:
            raise failure

    def _comment(self, platform: Platform) -> CommentOutcome:
        destination = open_destination(platform, self.env)
        if isinstance(destination, CommentOutcome):
            return destination
        parts = self.parts(destination.part_limit, destination.details_url)
        if len(parts) > MAX_PARTS:
            # A pull request buried under dozens of comments is read by nobody (and trips GitHub's secondary rate
            # limit for content creation): one comment with what matters most, and a link to the full report.
            parts = [self.fitted(destination.part_limit, destination.details_url)]
        key = self.key or default_key(self.result.mode, self.repo, self.env)
        return publish(destination, key, parts)
