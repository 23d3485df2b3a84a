"""Issue 14, item 2: ``version: installed`` works with pip's ``#!/bin/sh`` launcher (written when the interpreter's
path is longer than 127 characters, easy under /home/runner/work/<repo>/<repo>/.venv): the action and the template
call the installed ``gitops-check`` itself, never an interpreter parsed out of its first line."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.ci.gitlabrunner import load_template, resolve_job
from tests.ci.test_action_e2e import run_action
from tests.ci.test_gitlab_e2e import ROOT, pipeline, run
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.fake_gitlab import FakeGitLab
from tests.publish.repos import drift_repo, drift_snapshot


@pytest.fixture(scope="module")
def long_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv at a path long enough for pip to write ``#!/bin/sh`` launchers, with gitops-check installed by pip
    (its dependencies come from this test run's environment through a .pth; pip fetches only the build backend)."""
    venv = (
        tmp_path_factory.mktemp("launcher") / ("runner-work-" + "x" * 60) / ("deploy-" + "y" * 40) / ".venv"
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    assert len(str(python)) > 127
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    Path(site, "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(ROOT)],
                   check=True, capture_output=True)  # fmt: skip
    launcher = venv / "bin" / "gitops-check"
    assert launcher.read_text().startswith("#!/bin/sh"), "pip did not write its /bin/sh launcher"
    return venv


def test_action_with_the_sh_launcher(long_venv: Path, fake_github: FakeGitHub, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "checkout", broken=False)
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    path = f"{long_venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    outcome = run_action(tmp_path, repo.path, fake_github, {"mode": "snapshot", "snapshot": str(snapshot)},
                         path=path)  # fmt: skip
    install = next(s for s in outcome.steps if s.name == "Install gitops-check")
    assert install.exit_code == 0, install.stdout + install.stderr
    assert install.outputs["command"] == str(long_venv / "bin" / "gitops-check")
    assert outcome.outputs["exit-code"] == "1", outcome.stdout + outcome.stderr


def test_gitlab_job_with_the_sh_launcher(long_venv: Path, fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "project", broken=False)
    env = pipeline(fake_gitlab, repo.path, "", "HEAD")
    env["PATH"] = f"{long_venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
    job = resolve_job(load_template(ROOT / ".gitlab-ci-template.yml"), "gitops-check")
    result = run(job, env, repo.path, GITOPS_CHECK_MODE="snapshot",
                 GITOPS_CHECK_SNAPSHOT=str(drift_snapshot(tmp_path / "s.json")))  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr


def test_installed_but_missing_is_one_clear_line(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "project", broken=False)
    env = pipeline(fake_gitlab, repo.path, "", "HEAD")
    env["PATH"] = "/usr/bin:/bin"
    job = resolve_job(load_template(ROOT / ".gitlab-ci-template.yml"), "gitops-check")
    result = run(job, env, repo.path)
    assert result.exit_code == 2
    assert "no gitops-check is on PATH" in result.stderr and "head:" not in result.stderr
