"""Running external programs (helm, kustomize, kubectl): lookup, timeouts, captured stderr, typed failures."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_check.errors import RenderError, ToolMissingError

DEFAULT_TIMEOUT = 300.0
STDERR_TAIL = 1500
# Credentials in the CI environment that helm and kustomize never need; kept from them as a precaution
# (a chart or kustomize plugin should not be able to read a token that can post comments or sync apps).
_SECRET_ENV_MARKERS = ("TOKEN", "PASSWORD", "SECRET", "PRIVATE_KEY", "CREDENTIALS")
# helm and kustomize are Go programs that live well under a second: with Go's default collector target (GOGC=100)
# they spend about a sixth of their CPU collecting garbage they would drop on exit anyway. A target four times
# larger saves that (measured on the fleet bench: -15% CPU for helm template and kustomize build, same output);
# the soft memory limit keeps a giant render's heap from growing with it (the collector works harder near the
# limit instead). Only when the job sets neither: a job that tunes its Go programs keeps its own settings.
GO_RUNTIME_DEFAULTS = {"GOGC": "400", "GOMEMLIMIT": "1GiB"}


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


class _Children:
    """The programs running now, each the leader of a process group of its own (``start_new_session``), so that an
    interrupted run ends them and whatever they started (helm plugins, post-renderers) instead of leaving them
    running after gitops-check is gone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[Any]] = set()
        self.stopping = False

    def add(self, child: subprocess.Popen[Any]) -> None:
        with self._lock:
            self._running.add(child)
            stopping = self.stopping
        if stopping:  # started while the run was being stopped: end it right away
            kill_group(child)

    def discard(self, child: subprocess.Popen[Any]) -> None:
        with self._lock:
            self._running.discard(child)

    def stop_all(self, *, for_good: bool = True) -> None:
        with self._lock:
            self.stopping = for_good
            running = list(self._running)
        for child in running:
            kill_group(child)


CHILDREN = _Children()


class _Slots:
    """How many programs may run at once while ``child_slots`` is active (else any number).

    Render threads outnumber the slots so that a slot freed by a finished program is taken by another thread's
    program at once, while the first thread parses what its program wrote: with one thread per slot, every
    slot stood empty while its thread ran Python. A slot is held only while a program runs, never while
    waiting for anything else, so no wait can close a cycle.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._semaphore: threading.Semaphore | None = None
        self._users = 0
        self._waited = threading.local()

    @contextlib.contextmanager
    def limit(self, count: int) -> Iterator[None]:
        # Nested or concurrent users share the first one's limit.
        with self._lock:
            if self._users == 0:
                self._semaphore = threading.Semaphore(max(1, count))
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._semaphore = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        semaphore = self._semaphore
        if semaphore is None:
            yield
            return
        start = time.perf_counter()
        with semaphore:
            self._waited.seconds = self.waited() + time.perf_counter() - start
            yield

    def waited(self) -> float:
        """Seconds this thread has waited for a slot so far."""
        return float(getattr(self._waited, "seconds", 0.0))


_SLOTS = _Slots()


def child_slots(count: int) -> contextlib.AbstractContextManager[None]:
    """While active, at most ``count`` programs run at once (the run's render workers)."""
    return _SLOTS.limit(count)


def slot_wait() -> float:
    """Seconds the calling thread has waited for a program slot so far (an app's render time leaves it out)."""
    return _SLOTS.waited()


def kill_group(child: subprocess.Popen[Any]) -> None:
    """End a child and its process group (SIGKILL: a renderer has nothing to save)."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            child.kill()
        except ProcessLookupError:
            pass


def stop_children() -> None:
    """End every program gitops-check started and refuse to start more (on SIGINT/SIGTERM)."""
    CHILDREN.stop_all()


def end_run() -> None:
    """At the end of a command: end any program still running (left by a failed worker) and allow new ones."""
    CHILDREN.stop_all(for_good=False)


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
    if not any(name in full_env for name in GO_RUNTIME_DEFAULTS):
        full_env.update(GO_RUNTIME_DEFAULTS)
    if env:
        full_env.update(env)
    return _run_child(argv, what=what, cwd=cwd, env=full_env, timeout=timeout, input_text=input_text)


def run_isolated(
    argv: Sequence[str], *, what: str, cwd: str | Path, env: Mapping[str, str], timeout: float
) -> str:
    """Run a program with exactly ``env`` (nothing of ours added). Like every child, it runs in its own process
    group, ended whole on timeout or interruption (a ``sh -c`` plugin command's children included)."""
    return _run_child(argv, what=what, cwd=cwd, env=dict(env), timeout=timeout, input_text=None)


def _run_child(
    argv: Sequence[str],
    *,
    what: str,
    cwd: str | Path | None,
    env: dict[str, str],
    timeout: float,
    input_text: str | None,
) -> str:
    with _SLOTS.held():  # a program slot while the program runs (``child_slots``)
        if CHILDREN.stopping:
            raise RenderError(f"{what}: not started, the run is being stopped")
        try:
            child = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except FileNotFoundError as e:
            raise ToolMissingError(f"{what}: {argv[0]} not found") from e
        except OSError as e:
            raise RenderError(f"{what}: cannot run {argv[0]}: {e.strerror}") from e
        CHILDREN.add(child)
        try:
            try:
                stdout, stderr = child.communicate(input_text, timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_group(child)
                child.communicate()
                raise RenderError(f"{what}: timed out after {timeout:.0f}s") from None
            except BaseException:
                kill_group(child)
                child.wait()
                raise
        finally:
            CHILDREN.discard(child)
        if CHILDREN.stopping and child.returncode < 0:
            raise RenderError(f"{what}: stopped (the run was interrupted)")
        if child.returncode != 0:
            detail = tail(stderr) or tail(stdout) or f"exit code {child.returncode}"
            raise RenderError(f"{what} failed: {detail}")
        return stdout
