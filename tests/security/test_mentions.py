"""Issue 10, item 10: ``@user`` / ``@org/team`` (and ``#12`` / ``!3`` references) in repository strings notify nobody
from the PR/MR comment. A word joiner follows the sign in text the platform scans; code is never scanned."""

from __future__ import annotations

import re

from gitops_check.model.app import App
from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import AppError, AppResult, CheckResult, ResourceDiff, Status
from gitops_check.report.markdown import render_markdown, render_markdown_full

MENTION = re.compile(r"(?<![\w`])[@#!][\w-]")


def result_with(name: str) -> CheckResult:
    app = App(name=name, sources=(), origin=f"declared by {name}")
    diff = ResourceDiff(ResourceKey("", "ConfigMap", "shop", "cm"), name, Status.ADDED, message=f"see {name}")
    error = AppError(name, f"render failed, ask {name} or see #12 and !3", file=f"{name}/x.yaml", line=1)
    return CheckResult(
        apps=[AppResult(app, diffs=[diff], errors=[error], warnings=[f"warning for {name}"])],
        target=f"commit of {name}",
        against="snapshot",
        warnings=[f"run warning {name}"],
    )


def text_outside_code(markdown: str) -> str:
    without_blocks = re.sub(r"^(`{3,}).*?^\1", "", markdown, flags=re.S | re.M)
    return re.sub(r"(`+)[^`]*?\1", "", without_blocks)


def test_mentions_in_app_names_and_messages_notify_nobody() -> None:
    for render in (lambda r: render_markdown(r, limit=65536), render_markdown_full):
        body = render(result_with("@acme/platform-team"))
        assert "acme/platform" in body  # still readable
        assert MENTION.findall(text_outside_code(body)) == [], text_outside_code(body)
