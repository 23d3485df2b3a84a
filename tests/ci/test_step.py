"""The CI step runner without a CI: inputs to a command line, results to outputs, the fail-on policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_check.ci import github, gitlab, step
from gitops_check.errors import ConfigError

REPORTS = step.Reports.under(Path("/r"))


def inputs(**env: str) -> step.StepInputs:
    return step.StepInputs.from_env(
        {f"GITOPS_CHECK_{k.upper()}": v for k, v in env.items()}, report_dir=Path("/r")
    )


def test_preview_command() -> None:
    command = step.build_command(
        inputs(base="abc", head="def", snapshot="s.json"), REPORTS, platform="github", python="py"
    )
    assert command == [
        "py", "-I", "-m", "gitops_check", "preview", "--repo=.", "--base=abc", "--head=def", "--snapshot=s.json",
        "--junit=/r/gitops-check.xml", "--markdown=/r/gitops-check.md", "--markdown-full=/r/gitops-check-full.md",
        "--json=/r/gitops-check.json", "--color", "--comment=github", "--github-summary",
    ]  # fmt: skip


def test_snapshot_and_live_commands_and_extra_args() -> None:
    snap = inputs(
        mode="snapshot", snapshot="-rf /", head="v1", comment="false", summary="no", args="--app 'a b' -v"
    )
    command = step.build_command(snap, REPORTS, platform="gitlab", python="py")
    assert command[4:8] == ["diff", "--repo=.", "--rev=v1", "--snapshot=-rf /"]
    assert "--comment=gitlab" not in command and "--github-summary" not in command
    assert command[-3:] == ["--app", "a b", "-v"]
    live = step.build_command(
        inputs(mode="live", comment_key="prod"), REPORTS, platform="gitlab", python="py"
    )
    assert "--live" in live and "--comment=gitlab" in live and "--comment-key=prod" in live
    assert "--github-summary" not in live


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"mode": "diff"}, "input mode must be one of preview, snapshot, live"),
        ({"fail_on": "always"}, "input fail-on must be one of auto, drift, error, never"),
        ({"mode": "snapshot"}, "mode snapshot needs the snapshot input"),
        ({"comment": "maybe"}, "input comment must be true or false"),
        ({"args": "--app 'unclosed"}, "input args cannot be split into words"),
    ],
)
def test_bad_inputs(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        inputs(**env)


def test_preview_needs_a_base() -> None:
    with pytest.raises(ConfigError, match="preview needs a base revision"):
        step.build_command(inputs(), REPORTS, platform="github")


@pytest.mark.parametrize(
    ("fail_on", "codes"), [("drift", [0, 1, 2]), ("error", [0, 0, 2]), ("never", [0, 0, 0])]
)
def test_fail_on(fail_on: str, codes: list[int]) -> None:
    assert [step.step_exit(fail_on, code) for code in (0, 1, 2)] == codes


def test_outputs_from_the_json_report(tmp_path: Path) -> None:
    reports = step.Reports.under(tmp_path)
    missing = step.read_result(2, reports).outputs()
    assert missing == {"exit-code": "2", "drift": "false", "errors": "1", "drifted-apps": "0", "junit": "",
                       "markdown": "", "markdown-full": "", "json": ""}  # fmt: skip
    summary = {"apps": {"total": 3, "in-sync": 1, "drifted": 1, "error": 1},
               "resources": {"added": 0, "changed": 2, "removed": 0, "unchanged": 4, "error": 0}}  # fmt: skip
    reports.json.write_text(json.dumps({"summary": summary, "errors": [{"message": "x"}]}))
    result = step.read_result(2, reports).outputs()
    assert (result["drift"], result["errors"], result["drifted-apps"], result["json"]) == (
        "true",
        "2",
        "1",
        str(reports.json),
    )


def test_github_defaults_and_outputs(tmp_path: Path) -> None:
    event = tmp_path / "e.json"
    event.write_text(json.dumps({"pull_request": {"base": {"sha": "b1"}, "head": {"sha": "h1"}}}))
    assert github.event_revisions({"GITHUB_EVENT_PATH": str(event)}) == ("b1", "h1")
    event.write_text(json.dumps({"before": "0" * 40, "after": "a1"}))
    assert github.event_revisions({"GITHUB_EVENT_PATH": str(event)}) == ("", "a1")
    out = tmp_path / "out"
    github.write_outputs(str(out), {"drift": "true\nexit-code=0"})
    lines = out.read_text().splitlines()
    assert lines[0].startswith("drift<<ghadelimiter_") and lines[-1] == lines[0].split("<<")[1]
    assert github.shown(["a", "b\n::error::x"]) == "a 'b\\n::error::x'"


def test_gitlab_defaults_and_dotenv(tmp_path: Path) -> None:
    env = {"CI_MERGE_REQUEST_DIFF_BASE_SHA": "b", "CI_COMMIT_SHA": "h", "CI_COMMIT_BEFORE_SHA": "x"}
    assert gitlab.pipeline_revisions(env) == ("b", "h")
    assert gitlab.pipeline_revisions({"CI_COMMIT_BEFORE_SHA": "0" * 40, "CI_COMMIT_SHA": "h"}) == ("", "h")
    gitlab.write_dotenv(tmp_path / "x.env", {"exit-code": "1", "junit": "a b\nc"})
    assert (
        tmp_path / "x.env"
    ).read_text() == "GITOPS_CHECK_RESULT_EXIT_CODE=1\nGITOPS_CHECK_RESULT_JUNIT=a b c\n"
