"""Fixtures for preview tests: the real helm and kustomize from the tool cache, and a one-call preview runner.

A missing binary skips the test with the command that builds it, except under CI=true where it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitops_check.model.result import CheckResult
from gitops_check.preview import PreviewRequest, run_preview
from gitops_check.project.config import RenderOptions
from tests.helpers.binaries import HELM, KUSTOMIZE, cached_binary

Preview = Callable[..., CheckResult]


@pytest.fixture
def render_options() -> RenderOptions:
    return RenderOptions(
        helm_binary=str(cached_binary(HELM)), kustomize_binary=str(cached_binary(KUSTOMIZE)), workers=2
    )


@pytest.fixture
def preview(render_options: RenderOptions, tmp_path: Path) -> Preview:
    """``preview(repo_path, base, head, **PreviewRequest fields)``; no render cache unless ``cache_dir`` is given."""

    def run(repo: Path, base: str | None, head: str | None = "HEAD", **kw: Any) -> CheckResult:
        kw.setdefault("render", render_options)
        kw.setdefault("env", {})
        kw.setdefault("work_dir", tmp_path / "work")
        return run_preview(PreviewRequest(repo=repo, base=base, head=head, **kw))

    return run


def by_name(result: CheckResult) -> dict[str, Any]:
    return {a.app.name: a for a in result.apps}


def changed_apps(result: CheckResult) -> set[str]:
    return {a.app.name for a in result.apps if a.drifted}
