"""``gitops-check diff --live --sync-on-drift``: check, ask the agent to sync what drifted, check again.

The stand-in plays Argo CD: when it sees the operation it applies the app's Git manifests (as the agent's field
manager) and reports success, so the second check finds the cluster in sync. The tool runs as ``limited``; the
audit log shows the one patch it sent to the one drifted Application.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.cluster import LIMITED_USER, TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import agent_apply
from tests.sync.clirun import FAST, run
from tests.sync.standin import StandIn, argo_fail, argo_running, argo_succeed, create

pytestmark = pytest.mark.cluster


def configmap(color: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"color": color},
    }


@pytest.fixture
def setup(agent_crds: TestCluster, kube_namespace: str, tmp_path: Path) -> tuple[GitRepo, str]:
    ns = kube_namespace
    agent_crds.apply_rbac_for_limited(
        {"": ["configmaps", "namespaces"], "argoproj.io": ["applications"]},
        verbs=("get", "list", "watch", "patch"),
    )
    repo = GitRepo.init(tmp_path / "repo")
    apps = [{"name": name, "path": name, "tool": "directory", "namespace": ns} for name in ("shop", "calm")]
    repo.write({
        ".gitops-check.yaml": yaml.safe_dump({"version": 1, "apps": apps, "sync": {"allow": ["shop", "calm"]}}),
        "shop/cm.yaml": yaml.safe_dump(configmap("blue")),
        "calm/cm.yaml": yaml.safe_dump({**configmap("green"), "metadata": {"name": "calm"}}),
    })  # fmt: skip
    repo.commit("apps")
    agent_apply(agent_crds, [configmap("red")], namespace=ns, app="shop")  # drifted
    agent_apply(agent_crds, [{**configmap("green"), "metadata": {"name": "calm"}}], namespace=ns, app="calm")
    for name in ("shop", "calm"):
        create(agent_crds, "Application", ns, name, {"project": "default", "source": {"path": name}},
               {"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}})  # fmt: skip
    return repo, ns


def diff(
    cluster: TestCluster, repo: GitRepo, ns: str, capsys: pytest.CaptureFixture[str], report: Path, *args: str
):  # type: ignore[no-untyped-def]
    return run(capsys, "diff", "--repo", repo.path, "--live", "--kubeconfig", cluster.kubeconfig(LIMITED_USER),
               "--no-color", "--json", report, "--sync-on-drift", "--argocd", "--kube", "-n", ns, *FAST,
               "--accept-unreadable-prune-kinds", *args)  # fmt: skip


def test_sync_then_check_again(setup: tuple[GitRepo, str], agent_crds: TestCluster, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    repo, ns = setup

    def apply_git(s: StandIn, name: str, app: dict[str, Any]) -> None:
        agent_apply(agent_crds, [configmap("blue")], namespace=ns, app="shop")

    report = tmp_path / "report.json"
    mark = agent_crds.audit_mark()
    with StandIn(agent_crds, ns, argo={"shop": [argo_running, apply_git, argo_succeed]}) as standin:
        result = diff(agent_crds, repo, ns, capsys, report)
    assert result.code == 0, result.text
    assert [s[:2] for s in standin.seen] == [("Application", "shop")]  # only the drifted app
    out = result.out
    assert out.index("1 drifted") < out.index("--sync-on-drift: 1 drifted app(s): shop")
    assert out.index("About to ask") < out.index("every sync succeeded; checking again")
    assert out.rstrip().endswith("Exit code 0: everything checked is in sync")
    doc = json.loads(report.read_text())
    assert doc["exitCode"] == 0 and doc["summary"]["apps"]["in-sync"] == 2
    assert [(s["app"], s["state"]) for s in doc["syncs"]] == [("shop", "succeeded")]
    writes = [(e["verb"], e["objectRef"]["resource"], e["objectRef"].get("name"))
              for e in agent_crds.audit_events(LIMITED_USER, since=mark)
              if e["verb"] not in ("get", "list", "watch") and "dryRun=All" not in e["requestURI"]]  # fmt: skip
    assert writes == [("patch", "applications", "shop")]


def test_failed_sync_ends_without_a_second_check(setup: tuple[GitRepo, str], agent_crds: TestCluster,
                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    repo, ns = setup
    report = tmp_path / "report.json"
    with StandIn(
        agent_crds, ns, argo={"shop": [argo_running, argo_fail("ComparisonError: repo unreachable")]}
    ):
        result = diff(agent_crds, repo, ns, capsys, report, "--only-drifted")
    assert result.code == 1, result.text
    assert "no second check (not every sync finished well)" in result.out
    doc = json.loads(report.read_text())
    assert doc["exitCode"] == 1 and doc["summary"]["apps"]["drifted"] == 1
    [sync] = doc["syncs"]
    assert (sync["state"], sync["message"]) == ("failed", "sync failed: ComparisonError: repo unreachable "
                                                "(Deployment/shop/web: admission webhook denied)")  # fmt: skip
    assert [r["id"] for r in sync["resources"]] == [f"ConfigMap/{ns}/settings"]
    assert "Exit code 1: drift found; and the agent reports a failed sync" in result.out


def test_incomplete_check_syncs_nothing(setup: tuple[GitRepo, str], agent_crds: TestCluster, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    repo, ns = setup
    repo.write({"broken/kustomization.yaml": "resources: [missing.yaml]\n"})
    project = yaml.safe_load((repo.path / ".gitops-check.yaml").read_text())
    project["apps"].append({"name": "broken", "path": "broken", "tool": "kustomize", "namespace": ns})
    repo.write({".gitops-check.yaml": yaml.safe_dump(project)})
    repo.commit("broken app")
    report = tmp_path / "report.json"
    mark = agent_crds.audit_mark()
    result = diff(agent_crds, repo, ns, capsys, report)
    assert result.code == 2
    assert "refused: the check above could not check everything (not checked: broken)" in result.out
    assert not [
        e
        for e in agent_crds.audit_events(LIMITED_USER, since=mark)
        if e.get("objectRef", {}).get("resource") == "applications"
    ]
    doc = json.loads(report.read_text())
    assert [(s["app"], s["state"]) for s in doc["syncs"]] == [("shop", "refused")]


def test_snapshot_cannot_be_rechecked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = tmp_path / "s.json"
    snapshot.write_text('{"apiVersion": "v1", "kind": "List", "items": []}')
    result = run(
        capsys, "diff", "--repo", tmp_path, "--snapshot", snapshot, "--sync-on-drift", "--argocd", "--kube"
    )
    assert result.code == 2 and "needs the live cluster (--live)" in result.err
