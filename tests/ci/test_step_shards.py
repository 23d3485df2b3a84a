"""The CI step for a check split over jobs: a shard job leaves its part and does not report; a merge job joins."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_check.ci import gitlab, step
from gitops_check.errors import ConfigError
from tests.helpers.gitrepo import GitRepo


def inputs(report_dir: Path, **env: str) -> step.StepInputs:
    return step.StepInputs.from_env(
        {f"GITOPS_CHECK_{k.upper()}": v for k, v in env.items()}, report_dir=report_dir
    )


def test_a_shard_job_writes_its_part_and_leaves_reporting_to_the_merge(tmp_path: Path) -> None:
    shard = inputs(tmp_path, base="abc", shard="2", shards="4")
    command = step.build_command(shard, step.Reports.under(tmp_path), platform="github", python="py")
    assert command[4] == "preview"
    assert "--shard=2/4" in command and f"--part={tmp_path / 'part-2-of-4.json'}" in command
    assert not [a for a in command if a.startswith(("--comment", "--github-summary"))]
    assert step.shard_exit(shard) == 2  # no part yet: the job fails (the merge would name the shard anyway)
    step.part_path(shard).write_text("{}")
    assert step.shard_exit(shard) == 0  # drift or not: the merge job decides


def test_the_merge_job_joins_the_parts_it_finds(tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    for k in (2, 1):
        (parts / f"part-{k}-of-2.json").write_text("{}")
    (parts / "other.json").write_text("{}")
    merge = inputs(tmp_path, mode="merge", shards="2", parts=str(parts))
    command = step.build_command(merge, step.Reports.under(tmp_path), platform="gitlab", python="py")
    assert command[4:7] == ["merge", "--repo=.", "--shards=2"]
    assert "--comment=gitlab" in command
    assert command[-3:] == ["--", str(parts / "part-1-of-2.json"), str(parts / "part-2-of-2.json")]
    with pytest.raises(ConfigError, match="no part files"):
        step.build_command(
            inputs(tmp_path / "none", mode="merge"), step.Reports.under(tmp_path), platform="github"
        )


def test_bad_shard_inputs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="between 1 and shards"):
        inputs(tmp_path, shard="5", shards="4")
    with pytest.raises(ConfigError, match="must be a number"):
        inputs(tmp_path, shard="x", shards="4")


def test_a_gitlab_parallel_job_is_a_shard() -> None:
    env = gitlab._with_parallel({"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "4"})
    assert (env["GITOPS_CHECK_SHARD"], env["GITOPS_CHECK_SHARDS"]) == ("3", "4")
    assert "GITOPS_CHECK_SHARD" not in gitlab._with_parallel({"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "1"})
    merge = {
        "CI_NODE_INDEX": "1",
        "CI_NODE_TOTAL": "2",
        "GITOPS_CHECK_SHARDS": "2",
        "GITOPS_CHECK_MODE": "merge",
    }
    assert gitlab._with_parallel(merge) == merge  # the shards input set: taken as given


def test_a_stale_or_committed_part_never_passes_for_this_shard_job(tmp_path: Path) -> None:
    shard = inputs(tmp_path / "reports", base="abc", shard="1", shards="2")
    step.part_path(shard).parent.mkdir()
    step.part_path(shard).write_text('{"forged": true}')  # committed by the pull request, or left by a rerun
    step.prepare_report_dir(shard.report_dir, step.Reports.under(shard.report_dir), step.own_files(shard))
    assert not step.part_path(shard).exists()
    assert step.shard_exit(shard) == 2  # gitops-check left no part: the job fails, the merge names the shard


def test_the_merge_job_refuses_parts_the_checked_commit_contains(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "project")
    (repo.path / "gitops-check-reports").mkdir()
    forged = repo.path / "gitops-check-reports" / "part-2-of-2.json"
    forged.write_text('{"forged": true}')  # stands in for a shard that failed and left nothing
    repo.commit("a forged part")
    (repo.path / "gitops-check-reports" / "part-1-of-2.json").write_text("{}")  # a needs: artifact: untracked
    merge = inputs(repo.path / "gitops-check-reports", mode="merge", shards="2")
    with pytest.raises(ConfigError, match=r"contains part files.*part-2-of-2\.json"):
        step.refuse_committed_parts(merge, repo.path)
    repo.git("rm", "-q", "--cached", str(forged))
    repo.commit("untrack it", add_all=False)
    step.refuse_committed_parts(merge, repo.path)  # artifacts only: merged
