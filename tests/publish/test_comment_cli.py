"""``gitops-check comment``: a file, numbered part files, a folder of parts; input errors; the fork fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_check.cli import main
from gitops_check.publish.sticky import parse_marker
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.fake_gitlab import FakeGitLab
from tests.publish.envs import github_env, gitlab_env, pull_request_event


@pytest.fixture
def in_github(fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = github_env(fake_github, tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def write(folder: Path, files: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return [folder / n for n in files]


def test_one_file_one_comment(fake_github: FakeGitHub, in_github: dict[str, str], tmp_path: Path) -> None:
    (report,) = write(tmp_path / "r", {"comment.md": "### gitops-check: drift\n"})
    assert main(["comment", "--github", "--key", "preview", str(report)]) == 0
    (comment,) = fake_github.issue_comments(7)
    assert comment["body"] == "<!-- gitops-check:preview -->\n### gitops-check: drift\n"


def test_parts_dir_in_natural_order_then_fewer_parts(
    fake_github: FakeGitHub, in_github: dict[str, str], tmp_path: Path
) -> None:
    parts = {f"comment-{n}.md": f"part {n}\n" for n in (1, 2, 10, 3, 4, 5, 6, 7, 8, 9)}
    write(tmp_path / "parts", {**parts, "full.md": "the whole report", "notes.json": "{}"})
    assert main(["comment", "--parts-dir", str(tmp_path / "parts"), "--key", "preview"]) == 0
    comments = fake_github.issue_comments(7)
    assert [c["body"].split("\n")[1] for c in comments] == [f"part {n}" for n in range(1, 11)]
    assert [parse_marker(c["body"])[1] for c in comments] == list(range(1, 11))  # type: ignore[index]
    paths = write(tmp_path / "again", {"a.md": "only one now\n", "b.md": "and two\n"})
    assert main(["comment", "--part", str(paths[0]), "--part", str(paths[1]), "--key", "preview"]) == 0
    bodies = [c["body"] for c in fake_github.issue_comments(7)]
    assert bodies == [
        "<!-- gitops-check:preview -->\nonly one now\n",
        "<!-- gitops-check:preview:part 2 -->\nand two\n",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give exactly one of"),
        (["{f}", "--part", "{f}"], "give exactly one of"),
        (["--parts-dir", "{d}/nothing-here"], "not a folder"),
        (["--parts-dir", "{d}/empty"], "no numbered *.md files"),
        (["{d}/blank.md"], "empty: nothing to publish"),
        (["{d}/missing.md"], "cannot read"),
    ],
)
def test_input_mistakes_are_one_line_errors(
    fake_github: FakeGitHub,
    in_github: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    (tmp_path / "empty").mkdir()
    write(tmp_path, {"blank.md": "  \n", "ok.md": "fine\n"})
    argv = [a.format(f=tmp_path / "ok.md", d=tmp_path) for a in args]
    assert main(["comment", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert fake_github.requests == []


def test_oversize_part_names_the_file_and_sends_nothing(
    fake_github: FakeGitHub, in_github: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write(tmp_path / "p", {"comment-1.md": "small\n", "comment-2.md": "x" * 70000})
    assert main(["comment", "--part", str(paths[0]), "--part", str(paths[1])]) == 2
    err = capsys.readouterr().err
    assert f"{paths[1]} is 70,0" in err and "at most 65,536" in err
    assert fake_github.requests == []


def test_fork_falls_back_to_the_job_summary(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = github_env(fake_github, tmp_path, token=FakeGitHub.READ_TOKEN, event=pull_request_event(fork=True))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    paths = write(
        tmp_path / "p", {"1.md": "### report (part 1 of 2)\n", "2.md": "### report (part 2 of 2)\n"}
    )
    assert main(["comment", "--github", "--part", str(paths[0]), "--part", str(paths[1])]) == 0
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("> pull request #7 comes from a fork")
    assert "(part 1 of 2)" in summary and "(part 2 of 2)" in summary
    assert "read-only token" in capsys.readouterr().err


def test_gitlab_note_and_auto_outside_ci(
    fake_gitlab: FakeGitLab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)
    (report,) = write(tmp_path, {"r.md": "hello\n"})
    assert main(["comment", str(report)]) == 0
    assert "not running in GitHub Actions or GitLab CI" in capsys.readouterr().err
    for name, value in gitlab_env(fake_gitlab).items():
        monkeypatch.setenv(name, value)
    assert main(["comment", "--gitlab", "--pr", "5", str(report)]) == 0
    assert [n["body"] for n in fake_gitlab.mr_notes(5)] == ["<!-- gitops-check:default -->\nhello\n"]
