from __future__ import annotations

import sys

import pytest

from gitops_check import proc
from gitops_check.errors import RenderError, ToolMissingError


def test_credentials_are_not_passed_to_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_should_not_leak")
    monkeypatch.setenv("GITOPS_CHECK_GITLAB_TOKEN", "glpat-should-not-leak")
    monkeypatch.setenv("HELM_CACHE_HOME", "/tmp/helm-cache")
    out = proc.run([sys.executable, "-c", "import os; print(sorted(os.environ))"], what="env")
    assert "GITHUB_TOKEN" not in out and "GITOPS_CHECK_GITLAB_TOKEN" not in out
    assert "HELM_CACHE_HOME" in out


def test_failure_carries_the_stderr_tail() -> None:
    with pytest.raises(RenderError, match="tool x failed: boom"):
        proc.run([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"], what="tool x")


def test_missing_program() -> None:
    with pytest.raises(ToolMissingError, match="not found"):
        proc.run(["/nonexistent/helm"], what="helm template")
