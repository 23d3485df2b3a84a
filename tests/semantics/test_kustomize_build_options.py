"""Kustomize build options as Argo CD applies them (issue 12, item 2), through full ``gitops-check diff`` runs.

The layout is the one public repositories use for kustomize's Helm inflation: ``argocd-cm`` in the repository
with ``kustomize.buildOptions: --enable-helm --load-restrictor LoadRestrictionsNone``, kustomizations with
``helmCharts`` whose chart is vendored under ``charts/``, a patch shared from outside the app folder, a
registered kustomize version with its own options, and a Flux Kustomization pointing at the same kind of folder
(kustomize-controller never inflates charts). The expected objects come from the real ``kustomize build`` run
here with the same options, not from gitops-check.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitops_check import yamlio
from gitops_check.cli import main
from tests.helpers.binaries import HELM, KUSTOMIZE, cached_binary
from tests.semantics.argo_repos import URL, application, make_repo, statuses, tracked, write_snapshot

ARGOCD_CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels: {app.kubernetes.io/part-of: argocd}
data:
  kustomize.buildOptions: --enable-helm --load-restrictor LoadRestrictionsNone
  kustomize.path.v4.5.7: /custom-tools/kustomize_4_5_7
  kustomize.buildOptions.v4.5.7: --load-restrictor LoadRestrictionsNone
"""

CHART = {
    "apps/podinfo/charts/podinfo/Chart.yaml": "apiVersion: v2\nname: podinfo\nversion: 6.7.0\nappVersion: 6.7.0\n",
    "apps/podinfo/charts/podinfo/values.yaml": "replicaCount: 1\nmessage: from-chart\n",
    "apps/podinfo/charts/podinfo/templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {chart: "{{ .Chart.Name }}-{{ .Chart.Version }}"}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
      - name: podinfo
        image: ghcr.io/stefanprodan/podinfo:{{ .Chart.AppVersion }}
        env: [{name: PODINFO_UI_MESSAGE, value: {{ .Values.message | quote }}}]
""",
    "apps/podinfo/charts/podinfo/templates/test.yaml": """apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: {"helm.sh/hook": test}
spec:
  containers: [{name: curl, image: curlimages/curl}]
""",
}

PODINFO_KUSTOMIZATION = """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: podinfo
helmCharts:
- name: podinfo
  releaseName: podinfo
  valuesInline:
    message: from-kustomization
  valuesFile: values-prod.yaml
resources:
- namespace.yaml
patches:
- path: ../../shared/replicas-patch.yaml
"""


def _files() -> dict[str, str]:
    return {
        "argocd/argocd-cm.yaml": ARGOCD_CM,
        "argocd/apps/podinfo.yaml": application("podinfo", "apps/podinfo", "podinfo"),
        "apps/podinfo/kustomization.yaml": PODINFO_KUSTOMIZATION,
        "apps/podinfo/values-prod.yaml": "replicaCount: 2\n",
        "apps/podinfo/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n",
        "shared/replicas-patch.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  replicas: 3\n"
        ),
        **CHART,
    }


def _kustomize_build(folder: Path, *options: str) -> list[dict[str, Any]]:
    """The oracle: the real kustomize, with the real helm, as Argo CD's repo server runs them."""
    helm = cached_binary(HELM)
    out = subprocess.run(
        [str(cached_binary(KUSTOMIZE)), "build", str(folder), *options, "--helm-command", str(helm)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [d.data for d in yamlio.load_yaml_documents(out.stdout, "oracle")]


def _run(repo: Path, snapshot: Path, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report.json"
    code = main(["diff", "--repo", str(repo), "--repo-url", URL, "--snapshot", str(snapshot), "--json", str(report),
                 "--no-color", "--helm", str(cached_binary(HELM)),
                 "--kustomize", str(cached_binary(KUSTOMIZE)), "--assume-complete-snapshot", *extra])  # fmt: skip
    return code, json.loads(report.read_text())


def _errors(report: dict[str, Any], app: str) -> list[str]:
    found = [a for a in report["apps"] if a["name"] == app]
    messages = [e["message"] for a in found for e in a["errors"]]
    return messages + [e["message"] for e in report["errors"] if e.get("app") == app]


def _synced(objects: list[dict[str, Any]], app: str) -> list[dict[str, Any]]:
    return [tracked(app, o, o["metadata"].get("namespace", "podinfo")) for o in objects if o["kind"] != "Namespace"] + [
        tracked(app, o, "") | {"metadata": {**o["metadata"], "annotations": {
            "argocd.argoproj.io/tracking-id": f"{app}:/Namespace:/{o['metadata']['name']}"}}}
        for o in objects if o["kind"] == "Namespace"
    ]  # fmt: skip


def test_argocd_cm_build_options_inflate_helm_charts(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", _files())
    expected = _kustomize_build(
        repo.path / "apps/podinfo", "--enable-helm", "--load-restrictor", "LoadRestrictionsNone"
    )
    deployment = next(o for o in expected if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 3  # the shared patch from outside the folder applied
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "from-kustomization"
    live = _synced([o for o in expected if o["kind"] != "Pod"], "podinfo")
    code, report = _run(repo.path, write_snapshot(tmp_path / "synced.json", live), tmp_path)
    assert code == 0, report
    assert statuses(report) == {
        "podinfo": {"Deployment/podinfo/podinfo": "unchanged", "Namespace/podinfo": "unchanged"}
    }
    [app] = report["apps"]
    assert [(h["kind"], h["name"]) for h in app["hooks"]] == [("Pod", "podinfo-test")]  # Helm's test hook

    live[0]["spec"]["replicas"] = 1
    code, report = _run(repo.path, write_snapshot(tmp_path / "drift.json", live), tmp_path)
    assert code == 1
    assert statuses(report)["podinfo"]["Deployment/podinfo/podinfo"] == "changed"


def _with(tmp_path: Path, files: dict[str, str]) -> Path:
    return make_repo(tmp_path / "repo", {**_files(), **files}).path


def test_without_enable_helm_the_app_is_not_checked_with_a_clear_reason(tmp_path: Path) -> None:
    cm = ARGOCD_CM.replace(
        "kustomize.buildOptions: --enable-helm --load-restrictor", "kustomize.buildOptions: --load-restrictor"
    )
    repo = _with(tmp_path, {"argocd/argocd-cm.yaml": cm})
    code, report = _run(repo, write_snapshot(tmp_path / "s.json", []), tmp_path)
    assert code == 2
    [message] = _errors(report, "podinfo")
    assert message.startswith(
        "apps/podinfo/kustomization.yaml inflates the Helm chart podinfo (helmCharts), which needs --enable-helm in "
        "kustomize.buildOptions in argocd-cm (argocd/argocd-cm.yaml:1)"
    )
    assert "\n" not in message
    # The job may say what the real argocd-cm has: its options win.
    code, report = _run(repo, write_snapshot(tmp_path / "s.json", []), tmp_path,
                        "--kustomize-build-options", "--enable-helm --load-restrictor=LoadRestrictionsNone")  # fmt: skip
    assert code == 1 and _errors(report, "podinfo") == []


def test_load_restrictor_none_never_reads_outside_the_repository(tmp_path: Path) -> None:
    repo = _with(tmp_path, {"apps/podinfo/kustomization.yaml": PODINFO_KUSTOMIZATION.replace(
        "../../shared/replicas-patch.yaml", "../../../../../../etc/hostname")})  # fmt: skip
    code, report = _run(repo, write_snapshot(tmp_path / "s.json", []), tmp_path)
    assert code == 2
    [message] = _errors(report, "podinfo")
    assert "outside the repository" in message and "etc/hostname" in message


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("v4.5.7", "which needs --enable-helm in kustomize.buildOptions.v4.5.7 in argocd-cm"),
        ("v5.0.0", "kustomize version v5.0.0 is not registered in argocd-cm (argocd/argocd-cm.yaml:1)"),
    ],
)
def test_the_applications_kustomize_version_picks_its_options(
    tmp_path: Path, version: str, message: str
) -> None:
    app = application("podinfo", "apps/podinfo", "podinfo", kustomize={"version": version})
    repo = _with(tmp_path, {"argocd/apps/podinfo.yaml": app})
    code, report = _run(repo, write_snapshot(tmp_path / "s.json", []), tmp_path)
    assert code == 2
    [found] = _errors(report, "podinfo")
    assert message in found


def test_a_chart_from_a_chart_repository_is_not_checked(tmp_path: Path) -> None:
    """Offline here; with the network the chart is fetched under the job's policy (tests/remote)."""
    kustomization = PODINFO_KUSTOMIZATION.replace(
        "- name: podinfo\n", "- name: redis\n  repo: https://charts.bitnami.com/bitnami\n  version: 19.0.1\n"
    )
    repo = _with(tmp_path, {"apps/podinfo/kustomization.yaml": kustomization})
    code, report = _run(repo, write_snapshot(tmp_path / "s.json", []), tmp_path, "--offline")
    assert code == 2
    [message] = _errors(report, "podinfo")
    assert (
        "not checked: apps/podinfo/kustomization.yaml inflates the Helm chart redis 19.0.1 from " in message
    )
    assert "apps/podinfo/charts/redis-19.0.1/redis" in message and "the run is offline" in message


EXEC_TRANSFORMER = """apiVersion: example.com/v1
kind: Labeller
metadata:
  name: add-team
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ./label.sh
"""


def test_exec_functions_run_only_when_the_job_allows_them(tmp_path: Path) -> None:
    cm = ARGOCD_CM.replace("--enable-helm --load-restrictor LoadRestrictionsNone",
                           "--enable-helm --load-restrictor LoadRestrictionsNone --enable-alpha-plugins --enable-exec")  # fmt: skip
    marker = tmp_path / "ran"
    repo = _with(tmp_path, {
        "argocd/argocd-cm.yaml": cm,
        "apps/podinfo/kustomization.yaml": PODINFO_KUSTOMIZATION + "transformers:\n- labeller.yaml\n",
        "apps/podinfo/labeller.yaml": EXEC_TRANSFORMER,
        "apps/podinfo/label.sh": f"#!/bin/sh\ntouch {marker}\ncat\n",
    })  # fmt: skip
    (repo / "apps/podinfo/label.sh").chmod(0o755)
    subprocess.run(
        ["git", "-C", str(repo), "update-index", "--chmod=+x", "apps/podinfo/label.sh"], check=True
    )
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "x"],
                   check=True)  # fmt: skip
    code, report = _run(repo, write_snapshot(tmp_path / "s.json", []), tmp_path)
    assert code == 2 and not marker.exists()
    [message] = _errors(report, "podinfo")
    assert "enables KRM functions (--enable-alpha-plugins, --enable-exec)" in message
    assert "--allow-kustomize-exec" in message
    code, report = _run(repo, write_snapshot(tmp_path / "s.json", []), tmp_path, "--allow-kustomize-exec")
    assert marker.exists()
    assert _errors(report, "podinfo") == [] and code == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--enable-helm --mount type=bind,source=/etc,target=/x", "'--mount' is not supported"),
        ("--enable-helm --load-restrictor LoadRestrictionsAnywhere", "unknown load restrictor"),
        ("--enable-helm -o /tmp/out", "'-o' is not supported"),
    ],
)
def test_build_options_gitops_check_does_not_know_make_the_app_not_checked(
    tmp_path: Path, options: str, message: str
) -> None:
    cm = ARGOCD_CM.replace("--enable-helm --load-restrictor LoadRestrictionsNone", options)
    repo = _with(tmp_path, {"argocd/argocd-cm.yaml": cm})
    code, report = _run(repo, write_snapshot(tmp_path / "s.json", []), tmp_path)
    assert code == 2
    [found] = _errors(report, "podinfo")
    assert message in found and found.startswith("not checked: kustomize.buildOptions in argocd-cm")


def test_flux_does_not_inflate_helm_charts(tmp_path: Path) -> None:
    flux = {
        "clusters/prod/flux-system/gotk-sync.yaml": f"""apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{url: "{URL}", interval: 1m}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: podinfo, namespace: flux-system}}
spec:
  path: ./apps/podinfo
  prune: true
  sourceRef: {{kind: GitRepository, name: flux-system}}
""",
    }
    files = {k: v for k, v in _files().items() if not k.startswith("argocd/")}
    repo = make_repo(tmp_path / "repo", {**files, **flux}).path
    code, report = _run(repo, write_snapshot(tmp_path / "s.json", []), tmp_path,
                        "--kustomize-build-options", "--enable-helm")  # fmt: skip
    assert code == 2
    messages = [e["message"] for a in report["apps"] for e in a["errors"]]
    assert any(
        "apps/podinfo/kustomization.yaml inflates the Helm chart podinfo (helmCharts), which Flux's "
        "kustomize-controller never does" in m
        for m in messages
    ), messages
