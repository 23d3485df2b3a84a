"""The GitHub Action end to end: its run steps executed with bash in a simulated Actions environment.

The environment is what the runner gives a job (GITHUB_EVENT_PATH, GITHUB_OUTPUT per step, GITHUB_STEP_SUMMARY,
GITHUB_API_URL pointing at the GitHub stand-in, RUNNER_TEMP, GITHUB_ACTION_PATH = this repository); the checks
are the action's outputs, the job summary, the workflow commands the runner would act on, and the calls the
stand-in recorded.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from gitops_check.publish.sticky import parse_marker
from tests.ci.actionrunner import ActionRun, CompositeAction
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.gitrepo import GitRepo
from tests.publish.envs import pull_request_event
from tests.publish.repos import SECRETS, configmap, drift_repo, drift_snapshot

ROOT = Path(__file__).resolve().parents[2]
ACTION = CompositeAction(ROOT / "action.yml")


def job_env(
    tmp_path: Path, workspace: Path, fake: FakeGitHub, event: dict[str, object], path: str | None = None
) -> dict[str, str]:
    """The environment of an Actions job; PATH has this venv first, where gitops-check is installed."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "GITOPS_CHECK_", "RUNNER_", "GITLAB_", "CI_")) and k != "CI"
    }
    (tmp_path / "runner").mkdir(exist_ok=True)
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    return {
        **base,
        "PATH": path or f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_API_URL": fake.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": fake.repository,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_RUN_ID": "4711",
        "GITHUB_SHA": "c" * 40,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary.md"),
        "RUNNER_TEMP": str(tmp_path / "runner"),
        "RUNNER_OS": "Linux",
        "NO_COLOR": "1",
    }


def run_action(
    tmp_path: Path,
    workspace: Path,
    fake: FakeGitHub,
    inputs: dict[str, str],
    *,
    event: dict[str, object] | None = None,
    token: str = FakeGitHub.WRITE_TOKEN,
    path: str | None = None,
) -> ActionRun:
    env = job_env(tmp_path, workspace, fake, event or pull_request_event(), path)
    work = tmp_path / "steps"
    work.mkdir(exist_ok=True)
    return ACTION.run(
        inputs={"version": "installed", **inputs},
        env=env,
        github={"token": token, "action_path": str(ROOT), "action_ref": "", "workspace": str(workspace)},
        runner={"temp": env["RUNNER_TEMP"], "os": "Linux"},
        workdir=work,
    )


def test_snapshot_check_outputs_summary_annotations_comment_and_junit(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    repo = drift_repo(tmp_path / "checkout")
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    run = run_action(tmp_path, repo.path, fake_github, {"mode": "snapshot", "snapshot": str(snapshot)})

    # installed already; the render cache restored (actions/cache); no parts to download (not a merge)
    assert [s.kind for s in run.steps] == [
        "skipped",
        "skipped",
        "skipped",
        "run",
        "uses",
        "skipped",
        "run",
    ]  # the check fails (exit 2): the runner stops there, as Actions does for steps without always()
    assert run.exit_code == 2, run.stderr  # a broken app: not everything checked, and fail-on is drift
    reports = tmp_path / "runner" / "gitops-check"
    assert run.outputs == {
        "exit-code": "2",
        "drift": "true",
        "drifted-apps": "1",
        "errors": "1",
        "junit": str(reports / "gitops-check.xml"),
        "markdown": str(reports / "gitops-check.md"),
        "markdown-full": str(reports / "gitops-check-full.md"),
        "json": str(reports / "gitops-check.json"),
        "command": str(Path(sys.executable).parent / "gitops-check"),
    }
    assert run.commands() == [
        (
            "error file=apps/broken/cm.yaml,line=4,title=gitops-check%3A broken could not be checked",
            "invalid YAML: did not find expected ',' or ']'",
        )
    ]
    assert (
        "gitops-check exited 2 (not everything could be checked); with fail-on drift the step fails"
        in run.stdout
    )

    summary = (tmp_path / "step_summary.md").read_text()
    assert summary.startswith("### gitops-check: 1 of 2 apps not checked; drift in 1")
    (comment,) = fake_github.issue_comments(7)
    assert parse_marker(comment["body"]) == ("diff", 1)
    assert "https://github.com/acme/deploy/actions/runs/4711" in comment["body"]
    methods = [(r.method, r.path) for r in fake_github.requests]
    assert methods[-1] == ("POST", "/repos/acme/deploy/issues/7/comments")

    cases = {
        (case.classname, case.name): case
        for suite in JUnitXml.fromfile(run.outputs["junit"])
        for case in suite
    }
    web = cases[("web", "ConfigMap/shop/web-config")]
    (failure,) = [r for r in web.result if isinstance(r, Failure)]
    assert "-  mode: slow" in (failure.text or "") and "+  mode: fast" in (failure.text or "")
    assert ("broken", "render") in cases

    everything = run.stdout + run.stderr + summary + comment["body"] + Path(run.outputs["junit"]).read_text()
    everything += Path(run.outputs["json"]).read_text() + Path(run.outputs["markdown-full"]).read_text()
    for value in (*SECRETS, FakeGitHub.WRITE_TOKEN):
        assert value not in everything


@pytest.mark.parametrize(
    ("fail_on", "broken", "step_exit", "check_exit"),
    [("never", True, 0, "2"), ("error", False, 0, "1"), ("error", True, 2, "2"), ("drift", False, 1, "1")],
)
def test_fail_on_policy(
    fake_github: FakeGitHub, tmp_path: Path, fail_on: str, broken: bool, step_exit: int, check_exit: str
) -> None:
    repo = drift_repo(tmp_path / "checkout", broken=broken)
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    inputs = {"mode": "snapshot", "snapshot": str(snapshot), "fail-on": fail_on, "comment": "false"}
    run = run_action(tmp_path, repo.path, fake_github, inputs)
    assert run.exit_code == step_exit
    assert run.outputs["exit-code"] == check_exit and run.outputs["drift"] == "true"
    assert fake_github.requests == []


def test_preview_with_revisions_from_the_pull_request_event(fake_github: FakeGitHub, tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "checkout")
    project = {"version": 1, "apps": [{"name": "web", "path": "apps/web", "namespace": "shop"}]}
    repo.write({
        ".gitops-check.yaml": json.dumps(project),
        "apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "slow"})),
    })  # fmt: skip
    base = repo.commit("base")
    repo.write({"apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "fast"}))})
    head = repo.commit("the change")
    event = pull_request_event()
    event["pull_request"]["base"]["sha"] = base  # type: ignore[index]
    event["pull_request"]["head"]["sha"] = head  # type: ignore[index]
    run = run_action(tmp_path, repo.path, fake_github, {"fail-on": "never"}, event=event)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert f"--base={base} --head={head}" in run.stdout
    assert run.outputs["exit-code"] == "1" and run.outputs["drift"] == "true"
    (comment,) = fake_github.issue_comments(7)
    assert parse_marker(comment["body"]) == ("preview", 1)
    assert "web-config" in comment["body"]


def test_fork_pull_request_keeps_to_the_summary(fake_github: FakeGitHub, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "checkout", broken=False)
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    run = run_action(
        tmp_path,
        repo.path,
        fake_github,
        {"mode": "snapshot", "snapshot": str(snapshot), "fail-on": "error"},
        event=pull_request_event(fork=True),
        token=FakeGitHub.READ_TOKEN,
    )
    assert run.exit_code == 0, run.stderr
    assert "comes from a fork" in run.stderr
    summary = (tmp_path / "step_summary.md").read_text()
    assert summary.startswith("> pull request #7 comes from a fork") and "web-config" in summary
    assert fake_github.issue_comments(7) == []
    assert [(r.path, r.status) for r in fake_github.requests if r.method == "POST"] == [
        ("/graphql", 200),
        ("/repos/acme/deploy/issues/7/comments", 403),
    ]


def test_values_of_inputs_never_run_as_code(fake_github: FakeGitHub, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "checkout", broken=False)
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    canary = tmp_path / "pwned"
    evil = {
        "repo": f"$(touch {canary}-repo)",
        "snapshot": f"{snapshot}`touch {canary}-snapshot`",
        "comment-key": f"x; touch {canary}-key #",
        "head": f"main\n::error title=forged::from an input\n$(touch {canary}-head)",
        "args": f'--app "$(touch {canary}-args)" ; touch {canary}-args2 ${{IFS}} && touch {canary}-args3',
        "fail-on": "never",
        "mode": "snapshot",
    }
    run = run_action(tmp_path, repo.path, fake_github, evil)
    assert not list(tmp_path.glob("pwned*")), "an input value was executed"
    assert run.exit_code == 0 and run.outputs["exit-code"] == "2"  # the odd repo path: could not check
    assert ("error title=forged", "from an input") not in run.commands()
    assert all(not line.startswith("::error title=forged") for line in run.stdout.splitlines())
    check = next(s for s in run.steps if s.name == "Check")
    assert check.env["GITOPS_CHECK_REPO"] == evil["repo"]  # it did reach the step, as data


def test_version_input_cannot_smuggle_shell_or_pip_options(fake_github: FakeGitHub, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "checkout", broken=False)
    canary = tmp_path / "pwned-version"
    run = run_action(tmp_path, repo.path, fake_github, {"version": f"1.0; touch {canary}"})
    assert run.exit_code == 2
    assert not canary.exists()
    assert (
        "error title=gitops-check",
        "the version input must be empty, 'installed', a version like 0.3.1, git+https://<repository>@<tag> or "
        "the URL of a wheel",
    ) in (run.commands())
    assert [s.name for s in run.steps if s.kind == "run"] == ["Locate the pip cache", "Install gitops-check"]


def test_bad_mode_is_a_clear_annotation(fake_github: FakeGitHub, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "checkout", broken=False)
    run = run_action(tmp_path, repo.path, fake_github, {"mode": "snapshots\n::warning::x"})
    assert run.exit_code == 2
    ((command, message),) = run.commands()
    assert command == "error title=gitops-check"
    assert message.startswith("input mode must be one of preview, snapshot, live, merge, not 'snapshots")
