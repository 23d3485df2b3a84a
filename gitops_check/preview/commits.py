"""The two commits as files, and the apps each declares.

Both commits are written side by side (two ``git cat-file`` streams at once) into a temporary folder on a
memory-backed file system when it has room, since writing a few thousand small files twice is most of a preview's
fixed cost; a full memory folder falls back to disk. Discovery runs per commit; when the project file is the same
blob at both, it is parsed once.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitops_check import repourl
from gitops_check.config import ProjectConfig
from gitops_check.discover import reads
from gitops_check.discover.dispatch import DiscoverOptions, adopt, discover
from gitops_check.discover.project import Discovery, load_project
from gitops_check.errors import GitopsCheckError, SourceError
from gitops_check.inputs import Tree
from gitops_check.model import App, Workspace
from gitops_check.preview.plan import SIDES, Side
from gitops_check.preview.request import PreviewRequest
from gitops_check.preview.reuse import carries_over
from gitops_check.preview.revisions import Revisions
from gitops_check.sources.git import RepoHandle, open_repo

_SHM = Path("/dev/shm")
_SHM_MIN_FREE = 256 * 1024 * 1024


def materialize(
    stack: contextlib.ExitStack[Any], repo: RepoHandle, revs: Revisions, request: PreviewRequest
) -> dict[str, Side]:
    """Both commits in a temporary folder: memory-backed when it has room, on disk when that fills up."""
    parent = request.work_dir or (
        Path(os.environ["GITOPS_CHECK_WORKDIR"]) if os.environ.get("GITOPS_CHECK_WORKDIR") else None
    )
    in_memory = parent is None and _roomy(_SHM)
    tmp = stack.enter_context(_temp(_SHM if in_memory else parent))
    try:
        return _materialize(repo, revs, request, tmp)
    except OSError as e:
        if not in_memory:
            raise SourceError(
                f"cannot write the two commits to {tmp}: {e.strerror or e}; pass --work-dir"
            ) from e
    return _materialize(repo, revs, request, stack.enter_context(_temp(parent)))


@contextmanager
def _temp(parent: Path | None) -> Iterator[Path]:
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gitops-check-preview-", dir=parent) as tmp:
        yield Path(tmp)


def _roomy(path: Path) -> bool:
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize >= _SHM_MIN_FREE and os.access(path, os.W_OK)


def _materialize(repo: RepoHandle, revs: Revisions, request: PreviewRequest, tmp: Path) -> dict[str, Side]:
    urls = frozenset(repourl.canonical(u) for u in (*repo.remote_urls(), *request.repo_urls))
    mapped: dict[str, Workspace] = {}
    for i, (url, path) in enumerate(sorted(request.repo_map.items())):
        mapped[repourl.canonical(url)] = open_repo(path).materialize("HEAD", tmp / f"mapped-{i}")

    parsed: dict[str, Any] = {}  # YAML parsed by blob id, shared by both commits

    def one(side: str) -> Side:
        sha = revs.base if side == "base" else revs.head
        ws = repo.materialize(sha, tmp / side)
        options = DiscoverOptions(this_repo_urls=urls, repo_map=mapped)
        return Side(side, Tree(ws, repo.tree_index(sha), parsed), None, options)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="materialize") as pool:
        base, head = pool.map(one, SIDES)
    return {"base": base, "head": head}


def discover_apps(side: Side, request: PreviewRequest, other: Side | None = None) -> list[App]:
    """The apps of ``side``'s commit: ``other``'s when discovering again would find the same (``reuse``)."""
    ws = side.tree.ws
    if other is not None and _take_over(side, other):
        found = other.found
        assert found is not None
    else:
        try:
            with reads.record(ws.root) as record:
                side.project = _same_project(side, other) or load_project(ws)
                found = discover(ws, side.project, side.options)
        except GitopsCheckError as e:
            raise type(e)(
                f"{side.name} commit {(ws.revision or '')[:7]}: {e.message}", file=e.file, line=e.line
            ) from e
        side.found, side.reads = found, record
    if request.only_apps:
        found = Discovery([a for a in found.apps if a.name in request.only_apps], found.notes, found.errors)
    side.notes.extend(found.notes)
    side.errors.extend(found.errors)
    return found.apps


def _take_over(side: Side, other: Side) -> bool:
    if other.found is None or other.reads is None:
        return False
    if not carries_over(other.found, other.reads, other.tree, side.tree):
        return False
    side.project, side.found, side.discovered_by = other.project, other.found, other.name
    adopt(other.tree.ws, side.tree.ws, side.options)
    return True


def _same_project(side: Side, other: Side | None) -> ProjectConfig | None:
    """The other commit's parsed project file when the file is the same blob (parsing 300 apps takes a while)."""
    if other is None or other.project is None or not other.project.path:
        return None
    mine = side.tree.index.get(other.project.path)
    return other.project if mine is not None and mine == other.tree.index.get(other.project.path) else None
