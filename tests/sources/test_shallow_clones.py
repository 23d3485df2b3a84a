"""Issue 14, item 1: CI checkouts are shallow (actions/checkout: one commit; GitLab: GIT_DEPTH) or partial
(``--filter=blob:none``). What preview needs and the clone lacks (the base commit, the history down to the
merge-base, the base's files) is fetched from ``origin`` on demand, nothing more; a missing object is a clear
error, never "internal error" (the wait after ``kill()`` used to raise GitCommandError over it)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from gitops_check.ci import github, gitlab
from gitops_check.errors import SourceError
from gitops_check.sources.git import open_repo
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.fake_gitlab import FakeGitLab
from tests.helpers.gitrepo import GitRepo
from tests.publish.envs import pull_request_event
from tests.publish.repos import configmap

PROJECT = {"version": 1, "apps": [{"name": "web", "path": "apps/web", "namespace": "shop"}]}


def upstream(root: Path, *, between: int = 30) -> tuple[GitRepo, str, str]:
    """A server repository: the base on main, ``between`` more commits on main, then a feature branch of 3."""
    repo = GitRepo.init(root)
    repo.git("config", "uploadpack.allowFilter", "true")
    repo.git("config", "uploadpack.allowAnySHA1InWant", "true")
    repo.write({".gitops-check.yaml": json.dumps(PROJECT),
                "apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "slow"}))})  # fmt: skip
    base = repo.commit("base")
    for i in range(between):
        repo.write({f"docs/note{i}.md": f"note {i}\n"})
        repo.commit(f"note {i}")
    repo.git("checkout", "-q", "-b", "feature", base)
    for i in range(3):
        repo.write({"apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": f"fast{i}"}))})
        head = repo.commit(f"feature {i}")
    return repo, base, head


def clone(server: GitRepo, dest: Path, *options: str) -> GitRepo:
    subprocess.run(["git", "clone", "-q", *options, "--branch", "feature", f"file://{server.path}", str(dest)],
                   check=True, capture_output=True)  # fmt: skip
    return GitRepo(dest)


def objects_of(repo: GitRepo) -> int:
    return len(repo.git("rev-list", "--all", "--objects", "--missing=allow-any").splitlines())


@pytest.mark.parametrize("options", [("--depth=1",), ("--depth=2",), ("--filter=blob:none",)])
def test_preview_revisions_are_fetched_on_demand(tmp_path: Path, options: tuple[str, ...]) -> None:
    server, base, head = upstream(tmp_path / "server")
    checkout = clone(server, tmp_path / "checkout", *options)
    handle = open_repo(checkout.path)
    assert handle.merge_base(base, head) == base  # base fetched, histories deepened until they meet
    workspace = handle.materialize(base, tmp_path / "ws")
    assert json.loads((workspace.root / "apps/web/cm.yaml").read_text())["data"] == {"mode": "slow"}
    if "--depth=1" in options:
        # Deepened step by step, not the whole server: the 30 commits of main after the base are not needed.
        assert "note 29" not in checkout.git("log", "--all", "--format=%s")


def test_partial_clone_fetches_the_missing_files_in_one_request(tmp_path: Path) -> None:
    server, base, _ = upstream(tmp_path / "server", between=2)
    checkout = clone(server, tmp_path / "checkout", "--filter=blob:none")
    trace = tmp_path / "trace"
    os.environ["GIT_TRACE_PACKET"] = str(trace)
    try:
        open_repo(checkout.path).materialize(base, tmp_path / "ws")
    finally:
        del os.environ["GIT_TRACE_PACKET"]
    fetches = [line for line in trace.read_text().splitlines() if "fetch> command=fetch" in line]
    assert len(fetches) == 1


def test_a_missing_object_is_a_clear_error_not_an_internal_one(tmp_path: Path) -> None:
    server, base, _ = upstream(tmp_path / "server", between=2)
    checkout = clone(server, tmp_path / "checkout", "--filter=blob:none")
    checkout.git("config", "remote.origin.url", f"file://{tmp_path / 'gone'}")  # the server is unreachable
    with pytest.raises(SourceError, match=r"missing \(shallow or partial clone\?\)"):
        open_repo(checkout.path).materialize(base, tmp_path / "ws")


def test_unknown_revision_in_a_full_clone_is_not_fetched(tmp_path: Path) -> None:
    server, _, _ = upstream(tmp_path / "server", between=1)
    checkout = clone(server, tmp_path / "checkout")
    with pytest.raises(SourceError, match="unknown revision"):
        open_repo(checkout.path).resolve("f" * 40)


def test_github_pull_request_on_a_one_commit_checkout(fake_github: FakeGitHub, tmp_path: Path) -> None:
    from tests.ci.test_action_e2e import run_action

    server, base, head = upstream(tmp_path / "server")
    checkout = clone(server, tmp_path / "checkout", "--depth=1")  # actions/checkout's default
    event = pull_request_event()
    event["pull_request"]["base"]["sha"] = base  # type: ignore[index]
    event["pull_request"]["head"]["sha"] = head  # type: ignore[index]
    run = run_action(tmp_path, checkout.path, fake_github, {"fail-on": "error"}, event=event)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.outputs["exit-code"] == "1" and run.outputs["errors"] == "0"
    assert "web-config" in fake_github.issue_comments(7)[0]["body"]
    assert github  # the same step as the action's


def test_gitlab_merge_request_on_a_shallow_clone(fake_gitlab: FakeGitLab, tmp_path: Path) -> None:
    from tests.ci.gitlabrunner import load_template, resolve_job
    from tests.ci.test_gitlab_e2e import ROOT, pipeline, run

    server, base, head = upstream(tmp_path / "server")
    checkout = clone(server, tmp_path / "checkout", "--depth=2")  # GIT_DEPTH: 2
    job = resolve_job(load_template(ROOT / ".gitlab-ci-template.yml"), "gitops-check")
    result = run(
        job, pipeline(fake_gitlab, checkout.path, base, head), checkout.path, GITOPS_CHECK_FAIL_ON="error"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    dotenv = (checkout.path / "gitops-check-reports" / "gitops-check.env").read_text()
    assert "GITOPS_CHECK_RESULT_EXIT_CODE=1" in dotenv and "GITOPS_CHECK_RESULT_ERRORS=0" in dotenv
    assert gitlab


HTTP_TOKEN = "ghs_jobTokenNeverShownAnywhere01"


def test_github_one_commit_checkout_from_an_http_server_that_wants_the_token(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    """actions/checkout's way: one commit, the job token kept as an extraheader in the checkout's config; the
    preview fetches the base and deepens with it from a real HTTP git server that refuses anyone else."""
    import base64

    from tests.ci.test_action_e2e import run_action
    from tests.helpers.githttp import GitServer

    server_repo, base, head = upstream(tmp_path / "server")
    header = "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{HTTP_TOKEN}".encode()).decode()
    with GitServer(tmp_path / "git", auth=("x-access-token", HTTP_TOKEN)).running() as server:
        url = server.publish(server_repo.path, "acme/deploy")
        bare = tmp_path / "git" / "acme" / "deploy.git"
        subprocess.run(
            ["git", "-C", str(bare), "config", "uploadpack.allowAnySHA1InWant", "true"], check=True
        )
        subprocess.run(["git", "-C", str(bare), "config", "uploadpack.allowFilter", "true"], check=True)
        checkout = tmp_path / "checkout"
        subprocess.run(["git", "-c", f"http.extraheader={header}", "clone", "-q", "--depth=1", "--branch", "feature",
                        url, str(checkout)], check=True, capture_output=True)  # fmt: skip
        subprocess.run(
            ["git", "-C", str(checkout), "config", f"http.{server.url}/.extraheader", header], check=True
        )
        event = pull_request_event()
        event["pull_request"]["base"]["sha"] = base  # type: ignore[index]
        event["pull_request"]["head"]["sha"] = head  # type: ignore[index]
        run = run_action(tmp_path, checkout, fake_github, {"fail-on": "error"}, event=event)
        anonymous = subprocess.run(["git", "ls-remote", url], capture_output=True, text=True,
                                   env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})  # fmt: skip
    assert anonymous.returncode != 0  # the server does want the token
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.outputs["exit-code"] == "1" and run.outputs["errors"] == "0"
    assert len([s for s in server.seen if s.authorization]) > 2  # the clone, then the fetches on demand
    assert HTTP_TOKEN not in run.stdout + run.stderr + fake_github.issue_comments(7)[0]["body"]
