"""Progress of a long run on stderr: where it is (reading the commit, rendering 37 of 400 apps, reading the
cluster...) and, when asked, how long each stage took.

The pipeline calls ``stage``/``advance`` whatever the output; only the command line decides whether anything is
shown (``install``): on a terminal, one line rewritten in place and erased before the report; in CI logs nothing,
unless asked (``--progress``, or ``-v``), then one line per finished stage with its time. Stages follow each other;
``advance`` may come from worker threads. Nothing here reads the repository's text, only counts.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

# A terminal line is redrawn at most this often; a CI log line about a stage still running at most this often.
_REDRAW_SECONDS = 0.1
_HEARTBEAT_SECONDS = 30.0


@dataclass
class _Stage:
    name: str
    unit: str
    total: int | None
    started: float
    done: int = 0


@dataclass
class Reporter:
    """Writes progress to ``stream``: ``live`` rewrites one line (a terminal); otherwise only finished stages
    (and a heartbeat for long ones) are written, one line each."""

    stream: TextIO
    live: bool
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stage: _Stage | None = None
    _drawn: float = 0.0
    _shown: bool = False

    def stage(self, name: str, total: int | None, unit: str) -> None:
        with self._lock:
            self._end_locked()
            self._stage = _Stage(name, unit, total, self.clock())
            self._drawn = 0.0 if self.live else self._stage.started
            if self.live:
                self._draw_locked(force=True)

    def add_total(self, n: int) -> None:
        with self._lock:
            if self._stage is not None and self._stage.total is not None:
                self._stage.total += n
                self._draw_locked()

    def advance(self, n: int) -> None:
        with self._lock:
            if self._stage is not None:
                self._stage.done += n
                self._draw_locked(
                    force=self._stage.done == self._stage.total
                )  # the last count is always shown

    def end(self) -> None:
        with self._lock:
            self._end_locked()

    def _counts(self, stage: _Stage) -> str:
        if stage.total is None:
            return f" ({_plural(stage.done, stage.unit)})" if stage.done else ""
        return f" {stage.done}/{_plural(stage.total, stage.unit)}"

    def _draw_locked(self, force: bool = False) -> None:
        stage = self._stage
        if stage is None:
            return
        now = self.clock()
        if self.live:
            if not force and now - self._drawn < _REDRAW_SECONDS:
                return
            text = f"gitops-check: {stage.name}{self._counts(stage)}, {now - stage.started:.0f}s"
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()
            self._shown = True
            self._drawn = now
        elif now - self._drawn >= _HEARTBEAT_SECONDS:
            self.stream.write(
                f"gitops-check: {stage.name}{self._counts(stage)} so far, {now - stage.started:.0f}s\n"
            )
            self.stream.flush()
            self._drawn = now

    def _end_locked(self) -> None:
        stage, self._stage = self._stage, None
        if stage is None:
            return
        if self.live:
            if self._shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._shown = False
            return
        counts = f": {_plural(stage.done, stage.unit)}" if stage.done or stage.total else ""
        self.stream.write(f"gitops-check: {stage.name}{counts} in {self.clock() - stage.started:.2f}s\n")
        self.stream.flush()


# Process-wide on purpose: stderr is the process's; the command line installs it and removes it at the end.
_reporter: Reporter | None = None


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def install(reporter: Reporter | None) -> None:
    """Show progress through ``reporter`` from now on (None: show nothing)."""
    global _reporter
    if _reporter is not None:
        _reporter.end()
    _reporter = reporter


def wanted(asked: bool | None, *, verbose: bool, tty: bool, ci: bool) -> str:
    """``live`` (a terminal outside CI), ``lines`` (asked for in a log: --progress or -v), or ``off``."""
    if asked is False:
        return "off"
    if tty and not ci:
        return "live"
    return "lines" if asked or verbose else "off"


@contextlib.contextmanager
def stage(name: str, total: int | None = None, unit: str = "app") -> Iterator[None]:
    """A stage of the run (``rendering``, 400 apps); ended when the block is left."""
    reporter = _reporter
    if reporter is None:
        yield
        return
    reporter.stage(name, total, unit)
    try:
        yield
    finally:
        reporter.end()


def add_total(n: int) -> None:
    """More work in the current stage (apps an App of Apps declared)."""
    if _reporter is not None and n:
        _reporter.add_total(n)


def advance(n: int = 1) -> None:
    if _reporter is not None:
        _reporter.advance(n)
