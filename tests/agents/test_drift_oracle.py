"""Drift oracle: apps synced by the real Argo CD, then changed by hand or in Git; Argo CD's verdict (the
Application status after a hard refresh at the new commit, then one more refresh, so the controller has seen
every change) equals what ``gitops-check diff`` reports — live client-side, live server-side, and against a
snapshot.

Per app: the resources Argo CD calls OutOfSync are gitops-check's drift (created, changed, pruned; not the ones
changed only by hand, which Argo CD calls Synced), and those it says require pruning are the ones gitops-check
says would be pruned. One app per scenario, each in its own namespace, so one scenario cannot hide another.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from gitops_check.model.objects import ResourceKey
from tests.agents.oracle import MODES, drift_reports
from tests.helpers.argocd import ArgoCD
from tests.helpers.cluster import find_tool
from tests.helpers.gitrepo import GitRepo

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("argocd")]


def objects(
    *,
    extra: bool = True,
    leftover: bool = False,
    cluster_role: str | None = None,
    hook: bool = False,
    leftover_annotations: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    data = {"color": "blue", **({"extra": "1"} if extra else {})}
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": data},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "stringData": {"password": "pw-in-git"},
        },
    ]
    if leftover:
        meta: dict[str, Any] = {"name": "old"}
        if leftover_annotations:
            meta["annotations"] = dict(leftover_annotations)
        out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "b"}})
    if hook:  # a PreSync hook (a ConfigMap: the test cluster runs no Pods); it stays after the sync
        out.append({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "pre-sync", "annotations": {
                "argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"}},
            "data": {"ran": "yes"},
        })  # fmt: skip
    if cluster_role:
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": cluster_role},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
            }
        )
    return out


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    before: Callable[[], list[dict[str, Any]]] = objects
    after: Callable[[], list[dict[str, Any]]] = objects  # Git at the second commit
    hand: tuple[tuple[str, ...], ...] = ()  # kubectl commands (namespace added)
    ignore: tuple[dict[str, Any], ...] = ()  # the Application's ignoreDifferences
    by_url: bool = False  # destination: the API server's own URL (an Argo CD cluster Secret), not in-cluster
    xfail: dict[str, str] | None = None  # mode -> reason (a difference another issue owns)
    # Objects Argo CD lists as requiring pruning but leaves out of the app's sync status (a hook's leftover,
    # IgnoreExtraneous): not drift for either side; the app-level verdicts are compared for them.
    status_only: frozenset[str] = frozenset()

    @property
    def app(self) -> str:
        return f"drift-{self.name}"


SCENARIOS = [
    Scenario("image", "image set by hand", hand=(("set", "image", "deployment/web", "web=nginx:1.99"),)),
    Scenario("scale", "replicas scaled by hand", hand=(("scale", "deployment/web", "--replicas=5"),)),
    Scenario("label", "a label added by hand", hand=(("label", "configmap/settings", "owner=alice"),)),
    Scenario(
        "annotation", "an annotation added by hand", hand=(("annotate", "deployment/web", "note=by-hand"),)
    ),
    Scenario(
        "cm-key",
        "a ConfigMap key added by hand",
        hand=(("patch", "configmap/settings", "--type=merge", "-p", '{"data":{"added":"by-hand"}}'),),
    ),
    Scenario(
        "set-back",
        "a value patched by hand, then set back to Git's",
        hand=(
            ("patch", "configmap/settings", "--type=merge", "-p", '{"data":{"color":"red"}}'),
            ("patch", "configmap/settings", "--type=merge", "-p", '{"data":{"color":"blue"}}'),
        ),
    ),
    Scenario("deleted", "an object deleted by hand", hand=(("delete", "configmap/settings"),)),
    Scenario(
        "secret",
        "a Secret value changed by hand",
        hand=(("patch", "secret/creds", "--type=merge", "-p", '{"stringData":{"password":"changed"}}'),),
    ),
    Scenario("leftover", "an object removed from Git", before=lambda: objects(leftover=True)),
    Scenario(
        "cluster-role",
        "the app's only ClusterRole removed from Git",
        before=lambda: objects(cluster_role="drift-cluster-role-reader"),
    ),
    Scenario("field-removed", "a field removed from Git", after=lambda: objects(extra=False)),
    Scenario(
        "hook",
        "a PreSync hook run by the sync, then changed by hand (hooks are not compared)",
        before=lambda: objects(hook=True),
        after=lambda: objects(hook=True),
        hand=(("patch", "configmap/pre-sync", "--type=merge", "-p", '{"data":{"ran":"edited"}}'),),
        status_only=frozenset({"pre-sync"}),
    ),
    Scenario(
        "extraneous",
        "an object removed from Git that carries compare-options IgnoreExtraneous",
        before=lambda: objects(
            leftover=True, leftover_annotations={"argocd.argoproj.io/compare-options": "IgnoreExtraneous"}
        ),
        status_only=frozenset({"old"}),
    ),
    Scenario(
        "no-prune",
        "an object removed from Git that carries sync-options Prune=false",
        before=lambda: objects(
            leftover=True, leftover_annotations={"argocd.argoproj.io/sync-options": "Prune=false"}
        ),
    ),
    Scenario(
        "by-url",
        "image set by hand; destination by the cluster Secret's URL (the kubeconfig's server), no clusters: entry",
        hand=(("set", "image", "deployment/web", "web=nginx:1.98"),),
        by_url=True,
    ),
    Scenario(
        "ignored",
        "replicas scaled by hand, ignored by ignoreDifferences",
        hand=(("scale", "deployment/web", "--replicas=7"),),
        ignore=({"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]},),
    ),
]


IN_CLUSTER = "https://kubernetes.default.svc"


def application(s: Scenario, url: str, server: str = IN_CLUSTER) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": url, "targetRevision": "HEAD", "path": f"src/{s.name}"},
        "destination": {"server": server if s.by_url else IN_CLUSTER, "namespace": s.app},
        "syncPolicy": {"syncOptions": ["PrunePropagationPolicy=background"]},
    }
    if s.ignore:
        spec["ignoreDifferences"] = list(s.ignore)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": s.app, "namespace": "argocd"},
        "spec": spec,
    }


def write(repo: GitRepo, url: str, server: str, *, after: bool) -> str:
    files = {}
    for s in SCENARIOS:
        files[f"apps/{s.app}.yaml"] = yaml.safe_dump(application(s, url, server), sort_keys=False)
        files[f"src/{s.name}/objects.yaml"] = yaml.safe_dump_all((s.after if after else s.before)())
    repo.write(files)
    for s in SCENARIOS:  # GitRepo.write only adds; drop what the second commit no longer has
        if after and s.before() != s.after():
            (repo.path / f"src/{s.name}/objects.yaml").write_text(yaml.safe_dump_all(s.after()))
    return repo.commit("second" if after else "first")


def _key(r: dict[str, Any]) -> ResourceKey:
    return ResourceKey(r.get("group") or "", r["kind"], r.get("namespace") or None, r["name"])


@dataclass
class Verdicts:
    argocd: dict[str, dict[str, Any]]
    gitops_check: dict[str, dict[str, Any]]  # mode -> JSON report


@pytest.fixture(scope="module")
def verdicts(argocd: ArgoCD, tmp_path_factory: pytest.TempPathFactory) -> Verdicts:
    work = tmp_path_factory.mktemp("drift")
    repo = GitRepo.init(argocd.git_root / "drift")
    url = argocd.git.url("drift")
    server = argocd.add_cluster_secret("external")
    write(repo, url, server, after=False)
    for s in SCENARIOS:
        argocd.cluster.request(
            "POST",
            "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s.app}},
        )
        argocd.create_app(application(s, url, server))
    for s in SCENARIOS:
        argocd.wait_app(
            s.app, lambda a: (a.get("status") or {}).get("sync", {}).get("status") is not None, "compared"
        )
        state = argocd.sync_via_operation(s.app)
        assert state["status"]["operationState"]["phase"] == "Succeeded", state["status"]["operationState"]
    # Changes by hand, then Git's second commit; Argo CD's verdict is computed afresh after both.
    for s in SCENARIOS:
        for command in s.hand:
            argocd.cluster.kubectl(*command, "-n", s.app)
    head = write(repo, url, server, after=True)
    names = [s.app for s in SCENARIOS]
    argocd.refresh(names, "hard", revision=head)
    verdict = argocd.refresh(names, "normal", revision=head)

    env = {
        "GITOPS_CHECK_HELM": str(find_tool("helm4")),
        "GITOPS_CHECK_KUSTOMIZE": str(find_tool("kustomize")),
    }
    common = ["diff", "--repo", str(repo.path), "--repo-url", url, "--no-color"]
    # A snapshot has no server URL to match: the by-url app would need a clusters: entry.
    only = [a for s in SCENARIOS if not s.by_url for a in ("--app", s.app)]
    reports = drift_reports(work, str(argocd.cluster.admin_kubeconfig), common, env, only)
    return Verdicts(verdict, reports)


def argocd_verdict(
    app: dict[str, Any], status_only: frozenset[str] = frozenset()
) -> tuple[set[ResourceKey], set[ResourceKey]]:
    resources = [
        r for r in (app.get("status") or {}).get("resources") or [] if r.get("name") not in status_only
    ]
    out_of_sync = {_key(r) for r in resources if r.get("status") == "OutOfSync"}
    prune = {_key(r) for r in resources if r.get("requiresPruning")}
    return out_of_sync, prune


def gitops_check_verdict(report: dict[str, Any], app: str) -> tuple[set[ResourceKey], set[ResourceKey]]:
    found = next((a for a in report["apps"] if a["name"] == app), None)
    assert found is not None, f"gitops-check did not check {app}"
    assert found["status"] != "error", found
    drift = {
        _key(r)
        for r in found["resources"]
        if r["status"] in ("added", "changed", "removed") and not r.get("byHand")
    }
    prune = {_key(r) for r in found["resources"] if r["status"] == "removed"}
    return drift, prune


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_drift_matches_argocd(
    verdicts: Verdicts, scenario: Scenario, mode: str, request: pytest.FixtureRequest
) -> None:
    if scenario.by_url and mode == "snapshot":
        pytest.skip("a snapshot carries no server URL: a destination by URL needs a clusters: entry there")
    if scenario.xfail and mode in scenario.xfail:
        request.applymarker(pytest.mark.xfail(reason=scenario.xfail[mode], strict=False))
    result = verdicts.argocd[scenario.app]
    expected = argocd_verdict(result, scenario.status_only)
    actual = gitops_check_verdict(verdicts.gitops_check[mode], scenario.app)
    # The app as a whole: Argo CD's sync status is gitops-check's verdict.
    app_status = (result.get("status") or {}).get("sync", {}).get("status")
    assert app_status == ("OutOfSync" if actual[0] else "Synced"), (
        f"{scenario.what} ({mode}): Argo CD says the app is {app_status}; gitops-check says drift "
        f"{sorted(map(str, actual[0]))}"
    )
    assert actual == expected, (
        f"{scenario.what} ({mode}): Argo CD says OutOfSync {sorted(map(str, expected[0]))}, prune "
        f"{sorted(map(str, expected[1]))}; gitops-check says drift {sorted(map(str, actual[0]))}, prune "
        f"{sorted(map(str, actual[1]))}\nArgo CD: {json.dumps(result['status'].get('resources'), indent=1)[:2000]}"
    )
