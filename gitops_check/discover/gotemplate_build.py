"""Getting ``gitops-check-gotemplate`` (the ApplicationSet goTemplate engine) where gitops-check was pip-installed.

The helper's Go sources ship inside the package (``gitops_check/data/gotemplate``). Its version is a hash of
those sources (``v0-<12 hex>``), and a build lives in the tool cache as ``gitops-check-gotemplate-<version>``:
the same folder and names as ``scripts/tools.py ensure gotemplate`` in a checkout, so either one's build serves
both. When no build of these sources exists and ``go`` is on PATH, the first goTemplate ApplicationSet of a run
builds it (``GOTOOLCHAIN=local``: a Go older than the sources need fails instead of downloading a toolchain).
A file lock shared with ``scripts/tools.py`` makes parallel renders and parallel runs build once; a failed
build is not retried within the run. Without Go, or when the build fails, the caller gets ``HelperMissing``
with one line saying what to do, and the ApplicationSets that need the helper are reported as not checked.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from gitops_check import proc

HELPER = "gitops-check-gotemplate"
SOURCE_DIR = Path(__file__).resolve().parent.parent / "data" / "gotemplate"
BUILD_TIMEOUT = 900.0  # seconds; a cold module cache downloads Sprig and its dependencies
# Process-wide on purpose: the tool cache is the machine's, not a run's, and a failed build (up to
# BUILD_TIMEOUT) is not retried by the next run of the same process.
_LOCK = threading.Lock()
_failed: dict[Path, str] = {}  # final path -> why building it failed (this process)


class BuildFailed(Exception):
    """The helper could not be built; the message is one line and says what to do."""


def source_version(folder: Path = SOURCE_DIR) -> str:
    """``v0-<12 hex>``: a hash of the Go sources and module files (scripts/tools.py computes the same)."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*")):
        if path.suffix == ".go" or path.name in ("go.mod", "go.sum"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"v0-{digest.hexdigest()[:12]}"


def cached_path(folder: Path = SOURCE_DIR) -> Path:
    """Where the build of these sources lives in the tool cache (it may not exist yet)."""
    return proc.tool_cache_dir() / f"{HELPER}-{source_version(folder)}"


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def ensure_built(folder: Path = SOURCE_DIR, *, timeout: float = BUILD_TIMEOUT) -> Path:
    """The cached build of ``folder``, built now if needed; raises BuildFailed (Go missing, build failed)."""
    final = cached_path(folder)
    if _usable(final):
        return final
    with _LOCK:  # one thread of this process builds; the others wait for its result
        if final in _failed:
            raise BuildFailed(_failed[final])
        try:
            with _file_lock(final.parent):  # and one process of all (scripts/tools.py takes the same lock)
                if not _usable(final):
                    _build(folder, final, timeout)
        except BuildFailed as e:
            _failed[final] = str(e)
            raise
    return final


@contextlib.contextmanager
def _file_lock(cache: Path) -> Iterator[None]:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        handle = (cache / ".lock").open("w")
    except OSError as e:
        raise BuildFailed(
            f"cannot build {HELPER}: the tool cache {cache} is not writable ({e.strerror})"
        ) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GOTOOLCHAIN"] = os.environ.get("GITOPS_CHECK_GOTOOLCHAIN", "local")
    env["CGO_ENABLED"] = "0"
    env["GOWORK"] = "off"
    return env


def _build(folder: Path, final: Path, timeout: float) -> None:
    go = shutil.which("go")
    if go is None:
        raise BuildFailed(
            f"goTemplate needs {HELPER}, which is built from gitops-check's Go sources on first use: install Go "
            f"1.22+ and put `go` on PATH, or point GITOPS_CHECK_GOTEMPLATE at a build"
        )
    version = source_version(folder)
    work = final.parent / f".build-gotemplate-{os.getpid()}-{threading.get_ident()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = final.parent / "logs" / f"{final.name}.log"
    built = work / HELPER
    argv = [go, "build", "-mod=readonly", "-trimpath", "-ldflags", f"-s -w -X main.version={version}", "-o",
            str(built), "."]  # fmt: skip
    try:
        try:
            done = subprocess.run(argv, cwd=folder, env=_go_env(), capture_output=True, text=True,
                                  timeout=timeout, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise BuildFailed(f"building {HELPER} with {go} took longer than {timeout:.0f}s; build it ahead "
                              f"with `go build` in {folder}, or point GITOPS_CHECK_GOTEMPLATE at a build") from None  # fmt: skip
        output = (done.stdout + done.stderr).strip()
        with contextlib.suppress(OSError):
            log.parent.mkdir(exist_ok=True)
            log.write_text(f"$ {' '.join(argv)}\n(cwd {folder})\n{output}\n")
        if done.returncode != 0 or not _usable(built):
            last = output.splitlines()[-1] if output else f"exit code {done.returncode}"
            raise BuildFailed(
                f"building {HELPER} with {go} failed: {last[:300]} (full output: {log}); goTemplate needs Go "
                f"1.22+ with access to its module proxy, or GITOPS_CHECK_GOTEMPLATE pointing at a build"
            )
        os.replace(built, final)  # atomic: never a half-written binary under the final name
    finally:
        shutil.rmtree(work, ignore_errors=True)
