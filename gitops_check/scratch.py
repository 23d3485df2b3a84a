"""Where a run writes its scratch files: the commit's files, preview's two commits, per-app kustomize and helm folders.

A check writes every file of the commit before it renders (a 1,000-app repository is ~9,000 files) and small
folders per app, then removes them. On a disk-backed /tmp each file costs the filesystem ~0.3-0.8 ms here (2-core
VM), ten times what a memory filesystem costs, so a fleet spent seconds creating and deleting files. So: the job's
own choice first (``--work-dir`` where a command has it, else ``$GITOPS_CHECK_WORKDIR``); otherwise /dev/shm when
it is writable and has ``MIN_FREE`` free (Docker's default 64 MiB /dev/shm is not used); else the system's
temporary folder (``$TMPDIR``). A commit that fills the memory folder is written again on disk (``on_disk``).
The checked commit cannot influence this: it comes from the job's command line, environment and machine only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MEMORY_FOLDER = Path("/dev/shm")
MIN_FREE = 256 * 1024 * 1024
WORKDIR_VARIABLE = "GITOPS_CHECK_WORKDIR"


def configured(work_dir: Path | None = None) -> Path | None:
    """The folder the job asked for: ``work_dir`` (a command-line option), else ``$GITOPS_CHECK_WORKDIR``."""
    if work_dir is not None:
        return work_dir
    value = os.environ.get(WORKDIR_VARIABLE)
    return Path(value) if value else None


def in_memory() -> Path | None:
    """/dev/shm when it can take a commit; None otherwise."""
    try:
        stats = os.statvfs(MEMORY_FOLDER)
    except OSError:
        return None
    roomy = stats.f_bavail * stats.f_frsize >= MIN_FREE
    return MEMORY_FOLDER if roomy and os.access(MEMORY_FOLDER, os.W_OK | os.X_OK) else None


def chosen(work_dir: Path | None = None) -> tuple[Path | None, bool]:
    """Where to create a scratch folder (None: the system's temporary folder), and whether that is the memory
    folder, which a large commit may fill: then the caller writes again in the system's temporary folder."""
    asked = configured(work_dir)
    if asked is not None:
        return asked, False
    memory = in_memory()
    return memory, memory is not None


def parent(work_dir: Path | None = None) -> Path | None:
    """Where to create a small scratch folder (``dir=`` of ``tempfile``); None: the system's temporary folder."""
    return chosen(work_dir)[0]


def empty(folder: Path) -> None:
    """Removes what ``folder`` holds (a write that filled the memory folder), so that memory is given back at once
    rather than when the run ends; the folder itself stays for its context manager to remove."""
    if not folder.is_dir():
        return  # the write failed before making it
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


@contextmanager
def folder(where: Path | None, prefix: str = "gitops-check-") -> Iterator[Path]:
    """A temporary folder in ``where`` (created if missing; None: the system's), removed on the way out."""
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=where) as tmp:
        yield Path(tmp)
