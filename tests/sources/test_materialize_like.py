"""``RepoHandle.materialize(rev, dest, like=ws)``: a copy of another commit's files plus what differs must be
exactly what writing the commit from scratch gives (files, contents, modes, symlinks, no leftover folders)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gitops_check.model.rendered import Workspace
from gitops_check.sources import git as git_source
from gitops_check.sources.git import open_repo
from tests.helpers.gitrepo import GitRepo


def snapshot(root: Path) -> dict[str, tuple[str, object]]:
    """Every entry below ``root``: folders, files (content, executable bit) and symlinks (target)."""
    out: dict[str, tuple[str, object]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                out[rel] = ("link", os.readlink(full))
            elif full.is_dir():
                out[rel] = ("dir", None)
            else:
                executable = bool(os.stat(full).st_mode & stat.S_IXUSR)
                out[rel] = ("file", (full.read_bytes(), executable))
    return out


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        "apps/web/cm.yaml": "a\n",
        "apps/web/deep/x.yaml": "x\n",
        "apps/gone/only.yaml": "gone\n",
        "becomes-dir": "file\n",
        "becomes-file/inner.yaml": "inner\n",
        "scripts/run.sh": "#!/bin/sh\n",
        "same.yaml": "same\n",
    })  # fmt: skip
    repo.symlink("links/to-web", "../apps/web")
    repo.symlink("links/retarget", "../same.yaml")
    repo.commit("base")
    repo.remove("apps/gone/only.yaml")
    repo.remove("becomes-file/inner.yaml")
    (repo.path / "becomes-file").rmdir()
    repo.remove("becomes-dir")
    repo.write({"apps/web/cm.yaml": "b\n", "new/folder/n.yaml": "n\n", "becomes-dir/now.yaml": "dir\n"})
    repo.write({"becomes-file": "now a file\n"})
    repo.chmod("scripts/run.sh", 0o755)
    repo.remove("links/retarget")
    repo.symlink("links/retarget", "../apps/web/cm.yaml")
    repo.commit("head")
    return repo


def test_copy_plus_differences_equals_writing_from_scratch(repo: GitRepo, tmp_path: Path) -> None:
    handle = open_repo(repo.path)
    base = handle.materialize("HEAD~1", tmp_path / "base")
    before = snapshot(base.root)

    copied = handle.materialize("HEAD", tmp_path / "copied", like=base)
    fresh = open_repo(repo.path).materialize("HEAD", tmp_path / "fresh")

    assert snapshot(copied.root) == snapshot(fresh.root)
    assert "apps/gone" not in snapshot(copied.root)  # the folder the removed file leaves empty goes too
    assert snapshot(base.root) == before  # the copied workspace is left as it was
    assert (copied.revision, copied.warnings) == (fresh.revision, fresh.warnings)


def test_submodule_warnings_come_from_the_commit_written(tmp_path: Path) -> None:
    sub = GitRepo.init(tmp_path / "sub")
    sub.write({"x.yaml": "x\n"})
    sub.commit()
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({"a.yaml": "a\n"})
    repo.commit("one")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendor/sub")
    repo.commit("add submodule")
    handle = open_repo(repo.path)
    base = handle.materialize("HEAD~1", tmp_path / "base")

    head = handle.materialize("HEAD", tmp_path / "head", like=base)

    assert any("submodule vendor/sub skipped" in w for w in head.warnings)
    assert snapshot(head.root) == snapshot(open_repo(repo.path).materialize("HEAD", tmp_path / "fresh").root)


def test_workspace_not_written_by_this_handle_is_not_copied(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = open_repo(repo.path).materialize("HEAD~1", tmp_path / "other")
    (other.root / "stray.yaml").write_text("not from git\n")
    handle = open_repo(repo.path)
    calls: list[object] = []
    real_run = git_source.subprocess.run

    def run(argv: list[str], **kw: object) -> object:
        if not argv[0].endswith("cp"):
            return real_run(argv, **kw)  # type: ignore[call-overload]  # git itself
        calls.append(argv)
        return None

    monkeypatch.setattr(git_source.subprocess, "run", run)

    ws = handle.materialize("HEAD", tmp_path / "ws", like=other)
    unknown = handle.materialize("HEAD", tmp_path / "ws2", like=Workspace(other.root, "x", revision="0" * 40))

    assert calls == []  # never copied
    assert not (ws.root / "stray.yaml").exists() and not (unknown.root / "stray.yaml").exists()
    assert snapshot(ws.root) == snapshot(unknown.root)


def test_failed_copy_falls_back_to_writing_everything(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = open_repo(repo.path)
    base = handle.materialize("HEAD~1", tmp_path / "base")
    real_run = git_source.subprocess.run

    def half_copy(argv: list[str], **kw: object) -> object:
        done = real_run(argv, **kw)  # type: ignore[call-overload]
        if not argv[0].endswith("cp"):
            return done  # git itself
        raise git_source.subprocess.CalledProcessError(1, argv)

    monkeypatch.setattr(git_source.subprocess, "run", half_copy)
    ws = handle.materialize("HEAD", tmp_path / "ws", like=base)
    fresh = open_repo(repo.path).materialize("HEAD", tmp_path / "fresh")

    assert snapshot(ws.root) == snapshot(fresh.root)


def test_resolve_asks_git_once_per_commit_id(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    handle = open_repo(repo.path)
    sha = handle.resolve("HEAD")
    asked: list[tuple[str, ...]] = []
    real = handle._git_bytes

    def counting(*args: str, **kw: object) -> bytes:
        asked.append(args)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(handle, "_git_bytes", counting)
    assert handle.resolve(sha) == sha and handle.resolve(sha) == sha
    assert handle.resolve("HEAD~1") != sha  # names are asked every time
    assert [a[0] for a in asked] == ["rev-parse"]
