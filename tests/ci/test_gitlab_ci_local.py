"""Issue 14, proof: the GitLab template's job and the CI/CD component run by gitlab-ci-local 4.65.0 (the real
pipeline evaluator: includes, `inputs`, `extends`, rules, variables, artifacts and reports) in shell mode, on a
drift, a preview and an error; a merge request pipeline on a shallow clone whose origin is a real HTTP git server
that wants the job token; and the template's default install (its own git tag) with pip, offline.

gitlab-ci-local comes from npm (scripts/tools.py ensure gitlab-ci-local; Node 20) and needs rsync; missing, the
tests skip here with the reason and fail under CI=true. The merge request note goes to the GitLab stand-in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from junitparser import JUnitXml

from tests.helpers.binaries import missing
from tests.helpers.fake_gitlab import FakeGitLab
from tests.helpers.githttp import GitServer
from tests.helpers.gitrepo import GitRepo
from tests.helpers.wheelhouse import offline_pip_env, wheelhouse
from tests.publish.repos import SECRETS, configmap, drift_snapshot, secret

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import tools  # noqa: E402  (scripts/tools.py: the cached binaries)

TOKEN = "glcbt-64_jobTokenNeverShown"


def _require(what: str, found: object) -> None:
    if not found:
        missing(f"{what} not found (python scripts/tools.py ensure gitlab-ci-local; rsync from Debian)")


@pytest.fixture(scope="module")
def gcl() -> Path:
    binary = tools.find_binary("gitlab-ci-local")
    _require("gitlab-ci-local", binary)
    _require("rsync", shutil.which("rsync"))
    assert binary is not None
    return binary


@dataclass
class Pipeline:
    code: int
    output: str
    project: Path

    def report(self, name: str) -> Path:
        return self.project / "gitops-check-reports" / name

    def dotenv(self) -> dict[str, str]:
        lines = self.report("gitops-check.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)


def project_repo(path: Path, *, broken: bool = False) -> tuple[GitRepo, str, str]:
    """A GitOps repository with the template (and the component) committed, a base and a head commit."""
    repo = GitRepo.init(path)
    apps = [{"name": "web", "path": "apps/web", "namespace": "shop"}]
    files = {
        ".gitops-check.yaml": json.dumps({"version": 1, "apps": apps}),
        "apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "slow"})),
        "apps/web/secret.yaml": json.dumps(secret(SECRETS[0])),
        ".gitlab-ci-template.yml": (ROOT / ".gitlab-ci-template.yml").read_text(),
        "templates/gitops-check.yml": (ROOT / "templates" / "gitops-check.yml").read_text(),
        ".gitlab-ci.yml": "include:\n  - local: /.gitlab-ci-template.yml\n",
    }
    repo.write(files)
    base = repo.commit("base")
    head_files = {"apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "fast"}))}
    if broken:
        head_files["apps/web/bad.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n"
    repo.write(head_files)
    head = repo.commit("head")
    repo.git("remote", "add", "origin", "https://gitlab.example.com/acme/deploy.git")
    return repo, base, head


def run_pipeline(
    gcl: Path,
    project: Path,
    fake: FakeGitLab,
    base: str,
    *,
    job: str = "gitops-check",
    path: str | None = None,
    **variables: str,
) -> Pipeline:
    """The merge request pipeline's job, in shell mode; our variables on top of gitlab-ci-local's predefined ones."""
    predefined = {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "CI_MERGE_REQUEST_IID": "5",
        "CI_MERGE_REQUEST_PROJECT_ID": str(fake.project_id),
        "CI_PROJECT_ID": str(fake.project_id),
        "CI_API_V4_URL": fake.api_url,
        "CI_SERVER_URL": fake.url,
    }
    settings = {
        "GITOPS_CHECK_VERSION": "installed",
        "GITOPS_CHECK_GITLAB_TOKEN": FakeGitLab.TOKEN,
        **variables,
    }
    settings = {k: v for k, v in settings.items() if v is not None}  # None: leave it to the job
    argv = [
        str(gcl),
        "--force-shell-executor",
        "--no-color",
        "--ignore-predefined-vars",
        ",".join(predefined),
    ]
    for name, value in {**predefined, **settings}.items():
        argv += ["--variable", f"{name}={value}"]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITLAB_", "CI_", "GITOPS_CHECK_")) and k != "CI"
    }
    env["PATH"] = path or f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(project.parent / "home")  # gitlab-ci-local's own settings: none of the user's
    proc = subprocess.run([*argv, job], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    return Pipeline(proc.returncode, proc.stdout + proc.stderr, project)


def no_secrets(text: str) -> None:
    for value in (*SECRETS, TOKEN):
        assert value not in text


def test_preview_passes_with_its_reports_and_note(gcl: Path, fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    repo, base, _ = project_repo(tmp_path / "project")
    run = run_pipeline(gcl, repo.path, fake_gitlab, base)
    assert run.code == 0, run.output
    assert "PASS  gitops-check" in run.output
    assert "exited 1 (the change alters rendered resources); with fail-on error the step passes" in run.output
    assert run.dotenv()["GITOPS_CHECK_RESULT_EXIT_CODE"] == "1"
    assert "could not be found" not in run.output  # every artifact report is where the template says
    cases = [case for suite in JUnitXml.fromfile(str(run.report("gitops-check.xml"))) for case in suite]
    assert any(case.name == "ConfigMap/shop/web-config" for case in cases)
    (note,) = fake_gitlab.mr_notes(5)
    assert "web-config" in note["body"]
    no_secrets(run.output + note["body"])


def test_drift_fails_the_job(gcl: Path, fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    repo, base, _ = project_repo(tmp_path / "project")
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    run = run_pipeline(gcl, repo.path, fake_gitlab, base, GITOPS_CHECK_MODE="snapshot",
                       GITOPS_CHECK_SNAPSHOT=str(snapshot))  # fmt: skip
    assert run.code != 0 and "FAIL  gitops-check" in run.output, run.output
    assert "exited 1 (drift found); with fail-on drift the step fails" in run.output
    assert run.dotenv()["GITOPS_CHECK_RESULT_DRIFT"] == "true"
    no_secrets(run.output)


def test_an_error_fails_the_job_and_names_the_file(
    gcl: Path, fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    repo, base, _ = project_repo(tmp_path / "project", broken=True)
    run = run_pipeline(gcl, repo.path, fake_gitlab, base)
    assert run.code != 0 and "FAIL  gitops-check" in run.output, run.output
    assert "exited 2 (not everything could be checked); with fail-on error the step fails" in run.output
    assert "apps/web/bad.yaml" in run.output
    assert run.dotenv()["GITOPS_CHECK_RESULT_ERRORS"] == "1"


def test_the_component_with_inputs(gcl: Path, fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    repo, base, _ = project_repo(tmp_path / "project")
    snapshot = drift_snapshot(tmp_path / "cluster.json")
    repo.write({".gitlab-ci.yml": (
        "include:\n"
        "  - local: /templates/gitops-check.yml\n"
        "    inputs:\n"
        "      mode: snapshot\n"
        f"      snapshot: {snapshot}\n"
        "      fail-on: never\n"
        "      comment-key: component\n"
        "      version: installed\n"
    )})  # fmt: skip
    run = run_pipeline(gcl, repo.path, fake_gitlab, base, GITOPS_CHECK_VERSION=None)  # type: ignore[arg-type]
    assert run.code == 0, run.output
    assert "exited 1 (drift found); with fail-on never the step passes" in run.output
    assert run.dotenv()["GITOPS_CHECK_RESULT_DRIFT"] == "true"
    (note,) = fake_gitlab.mr_notes(5)
    assert "web-config" in note["body"]


def test_shallow_clone_fetches_the_base_with_the_job_token(
    gcl: Path, fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    """GitLab clones GIT_DEPTH commits with the job token in the remote URL; preview fetches the rest with it."""
    upstream, base, head = project_repo(tmp_path / "upstream")
    for i in range(30):  # the base lies deeper than the clone
        upstream.write({f"docs/note{i}.md": f"{i}\n"})
        upstream.commit(f"note {i}")
    with GitServer(tmp_path / "git", auth=("gitlab-ci-token", TOKEN)).running() as server:
        url = server.publish(upstream.path, "acme/deploy")
        subprocess.run(["git", "-C", str(tmp_path / "git" / "acme" / "deploy.git"), "config",
                        "uploadpack.allowAnySHA1InWant", "true"], check=True)  # fmt: skip
        authed = url.replace("http://", f"http://gitlab-ci-token:{TOKEN}@")
        clone = tmp_path / "project"
        subprocess.run(
            ["git", "clone", "-q", "--depth=2", authed, str(clone)], check=True, capture_output=True
        )
        assert subprocess.run(
            ["git", "-C", str(clone), "cat-file", "-e", base], capture_output=True
        ).returncode
        run = run_pipeline(gcl, clone, fake_gitlab, base)
    assert run.code == 0, run.output
    assert run.dotenv()["GITOPS_CHECK_RESULT_EXIT_CODE"] == "1"  # the change, compared with the fetched base
    assert any(seen.authorization for seen in server.seen)
    no_secrets(run.output + run.report("gitops-check-full.md").read_text())
    assert head


def test_the_default_install_is_the_templates_own_tag(
    gcl: Path, fake_gitlab: FakeGitLab, tmp_path: Path
) -> None:
    """GITOPS_CHECK_VERSION empty: pip installs GITOPS_CHECK_SOURCE (here the same tree, tagged, over HTTP)."""
    folder = wheelhouse()
    repo, base, _ = project_repo(tmp_path / "project")
    release = tmp_path / "release"
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(ROOT), str(release)], check=True)
    subprocess.run(["git", "-C", str(release), "tag", "-f", "v0.1.0"], check=True, capture_output=True)
    python = Path(os.__file__).parents[2] / "bin"  # a plain interpreter: the job makes its own venv
    with GitServer(tmp_path / "git").running() as server:
        source = f"git+{server.publish(release, 'gitops-check')}@v0.1.0"
        run = run_pipeline(gcl, repo.path, fake_gitlab, base, path=f"{python}{os.pathsep}/usr/bin{os.pathsep}/bin",
                           GITOPS_CHECK_VERSION="", GITOPS_CHECK_SOURCE=source,
                           **offline_pip_env(folder))  # fmt: skip
    assert run.code == 0, run.output
    assert "gitops-check, version 0.1.0" in run.output, run.output
    assert run.dotenv()["GITOPS_CHECK_RESULT_EXIT_CODE"] == "1"
