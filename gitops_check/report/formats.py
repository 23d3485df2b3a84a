"""Output formats by name, for ``--format``: each takes a CheckResult and returns the text to write.

Only defaults here; callers that need options (colour, a size limit, splitting into comments) call the renderer
directly.
"""

from __future__ import annotations

from collections.abc import Callable

from gitops_check.model.result import CheckResult
from gitops_check.report.jsonout import render_json
from gitops_check.report.junit import render_junit
from gitops_check.report.markdown import render_markdown_full
from gitops_check.report.terminal import render_terminal

Renderer = Callable[[CheckResult], str]


def _terminal(result: CheckResult) -> str:
    return render_terminal(result, color=False)


FORMATS: dict[str, Renderer] = {
    "terminal": _terminal,
    "junit": render_junit,
    "markdown": render_markdown_full,
    "json": render_json,
}
