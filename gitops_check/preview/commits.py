"""The two commits as files, and the apps each declares.

Both commits are written into a temporary folder on a memory-backed file system when it has room, since writing
a few thousand small files twice is most of a preview's fixed cost; a full memory folder falls back to disk. The
base commit is written first; the head commit is a copy of it (``cp``, another process, running while the base
commit's apps are discovered) plus the paths that differ. Each commit's apps are discovered from its own files,
with the project file parsed once when it is the same blob at both."""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gitops_check import repourl, scratch
from gitops_check.discover.dispatch import DiscoverOptions, discover
from gitops_check.discover.project import Discovery, load_project
from gitops_check.errors import GitopsCheckError, SourceError
from gitops_check.model.app import App
from gitops_check.model.rendered import Workspace
from gitops_check.preview.plan import Side
from gitops_check.preview.request import PreviewRequest
from gitops_check.preview.revisions import Revisions
from gitops_check.project.config import ProjectConfig
from gitops_check.render.inputs import Tree
from gitops_check.sources.git import RepoHandle, open_repo


class Commits:
    """The base commit, written; the head commit, being written meanwhile (a copy of base plus what differs)."""

    def __init__(self, base: Side, head: Future[Side]):
        self.base = base
        self._head = head

    def head(self) -> Side:
        """The head commit, once written (raises what writing it raised)."""
        return self._head.result()


def materialize(
    stack: contextlib.ExitStack[Any], repo: RepoHandle, revs: Revisions, request: PreviewRequest
) -> Commits:
    """Both commits in a temporary folder: memory-backed when it has room, on disk when that fills up.

    The base commit is written first; the head commit is written in the background while the caller discovers
    the base commit's apps: a copy of the base files (``cp``, a process of its own) plus the paths that differ.
    """
    where, in_memory = scratch.chosen(request.work_dir)
    tmp = stack.enter_context(_temp(where))
    pool = stack.enter_context(ThreadPoolExecutor(max_workers=2, thread_name_prefix="materialize"))
    head_index = pool.submit(repo.tree_index, revs.head)  # one git ls-tree while base is written
    try:
        base = _base(repo, revs, request, tmp)
    except OSError as e:
        if not in_memory:
            raise SourceError(
                f"cannot write the two commits to {tmp}: {e.strerror or e}; pass --work-dir"
            ) from e
        scratch.empty(tmp)
        tmp, in_memory = stack.enter_context(_temp(None)), False
        base = _base(repo, revs, request, tmp)

    def head() -> Side:
        index = head_index.result()
        try:
            ws = repo.materialize(revs.head, tmp / "head", like=base.tree.ws)
        except OSError as e:
            if not in_memory:
                raise SourceError(
                    f"cannot write the head commit to {tmp}: {e.strerror or e}; pass --work-dir"
                ) from e
            scratch.empty(tmp / "head")
            ws = repo.materialize(revs.head, stack.enter_context(_temp(None)) / "head")
        # One DiscoveryState for the run: both commits note in it what their project files turn off.
        options = DiscoverOptions(
            this_repo_urls=base.options.this_repo_urls, repo_map=base.options.repo_map, job=base.options.job,
            state=base.options.state,
        )  # fmt: skip
        return Side("head", Tree(ws, index, base.tree.parsed), None, options)

    return Commits(base, pool.submit(head))


def _temp(parent: Path | None) -> contextlib.AbstractContextManager[Path]:
    return scratch.folder(parent, "gitops-check-preview-")


def _base(repo: RepoHandle, revs: Revisions, request: PreviewRequest, tmp: Path) -> Side:
    urls = frozenset(repourl.canonical(u) for u in (*repo.remote_urls(), *request.repo_urls))
    mapped: dict[str, Workspace] = {}
    for i, (url, path) in enumerate(sorted(request.repo_map.items())):
        mapped[repourl.canonical(url)] = open_repo(path).materialize("HEAD", tmp / f"mapped-{i}")
    ws = repo.materialize(revs.base, tmp / "base")
    # YAML parsed by blob id: the head commit's Tree shares the dict (most files are the same blob).
    tree = Tree(ws, repo.tree_index(revs.base), {})
    return Side("base", tree, None, DiscoverOptions(this_repo_urls=urls, repo_map=mapped, job=request.job))


def discover_apps(side: Side, request: PreviewRequest, other: Side | None = None) -> list[App]:
    """The apps of ``side``'s commit, discovered from its own files (``other``: the commit discovered before)."""
    ws = side.tree.ws
    try:
        side.project = _same_project(side, other) or load_project(ws)
        found = discover(ws, side.project, side.options)
    except GitopsCheckError as e:
        raise type(e)(
            f"{side.name} commit {(ws.revision or '')[:7]}: {e.message}", file=e.file, line=e.line
        ) from e
    if request.only_apps:
        found = Discovery([a for a in found.apps if a.name in request.only_apps], found.notes, found.errors)
    side.notes.extend(found.notes)
    side.errors.extend(found.errors)
    return found.apps


def _same_project(side: Side, other: Side | None) -> ProjectConfig | None:
    """The other commit's parsed project file when the file is the same blob (parsing 300 apps takes a while)."""
    if other is None or other.project is None or not other.project.path:
        return None
    mine = side.tree.index.get(other.project.path)
    return other.project if mine is not None and mine == other.tree.index.get(other.project.path) else None
