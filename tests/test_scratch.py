"""Where scratch folders go: the job's choice, else a roomy memory folder, else the system's temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_check import scratch


def test_the_job_chooses_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(scratch.WORKDIR_VARIABLE, str(tmp_path / "env"))
    assert scratch.configured() == tmp_path / "env"
    assert scratch.configured(tmp_path / "option") == tmp_path / "option"  # a command-line option wins
    assert scratch.parent() == tmp_path / "env"


def test_a_memory_folder_without_room_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(scratch.WORKDIR_VARIABLE, raising=False)
    monkeypatch.setattr(scratch, "MIN_FREE", 1 << 62)
    assert scratch.in_memory() is None
    assert scratch.parent() is None  # tempfile's default: $TMPDIR or the system's


def test_a_missing_memory_folder_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(scratch, "MEMORY_FOLDER", tmp_path / "absent")
    assert scratch.in_memory() is None


def test_folder_is_made_inside_and_removed(tmp_path: Path) -> None:
    where = tmp_path / "not" / "yet"
    with scratch.folder(where, "gitops-check-test-") as made:
        assert made.parent == where and made.name.startswith("gitops-check-test-")
        (made / "file").write_text("x")
    assert not made.exists() and where.is_dir()


def test_chosen_says_whether_the_folder_is_the_memory_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(scratch.WORKDIR_VARIABLE, str(tmp_path))
    assert scratch.chosen() == (tmp_path, False)
    monkeypatch.delenv(scratch.WORKDIR_VARIABLE)
    monkeypatch.setattr(scratch, "MEMORY_FOLDER", tmp_path)
    monkeypatch.setattr(scratch, "MIN_FREE", 0)
    assert scratch.chosen() == (tmp_path, True)
    monkeypatch.setattr(scratch, "MIN_FREE", 1 << 62)
    assert scratch.chosen() == (None, False)


def test_empty_gives_back_what_a_failed_write_left(tmp_path: Path) -> None:
    (tmp_path / "tree" / "apps").mkdir(parents=True)
    (tmp_path / "tree" / "apps" / "a.yaml").write_text("x")
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "tree")
    scratch.empty(tmp_path)
    assert tmp_path.is_dir() and not any(tmp_path.iterdir())
    scratch.empty(tmp_path / "never made")  # nothing to do
