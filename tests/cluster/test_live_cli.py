"""Option handling of the live flags (no cluster needed), and one end-to-end run of the installed console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops_check.cli import cli
from gitops_check.cli.base import Failure
from gitops_check.cli.clusteropts import ClusterArgs, entry_source
from gitops_check.cli.diff import DiffArgs, diff_command
from gitops_check.cluster.live import LiveCluster
from gitops_check.cluster.select import ClusterEntry
from gitops_check.cluster.snapshot import SnapshotSource
from tests.helpers.cliargs import parsed
from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import APP, agent_apply, manifests, write_app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--live", "--snapshot", "s.json"], "--live and --snapshot exclude each other"),
        (["--snapshot", "s.json", "--client-side"], "--server-side/--client-side only applies with --live"),
        (["--snapshot", "s.json", "--context", "prod"], "--context only applies with --live"),
        ([], "say what to compare with: --snapshot FILE or --live"),
    ],
)
def test_live_option_errors(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["diff", "--repo", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output


def cluster(argv: list[str]) -> ClusterArgs:
    return parsed(DiffArgs, diff_command, argv).cluster


def test_project_file_clusters_with_contexts_go_live_only_with_live() -> None:
    entry = ClusterEntry(
        name="prod", server="https://prod.example", snapshot="prod.json", context="prod-admin"
    )
    live = entry_source(entry, cluster(["--live", "--kubeconfig", "/k", "--client-side"]))
    assert isinstance(live, LiveCluster)
    assert (live.name, live.options.context, live.options.kubeconfig, live.options.mode) == (
        "prod",
        "prod-admin",
        "/k",
        "client",
    )
    assert isinstance(entry_source(entry, cluster([])), SnapshotSource)
    with pytest.raises(
        Failure, match=r"cluster staging in the project file has no context or kubeconfig \(for --live\)"
    ):
        entry_source(ClusterEntry(name="staging", snapshot=None), cluster(["--live"]))


@pytest.mark.cluster
def test_console_script_end_to_end(kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    write_app(repo, kube_namespace, manifests())
    agent_apply(kube_cluster, manifests(), namespace=kube_namespace, app=APP)
    kube_cluster.kubectl("-n", kube_namespace, "scale", "deployment/web", "--replicas=3")
    exe = shutil.which("gitops-check") or str(Path(sys.executable).parent / "gitops-check")
    junit = tmp_path / "report.xml"
    proc = subprocess.run([exe, "diff", "--repo", str(repo.path), "--live", "--junit", str(junit), "--no-color"],
                          capture_output=True, text=True, env=kube_cluster.env(), timeout=120)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"~ Deployment/{kube_namespace}/web: changed: 1 field" in proc.stdout
    assert "spec.replicas: 3 -> 2 (set by kubectl)" in proc.stdout
    assert "server-side dry-run" in proc.stdout.splitlines()[0]
    assert "<failure" in junit.read_text()
