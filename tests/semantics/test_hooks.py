"""Hooks and per-object sync options (issue 12, item 4), through full ``gitops-check diff`` and ``preview`` runs.

Modelled on argoproj/argocd-example-apps' ``pre-post-sync``, ``sync-waves`` and ``helm-hooks`` apps: a
directory app with PreSync (``generateName``), PostSync, SyncFail and Skip objects, and a Helm chart with
``pre-install``/``post-install``, ``test`` and ``crd-install`` annotated templates. The cluster is what Argo CD
leaves right after a sync: the app's objects with their tracking annotation, the hook objects whose delete
policy keeps them (PostSync ``after``, Helm's default ``before-hook-creation``), an older PreSync run, and no
trace of ``HookSucceeded`` hooks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cli import main
from gitops_check.diff.engine import DiffSettings, diff_app
from gitops_check.identity import KindScopes, assign_keys
from gitops_check.model.app import App, Destination
from gitops_check.model.live import LiveState
from gitops_check.model.objects import Origin, ResourceKey
from gitops_check.model.rendered import RawObject
from gitops_check.model.result import Status
from tests.helpers.binaries import HELM, cached_binary
from tests.helpers.gitrepo import GitRepo
from tests.semantics.argo_repos import URL, application, make_repo, statuses, tracked, write_snapshot

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook-ui
  annotations:
    argocd.argoproj.io/sync-wave: "1"
spec:
  replicas: 1
  selector: {matchLabels: {app: guestbook-ui}}
  template:
    metadata: {labels: {app: guestbook-ui}}
    spec:
      containers:
      - name: guestbook-ui
        image: gcr.io/heptio-images/ks-guestbook-demo:0.2
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: guestbook-ui
  annotations:
    argocd.argoproj.io/sync-wave: "0"
spec:
  ports: [{port: 80, targetPort: 80}]
  selector: {app: guestbook-ui}
"""
PRE_SYNC = """apiVersion: batch/v1
kind: Job
metadata:
  generateName: before-
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-delete-policy: HookSucceeded
spec:
  template:
    spec:
      containers: [{name: sleep, image: alpine:3.20, command: [sleep, "5"]}]
      restartPolicy: Never
  backoffLimit: 0
"""
POST_SYNC = """apiVersion: batch/v1
kind: Job
metadata:
  name: after
  annotations:
    argocd.argoproj.io/hook: PostSync
spec:
  template:
    spec:
      containers: [{name: curl, image: curlimages/curl:8.10.1, args: [http://guestbook-ui]}]
      restartPolicy: Never
"""
SYNC_FAIL = """apiVersion: batch/v1
kind: Job
metadata:
  generateName: sync-failed-
  annotations: {argocd.argoproj.io/hook: SyncFail}
spec:
  template:
    spec:
      containers: [{name: notify, image: alpine:3.20, command: ["true"]}]
      restartPolicy: Never
"""
SKIPPED = """apiVersion: v1
kind: ConfigMap
metadata:
  name: manual-only
  annotations: {argocd.argoproj.io/hook: Skip}
data: {note: applied by hand}
"""

CHART = {
    "helm-hooks/Chart.yaml": "apiVersion: v2\nname: helm-hooks\nversion: 0.1.0\n",
    "helm-hooks/values.yaml": "message: hello\n",
    "helm-hooks/templates/configmap.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  message: {{ .Values.message | quote }}
""",
    "helm-hooks/templates/crd-install.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-crd-install
  annotations: {"helm.sh/hook": crd-install}
data: {compared: "yes"}
""",
    "helm-hooks/templates/pre-install-job.yaml": """apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-pre-install
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "-5"
spec:
  template:
    spec:
      containers: [{name: migrate, image: "migrate:{{ .Values.message }}"}]
      restartPolicy: Never
""",
    "helm-hooks/templates/post-install-job.yaml": """apiVersion: batch/v1
kind: Job
metadata:
  generateName: {{ .Release.Name }}-post-
  annotations: {"helm.sh/hook": post-install, "helm.sh/hook-delete-policy": hook-succeeded}
spec:
  template:
    spec:
      containers: [{name: check, image: alpine:3.20}]
      restartPolicy: Never
""",
    "helm-hooks/templates/test-pod.yaml": """apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: {"helm.sh/hook": test}
spec:
  containers: [{name: wget, image: busybox, command: [wget, "{{ .Release.Name }}:80"]}]
  restartPolicy: Never
""",
}


def _files() -> dict[str, str]:
    return {
        "apps/pre-post-sync.yaml": application("pre-post-sync", "pre-post-sync", "guestbook"),
        "apps/helm-hooks.yaml": application("helm-hooks", "helm-hooks", "hooks", helm={}),
        "pre-post-sync/deployment.yaml": DEPLOYMENT,
        "pre-post-sync/service.yaml": SERVICE,
        "pre-post-sync/pre-sync-job.yaml": PRE_SYNC,
        "pre-post-sync/post-sync-job.yaml": POST_SYNC,
        "pre-post-sync/sync-fail-job.yaml": SYNC_FAIL,
        "pre-post-sync/skip.yaml": SKIPPED,
        **CHART,
    }


def _yaml(text: str) -> dict[str, Any]:
    from gitops_check import yamlio

    body = yamlio.load_one(text, "test")
    assert isinstance(body, dict)
    return body


def _after_sync() -> list[dict[str, Any]]:
    """The cluster right after Argo CD synced both apps."""
    deployment = tracked("pre-post-sync", _yaml(DEPLOYMENT), "guestbook")
    deployment["spec"]["strategy"] = {"type": "RollingUpdate"}  # server defaults
    deployment["spec"]["revisionHistoryLimit"] = 10
    service = tracked("pre-post-sync", _yaml(SERVICE), "guestbook")
    service["spec"].update({"clusterIP": "10.0.0.12", "type": "ClusterIP", "sessionAffinity": "None"})
    after = tracked("pre-post-sync", _yaml(POST_SYNC), "guestbook")  # no delete policy: still there
    older_run = tracked("pre-post-sync", {**_yaml(PRE_SYNC), "metadata": {
        **_yaml(PRE_SYNC)["metadata"], "name": "before-x7k2p"}}, "guestbook")  # fmt: skip
    settings = tracked("helm-hooks", {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "helm-hooks-settings"}, "data": {"message": "hello"}},
                       "hooks")  # fmt: skip
    pre_install = tracked("helm-hooks", {"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "name": "helm-hooks-pre-install", "annotations": {"helm.sh/hook": "pre-install,pre-upgrade"}},
        "spec": {}}, "hooks")  # fmt: skip
    return [deployment, service, after, older_run, settings, pre_install]


def _run(repo: Path, snapshot: Path, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    report = tmp_path / "report.json"
    helm = cached_binary(HELM)
    proc_out = tmp_path / "out.txt"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["diff", "--repo", str(repo), "--repo-url", URL, "--snapshot", str(snapshot),
                     "--json", str(report), "--no-color", "--helm", str(helm), *extra])  # fmt: skip
    proc_out.write_text(buffer.getvalue())
    return code, json.loads(report.read_text()), buffer.getvalue()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path / "repo", _files())


def test_hooks_are_reported_apart_and_the_app_is_in_sync_right_after_a_sync(
    repo: GitRepo, tmp_path: Path
) -> None:
    code, report, out = _run(repo.path, write_snapshot(tmp_path / "after-sync.json", _after_sync()), tmp_path)
    assert code == 0, out
    assert statuses(report) == {
        "pre-post-sync": {
            "Deployment/guestbook/guestbook-ui": "unchanged",
            "Service/guestbook/guestbook-ui": "unchanged",
        },
        "helm-hooks": {
            "ConfigMap/hooks/helm-hooks-settings": "unchanged",
            # crd-install is no hook type Helm 3 knows: `helm template` itself leaves it out
        },
    }
    apps = {a["name"]: a for a in report["apps"]}
    assert [(h["kind"], h["name"], h["phases"], h["file"]) for h in apps["pre-post-sync"]["hooks"]] == [
        ("Job", "after", ["PostSync"], "pre-post-sync/post-sync-job.yaml"),
        ("Job", "before-*", ["PreSync"], "pre-post-sync/pre-sync-job.yaml"),
        ("ConfigMap", "manual-only", ["Skip"], "pre-post-sync/skip.yaml"),
        ("Job", "sync-failed-*", ["SyncFail"], "pre-post-sync/sync-fail-job.yaml"),
    ]
    assert sorted((h["kind"], h["name"], tuple(h["phases"])) for h in apps["helm-hooks"]["hooks"]) == [
        ("Job", "helm-hooks-post-*", ("PostSync",)),
        ("Job", "helm-hooks-pre-install", ("PreSync",)),
        ("Pod", "helm-hooks-test", ()),  # a Helm test: Argo CD never runs it, and never compares it
    ]
    assert (
        "3 hooks run at sync, not compared: Job/guestbook/after (PostSync), Job/guestbook/before-* (PreSync), "
        "Job/guestbook/sync-failed-* (SyncFail); 1 object never applied: ConfigMap/guestbook/manual-only (Skip)"
    ) in out
    assert (
        "2 hooks run at sync, not compared: Job/hooks/helm-hooks-post-* (PostSync), Job/hooks/helm-hooks-pre-install "
        "(PreSync); 1 object never applied: Pod/hooks/helm-hooks-test (never run)"
    ) in out


def test_drift_is_still_found_next_to_hooks(repo: GitRepo, tmp_path: Path) -> None:
    live = _after_sync()
    live[0]["spec"]["replicas"] = 2
    stray = tracked("pre-post-sync", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stray"}},
                    "guestbook")  # fmt: skip
    code, report, _ = _run(repo.path, write_snapshot(tmp_path / "s.json", [*live, stray]), tmp_path)
    assert code == 1
    found = statuses(report)["pre-post-sync"]
    assert {k: v for k, v in found.items() if v != "unchanged"} == {
        "Deployment/guestbook/guestbook-ui": "changed",
        "ConfigMap/guestbook/stray": "removed",
    }


@pytest.mark.parametrize(
    ("annotations", "status", "note"),
    [
        # Argo CD keeps it and shows the app OutOfSync (checked against the real one: tests/agents).
        ({"argocd.argoproj.io/sync-options": "Prune=false"}, "removed", "sync-options: Prune=false"),
        (
            {"argocd.argoproj.io/sync-options": "ServerSideApply=true, Prune=false"},
            "removed",
            "Prune=false",
        ),
        ({"argocd.argoproj.io/compare-options": "IgnoreExtraneous"}, "unchanged", "IgnoreExtraneous"),
        (
            {"argocd.argoproj.io/sync-options": "Delete=false"},
            "removed",
            None,
        ),  # only when the app is deleted
        ({"argocd.argoproj.io/hook": "PreSync"}, None, None),  # left by a hook run
        ({"helm.sh/hook": "pre-install"}, None, None),
    ],
)
def test_extraneous_objects_a_sync_keeps(
    repo: GitRepo, tmp_path: Path, annotations: dict[str, str], status: str | None, note: str | None
) -> None:
    extra = tracked("pre-post-sync", {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "extra", "annotations": annotations}}, "guestbook")  # fmt: skip
    code, report, _ = _run(repo.path, write_snapshot(tmp_path / "s.json", [*_after_sync(), extra]), tmp_path)
    assert code == (1 if status == "removed" else 0)
    resources = {
        r["id"]: r for r in next(a for a in report["apps"] if a["name"] == "pre-post-sync")["resources"]
    }
    found = resources.get("ConfigMap/guestbook/extra")
    assert (found["status"] if found else None) == status
    if note:
        assert found is not None and any(note in n for n in found["notes"])


def test_preview_compares_hooks_by_their_generate_name(repo: GitRepo, tmp_path: Path) -> None:
    repo.write({"pre-post-sync/pre-sync-job.yaml": PRE_SYNC.replace('"5"', '"10"')})
    repo.commit("longer pre-sync")
    report = tmp_path / "preview.json"
    code = main(["preview", "--repo", str(repo.path), "--repo-url", URL, "--base", "HEAD~1", "--no-cache",
                 "--work-dir", str(tmp_path / "work"), "--json", str(report), "--no-color",
                 "--helm", str(cached_binary(HELM))])  # fmt: skip
    assert code == 1
    changed = {
        (app, rid): s
        for app, rs in statuses(json.loads(report.read_text())).items()
        for rid, s in rs.items()
        if s != "unchanged"
    }
    assert changed == {("pre-post-sync", "Job/guestbook/before-*"): "changed"}


# ---------------------------------------------------------------------------------------------------------------
# Flux: helm-controller's hooks and kustomize-controller's reconcile: disabled


def _flux_app(kind: str) -> App:
    return App(name="apps", sources=(), destination=Destination(namespace="apps"), kind=kind)


def _diff(
    app: App, desired: list[dict[str, Any]], live: list[dict[str, Any]]
) -> dict[str, tuple[Status, tuple[str, ...]]]:
    from gitops_check.diff.hooks import split_hooks

    objects, _ = split_hooks(app, [RawObject(b, Origin(app.name, "x.yaml")) for b in desired])
    keyed = assign_keys(app, objects, KindScopes())
    state = LiveState({ResourceKey("", b["kind"], "apps", b["metadata"]["name"]): b for b in live})
    settings = DiffSettings(frozenset({"kustomize-controller"}), frozenset())
    return {str(d.key): (d.status, d.notes) for d in diff_app(app, keyed.manifests, state, settings)}


def _cm(name: str, value: str, **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "apps"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value}}


def test_flux_reconcile_disabled_is_neither_compared_nor_pruned() -> None:
    app = _flux_app("flux-kustomization")
    disabled = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}
    owner = {
        "labels": {
            "kustomize.toolkit.fluxcd.io/name": "apps",
            "kustomize.toolkit.fluxcd.io/namespace": "apps",
        }
    }

    def live(name: str, value: str, **annotations: str) -> dict[str, Any]:
        body = _cm(name, value, **annotations)
        body["metadata"].update(owner)
        return body

    found = _diff(
        App(**{**app.__dict__, "tracking": app.tracking.__class__(flux_owner=("apps", "apps"))}),
        [_cm("in-git", "new", **disabled), _cm("live-disabled", "new"), _cm("hook", "x", **{"helm.sh/hook": "test"})],
        [live("in-git", "old"), live("live-disabled", "old", **disabled), live("hook", "x", **{"helm.sh/hook": "test"}),
         live("gone", "x", **disabled), live("gone-pruned", "x")],
    )  # fmt: skip
    assert found == {
        "ConfigMap/apps/in-git": (Status.UNCHANGED, ("skipped: kustomize.toolkit.fluxcd.io/reconcile: disabled",)),
        "ConfigMap/apps/live-disabled": (
            Status.UNCHANGED, ("skipped: kustomize.toolkit.fluxcd.io/reconcile: disabled",)),
        "ConfigMap/apps/hook": (Status.UNCHANGED, ()),  # kustomize-controller has no hooks: compared
        "ConfigMap/apps/gone": (Status.UNCHANGED, ("not in Git, but a sync keeps it "
                                                   "(kustomize.toolkit.fluxcd.io/reconcile: disabled)",)),
        "ConfigMap/apps/gone-pruned": (Status.REMOVED, ()),
    }  # fmt: skip


def test_flux_helmrelease_leaves_helm_hooks_out() -> None:
    app = _flux_app("flux-helmrelease")
    found = _diff(app, [_cm("a", "1"), _cm("migrate", "1", **{"helm.sh/hook": "pre-upgrade"}),
                        _cm("unknown", "1", **{"helm.sh/hook": "crd-install"}),
                        _cm("argo", "1", **{"argocd.argoproj.io/hook": "PreSync"})], [])  # fmt: skip
    # Helm drops every helm.sh/hook object from the release (unknown types too); Argo CD's annotation means nothing.
    assert sorted(found) == ["ConfigMap/apps/a", "ConfigMap/apps/argo"]
