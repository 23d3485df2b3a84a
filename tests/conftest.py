"""Shared pytest setup: the real-cluster fixtures live in tests/helpers/cluster.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gitops_check import redact

pytest_plugins = ["tests.helpers.cluster"]


@pytest.fixture(autouse=True)
def _fresh_scrubber() -> Iterator[None]:
    """The scrubber's values are process-wide (one run per process in real use): a value a test registered
    must not mask another test's output, which made results depend on the order tests ran in."""
    redact.reset()
    yield
    redact.reset()
