"""``gitops-check sync --flux`` and ``diff --sync-on-drift`` against the real Flux controllers: the reconcile
annotation (with ``--with-source``: the GitRepository first), a success that applies Git's new commit, a failing
kustomize build with kustomize-controller's own message, and a check, sync and second check in one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.cluster import find_tool
from tests.helpers.flux import Flux, ready_condition
from tests.helpers.gitrepo import GitRepo

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("flux")]

SOURCE = "sync"  # matched to the checked repository by its URL (--repo-url); the oracle owns flux-system
NAMES = ("sync-ok", "sync-broken", "sync-on-drift")


def configmap(color: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"color": color}}
    )


def kustomization(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "1h",
            "path": f"./apps/{name}",
            "prune": True,
            "targetNamespace": name,
            "sourceRef": {"kind": "GitRepository", "name": SOURCE},
        },
    }


class Setup:
    def __init__(self, flux: Flux, repo: GitRepo, url: str, work: Path) -> None:
        self.flux, self.repo, self.url, self.work = flux, repo, url, work

    def cli(self, *args: str, timeout: float = 300) -> tuple[int, str, dict[str, Any]]:
        """The console script in a process of its own, against the Flux cluster."""
        report = self.work / f"report-{time.monotonic_ns()}.json"
        argv = [sys.executable, "-m", "gitops_check", *args, "--json", str(report)]
        env = {**os.environ, "GITOPS_CHECK_KUSTOMIZE": str(find_tool("kustomize"))}
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
        data = json.loads(report.read_text()) if report.exists() else {}
        return proc.returncode, proc.stdout + proc.stderr, data

    def kube(self) -> list[str]:
        return ["--kubeconfig", str(self.flux.cluster.admin_kubeconfig)]

    def live_color(self, name: str) -> str:
        resp = self.flux.cluster.request("GET", f"/api/v1/namespaces/{name}/configmaps/settings")
        return str(resp.json()["data"]["color"]) if resp.ok else ""


@pytest.fixture(scope="module")
def setup(flux: Flux, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    repo = GitRepo.init(flux.git_root / "sync")
    url = flux.git.url("sync")
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": SOURCE, "namespace": "flux-system"},
        "spec": {"url": url, "ref": {"branch": "main"}, "interval": "1h"},
    }
    files = {"flux/source.yaml": yaml.safe_dump(source)}
    for name in NAMES:
        files[f"flux/{name}.yaml"] = yaml.safe_dump(kustomization(name))
        files[f"apps/{name}/cm.yaml"] = configmap("blue")
    repo.write(files)
    first = repo.commit("first")
    flux.git_repository(SOURCE, url)
    flux.wait_ready("GitRepository", SOURCE, revision=first)
    for name in NAMES:
        flux.namespace(name)
        flux.apply(kustomization(name))
    for name in NAMES:
        flux.wait_ready("Kustomization", name, revision=first)
    return Setup(flux, repo, url, tmp_path_factory.mktemp("flux-sync"))


def sync_outcome(report: dict[str, Any]) -> dict[str, Any]:
    assert report.get("syncs"), report
    return dict(report["syncs"][0])


def test_sync_with_source_applies_the_new_commit(setup: Setup) -> None:
    setup.repo.write({"apps/sync-ok/cm.yaml": configmap("green")})
    head = setup.repo.commit("green")
    code, out, report = setup.cli(
        "sync", "sync-ok", "--flux", "--with-source", *setup.kube(), "--timeout", "2m"
    )
    assert code == 0, out
    assert sync_outcome(report)["state"] == "succeeded", out
    obj = setup.flux.get("Kustomization", "sync-ok")
    assert str(obj["status"]["lastAppliedRevision"]).endswith(head)
    assert (
        obj["status"]["lastHandledReconcileAt"]
        == obj["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"]
    )
    assert setup.live_color("sync-ok") == "green"


def test_a_failing_build_reports_kustomize_controllers_message(setup: Setup) -> None:
    broken = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["cm.yaml", "missing.yaml"],
    }
    setup.repo.write({"apps/sync-broken/kustomization.yaml": yaml.safe_dump(broken)})
    setup.repo.commit("broken")
    code, out, report = setup.cli(
        "sync", "sync-broken", "--flux", "--with-source", *setup.kube(), "--timeout", "2m"
    )
    outcome = sync_outcome(report)
    ready = ready_condition(setup.flux.get("Kustomization", "sync-broken"))
    assert (code, outcome["state"], ready["status"]) == (1, "failed", "False"), out
    assert ready["reason"] == "BuildFailed", ready
    assert ready["message"] in outcome["message"], (ready["message"], outcome["message"])
    assert "missing.yaml" in outcome["message"]


def test_diff_sync_on_drift_checks_syncs_and_checks_again(setup: Setup) -> None:
    setup.repo.write({"apps/sync-on-drift/cm.yaml": configmap("red")})
    setup.repo.commit("red")
    argv = [
        "diff",
        "--repo",
        str(setup.repo.path),
        "--repo-url",
        setup.url,
        "--no-color",
        "--live",
        *setup.kube(),
    ]
    code, out, report = setup.cli(*argv, "--app", "Kustomization/flux-system/sync-on-drift")
    assert code == 1, out  # drift: Git says red, the cluster has blue
    code, out, report = setup.cli(
        *argv,
        "--app",
        "Kustomization/flux-system/sync-on-drift",
        "--sync-on-drift",
        "--flux",
        "--with-source",
        "--timeout",
        "2m",
    )
    assert code == 0, out
    assert sync_outcome(report)["state"] == "succeeded", out
    assert setup.live_color("sync-on-drift") == "red"
