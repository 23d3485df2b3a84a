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


def parent(work_dir: Path | None = None) -> Path | None:
    """Where to create a scratch folder (``dir=`` of ``tempfile``); None: the system's temporary folder."""
    return configured(work_dir) or in_memory()


@contextmanager
def folder(where: Path | None, prefix: str = "gitops-check-") -> Iterator[Path]:
    """A temporary folder in ``where`` (created if missing; None: the system's), removed on the way out."""
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=where) as tmp:
        yield Path(tmp)
