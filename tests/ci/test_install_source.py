"""Issue 14 item 8: where the CI integrations install gitops-check from. One ref pins both the integration and the
tool (the action's own files; the template's own tag in GITOPS_CHECK_SOURCE); ``version`` picks a PyPI release, a
git tag or a wheel; anything else is refused before anything is installed. The real installs run with pip from a
git tag served by git http-backend, dependencies from an offline wheelhouse (no index)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.ci.gitlabrunner import load_component, load_template, resolve_job
from tests.ci.test_action_e2e import run_action
from tests.ci.test_gitlab_e2e import pipeline, run
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.fake_gitlab import FakeGitLab
from tests.helpers.githttp import GitServer
from tests.helpers.wheelhouse import offline_pip_env, wheelhouse
from tests.publish.repos import drift_repo, drift_snapshot

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
REPOSITORY = "https://github.com/gitops-check/gitops-check"
DOCS = [ROOT / "README.md", ROOT / "docs" / "ci.md"]


# ----------------------------------------------------------------------------------------------- one place


def test_one_ref_pins_the_integration_and_the_tool() -> None:
    template = yaml.safe_load((ROOT / ".gitlab-ci-template.yml").read_text())
    variables = template[".gitops-check"]["variables"]
    assert variables["GITOPS_CHECK_SOURCE"] == f"git+{REPOSITORY}@v{VERSION}"  # the template's own tag
    assert variables["GITOPS_CHECK_VERSION"] == ""  # so the default is that source
    component = yaml.safe_load_all((ROOT / "templates" / "gitops-check.yml").read_text())
    assert next(iter(component))["spec"]["inputs"]["version"]["default"] == ""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["inputs"]["version"]["default"] == ""  # the action's own files
    for doc in DOCS:
        text = doc.read_text()
        assert not re.search(r"pip install[^\n]*gitops-check==", text), f"{doc.name} pins a PyPI release"
        # Where a workflow or an include names a release (the version table's examples say 0.3.1 on purpose).
        refs = set(re.findall(r"(?:uses|component): [^\n]*gitops-check/gitops-check@(v?\d+\.\d+\.\d+)", text))
        refs |= set(re.findall(r"gitops-check/gitops-check/(v\d+\.\d+\.\d+)/", text))
        refs |= set(re.findall(r"ref: (v\d+\.\d+\.\d+)", text))
        assert refs <= {f"v{VERSION}", VERSION}, f"{doc.name} names another release: {refs}"
    for name in (".gitlab-ci-template.yml", "templates/gitops-check.yml"):
        assert not re.search(r"gitops-check==\d", (ROOT / name).read_text()), f"{name} pins a PyPI release"


# ----------------------------------------------------------------------------------------------- values


def fake_python(folder: Path, log: Path) -> Path:
    """A ``python3`` whose ``-m venv DIR`` makes a venv whose pip only logs its arguments, and a gitops-check."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "python3"
    script.write_text(
        "#!/bin/sh\n"
        'for last in "$@"; do :; done\n'
        'mkdir -p "$last/bin"\n'
        f'printf \'#!/bin/sh\\nfor a in "$@"; do echo "$a"; done > {log}\\n\' > "$last/bin/python"\n'
        "printf '#!/bin/sh\\necho gitops-check, version 0.0.0\\n' > \"$last/bin/gitops-check\"\n"
        'chmod +x "$last/bin/python" "$last/bin/gitops-check"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


ACCEPTED = [
    ("0.3.1", "gitops-check==0.3.1"),
    ("1.0rc2", "gitops-check==1.0rc2"),
    (f"git+{REPOSITORY}@v0.3.1", f"gitops-check @ git+{REPOSITORY}@v0.3.1"),
    ("https://example.com/dist/gitops_check-0.3.1-py3-none-any.whl",
     "gitops-check @ https://example.com/dist/gitops_check-0.3.1-py3-none-any.whl"),
]  # fmt: skip
REFUSED = [
    "1.0; touch {canary}",
    "--index-url=https://evil.example/simple",
    f"git+{REPOSITORY}",  # no tag: not a pin
    "git+https://host/repo@v1 --pre",
    "file:///tmp/gitops_check-0.1.0-py3-none-any.whl",
    "https://example.com/gitops-check-0.1.0.tar.gz",
    "$(touch {canary})",
]


@pytest.mark.parametrize(("value", "spec"), ACCEPTED)
def test_action_version_values(value: str, spec: str, fake_github: FakeGitHub, tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "checkout", broken=False)
    log = tmp_path / "pip-args"
    path = f"{fake_python(tmp_path / 'fakebin', log)}{os.pathsep}/usr/bin{os.pathsep}/bin"
    outcome = run_action(tmp_path, repo.path, fake_github, {"version": value, "mode": "install"}, path=path)
    assert outcome.exit_code == 0, outcome.stdout + outcome.stderr
    assert log.read_text().splitlines()[-1] == spec
    assert outcome.outputs["command"].endswith("/gitops-check-venv/bin/gitops-check")
    assert [s.name for s in outcome.steps if s.kind == "run"] == [
        "Locate the pip cache",
        "Install gitops-check",
    ]
    assert outcome.added_paths == [str(Path(outcome.outputs["command"]).parent)]  # on PATH for later steps


@pytest.mark.parametrize("value", REFUSED)
def test_action_refuses_other_values_before_installing(
    value: str, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    repo = drift_repo(tmp_path / "checkout", broken=False)
    canary, log = tmp_path / "pwned", tmp_path / "pip-args"
    path = f"{fake_python(tmp_path / 'fakebin', log)}{os.pathsep}/usr/bin{os.pathsep}/bin"
    outcome = run_action(
        tmp_path, repo.path, fake_github, {"version": value.format(canary=canary)}, path=path
    )
    assert outcome.exit_code == 2
    assert not canary.exists() and not log.exists()
    ((command, message),) = outcome.commands()
    assert command == "error title=gitops-check" and message.startswith("the version input must be empty")


@pytest.mark.parametrize("component", [False, True])
@pytest.mark.parametrize(("value", "spec"), [("", f"gitops-check @ git+{REPOSITORY}@v{VERSION}"), *ACCEPTED])
def test_gitlab_version_values(
    value: str, spec: str, component: bool, fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    repo = drift_repo(tmp_path / "project", broken=False)
    log = tmp_path / "pip-args"
    env = pipeline(fake_gitlab, repo.path, "", "HEAD")
    env["PATH"] = f"{fake_python(tmp_path / 'fakebin', log)}{os.pathsep}/usr/bin{os.pathsep}/bin"
    if component:
        config = load_component(ROOT / "templates" / "gitops-check.yml", ROOT, {"version": value})
        result = run(resolve_job(config, "gitops-check"), env, repo.path, GITOPS_CHECK_VERSION=None)  # type: ignore[arg-type]
    else:
        job = resolve_job(load_template(ROOT / ".gitlab-ci-template.yml"), "gitops-check")
        result = run(job, env, repo.path, GITOPS_CHECK_VERSION=value)
    assert log.read_text().splitlines()[-1] == spec, result.stdout + result.stderr


@pytest.mark.parametrize("value", REFUSED)
def test_gitlab_refuses_other_values_before_installing(
    value: str, fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    repo = drift_repo(tmp_path / "project", broken=False)
    canary, log = tmp_path / "pwned", tmp_path / "pip-args"
    env = pipeline(fake_gitlab, repo.path, "", "HEAD")
    env["PATH"] = f"{fake_python(tmp_path / 'fakebin', log)}{os.pathsep}/usr/bin{os.pathsep}/bin"
    job = resolve_job(load_template(ROOT / ".gitlab-ci-template.yml"), "gitops-check")
    result = run(job, env, repo.path, GITOPS_CHECK_VERSION=value.format(canary=canary))
    assert result.exit_code == 2
    assert not canary.exists() and not log.exists()
    assert "GITOPS_CHECK_VERSION must be empty, 'installed', a version like 0.3.1" in result.stderr


# ----------------------------------------------------------------------------------------------- real installs


def published_release(server: GitServer, tmp_path: Path) -> str:
    """This repository's committed tree, tagged v<version>, served over HTTP: ``git+http://.../gitops-check.git@tag``."""
    work = tmp_path / "release"
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(ROOT), str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "tag", "-f", f"v{VERSION}"], check=True, capture_output=True)
    return f"git+{server.publish(work, 'gitops-check')}@v{VERSION}"


def test_action_installs_a_git_tag_for_later_steps(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly workflow of the docs: mode install, then gitops-check on PATH, then the check with `installed`."""
    folder = wheelhouse()
    repo = drift_repo(tmp_path / "checkout", broken=False)
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    with GitServer(tmp_path / "git").running() as server:
        source = published_release(server, tmp_path)
        env_path = f"{Path(os.__file__).parents[2] / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"
        for name, value in offline_pip_env(folder).items():
            monkeypatch.setenv(name, value)
        installed = run_action(tmp_path, repo.path, fake_github, {"mode": "install", "version": source},
                               path=env_path)  # fmt: skip
    assert installed.exit_code == 0, installed.stdout + installed.stderr
    command = installed.outputs["command"]
    assert f"gitops-check, version {VERSION}" in installed.stdout
    later = f"{installed.added_paths[0]}{os.pathsep}/usr/bin{os.pathsep}/bin"
    check = run_action(tmp_path, repo.path, fake_github,
                       {"mode": "snapshot", "snapshot": str(snapshot), "version": "installed"}, path=later)  # fmt: skip
    assert check.outputs["exit-code"] == "1", check.stdout + check.stderr
    install = next(s for s in check.steps if s.name == "Install gitops-check")
    assert install.outputs["command"] == command
