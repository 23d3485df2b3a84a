"""Real git repositories for tests, built in ``tmp_path`` with the git binary.

Author, committer and dates are pinned and the user's git configuration is ignored, so a given sequence of
writes and commits always yields the same commit SHAs, on any machine.

Usage::

    repo = GitRepo.init(tmp_path / "repo")
    repo.write({"apps/web/cm.yaml": "apiVersion: v1\\nkind: ConfigMap\\n..."})
    sha = repo.commit("add web")
    repo.git("tag", "v1")
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from gitops_check.model.rendered import Workspace
from gitops_check.sources.git import open_repo

# Deterministic identity and no global/system config (the developer's aliases, hooks, signing, ...).
GIT_ENV: dict[str, str] = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}
BASE_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z


class GitRepo:
    """A repository under construction. Each commit gets a date one minute after the previous one."""

    def __init__(self, path: Path):
        self.path = path
        self._commits = 0

    @classmethod
    def init(cls, path: Path, *, branch: str = "main") -> GitRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "-q", "-b", branch)
        repo.git("config", "commit.gpgsign", "false")
        repo.git("config", "core.symlinks", "true")
        return repo

    def env(self) -> dict[str, str]:
        date = f"@{BASE_EPOCH + 60 * self._commits} +0000"
        return {**os.environ, **GIT_ENV, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}

    def git(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.path, env=self.env(), capture_output=True, text=True, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    # ----------------------------------------------------------------------------------------- files

    def write(self, files: Mapping[str, str | bytes]) -> None:
        """Write files (paths relative to the repository root); parents are created."""
        for rel, content in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def symlink(self, rel: str, target: str) -> None:
        """Create ``rel`` as a symlink whose content is ``target`` (relative or absolute, as given)."""
        link = self.path / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)

    def chmod(self, rel: str, mode: int) -> None:
        (self.path / rel).chmod(mode)

    def remove(self, rel: str) -> None:
        (self.path / rel).unlink()

    # ----------------------------------------------------------------------------------------- history

    def commit(self, message: str = "change", *, add_all: bool = True) -> str:
        """Commit (everything, by default) and return the new commit's SHA."""
        if add_all:
            self.git("add", "-A")
        self._commits += 1
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def rev(self, rev: str) -> str:
        return self.git("rev-parse", "--verify", f"{rev}^{{commit}}").strip()

    def status(self) -> str:
        """Porcelain status including ignored files: equal before and after means nothing was touched."""
        return self.git("status", "--porcelain=v1", "--ignored", "--untracked-files=all")

    def stash_list(self) -> str:
        return self.git("stash", "list")


def commit_files(path: Path, files: Mapping[str, str | bytes], message: str = "initial") -> GitRepo:
    """Shortcut: a new repository at ``path`` with ``files`` committed once."""
    repo = GitRepo.init(path)
    repo.write(files)
    repo.commit(message)
    return repo


def make_workspace(
    tmp_path: Path,
    files: Mapping[str, str | bytes],
    *,
    symlinks: Mapping[str, str] | None = None,
    name: str = "repo",
) -> Workspace:
    """Commit ``files`` (and ``symlinks``: path -> target) to a new repository and materialize HEAD.

    The repository lives at ``tmp_path/name``, the workspace at ``tmp_path/name-ws``.
    """
    repo = GitRepo.init(tmp_path / name)
    repo.write(files)
    for link, target in (symlinks or {}).items():
        repo.symlink(link, target)
    repo.commit("fixture")
    return open_repo(repo.path, display=f"./{name}").materialize("HEAD", tmp_path / f"{name}-ws")
