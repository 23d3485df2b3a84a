"""A plain folder that is no git repository (a downloaded copy, an unpacked archive), read as it is.

There is no commit to pin, no index and no ignore rules: the folder's files are the working tree. Only the working
tree (no ``--rev``, or ``HEAD``) can be read; any other revision is an error saying why. Symbolic links are copied
as links (the renderers' path checks refuse those leading out of the workspace) and never followed into folders.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from gitops_check.errors import SourceError
from gitops_check.model.rendered import Workspace
from gitops_check.sources.git import NotARepository, RepoHandle, display_path, open_repo

# What the working tree means when no revision was given: the command line's default.
WORKING_TREE_REVISIONS = (None, "HEAD")


class FolderHandle:
    """The same questions ``sources.git.RepoHandle`` answers, for a folder outside any git repository."""

    prefix = ""
    git_dir: Path | None = None

    def __init__(self, root: Path, display: str) -> None:
        self.root: Path | None = root
        self.display = display

    def __repr__(self) -> str:
        return f"FolderHandle({self.display!r})"

    def note(self) -> str:
        return (
            f"{self.display} is not a git repository: its files were read as they are, like --working-tree "
            "(no commit to pin, no .gitignore)"
        )

    def remote_urls(self) -> list[str]:
        return []  # no remotes: Applications name this repository only through --repo-url

    def resolve(self, rev: str) -> str:
        raise SourceError(
            f"{self.display} is not a git repository, so it has no revision {rev!r}: check a clone, or leave out "
            "--rev to read the folder's files as they are"
        )

    def materialize(self, rev: str | None, dest: Path, *, like: Workspace | None = None) -> Workspace:
        if rev not in WORKING_TREE_REVISIONS:
            self.resolve(rev or "")
        dest.mkdir(parents=True, exist_ok=True)
        if any(dest.iterdir()):
            raise SourceError(f"workspace folder {dest} is not empty")
        assert self.root is not None
        _copy_tree(self.root, dest)
        return Workspace(
            root=dest,
            label=f"{self.display} (folder, not a git repository)",
            revision=None,
            repo_path=self.root,
            warnings=(self.note(),),
        )


def _copy_tree(src: Path, dest: Path) -> None:
    """Regular files (with their executable bit) and symbolic links; ``.git`` entries, sockets and the like skipped."""
    root = str(src)
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel = os.path.relpath(folder, root)
        target = dest if rel == "." else dest / rel
        target.mkdir(exist_ok=True)
        links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        dirs[:] = sorted(d for d in dirs if d != ".git" and d not in links)
        for name in sorted([*files, *links]):
            if name == ".git":
                continue
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue  # removed while we walked
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(path), target / name)
            elif stat.S_ISREG(st.st_mode):
                shutil.copyfile(path, target / name, follow_symlinks=False)
                if st.st_mode & 0o111:
                    os.chmod(target / name, 0o755)


def open_tree(path: str | Path, *, display: str | None = None) -> RepoHandle | FolderHandle:
    """The repository holding ``path`` (``sources.git.open_repo``), or, when there is none, the folder itself."""
    try:
        return open_repo(path, display=display)
    except NotARepository:
        p = Path(path)
        return FolderHandle(p.resolve(), display or display_path(p))
