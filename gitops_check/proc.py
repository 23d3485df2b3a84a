"""Running external programs (helm, kustomize, kubectl): lookup, timeouts, captured stderr, typed failures."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops_check.errors import RenderError, ToolMissingError

DEFAULT_TIMEOUT = 300.0
STDERR_TAIL = 1500
# Credentials in the CI environment that helm and kustomize never need; kept from them as a precaution
# (a chart or kustomize plugin should not be able to read a token that can post comments or sync apps).
_SECRET_ENV_MARKERS = ("TOKEN", "PASSWORD", "SECRET", "PRIVATE_KEY", "CREDENTIALS")


def tool_cache_dir() -> Path:
    """Where scripts/tools.py puts helm and kustomize when they are not installed system-wide."""
    env = os.environ.get("GITOPS_CHECK_BIN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-check" / "bin"


@dataclass(frozen=True)
class Tool:
    name: str
    path: str


def find_tool(name: str, *, explicit: str | None = None, env_var: str | None = None) -> Tool | None:
    """Explicit option, then the environment variable, then PATH, then gitops-check's own tool cache.

    An explicit name without a ``/`` is looked up on PATH, then in the tool cache.
    """
    for candidate in (explicit, os.environ.get(env_var) if env_var else None):
        if candidate:
            found = shutil.which(candidate)
            if not found and "/" not in candidate:  # a name (helm4, helm-v3.22.0): also the tool cache
                found = shutil.which(str(tool_cache_dir() / candidate))
            if not found:
                raise ToolMissingError(
                    f"{name} binary {candidate!r} (from {env_var or 'option'}) is not executable"
                )
            return Tool(name, found)
    found = shutil.which(name)
    if found:
        return Tool(name, found)
    cached = tool_cache_dir() / name
    if cached.exists() and os.access(cached, os.X_OK):
        return Tool(name, str(cached))
    return None


def holds_credentials(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential (GITHUB_TOKEN, ..._PASSWORD)."""
    return any(m in name.upper() for m in _SECRET_ENV_MARKERS) or name == "GITOPS_CHECK_SNAPSHOT_KEY"


def scrubbed_environ() -> dict[str, str]:
    """The environment without variables whose names say they hold credentials."""
    return {k: v for k, v in os.environ.items() if not holds_credentials(k)}


def tail(text: str, limit: int = STDERR_TAIL) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return "..." + text[-limit:]


def run(
    argv: Sequence[str],
    *,
    what: str,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    input_text: str | None = None,
) -> str:
    """Run a program and return its stdout; on failure raise RenderError with ``what`` and the stderr tail."""
    full_env = scrubbed_environ()
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            env=full_env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as e:
        raise ToolMissingError(f"{what}: {argv[0]} not found") from e
    except subprocess.TimeoutExpired as e:
        raise RenderError(f"{what}: timed out after {timeout:.0f}s") from e
    if proc.returncode != 0:
        detail = tail(proc.stderr) or tail(proc.stdout) or f"exit code {proc.returncode}"
        raise RenderError(f"{what} failed: {detail}")
    return proc.stdout


def run_isolated(
    argv: Sequence[str], *, what: str, cwd: str | Path, env: Mapping[str, str], timeout: float
) -> str:
    """Run a program with exactly ``env``, in its own process group: on timeout the whole group is killed (a
    ``sh -c`` plugin command's children included). Returns stdout; failures are RenderErrors with the stderr tail."""
    import signal

    try:
        child = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
    except FileNotFoundError as e:
        raise ToolMissingError(f"{what}: {argv[0]} not found") from e
    except OSError as e:
        raise RenderError(f"{what}: cannot run {argv[0]}: {e.strerror}") from e
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.communicate()
        raise RenderError(f"{what}: timed out after {timeout:.0f}s") from None
    if child.returncode != 0:
        detail = tail(stderr) or tail(stdout) or f"exit code {child.returncode}"
        raise RenderError(f"{what} failed: {detail}")
    return stdout
