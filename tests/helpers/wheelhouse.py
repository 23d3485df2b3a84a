"""An offline wheelhouse of gitops-check's dependencies and build backend, so tests can run the CI integrations' real
``pip install`` (from a git tag, from a wheel) with ``PIP_NO_INDEX``: downloaded once with pip into the cache
(~/.cache/gitops-check/wheelhouse-<key>, the key a hash of the requirements and the Python version), reused after.
Without network on a cold cache the tests that need it skip locally with the reason and fail under CI=true."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.helpers.binaries import missing

ROOT = Path(__file__).resolve().parents[2]


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return sorted([*project["project"]["dependencies"], *project["build-system"]["requires"], "wheel"])


def wheelhouse() -> Path:
    wanted = requirements()
    key = hashlib.sha256("\n".join([sys.version.split()[0], *wanted]).encode()).hexdigest()[:12]
    cache = Path(
        os.environ.get("GITOPS_CHECK_BIN_CACHE") or Path.home() / ".cache" / "gitops-check" / "bin"
    ).parent
    folder = cache / f"wheelhouse-{key}"
    if (folder / ".complete").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".wheelhouse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / ".complete").is_file():
            return folder
        staging = cache / f".wheelhouse-{key}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--dest",
             str(staging), "--only-binary=:all:", *wanted],
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            missing(f"could not download the wheelhouse with pip: {proc.stderr.strip()[-500:]}")
        (staging / ".complete").write_text("\n".join(wanted) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    return folder


def offline_pip_env(folder: Path) -> dict[str, str]:
    """pip's own variables: only the wheelhouse, never an index."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(folder), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
