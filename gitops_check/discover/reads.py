"""What one discovery run read, so a caller can tell whether another commit would discover the same apps.

``preview`` discovers the apps of two commits. When the second commit differs from the first only in files the
first discovery never looked at, discovering it again would find exactly the same apps, and preview takes them
over instead of reading every YAML file of the repository a second time.

What discovery reads is *observed*, not declared: while ``record`` is active, a process-wide audit hook
(``sys.addaudithook``) sees every file opened below the recorded folder, by any thread (a scanner may read in a
thread of its own; nothing else reads a preview's private copy of a commit while it is discovered), so a
scanner added later is covered without knowing about this module. Scanners only declare what the hook cannot
see:

* ``sniffed(path, markers, found)``: a file was read only to look for marker bytes (the Argo CD scanner reads
  every YAML file of the repository for ``argoproj.io``). Without a marker it does not count as read: another
  version of it matters only when that version holds a marker;
* ``used_revision()``: the commit id itself went into the result (``$ARGOCD_APP_REVISION`` in an Application,
  an ApplicationSet git generator's ``commitSHA``).

A process started by the recording thread, or by any thread with the recorded folder in its arguments, makes
the record *incomplete* (what a process reads is invisible), and so do a file opened by descriptor and a change
of the current folder: a caller never reuses an incomplete record. Listing folders and looking at file types
are not recorded; a caller compares the two trees' paths and modes for that.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Events after which the record cannot say what was read.
_OPAQUE = {
    "subprocess.Popen": "started a process",
    "os.posix_spawn": "started a process",
    "os.spawn": "started a process",
    "os.exec": "started a process",
    "os.system": "started a process",
    "os.fork": "forked",
    "os.chdir": "changed the current folder",
}


@dataclass
class Reads:
    """Files of one workspace a discovery run read (posix paths relative to ``root``), and what else it used."""

    root: Path
    opened: Counter[str] = field(default_factory=Counter)
    # Read only to look for these markers, none found.
    sniffs: dict[str, tuple[bytes, ...]] = field(default_factory=dict)
    revision: bool = False
    incomplete: list[str] = field(default_factory=list)

    @property
    def files(self) -> frozenset[str]:
        """Files whose content went into the result."""
        return frozenset(p for p, n in self.opened.items() if n > 0)

    @property
    def reusable(self) -> bool:
        return not self.incomplete and not self.revision


class _Recorder:
    def __init__(self, reads: Reads):
        self.reads = reads
        self.thread = threading.get_ident()
        self.lock = threading.Lock()  # threads of one discovery may read at the same time
        self.cwd = os.getcwd()
        root = os.path.abspath(reads.root)
        self.prefixes = tuple(dict.fromkeys((root + os.sep, os.path.realpath(root) + os.sep)))

    def rel(self, path: Any) -> str | None:
        """``path`` relative to the workspace, posix; None when outside it."""
        text = os.fsdecode(os.fspath(path))
        full = os.path.normpath(text if os.path.isabs(text) else os.path.join(self.cwd, text))
        for prefix in self.prefixes:
            if full.startswith(prefix):
                return full[len(prefix) :].replace(os.sep, "/")
        return None

    def event(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path = args[0] if args else None
            if path is None or isinstance(path, int):
                if threading.get_ident() == self.thread:
                    self.reads.incomplete.append("opened a file by descriptor")
                return
            rel = self.rel(path)
            if rel is not None:
                with self.lock:
                    self.reads.opened[rel] += 1
            return
        reason = _OPAQUE.get(event)
        if reason is not None and (threading.get_ident() == self.thread or self._mentions_root(args)):
            with self.lock:
                self.reads.incomplete.append(reason)

    def _mentions_root(self, args: Any) -> bool:
        text = repr(args)
        return any(prefix.rstrip(os.sep) in text for prefix in self.prefixes)


_recorders: list[_Recorder] = []  # active records, any thread
_installed = False
_lock = threading.Lock()
_aside = threading.local()  # .active: this thread's work is no part of any discovery (unrecorded())


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _recorders or (event != "open" and event not in _OPAQUE) or getattr(_aside, "active", False):
        return
    for recorder in tuple(_recorders):
        try:
            recorder.event(event, args)
        except Exception as e:  # an audit hook must never fail the operation it watches
            recorder.reads.incomplete.append(f"unreadable {event} event ({type(e).__name__})")


@contextmanager
def record(root: Path) -> Iterator[Reads]:
    """Record what is read below ``root`` until the block ends."""
    global _installed
    reads = Reads(Path(root))
    recorder = _Recorder(reads)
    with _lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True
        _recorders.append(recorder)
    try:
        yield reads
    finally:
        with _lock:
            _recorders.remove(recorder)


@contextmanager
def unrecorded() -> Iterator[None]:
    """What this thread does in the block is no part of any discovery (writing another commit meanwhile)."""
    before = getattr(_aside, "active", False)
    _aside.active = True
    try:
        yield
    finally:
        _aside.active = before


def _current(path: Any) -> tuple[_Recorder, str] | None:
    for recorder in tuple(_recorders):
        rel = recorder.rel(path)
        if rel is not None:
            return recorder, rel
    return None


def sniffed(path: Any, markers: tuple[bytes, ...], found: bool) -> None:
    """The last opening of ``path`` only looked for ``markers``; ``found``: one of them was in it (content used)."""
    if found or not _recorders:
        return
    hit = _current(path)
    if hit is None:
        return
    recorder, rel = hit
    reads = recorder.reads
    with recorder.lock:
        if reads.opened[rel] > 0:
            reads.opened[rel] -= 1
        reads.sniffs[rel] = tuple(dict.fromkeys((*reads.sniffs.get(rel, ()), *markers)))


def used_revision() -> None:
    """The commit id being discovered went into the result: another commit's discovery differs.

    Marks every active record (the caller does not know which workspace it is in; marking too many only means
    discovering again).
    """
    for recorder in tuple(_recorders):
        recorder.reads.revision = True
