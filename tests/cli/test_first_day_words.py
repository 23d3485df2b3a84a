"""Issue 14, items 4 and 6: words a first CI run trips over, and inputs validated before rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_check.cli import main
from gitops_check.model import ResourceDiff, ResourceKey, Status
from gitops_check.report.text import resource_verdict
from tests.publish.repos import drift_repo


def test_not_checked_is_said_once() -> None:
    diff = ResourceDiff(ResourceKey("", "ConfigMap", "shop", "x"), "web", Status.ERROR,
                        message="not checked: cluster default could not be read")  # fmt: skip
    assert resource_verdict(diff, "diff") == "not checked: cluster default could not be read"


def test_a_missing_snapshot_fails_once_before_rendering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = drift_repo(tmp_path / "repo")
    code = main(["diff", f"--repo={repo.path}", f"--snapshot={tmp_path / 'nope.json'}"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""  # nothing rendered, no report
    assert err.count("snapshot file does not exist") == 1 and "nope.json" in err


def test_errors_of_apps_not_selected_do_not_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.publish.repos import drift_snapshot

    repo = drift_repo(tmp_path / "repo")  # "broken" has invalid YAML
    snapshot = drift_snapshot(tmp_path / "s.json")
    assert main(["diff", f"--repo={repo.path}", f"--snapshot={snapshot}", "--app=web"]) == 1
    assert main(["diff", f"--repo={repo.path}", f"--snapshot={snapshot}", "--app=broken"]) == 2
