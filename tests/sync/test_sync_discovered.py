"""Syncing apps that discovery found: the agent's object is where discovery found it, so no ``-n`` is needed.

The repositories declare their apps as an Argo CD Application and as a Flux Kustomization, each in the test
namespace (not argocd / flux-system, where the tool would otherwise look). ``diff --sync-on-drift`` and
``sync --from-report`` must patch exactly that object; the audit log shows it, and the controller stand-in
answers as the agent would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.cluster import LIMITED_USER, TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import agent_apply, object_path
from tests.sync.clirun import FAST, run
from tests.sync.standin import StandIn, argo_running, argo_succeed, create

pytestmark = pytest.mark.cluster
URL = "https://git.example.com/fleet.git"


def configmap(color: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings"},
        "data": {"color": color},
    }


def patches(cluster: TestCluster, since: int) -> list[tuple[str, str, str | None]]:
    return [
        (e["objectRef"]["resource"], e["objectRef"].get("namespace", ""), e["objectRef"].get("name"))
        for e in cluster.audit_events(LIMITED_USER, since=since)
        if e["verb"] == "patch" and "dryRun=All" not in e["requestURI"]
    ]


# ---------------------------------------------------------------------------------------------------------------
# Argo CD: an Application in a namespace of its own


@pytest.fixture
def argo_repo(agent_crds: TestCluster, kube_namespace: str, tmp_path: Path) -> tuple[GitRepo, str]:
    ns = kube_namespace
    agent_crds.apply_rbac_for_limited(
        {"": ["configmaps", "namespaces"], "argoproj.io": ["applications"]},
        verbs=("get", "list", "watch", "patch"),
    )
    application = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "namespace": ns},
        "spec": {
            "project": "default",
            "source": {"repoURL": URL, "path": "apps/shop", "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": ns},
        },
    }
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        # Argo CD runs in the test namespace: its Applications there are named plainly (shop, not ns/shop).
        ".gitops-check.yaml": yaml.safe_dump({"version": 1, "discovery": {"argocd": {"namespace": ns}},
                                              "sync": {"allow": ["shop"]}}),
        "argocd/shop.yaml": yaml.safe_dump(application),
        "apps/shop/cm.yaml": yaml.safe_dump(configmap("blue")),
    })  # fmt: skip
    repo.commit("shop")
    agent_apply(agent_crds, [configmap("red")], namespace=ns, app="shop")  # drifted
    create(agent_crds, "Application", ns, "shop", application["spec"],
           {"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}})  # fmt: skip
    return repo, ns


def test_sync_on_drift_asks_the_application_where_it_was_found(
    argo_repo: tuple[GitRepo, str],
    agent_crds: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, ns = argo_repo

    def apply_git(s: StandIn, name: str, app: dict[str, Any]) -> None:
        agent_apply(agent_crds, [configmap("blue")], namespace=ns, app="shop")

    report = tmp_path / "report.json"
    mark = agent_crds.audit_mark()
    with StandIn(agent_crds, ns, argo={"shop": [argo_running, apply_git, argo_succeed]}) as standin:
        result = run(capsys, "diff", "--repo", repo.path, "--repo-url", URL, "--live", "--kubeconfig",
                     agent_crds.kubeconfig(LIMITED_USER), "--no-color", "--json", report,
                     "--sync-on-drift", "--argocd", "--kube", *FAST, "--accept-unreadable-prune-kinds")  # fmt: skip
    assert result.code == 0, result.text
    assert [s[:2] for s in standin.seen] == [("Application", "shop")]
    assert patches(agent_crds, mark) == [("applications", ns, "shop")]
    doc = json.loads(report.read_text())
    assert [(s["app"], s["target"], s["state"]) for s in doc["syncs"]] == [
        ("shop", f"Application {ns}/shop", "succeeded")
    ]
    assert doc["apps"][0]["agent"] == {"kind": "Application", "namespace": ns, "name": "shop"}


def test_an_explicit_namespace_still_wins_for_applications_named_plainly(
    argo_repo: tuple[GitRepo, str],
    agent_crds: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """-n names where Argo CD runs, for Applications whose name does not carry it: nothing found there, exit 2."""
    repo, _ = argo_repo
    result = run(capsys, "diff", "--repo", repo.path, "--repo-url", URL, "--live", "--kubeconfig",
                 agent_crds.kubeconfig(LIMITED_USER), "--no-color", "--sync-on-drift", "--argocd", "--kube",
                 "-n", "elsewhere", *FAST, "--accept-unreadable-prune-kinds")  # fmt: skip
    assert result.code == 2
    assert "Application elsewhere/shop not found" in result.out


# ---------------------------------------------------------------------------------------------------------------
# Flux: a Kustomization outside flux-system


@pytest.fixture
def flux_repo(agent_crds: TestCluster, kube_namespace: str, tmp_path: Path) -> tuple[GitRepo, str]:
    ns = kube_namespace
    agent_crds.apply_rbac_for_limited(
        {"": ["configmaps", "namespaces"], "kustomize.toolkit.fluxcd.io": ["kustomizations"]},
        verbs=("get", "list", "watch", "patch"),
    )
    source = {"url": URL, "interval": "1m"}
    spec = {"interval": "10m", "path": "./apps/shop", "prune": True, "targetNamespace": ns,
            "sourceRef": {"kind": "GitRepository", "name": "fleet"}}  # fmt: skip
    objects = [
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
         "metadata": {"name": "fleet", "namespace": ns}, "spec": source},
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": {"name": "apps", "namespace": ns}, "spec": spec},
    ]  # fmt: skip
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        "clusters/test/fleet.yaml": yaml.safe_dump_all(objects),
        "apps/shop/cm.yaml": yaml.safe_dump(configmap("blue")),
    })  # fmt: skip
    repo.commit("fleet")
    live = {**configmap("red"), "metadata": {"name": "settings", "namespace": ns}}
    agent_crds.apply(object_path(live, ns), live, field_manager="kustomize-controller")
    create(agent_crds, "Kustomization", ns, "apps", spec)
    return repo, ns


def test_flux_sync_on_drift_and_from_report_without_a_namespace(
    flux_repo: tuple[GitRepo, str],
    agent_crds: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, ns = flux_repo
    app = f"Kustomization/{ns}/apps"
    kubeconfig = agent_crds.kubeconfig(LIMITED_USER)
    report = tmp_path / "report.json"
    check = ["diff", "--repo", repo.path, "--repo-url", URL, "--live", "--kubeconfig", kubeconfig, "--no-color",
             "--json", report, "--accept-unreadable-prune-kinds"]  # fmt: skip

    mark = agent_crds.audit_mark()
    with StandIn(agent_crds, ns) as standin:
        result = run(capsys, *check, "--sync-on-drift", "--flux", *FAST)
    # The stand-in only answers Ready (it applies nothing), so the second check still finds the drift.
    assert result.code == 1, result.text
    assert f"--sync-on-drift: 1 drifted app(s): {app}" in result.out
    assert [s[:2] for s in standin.seen] == [("Kustomization", "apps")]
    assert patches(agent_crds, mark) == [("kustomizations", ns, "apps")]
    doc = json.loads(report.read_text())
    assert [(s["app"], s["target"], s["state"]) for s in doc["syncs"]] == [
        (app, f"Kustomization {ns}/apps", "succeeded")
    ]
    assert doc["apps"][0]["agent"] == {"kind": "Kustomization", "namespace": ns, "name": "apps"}

    mark = agent_crds.audit_mark()
    with StandIn(agent_crds, ns) as standin:
        result = run(capsys, "sync", "--from-report", report, "--flux", "--kubeconfig", kubeconfig, *FAST)
    assert result.code == 0, result.text
    assert {s[:2] for s in standin.seen} == {("Kustomization", "apps")}  # (a new stand-in sees both requests)
    assert patches(agent_crds, mark) == [("kustomizations", ns, "apps")]


def test_apps_of_the_other_agent_are_left_with_a_note(
    flux_repo: tuple[GitRepo, str],
    agent_crds: TestCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, ns = flux_repo
    report = tmp_path / "report.json"
    run(capsys, "diff", "--repo", repo.path, "--repo-url", URL, "--live", "--kubeconfig",
        agent_crds.kubeconfig(LIMITED_USER), "--json", report, "--accept-unreadable-prune-kinds")  # fmt: skip
    mark = agent_crds.audit_mark()
    result = run(capsys, "sync", "--from-report", report, "--argocd", "--kube", "--kubeconfig",
                 agent_crds.kubeconfig(LIMITED_USER), *FAST)  # fmt: skip
    assert result.code == 0, result.text
    assert (
        f"note: Kustomization/{ns}/apps: a Flux object (Kustomization), not synced by --argocd" in result.out
    )
    assert patches(agent_crds, mark) == []
