"""The binaries scripts/tools.py builds into the tool cache, as tests ask for them.

A test needing one that is missing skips with the command that builds it, and fails under CI=true (CI builds
every binary first, so a missing one there is a broken job, not a reason to skip).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from gitops_check import proc

HELM = "helm-v3.22.0"
HELM4 = "helm-v4.3.1"
KUSTOMIZE = "kustomize-v5.8.1"
BUILD = "build it with `python scripts/tools.py ensure`"


def missing(reason: str) -> NoReturn:
    """Skip the test because something it needs was not built, or fail it under CI=true."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: missing test binaries are an error)", pytrace=False)
    pytest.skip(reason)


def cached_binary(file_name: str, *, how: str = BUILD) -> Path:
    """The executable ``file_name`` in the tool cache (``helm-v3.22.0``...), or skip/fail (``missing``)."""
    path = proc.tool_cache_dir() / file_name
    if path.is_file() and os.access(path, os.X_OK):
        return path
    missing(f"{file_name} not found in {proc.tool_cache_dir()}; {how}")


def cached_tools(*names: str) -> None:
    """Skip/fail (``missing``) unless ``proc.find_tool`` finds every one of ``names`` (``helm``, ``kustomize``)."""
    absent = [name for name in names if proc.find_tool(name) is None]
    if absent:
        missing(f"{', '.join(absent)} not found; build them with `python scripts/tools.py ensure`")


def kustomize_without_build_metadata(folder: Path, kustomize: Path) -> tuple[Path, Path]:
    """A kustomize that refuses ``buildMetadata`` (as old ones do) and logs each call's arguments: the script and
    its log."""
    log = folder / "calls.log"
    script = folder / "old-kustomize"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'for a in "$@"; do d="$a"; done\n'
        'if grep -qs buildMetadata "$d/kustomization.yaml"; then echo "unknown field buildMetadata" >&2; exit 1; fi\n'
        f'exec {kustomize} "$@"\n'
    )
    os.chmod(script, 0o755)
    return script, log
