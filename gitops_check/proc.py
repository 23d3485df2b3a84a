"""Running external programs (helm, kustomize, kubectl): lookup, timeouts, captured stderr, typed failures."""

from __future__ import annotations

import contextlib
import locale
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
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
    group, ended whole when it exits, times out or is interrupted (a ``sh -c`` plugin command's children included)."""
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
    # The program writes into files in memory, not pipes, and the thread waits for its exit in one call that
    # releases the GIL. Reading a pipe takes the GIL once per chunk, and in a fleet's run other threads hold it
    # most of the time (parsing, diffing): each wait for it kept the program's slot, or the program itself
    # blocked on a full pipe. Measured: 100 small renders on 2 slots beside a thread holding the GIL took
    # 5.8 s through pipes, 4.6 s this way (the programs' CPU time alone: 4.5 s).
    given = _capture() if input_text is not None else contextlib.nullcontext(subprocess.DEVNULL)
    with _capture() as out, _capture() as err, given as stdin:
        if input_text is not None:
            data = memoryview(input_text.encode(_ENCODING))
            while data:
                data = data[os.write(stdin, data) :]
            os.lseek(stdin, 0, os.SEEK_SET)
        with _SLOTS.held():  # a program slot while the program runs (``child_slots``)
            if CHILDREN.stopping:
                raise RenderError(f"{what}: not started, the run is being stopped")
            try:
                child = subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    env=env,
                    stdin=stdin,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
            except FileNotFoundError as e:
                raise ToolMissingError(f"{what}: {argv[0]} not found") from e
            except OSError as e:
                raise RenderError(f"{what}: cannot run {argv[0]}: {e.strerror}") from e
            CHILDREN.add(child)
            try:
                try:
                    exited = _wait_exit(child, timeout)
                finally:
                    # Whatever the program left running in its group (a plugin's background command) ends with
                    # it, before the program is reaped (until then its group id cannot be reused).
                    if child.returncode is None:
                        kill_group(child)
                    child.wait()
                if not exited:
                    raise RenderError(f"{what}: timed out after {timeout:.0f}s")
            finally:
                CHILDREN.discard(child)
        stdout, stderr = _text(out), _text(err)
    if CHILDREN.stopping and child.returncode < 0:
        raise RenderError(f"{what}: stopped (the run was interrupted)")
    if child.returncode != 0:
        detail = tail(stderr) or tail(stdout) or f"exit code {child.returncode}"
        raise RenderError(f"{what} failed: {detail}")
    return stdout


# How subprocess decodes a program's output in text mode (the locale's encoding, or UTF-8 in UTF-8 mode).
_ENCODING = "utf-8" if sys.flags.utf8_mode else locale.getencoding()


@contextlib.contextmanager
def _capture() -> Iterator[int]:
    """A file descriptor of an unnamed file in memory (a temporary file where memfd_create is missing)."""
    try:
        fd = os.memfd_create("gitops-check-capture", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        fd = os.dup(tempfile.TemporaryFile().fileno())  # closed with the object; the duplicate keeps it open
    try:
        yield fd
    finally:
        os.close(fd)


def _text(fd: int) -> str:
    """What the program wrote to ``fd``, as ``subprocess`` text mode gives it (newlines translated)."""
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    data = b"".join(chunks).decode(_ENCODING)
    return data.replace("\r\n", "\n").replace("\r", "\n")


def _wait_exit(child: subprocess.Popen[Any], timeout: float) -> bool:
    """Whether ``child`` exits within ``timeout`` seconds. One blocking poll on a process file descriptor, which
    leaves it unreaped (its group id stays its own until ``child.wait()``); where there is none, Popen's own wait,
    which polls and reaps it."""
    try:
        pidfd = os.pidfd_open(child.pid)
    except (AttributeError, OSError):
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(max(0, int(timeout * 1000))))
    finally:
        os.close(pidfd)
