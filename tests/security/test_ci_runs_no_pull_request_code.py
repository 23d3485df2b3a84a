"""Issue 10, items 2 and 3: the CI step never runs Python from the checked-out pull request.

``python -m ...`` started in the checkout puts the working folder first on the import path: a pull request adding
``gitops_check/ci/__main__.py`` (or ``pip/``, ``venv/``) replaced the tool and read the token. The action and the
template now call the installed ``gitops-check`` command and run every Python isolated (``-I``); the step starts
the check isolated too. GitLab's venv (where a committed ``.pth`` would run) lives outside ``$CI_PROJECT_DIR``, and
reports the merge request committed where ours go are removed before the check, never read as its result.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from gitops_check.ci import gitlab
from tests.ci.gitlabrunner import load_template, resolve_job
from tests.ci.test_action_e2e import run_action
from tests.ci.test_gitlab_e2e import ROOT, pipeline, run
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.fake_gitlab import FakeGitLab
from tests.publish.repos import drift_repo, drift_snapshot

CANARY_CODE = "import pathlib; pathlib.Path({canary!r}).write_text('pull request code ran')\n"
PLANTED = (
    "gitops_check/__init__.py",
    "gitops_check/__main__.py",
    "gitops_check/ci/__init__.py",
    "gitops_check/ci/__main__.py",
    "pip/__init__.py",
    "pip/__main__.py",
    "venv/__init__.py",
    "venv/__main__.py",
    "sitecustomize.py",
    "usercustomize.py",
)


def plant(checkout: Path, canary: Path) -> None:
    """What a hostile pull request commits: packages that shadow the tool, pip and venv, and a venv .pth."""
    for name in PLANTED:
        path = checkout / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(CANARY_CODE.format(canary=str(canary)))
    for pth in (".cache/gitops-check-venv/lib/python3.11/site-packages/zz.pth",
                ".cache/gitops-check-venv/lib/python3.12/site-packages/zz.pth"):  # fmt: skip
        path = checkout / pth
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("import " + CANARY_CODE.format(canary=str(canary)).split("import ", 1)[1])


def python_calls(script: str) -> list[str]:
    return [m.group(0) for m in re.finditer(r"[^\s\"']*python3?\"?( +-[A-Za-z]+)*( +-m +\S+)?", script)]


def test_every_python_the_integrations_start_is_isolated() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    scripts = [s["run"] for s in action["runs"]["steps"] if "run" in s]
    job = load_template(ROOT / ".gitlab-ci-template.yml")[".gitops-check"]
    scripts += [*job["before_script"], *job["script"]]
    for script in scripts:
        for call in python_calls(script):
            if " -m " in call or call.endswith(("python", "python3", 'python"', 'python3"')):
                assert " -I" in call, f"not isolated: {call!r} in {script!r}"
        assert "gitops_check.ci" not in script and "head -n 1" not in script  # the command, not its shebang


def test_gitlab_venv_and_pip_cache_live_outside_the_checkout() -> None:
    job = load_template(ROOT / ".gitlab-ci-template.yml")[".gitops-check"]
    text = yaml.safe_dump({k: job.get(k) for k in ("variables", "before_script", "cache")})
    assert "CI_PROJECT_DIR" not in text, "the merge request controls every file under $CI_PROJECT_DIR"
    assert "cache" not in job  # GitLab caches only paths inside the checkout


def test_the_step_starts_the_installed_tool_from_inside_a_hostile_checkout(
    fake_gitlab: FakeGitLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = drift_repo(tmp_path / "project", broken=False)
    canary = tmp_path / "pwned"
    plant(repo.path, canary)
    env = pipeline(fake_gitlab, repo.path, "", "HEAD")
    env.update({"GITOPS_CHECK_MODE": "snapshot", "GITOPS_CHECK_SNAPSHOT": str(drift_snapshot(tmp_path / "s.json")),
                "GITOPS_CHECK_COMMENT": "false"})  # fmt: skip
    monkeypatch.chdir(repo.path)
    assert gitlab.main(env) == 1  # drift, checked by the installed gitops-check
    assert not canary.exists(), "Python from the pull request ran"


def test_gitlab_job_in_a_hostile_checkout(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "project", broken=False)
    canary = tmp_path / "pwned"
    plant(repo.path, canary)
    job = resolve_job(load_template(ROOT / ".gitlab-ci-template.yml"), "gitops-check")
    result = run(job, pipeline(fake_gitlab, repo.path, "", "HEAD"), repo.path,
                 GITOPS_CHECK_MODE="snapshot", GITOPS_CHECK_SNAPSHOT=str(drift_snapshot(tmp_path / "s.json")))  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr
    assert not canary.exists(), "Python from the merge request ran"


def test_github_action_in_a_hostile_checkout(fake_github: FakeGitHub, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "checkout", broken=False)
    canary = tmp_path / "pwned"
    plant(repo.path, canary)
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    outcome = run_action(tmp_path, repo.path, fake_github, {"mode": "snapshot", "snapshot": str(snapshot)})
    assert outcome.outputs["exit-code"] == "1", outcome.stdout + outcome.stderr
    assert not canary.exists(), "Python from the pull request ran"


def test_reports_committed_by_the_merge_request_are_not_read_as_the_result(
    fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    repo = drift_repo(tmp_path / "project", broken=False)
    reports = repo.path / "gitops-check-reports"
    reports.mkdir()
    forged = {"summary": {"apps": {"error": 0, "drifted": 0}, "resources": {}}, "errors": []}
    (reports / "gitops-check.json").write_text(json.dumps(forged))
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (reports / "gitops-check.env").symlink_to(victim)
    job = resolve_job(load_template(ROOT / ".gitlab-ci-template.yml"), "gitops-check")
    result = run(job, pipeline(fake_gitlab, repo.path, "", "HEAD"), repo.path, GITOPS_CHECK_MODE="snapshot",
                 GITOPS_CHECK_SNAPSHOT="x.json", GITOPS_CHECK_ARGS="--no-such-option")  # fmt: skip
    assert result.exit_code == 2
    dotenv = (reports / "gitops-check.env").read_text()
    assert "GITOPS_CHECK_RESULT_ERRORS=1" in dotenv  # "no report": not the forged "0 errors"
    assert not (reports / "gitops-check.json").exists()
    assert victim.read_text() == "precious"
