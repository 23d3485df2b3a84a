"""Issue 10, item 9: repository strings cannot forge log lines: no workflow command, no fake verdict.

An app name (or any other string from the checked commit) with newlines once reached the log at column 0, where
GitHub's runner read ``::add-mask::`` / ``::error::`` from it and a reader saw "Exit code 0". Now every such
string is printed escaped, and under GitHub Actions the whole run is fenced with ``::stop-commands::``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_check.cli import main
from tests.ci.actionrunner import workflow_commands
from tests.helpers.gitrepo import GitRepo
from tests.publish.repos import configmap, write_snapshot

FORGED = "\n::add-mask::ghp_realToken\n::error title=forged::all good\nExit code 0: everything checked is in sync\n"


def hostile_repo(root: Path) -> GitRepo:
    repo = GitRepo.init(root)
    apps = [
        {"name": f"web{FORGED}", "path": "apps/web", "namespace": "shop"},
        {"name": f"bad\r\x1b[2K{FORGED}", "path": "apps/bad", "namespace": "shop"},
    ]
    repo.write({
        ".gitops-check.yaml": json.dumps({"version": 1, "apps": apps}),
        "apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "fast"})),
        "apps/bad/cm.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: [{FORGED}\n",
    })  # fmt: skip
    repo.commit("hostile names")
    return repo


def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *, actions: bool
) -> tuple[int, str, str]:
    repo = hostile_repo(tmp_path / "repo")
    snapshot = write_snapshot(tmp_path / "s.json", [configmap("web-config", {"mode": "slow"})])
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    if actions:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code = main(["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--no-color"])
    out, err = capsys.readouterr()
    return code, out, err


def forged_at_column_zero(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if line.startswith(("::add-mask::", "::error title=forged", "Exit code 0"))
    ]


@pytest.mark.parametrize("actions", [False, True])
def test_no_repository_string_starts_a_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], actions: bool
) -> None:
    code, out, err = run(tmp_path, monkeypatch, capsys, actions=actions)
    assert code == 2  # the broken app
    assert forged_at_column_zero(out) == [] and forged_at_column_zero(err) == []
    assert "web\\n::add-mask::ghp_realToken\\n" in out  # shown, escaped
    assert "\x1b" not in out + err and "\r" not in out + err


def test_under_github_actions_the_whole_run_is_fenced_without_github_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, err = run(tmp_path, monkeypatch, capsys, actions=True)
    lines = out.splitlines()
    assert lines[0].startswith("::stop-commands::") and lines[-1] == f"::{lines[0].split('::')[2]}::"
    assert workflow_commands(out) == [] and workflow_commands(out + err) == []


def test_apps_listing_escapes_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = hostile_repo(tmp_path / "repo")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    main(["apps", "--repo", str(repo.path)])
    out, err = capsys.readouterr()
    assert forged_at_column_zero(out) == [] and forged_at_column_zero(err) == []
