"""Issue 14 item 7: a folder that is no git repository (a download of the bundled example) is read as it is."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from gitops_check.cli import main
from gitops_check.errors import SourceError
from gitops_check.sources.folder import FolderHandle, open_tree
from gitops_check.sources.git import RepoHandle
from tests.helpers.gitrepo import GitRepo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_a_folder_inside_a_repository_is_still_the_repository(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({"apps/cm.yaml": "a: 1\n"})
    repo.commit("one")
    assert isinstance(open_tree(repo.path / "apps"), RepoHandle)
    (tmp_path / "plain").mkdir()
    assert isinstance(open_tree(tmp_path / "plain"), FolderHandle)


def test_files_links_and_modes_are_copied_never_followed(tmp_path: Path) -> None:
    src = tmp_path / "plain"
    (src / "apps" / "web").mkdir(parents=True)
    (src / "apps" / "web" / "cm.yaml").write_text("a: 1\n")
    (src / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(src / "run.sh", 0o755)
    (src / "outside").symlink_to("/etc/passwd")
    (src / "linked-dir").symlink_to(tmp_path)  # a link to a folder: copied as a link, not walked into
    (src / ".git").write_text("gitdir: /nowhere\n")  # a broken .git file makes no repository and is left out
    ws = FolderHandle(src, "./plain").materialize(None, tmp_path / "dest")
    dest = tmp_path / "dest"
    assert (dest / "apps" / "web" / "cm.yaml").read_text() == "a: 1\n"
    assert os.access(dest / "run.sh", os.X_OK)
    assert os.readlink(dest / "outside") == "/etc/passwd"
    assert os.readlink(dest / "linked-dir") == str(tmp_path)
    assert not (dest / ".git").exists()
    assert ws.revision is None and "not a git repository" in ws.warnings[0]


def test_a_revision_of_a_plain_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    handle = FolderHandle(tmp_path / "plain", "./plain")
    with pytest.raises(SourceError, match="is not a git repository, so it has no revision 'main'"):
        handle.materialize("main", tmp_path / "dest")
    handle.materialize("HEAD", tmp_path / "dest")  # the command line's default: the files as they are


def test_the_bundled_example_from_a_download(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's first command on a copy without .git: the same drift as from the clone, plus the note."""
    copy = tmp_path / "shop"
    shutil.copytree(EXAMPLES / "shop", copy)
    snapshot = EXAMPLES / "shop-cluster.json"
    out_json = tmp_path / "r.json"
    assert main(["diff", f"--repo={copy}", f"--snapshot={snapshot}", f"--json={out_json}"]) == 1
    out = capsys.readouterr().out
    assert "is not a git repository: its files were read as they are" in out
    from_copy = json.loads(out_json.read_text())
    assert main(["diff", f"--repo={EXAMPLES / 'shop'}", f"--snapshot={snapshot}", f"--json={out_json}"]) == 1
    from_clone = json.loads(out_json.read_text())
    assert from_copy["summary"] == from_clone["summary"]
    assert _without_timings(from_copy["apps"]) == _without_timings(from_clone["apps"])

    assert main(["diff", f"--repo={copy}", "--rev=main", f"--snapshot={snapshot}"]) == 2
    err = capsys.readouterr().err
    assert "not a git repository, so it has no revision 'main'" in err
    assert main(["apps", f"--repo={copy}", "--no-render"]) == 0
    assert "is not a git repository" in capsys.readouterr().out


def _without_timings(apps: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in app.items() if k != "renderSeconds"} for app in apps]
