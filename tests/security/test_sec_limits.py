"""Issue 10 items 11 and 13: hostile sizes are one app's problem, and finding nothing is not green.

A manifest nested 400 levels deep once ended the whole run in "internal error: RecursionError"; a 20 KB
ApplicationSet with a 400x400 matrix took 50 s and 728 MB. Both are now bounded per app / per ApplicationSet
(per run too), reported as not checked with the reason, and the other apps keep their results.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_check.cli import main
from tests.helpers.gitrepo import GitRepo
from tests.helpers.hostile import PLAIN_CM, REPO_URL, run_diff


def nested_json(depth: int) -> str:
    return '{"a": ' * depth + '"x"' + "}" * depth


def object_json(depth: int) -> str:
    """A ConfigMap with an extra field ``depth`` levels deep, as text (json.dumps itself would recurse)."""
    return (
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep", "namespace": "ns"}, '
        f'"data": {{"k": "v"}}, "extra": {nested_json(depth)}}}'
    )


def deep_repo(tmp_path: Path, depth: int) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    project = {"version": 1, "apps": [{"name": "deep", "path": "deep", "namespace": "ns"},
                                      {"name": "plain", "path": "plain", "namespace": "ns"}]}  # fmt: skip
    repo.write({
        ".gitops-check.yaml": json.dumps(project),
        "deep/cm.json": object_json(depth),
        "plain/cm.yaml": json.dumps(PLAIN_CM),
    })  # fmt: skip
    repo.commit("deep")
    return repo


@pytest.mark.parametrize("depth", [400, 990])
def test_a_deep_manifest_is_that_apps_error(
    depth: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_diff(capsys, tmp_path, deep_repo(tmp_path, depth).path)
    assert run.code == 2
    assert "internal error" not in run.everything
    assert "nested" in run.messages("deep")
    assert run.app("plain")["status"] == "in-sync"


def test_the_limit_itself_goes_through_every_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Just under the limit, the object is diffed and printed (every reporter recurses) without a crash."""
    run = run_diff(capsys, tmp_path, deep_repo(tmp_path, 120).path)
    assert run.code == 1 and run.app("deep")["status"] == "drifted"


def test_a_deep_object_in_the_cluster_is_not_checked_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = deep_repo(tmp_path, 1)
    snapshot = tmp_path / "deep-snapshot.json"
    snapshot.write_text(
        f'{{"apiVersion": "v1", "kind": "List", "items": [{json.dumps(PLAIN_CM)}, {object_json(500)}]}}'
    )
    run = run_diff(capsys, tmp_path, repo.path, snapshot=snapshot)
    assert run.code == 2 and "internal error" not in run.everything


def appset(n: int) -> str:
    elements = json.dumps([{"v": f"n{i}"} for i in range(n)])
    others = json.dumps([{"w": f"m{i}"} for i in range(n)])
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: big, namespace: argocd}\n"
        "spec:\n  generators:\n  - matrix:\n      generators:\n"
        f"      - list: {{elements: {elements}}}\n"
        f"      - list: {{elements: {others}}}\n"
        "  template:\n    metadata: {name: 'app-{{v}}-{{w}}'}\n"
        f"    spec:\n      project: default\n      source: {{repoURL: '{REPO_URL}', path: plain}}\n"
        "      destination: {server: 'https://kubernetes.default.svc', namespace: ns}\n"
    )


def appset_repo(tmp_path: Path, n: int) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    repo.git("remote", "add", "origin", REPO_URL)
    repo.write({"argocd/big.yaml": appset(n), "plain/cm.yaml": json.dumps(PLAIN_CM)})
    repo.commit("big matrix")
    return repo


def test_a_huge_matrix_is_not_checked_with_its_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = appset_repo(tmp_path, 400)
    capsys.readouterr()
    code = main(["apps", "--repo", str(repo.path), "--no-render", "--json"])
    out = capsys.readouterr()
    assert code == 2
    assert "160000 Applications" in out.out + out.err
    assert "--max-appset-apps" in out.out + out.err


def test_the_job_can_raise_the_caps_and_the_run_cap_counts_every_appset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = appset_repo(tmp_path, 10)  # 100 Applications
    capsys.readouterr()
    assert main(["apps", "--repo", str(repo.path), "--no-render", "--max-appset-apps", "99"]) == 2
    assert "generates 100 Applications" in capsys.readouterr().err
    assert main(["apps", "--repo", str(repo.path), "--no-render", "--max-appset-apps", "100"]) == 0
    capsys.readouterr()
    assert main(["apps", "--repo", str(repo.path), "--no-render", "--max-generated-apps", "50"]) == 2
    assert "--max-generated-apps" in capsys.readouterr().err


def test_no_apps_found_is_not_green(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({"README.md": "nothing here\n"})
    repo.commit("empty")
    run = run_diff(capsys, tmp_path, repo.path)
    assert run.code == 2
    assert "no apps found" in run.everything
    assert run_diff(capsys, tmp_path, repo.path, "--allow-empty").code == 0
