"""Issue 14, items 4 and 6: words a first CI run trips over, and inputs validated before rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_check.cli import main
from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import CheckResult, ResourceDiff, Status
from gitops_check.report.text import resource_verdict
from tests.helpers.gitrepo import GitRepo
from tests.publish.repos import configmap, drift_repo, secret, write_snapshot


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


# ----------------------------------------------------------------------------------------------- item 4: words


def test_apps_that_could_not_be_checked_are_not_counted_as_checked() -> None:
    from gitops_check.model.result import CheckResult
    from gitops_check.report.text import summary_line
    from tests.report.results import failed_app, in_sync_app

    all_failed = CheckResult(apps=[failed_app(), failed_app()], target="t", against="a")
    assert summary_line(all_failed) == "none of 2 apps could be checked"
    all_failed.mode = "preview"
    assert summary_line(all_failed) == "none of 2 apps could be compared"
    some = CheckResult(apps=[in_sync_app("a"), failed_app()], target="t", against="a")
    assert summary_line(some) == "1 of 2 apps checked: 1 in sync, 1 not checked"


def test_an_unreadable_snapshot_says_none_could_be_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = drift_repo(tmp_path / "repo", broken=False)
    bad = tmp_path / "bad.json"
    bad.write_text('{"items": [')
    assert main(["diff", f"--repo={repo.path}", f"--snapshot={bad}", "--no-color"]) == 2
    out = capsys.readouterr().out
    assert "none of 1 app could be checked" in out
    assert "apps checked" not in out and "app checked" not in out


def _run_errors_result() -> CheckResult:
    from gitops_check.model.result import AppError

    same = "ApplicationSet generator failed: cluster generator needs a cluster list"
    return CheckResult(
        apps=[],
        target="t",
        against="a",
        errors=[
            AppError("set-a", same, "apps/sets.yaml", 3, stage="discover"),
            AppError("set-b", same, "apps/sets.yaml", 3, stage="discover"),
            AppError("set-c", same, "apps/sets.yaml", 3, stage="discover"),
            AppError("*", "cluster prod: connection refused", stage="cluster"),
        ],
    )


def test_run_level_errors_are_said_once_with_their_apps() -> None:
    """Three apps with the same discovery error used to print three identical lines naming no app."""
    from gitops_check.publish.actions import error_annotations
    from gitops_check.report.markdown import render_markdown_full
    from gitops_check.report.terminal import render_terminal

    result = _run_errors_result()
    out = render_terminal(result, color=False)
    assert out.count("cluster generator needs a cluster list") == 1
    assert "error (discover) in apps set-a, set-b, set-c: apps/sets.yaml:3: ApplicationSet" in out
    assert "error (cluster): cluster prod: connection refused" in out
    assert "2 errors outside any app" in out
    md = render_markdown_full(result)
    assert md.count("cluster generator needs a cluster list") == 1
    assert "**Error** (discover) of apps set-a, set-b, set-c in `apps/sets.yaml:3`:" in md
    titles = [a.title for a in error_annotations(result, "")]
    assert titles == [
        "gitops-check: set-a, set-b, set-c could not be checked",
        "gitops-check: the check is incomplete",
    ]


def _mirror_repo(root: Path) -> GitRepo:
    """An Argo CD Application naming this repository by a URL none of its remotes spells (a mirror)."""
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "web", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": MIRROR, "path": "apps/web", "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
        },
    }
    repo = GitRepo.init(root)
    repo.write(
        {
            "argocd/web.yaml": json.dumps(app),
            "apps/web/cm.yaml": json.dumps(configmap("web-config", {"a": "1"})),
        }
    )
    repo.commit("apps")
    return repo


MIRROR = "https://git.mirror.example/shop/gitops.git"


def test_the_hint_for_this_repository_under_another_url_is_repo_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _mirror_repo(tmp_path / "repo")
    snapshot = write_snapshot(tmp_path / "s.json", [configmap("web-config", {"a": "1"})])
    args = ["diff", f"--repo={repo.path}", f"--snapshot={snapshot}", "--offline", "--no-color"]
    assert main(args) == 2
    out = capsys.readouterr().out
    assert f"if {MIRROR} is the repository being checked, pass --repo-url {MIRROR}" in out
    assert main([*args, f"--repo-url={MIRROR}"]) == 0  # the hint's fix works


def test_preview_secret_markers_say_base_and_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = drift_repo(tmp_path / "repo", broken=False)
    base = repo.head()
    repo.write({"apps/web/secret.yaml": json.dumps(secret("another-value-never-shown"))})
    repo.commit("rotate")
    out_md = tmp_path / "p.md"
    code = main(["preview", f"--repo={repo.path}", f"--base={base}", "--head=HEAD", "--no-cache",
                 f"--markdown-full={out_md}", "--no-color"])  # fmt: skip
    assert code == 1
    out = capsys.readouterr().out + out_md.read_text()
    assert "<redacted: value in base>" in out and "<redacted: value in head>" in out
    assert "value in cluster" not in out and "value in Git" not in out
    assert "another-value-never-shown" not in out


def test_diff_help_lists_options_by_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--help"]) == 0
    out = capsys.readouterr().out
    headings = [line for line in out.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert headings == [
        "Repository:", "Rendering:", "Job policy:", "Cluster:", "Reports:", "CI:", "Sync:", "Other options:"
    ]  # fmt: skip

    def section_of(option: str) -> str:
        lines = out.splitlines()
        at = next(i for i, line in enumerate(lines) if line.strip().startswith(option))
        return next(line for line in reversed(lines[:at]) if line in headings)

    assert section_of("--sync-on-drift") == section_of("--argocd") == "Sync:"
    assert section_of("--comment ") == section_of("--github-summary") == "CI:"
    assert section_of("--snapshot") == section_of("--live ") == "Cluster:"
    assert section_of("--helm") == "Rendering:" and section_of("--junit") == "Reports:"


def test_the_step_after_a_preview_speaks_of_changes() -> None:
    from gitops_check.ci.step import Reports, StepResult, verdict_line

    changed = StepResult(1, True, 0, 1, Reports.under(Path("r")))
    assert verdict_line(changed, "error", "preview") == (
        "gitops-check exited 1 (the change alters rendered resources); with fail-on error the step passes"
    )
    assert "drift" not in verdict_line(changed, "error", "preview")
    assert "(drift found)" in verdict_line(changed, "drift", "snapshot")
