"""Fixtures for the reporter tests; the results themselves are built in results.py."""

from __future__ import annotations

import pytest

from gitops_check.model.result import CheckResult
from tests.report.results import build_result, drifted_app, in_sync_app


@pytest.fixture
def result() -> CheckResult:
    return build_result()


@pytest.fixture
def preview_result() -> CheckResult:
    return build_result("preview")


@pytest.fixture
def clean_result() -> CheckResult:
    return CheckResult(
        apps=[in_sync_app("alpha"), in_sync_app("beta")], target="commit 1a2b3c4", against="live cluster"
    )


@pytest.fixture
def drift_only_result() -> CheckResult:
    return CheckResult(
        apps=[in_sync_app("alpha"), drifted_app()], target="commit 1a2b3c4", against="live cluster"
    )
