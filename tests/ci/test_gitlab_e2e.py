"""The GitLab template and component end to end: the merge request job's script run with bash in a simulated
merge request pipeline, posting to the GitLab stand-in."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from junitparser import JUnitXml

from gitops_check.publish.sticky import parse_marker
from tests.ci.gitlabrunner import (
    JobRun,
    base_environment,
    load_component,
    load_template,
    resolve_job,
    run_job,
)
from tests.helpers.fake_gitlab import FakeGitLab
from tests.helpers.gitrepo import GitRepo
from tests.publish.repos import SECRETS, configmap, drift_repo, drift_snapshot

ROOT = Path(__file__).resolve().parents[2]


def pipeline(fake: FakeGitLab, project: Path, base: str, head: str, *, token: bool = True) -> dict[str, str]:
    env = {
        **base_environment(),
        "PATH": f"{Path(sys.executable).parent}:{base_environment().get('PATH', '')}",
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(project),
        "CI_API_V4_URL": fake.api_url,
        "CI_SERVER_URL": fake.url,
        "CI_PROJECT_ID": str(fake.project_id),
        "CI_PROJECT_URL": f"https://gitlab.example.com/{fake.project_path}",
        "CI_JOB_URL": f"https://gitlab.example.com/{fake.project_path}/-/jobs/77",
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "5",
        "CI_MERGE_REQUEST_PROJECT_ID": str(fake.project_id),
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "CI_COMMIT_SHA": head,
        "NO_COLOR": "1",
    }
    return env


def two_commits(path: Path) -> tuple[GitRepo, str, str]:
    repo = GitRepo.init(path)
    project = {"version": 1, "apps": [{"name": "web", "path": "apps/web", "namespace": "shop"}]}
    repo.write({
        ".gitops-check.yaml": json.dumps(project),
        "apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "slow"})),
    })  # fmt: skip
    base = repo.commit("base")
    repo.write({"apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "fast"}))})
    return repo, base, repo.commit("change")


def run(job: dict[str, Any], env: dict[str, str], project: Path, **variables: str) -> JobRun:
    settings = {"GITOPS_CHECK_VERSION": "installed", **variables}
    if "GITOPS_CHECK_GITLAB_TOKEN" not in settings:
        settings["GITOPS_CHECK_GITLAB_TOKEN"] = FakeGitLab.TOKEN
    settings = {k: v for k, v in settings.items() if v is not None}
    return run_job(job, predefined=env, project_variables=settings, cwd=project)


def test_merge_request_job_previews_notes_and_writes_its_reports(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    repo, base, head = two_commits(tmp_path / "project")
    job = resolve_job(load_template(ROOT / ".gitlab-ci-template.yml"), "gitops-check")
    result = run(job, pipeline(fake_gitlab, repo.path, base, head), repo.path)
    assert result.exit_code == 0, result.stdout + result.stderr  # a change; fail-on auto is error for preview
    assert "with fail-on error the step passes" in result.stdout
    assert f"--base={base} --head={head}" in result.stdout
    (note,) = fake_gitlab.mr_notes(5)
    assert parse_marker(note["body"]) == ("preview", 1) and "web-config" in note["body"]
    assert "https://gitlab.example.com/acme/deploy/-/jobs/77" in note["body"]

    reports = repo.path / "gitops-check-reports"
    assert (reports / "gitops-check.xml").is_file()  # the path in artifacts:reports:junit
    assert job["artifacts"]["reports"]["junit"] == "gitops-check-reports/gitops-check.xml"
    dotenv = dict(line.split("=", 1) for line in (reports / "gitops-check.env").read_text().splitlines())
    assert dotenv["GITOPS_CHECK_RESULT_EXIT_CODE"] == "1" and dotenv["GITOPS_CHECK_RESULT_DRIFT"] == "true"
    cases = [case for suite in JUnitXml.fromfile(str(reports / "gitops-check.xml")) for case in suite]
    (web,) = [c for c in cases if c.classname == "web"]
    assert web.is_passed  # the merge request's intended change is not a failed test; its diff is the output
    assert "-  mode: slow" in (web.system_out or "") and "+  mode: fast" in (web.system_out or "")


def test_without_a_token_the_note_is_skipped_and_the_job_result_is_the_checks(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    repo = drift_repo(tmp_path / "project", broken=False)
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    job = resolve_job(load_template(ROOT / ".gitlab-ci-template.yml"), "gitops-check")
    env = pipeline(fake_gitlab, repo.path, "", repo.git("rev-parse", "HEAD").strip())
    result = run(
        job,
        env,
        repo.path,
        GITOPS_CHECK_MODE="snapshot",
        GITOPS_CHECK_SNAPSHOT=str(snapshot),
        GITOPS_CHECK_FAIL_ON="error",
        GITOPS_CHECK_GITLAB_TOKEN=None,  # type: ignore[arg-type]
    )
    assert result.exit_code == 0, result.stderr
    assert "GITOPS_CHECK_GITLAB_TOKEN is not set: merge request note skipped" in result.stderr
    assert fake_gitlab.requests == []
    report = (repo.path / "gitops-check-reports" / "gitops-check-full.md").read_text()
    assert "web-config" in report and not any(s in report + result.stdout for s in SECRETS)


def test_component_inputs_reach_the_job_defined_once_in_the_template(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    repo = drift_repo(tmp_path / "project")
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    config = load_component(
        ROOT / "templates" / "gitops-check.yml",
        ROOT,
        {
            "mode": "snapshot",
            "snapshot": str(snapshot),
            "fail-on": "never",
            "comment-key": "prod",
            "stage": "verify",
        },
    )
    job = resolve_job(config, "gitops-check")
    assert job["stage"] == "verify"
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    result = run(job, pipeline(fake_gitlab, repo.path, "", "HEAD"), repo.path)
    assert result.exit_code == 0, result.stdout + result.stderr  # fail-on never, though a broken app: exit 2
    assert "gitops-check exited 2" in result.stdout
    (note,) = fake_gitlab.mr_notes(5)
    assert parse_marker(note["body"]) == ("prod", 1)


def test_component_input_values_stay_data(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "project", broken=False)
    canary = tmp_path / "pwned"
    config = load_component(
        ROOT / "templates" / "gitops-check.yml",
        ROOT,
        {"mode": "live", "args": f'--app "$(touch {canary})" ; touch {canary}2', "repo": f"`touch {canary}3`",
         "comment": "false", "fail-on": "never"},
    )  # fmt: skip
    env = {**pipeline(fake_gitlab, repo.path, "", "HEAD"), "KUBECONFIG": str(tmp_path / "no-kubeconfig")}
    result = run(resolve_job(config, "gitops-check"), env, repo.path)
    assert result.exit_code == 0
    assert not list(tmp_path.glob("pwned*"))


@pytest.mark.parametrize("value", ["snapshots", True])
def test_component_rejects_inputs_outside_their_options(tmp_path: Path, value: object) -> None:
    with pytest.raises(AssertionError, match="not in"):
        load_component(ROOT / "templates" / "gitops-check.yml", ROOT, {"mode": value})
