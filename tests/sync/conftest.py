"""Fixtures of the sync tests: the fake Argo CD API, the agents' CRDs, a CI environment without fork markers."""

from __future__ import annotations

import pytest

from tests.helpers.fake_argocd import argocd_certificate, fake_argocd  # noqa: F401
from tests.sync.standin import agent_crds  # noqa: F401

CI_VARIABLES = (
    "GITHUB_ACTIONS", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITLAB_CI", "CI_MERGE_REQUEST_PROJECT_ID",
    "CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "ARGOCD_SERVER", "ARGOCD_AUTH_TOKEN", "KUBECONFIG",
)  # fmt: skip


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests may run inside a CI pipeline for a pull request: its variables must not steer the guard rails."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
