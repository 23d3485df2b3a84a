"""``gitops-check sync`` and ``diff --sync-on-drift`` against the real Argo CD: through the Kubernetes API
(``.operation``) and through argocd-server's REST API with an account token — success, a failing sync with Argo
CD's own message, a degraded app, a timeout, and a sync without --prune when only pruning is left."""

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

from tests.helpers.argocd import ArgoCD, wait_for
from tests.helpers.cluster import find_tool
from tests.helpers.gitrepo import GitRepo

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("argocd")]

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"color": "blue"}}
SVC = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
}
OLD = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old"}, "data": {"a": "b"}}
BAD = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_A_Valid_Name"}, "data": {"a": "b"}}
DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "w", "image": "nginx"}]},
        },
    },
}
HOOK = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "migrate", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
    "spec": {
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}}
    },
}
# A PreSync hook the API server refuses (an invalid name): the hook fails, so the sync fails before applying.
BAD_HOOK = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "Bad_Hook", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
    "data": {"a": "b"},
}
# No kubelet runs: a hook Job never completes, so its sync never ends (the timeout case).
APPS: dict[str, list[dict[str, Any]]] = {
    "sync-kube": [CM, SVC],
    "sync-rest": [CM, SVC],
    "sync-fail": [CM, BAD],
    "sync-fail-rest": [CM, BAD],
    "sync-hook-fail": [CM, BAD_HOOK],
    "sync-degraded": [CM, DEPLOY],
    "sync-hook": [CM, HOOK],
    "sync-prune": [CM, OLD],
    "sync-on-drift": [CM, SVC],
    "sync-on-drift-prune": [CM, OLD],
}


def application(name: str, url: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": url, "targetRevision": "HEAD", "path": f"src/{name}"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": {"syncOptions": ["PrunePropagationPolicy=background"]},
        },
    }


class Apps:
    def __init__(self, argocd: ArgoCD, repo: GitRepo, url: str, work: Path) -> None:
        self.argocd, self.repo, self.url, self.work = argocd, repo, url, work

    def write(self, name: str, objects: list[dict[str, Any]]) -> None:
        (self.repo.path / f"src/{name}").mkdir(parents=True, exist_ok=True)
        (self.repo.path / f"src/{name}/objects.yaml").write_text(yaml.safe_dump_all(objects))
        self.repo.commit(f"change {name}")
        self.argocd.hard_refresh(name)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ARGOCD_AUTH_TOKEN": self.argocd.token,
            "GITOPS_CHECK_HELM": str(find_tool("helm4")),
            "GITOPS_CHECK_KUSTOMIZE": str(find_tool("kustomize")),
        }

    def cli(self, *args: str, timeout: float = 300) -> tuple[int, str, dict[str, Any]]:
        """The console script in a process of its own (the tests may act on the cluster meanwhile)."""
        report = self.work / f"report-{time.monotonic_ns()}.json"
        argv = [sys.executable, "-m", "gitops_check", *args, "--json", str(report)]
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env(), timeout=timeout)
        data = json.loads(report.read_text()) if report.exists() else {}
        return proc.returncode, proc.stdout + proc.stderr, data

    def kube(self, *args: str) -> list[str]:
        return [
            "--argocd",
            "--kube",
            "--kubeconfig",
            str(self.argocd.cluster.admin_kubeconfig),
            "-n",
            "argocd",
            *args,
        ]

    def rest(self, *args: str) -> list[str]:
        return ["--argocd", "--server", self.argocd.server_url, *args]


@pytest.fixture(scope="module")
def apps(argocd: ArgoCD, tmp_path_factory: pytest.TempPathFactory) -> Apps:
    repo = GitRepo.init(argocd.git_root / "sync")
    url = argocd.git.url("sync")
    files = {f"apps/{n}.yaml": yaml.safe_dump(application(n, url)) for n in APPS}
    files.update({f"src/{n}/objects.yaml": yaml.safe_dump_all(objs) for n, objs in APPS.items()})
    repo.write(files)
    repo.commit("apps")
    for name in APPS:
        argocd.cluster.request(
            "POST",
            "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
        argocd.create_app(application(name, url))
    for name in APPS:
        argocd.wait_app(
            name, lambda a: (a.get("status") or {}).get("sync", {}).get("status") == "OutOfSync", "compared"
        )
    return Apps(argocd, repo, url, tmp_path_factory.mktemp("sync-real"))


def sync_outcome(report: dict[str, Any]) -> dict[str, Any]:
    assert report.get("syncs"), report
    return dict(report["syncs"][0])


@pytest.mark.parametrize("path", ["kube", "rest"])
def test_sync_succeeds(apps: Apps, path: str) -> None:
    name = f"sync-{path}"
    args = apps.kube() if path == "kube" else apps.rest()
    code, out, report = apps.cli("sync", name, *args, "--timeout", "3m")
    assert code == 0, out
    assert sync_outcome(report)["state"] == "succeeded", out
    app = apps.argocd.app(name)
    assert app["status"]["sync"]["status"] == "Synced"
    assert app["status"]["operationState"]["phase"] == "Succeeded"
    assert apps.argocd.cluster.request("GET", f"/api/v1/namespaces/{name}/configmaps/settings").ok


@pytest.mark.parametrize("path", ["kube", "rest"])
def test_a_failing_sync_reports_argo_cds_message(apps: Apps, path: str) -> None:
    name = "sync-fail" if path == "kube" else "sync-fail-rest"
    args = apps.kube() if path == "kube" else apps.rest()
    code, out, report = apps.cli("sync", name, *args, "--timeout", "3m")
    outcome = sync_outcome(report)
    state = apps.argocd.app(name)["status"]["operationState"]
    assert (code, outcome["state"], state["phase"]) == (1, "failed", "Failed"), out
    assert state["message"] in outcome["message"], (state["message"], outcome["message"])


def test_a_failing_hook_fails_the_sync_with_argo_cds_message(apps: Apps) -> None:
    code, out, report = apps.cli("sync", "sync-hook-fail", *apps.kube(), "--timeout", "3m")
    outcome = sync_outcome(report)
    state = apps.argocd.app("sync-hook-fail")["status"]["operationState"]
    assert (code, outcome["state"], state["phase"]) == (1, "failed", "Failed"), out
    assert state["message"] in outcome["message"], (state["message"], outcome["message"])
    hooks = [r for r in state.get("syncResult", {}).get("resources") or [] if r.get("hookType") == "PreSync"]
    assert hooks and hooks[0]["name"] == "Bad_Hook", state.get("syncResult")


def test_a_degraded_app_is_reported(apps: Apps) -> None:
    name = "sync-degraded"
    report = apps.work / "degraded.json"
    argv = [
        sys.executable,
        "-m",
        "gitops_check",
        "sync",
        name,
        *apps.kube(),
        "--timeout",
        "3m",
        "--json",
        str(report),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=apps.env())
    try:
        cluster = apps.argocd.cluster
        path = f"/apis/apps/v1/namespaces/{name}/deployments/web"
        deployment = wait_for(
            "the Deployment applied by the sync",
            lambda: (r := cluster.request("GET", path)).ok and r.json(),
            120,
        )
        # No controller-manager runs: write what it writes when a rollout fails.
        status = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": 1,
            "unavailableReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                            "message": "ReplicaSet web has timed out progressing."}],
        }  # fmt: skip
        resp = cluster.request(
            "PATCH", f"{path}/status", body={"status": status}, content_type="application/merge-patch+json"
        )
        assert resp.ok, resp.body
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    outcome = sync_outcome(json.loads(report.read_text()))
    assert (proc.returncode, outcome["state"]) == (1, "degraded"), out
    # Argo CD's own health message ("Caused by apps/Deployment:sync-degraded/web"), as it gives it.
    assert outcome["message"].startswith("health Degraded: ") and "web" in outcome["message"], out


def test_a_sync_that_does_not_finish_times_out(apps: Apps) -> None:
    """A PreSync hook Job never completes here (no kubelet): the operation stays Running."""
    name = "sync-hook"
    try:
        code, out, report = apps.cli("sync", name, *apps.rest(), "--timeout", "5s")
        outcome = sync_outcome(report)
        assert (code, outcome["state"]) == (2, "timeout"), out
        assert apps.argocd.app(name)["status"]["operationState"]["phase"] == "Running"
    finally:
        apps.argocd.rest("DELETE", f"/api/v1/applications/{name}/operation")
        apps.argocd.wait_app(
            name, lambda a: a["status"]["operationState"]["phase"] != "Running", "terminated"
        )


def test_a_sync_without_prune_ends_when_only_pruning_is_left(apps: Apps) -> None:
    """Issue 19 item 2: Argo CD ends it at once (Succeeded, PruneSkipped); gitops-check must not wait for Synced."""
    name = "sync-prune"
    state = apps.argocd.sync_via_operation(name)
    assert state["status"]["operationState"]["phase"] == "Succeeded"
    apps.write(name, [CM])  # "old" leaves Git: it requires pruning
    code, out, report = apps.cli("sync", name, *apps.kube(), "--timeout", "3m")
    outcome = sync_outcome(report)
    assert (code, outcome["state"]) == (0, "succeeded"), out
    assert "not pruned" in outcome["message"] and "ConfigMap/sync-prune/old" in outcome["message"], out
    app = apps.argocd.app(name)
    skipped = [r for r in app["status"]["operationState"]["syncResult"]["resources"] if r["name"] == "old"]
    assert skipped and skipped[0]["status"] == "PruneSkipped", app["status"]["operationState"]
    assert app["status"]["sync"]["status"] == "OutOfSync"
    # With --prune it goes.
    code, out, report = apps.cli("sync", name, *apps.kube(), "--prune", "--timeout", "3m")
    assert (code, sync_outcome(report)["state"]) == (0, "succeeded"), out
    assert apps.argocd.app(name)["status"]["sync"]["status"] == "Synced"


def test_diff_sync_on_drift_syncs_real_drift_and_skips_a_prune_only_app(apps: Apps) -> None:
    for name in ("sync-on-drift", "sync-on-drift-prune"):
        assert apps.argocd.sync_via_operation(name)["status"]["operationState"]["phase"] == "Succeeded"
    apps.argocd.cluster.kubectl(
        "patch", "configmap/settings", "-n", "sync-on-drift", "--type=merge", "-p", '{"data":{"color":"red"}}'
    )
    apps.write("sync-on-drift-prune", [CM])
    kubeconfig = str(apps.argocd.cluster.admin_kubeconfig)
    code, out, report = apps.cli(
        "diff", "--repo", str(apps.repo.path), "--repo-url", apps.url, "--live", "--kubeconfig", kubeconfig,
        "--app", "sync-on-drift", "--app", "sync-on-drift-prune", "--sync-on-drift", "--argocd", "--kube",
        "--timeout", "3m",
    )  # fmt: skip
    syncs = {s["app"]: s for s in report.get("syncs") or []}
    assert syncs.get("sync-on-drift", {}).get("state") == "succeeded", out
    assert "sync-on-drift-prune" not in syncs, out
    assert "only resources to prune drifted" in out, out
    cm = apps.argocd.cluster.request("GET", "/api/v1/namespaces/sync-on-drift/configmaps/settings").json()
    assert cm["data"]["color"] == "blue"
    assert code == 1, out  # the prune-only app still drifts
