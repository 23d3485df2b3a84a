"""CI environments (GitHub Actions, GitLab CI) pointing at the API stand-ins, as the runners would set them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers.fake_github import FakeGitHub
from tests.helpers.fake_gitlab import FakeGitLab


def pull_request_event(
    number: int = 7, *, fork: bool = False, repository: str = "acme/deploy"
) -> dict[str, Any]:
    head_repo = "mallory/deploy" if fork else repository
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": "b" * 40, "ref": "feature", "repo": {"full_name": head_repo, "fork": fork}},
            "base": {"sha": "a" * 40, "ref": "main", "repo": {"full_name": repository, "fork": False}},
        },
        "repository": {"full_name": repository},
    }


def github_env(
    fake: FakeGitHub,
    tmp_path: Path,
    *,
    token: str | None = FakeGitHub.WRITE_TOKEN,
    event: dict[str, Any] | None = None,
) -> dict[str, str]:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event if event is not None else pull_request_event()))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": fake.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": fake.repository,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_RUN_ID": "99",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    if token is not None:
        env["GITHUB_TOKEN"] = token
    return env


def gitlab_env(
    fake: FakeGitLab, *, token: str | None = FakeGitLab.TOKEN, iid: int | None = 5
) -> dict[str, str]:
    env = {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": fake.api_url,
        "CI_PROJECT_ID": str(fake.project_id),
        "CI_PROJECT_URL": f"https://gitlab.example.com/{fake.project_path}",
        "CI_JOB_URL": f"https://gitlab.example.com/{fake.project_path}/-/jobs/1",
        "CI_PIPELINE_SOURCE": "merge_request_event" if iid else "push",
    }
    if iid is not None:
        env["CI_MERGE_REQUEST_IID"] = str(iid)
        env["CI_MERGE_REQUEST_PROJECT_ID"] = str(fake.project_id)
    if token is not None:
        env["GITOPS_CHECK_GITLAB_TOKEN"] = token
    return env
