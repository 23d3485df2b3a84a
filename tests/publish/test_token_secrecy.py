"""The token never shows: not in messages, exceptions, debug logs (ours and urllib3's) or the console output."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gitops_check.errors import PublishError
from gitops_check.publish.comment import publish_comment
from gitops_check.publish.http import RetryPolicy
from tests.helpers.fake_github import FakeGitHub, Token
from tests.helpers.fake_gitlab import FakeGitLab
from tests.publish.envs import github_env, gitlab_env

GH_TOKEN = "ghs_topSecretValue0000000001"
GL_TOKEN = "glpat-topSecretValue00000002"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _attempts(fake_github: FakeGitHub, fake_gitlab: FakeGitLab, tmp_path: Path) -> list[str]:
    """Every path that ends in a message: success, echoing server, refused connection, bad token, bad header."""
    fake_github.tokens[GH_TOKEN] = Token("github-actions[bot]")
    fake_gitlab.tokens[GL_TOKEN] = fake_gitlab.tokens[FakeGitLab.TOKEN]
    texts: list[str] = []
    retry = RetryPolicy(sleep=lambda s: None)

    def attempt(env: dict[str, str], platform: str) -> None:
        try:
            outcome = publish_comment(["report\n"], key="k", platform=platform, env=env, retry=retry)  # type: ignore[arg-type]
            texts.append(repr(outcome))
        except PublishError as e:
            texts.extend([str(e), repr(e), repr(e.__cause__), repr(e.__context__)])

    gh = github_env(fake_github, tmp_path, token=GH_TOKEN)
    attempt(gh, "github")
    fake_github.fail_next(403, body={"message": "Resource not accessible by integration"})
    fake_github.fail_next(500, body={"message": f"token {GH_TOKEN} is not valid for this"})
    attempt(gh, "github")
    attempt({**gh, "GITHUB_API_URL": f"http://127.0.0.1:{_free_port()}"}, "github")
    attempt({**gh, "GITHUB_TOKEN": GH_TOKEN + "\nX-Injected: 1"}, "github")
    attempt({**gh, "GITHUB_TOKEN": GH_TOKEN + "x"}, "github")
    gl = gitlab_env(fake_gitlab, token=GL_TOKEN)
    attempt(gl, "gitlab")
    fake_gitlab.fail_next(400, body={"message": {"token": [f"{GL_TOKEN} rejected"]}})
    attempt(gl, "gitlab")
    attempt({**gl, "CI_API_V4_URL": f"http://127.0.0.1:{_free_port()}/api/v4"}, "gitlab")
    return texts


def test_no_message_exception_or_debug_log_contains_the_token(
    fake_github: FakeGitHub,
    fake_gitlab: FakeGitLab,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    texts = _attempts(fake_github, fake_gitlab, tmp_path)
    assert any("***" in t for t in texts)  # the echoing server's message, masked
    assert any("cannot reach GitHub" in t for t in texts) and any("cannot reach GitLab" in t for t in texts)
    assert any("spaces or control characters" in t for t in texts)
    assert "GET" in caplog.text  # debug logging was on
    captured = capsys.readouterr()
    everything = "\n".join(texts) + caplog.text + captured.out + captured.err
    for token in (GH_TOKEN, GL_TOKEN):
        assert token not in everything
        assert token[4:20] not in everything
    # The stand-ins did receive them: the test would be vacuous otherwise.
    assert any(r.headers.get("Authorization") == f"Bearer {GH_TOKEN}" for r in fake_github.requests)
    assert any(r.headers.get("PRIVATE-TOKEN") == GL_TOKEN for r in fake_gitlab.requests)
    assert not any("X-Injected" in r.headers for r in fake_github.requests)


def test_console_output_with_debug_on(fake_github: FakeGitHub, tmp_path: Path) -> None:
    fake_github.tokens[GH_TOKEN] = Token("github-actions[bot]")
    report = tmp_path / "report.md"
    report.write_text("### gitops-check: drift\n")
    env = {**os.environ, **github_env(fake_github, tmp_path, token=GH_TOKEN), "GITOPS_CHECK_DEBUG": "1"}
    command = [sys.executable, "-m", "gitops_check", "comment", "--github", str(report)]
    ok = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "debug: gitops_check.publish: POST http://127.0.0.1" in ok.stderr
    assert "debug: urllib3" in ok.stderr
    fake_github.fail_next(401, body={"message": f"Bad credentials {GH_TOKEN}"})
    bad = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 2
    assert (
        bad.stderr.count("error: GitHub rejected the token in GITHUB_TOKEN (401 (Bad credentials ***)") == 1
    )
    for proc in (ok, bad):
        assert GH_TOKEN not in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
