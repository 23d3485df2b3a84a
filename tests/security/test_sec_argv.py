"""Issue 10 item 1: no value from the repository can become a command-line option of helm or kustomize.

A release name ``--post-renderer=/bin/sh`` once ran a shell on the rendered manifests and the run said "In
sync". The attack here is the same class on every field that reaches an argv: each is set to
``--post-renderer=<a script that leaves a marker>`` (and ``--load-restrictor``-style values for kustomize), the
real binaries run, and the marker must never appear. Release names are checked as Helm checks them (its
``ValidateReleaseName``) and refused for that app only (exit 2, the other apps still checked).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from gitops_check.errors import RenderError
from tests.helpers.gitrepo import GitRepo
from tests.helpers.hostile import REPO_URL, helm_bin, kustomize_bin, run_diff

CHART = {
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "charts/web/values.yaml": "a: 1\n",
    "charts/web/templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  a: {{ .Values.a | quote }}\n"
    ),
    "plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: ns\ndata:\n  k: v\n",
}


def evil_script(tmp_path: Path) -> tuple[Path, Path]:
    """A post-renderer that proves it ran by writing a marker (and passes the manifests through)."""
    marker = tmp_path / "PWNED"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, marker


def application(name: str, helm: str = "", namespace: str = "ns", path: str = "charts/web") -> str:
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
        f"metadata:\n  name: {json.dumps(name)}\n  namespace: argocd\n"
        f"spec:\n  project: default\n  source:\n    repoURL: {REPO_URL}\n    path: {path}\n"
        f"{helm}"
        f"  destination:\n    server: https://kubernetes.default.svc\n    namespace: {json.dumps(namespace)}\n"
    )


def make_repo(tmp_path: Path, files: dict[str, str]) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    repo.git("remote", "add", "origin", REPO_URL)
    repo.write({**CHART, **files})
    repo.commit("hostile")
    return repo


def _helm_fields(hostile: str) -> dict[str, tuple[str, str, str]]:
    """field -> (Application name, spec.source.helm block, destination namespace)."""
    q = json.dumps(hostile)
    return {
        "releaseName": ("web", f"    helm:\n      releaseName: {q}\n", "ns"),
        "app name as release name": (hostile, "", "ns"),
        "helm.namespace": ("web", f"    helm:\n      namespace: {q}\n", "ns"),
        "destination namespace": ("web", "", hostile),
        "kubeVersion": ("web", f"    helm:\n      kubeVersion: {q}\n", "ns"),
        "apiVersions": ("web", f"    helm:\n      apiVersions: [{q}]\n", "ns"),
        "parameter name": ("web", f"    helm:\n      parameters: [{{name: {q}, value: x}}]\n", "ns"),
        "parameter value": ("web", f"    helm:\n      parameters: [{{name: a, value: {q}}}]\n", "ns"),
        "valueFiles": ("web", f"    helm:\n      valueFiles: [{q}]\n      ignoreMissingValueFiles: true\n", "ns"),
        "fileParameters name": (
            "web", f"    helm:\n      fileParameters: [{{name: {q}, path: values.yaml}}]\n", "ns"
        ),
    }  # fmt: skip


@pytest.mark.parametrize("field", sorted(_helm_fields("x")))
def test_no_argo_cd_helm_field_becomes_an_option(
    field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script, marker = evil_script(tmp_path)
    name, helm, namespace = _helm_fields(f"--post-renderer={script}")[field]
    repo = make_repo(tmp_path, {"apps/web.yaml": application(name, helm, namespace)})
    run = run_diff(capsys, tmp_path, repo.path, "--helm", str(helm_bin()))
    assert not marker.exists(), f"{field}: the post-renderer ran"
    # Refused, a helm error, or taken as the plain value it is (an odd API version): the chart's ConfigMap is
    # missing from the empty cluster, so the answer is never "in sync".
    assert run.code in (1, 2)
    if field in ("releaseName", "app name as release name"):
        assert run.code == 2 and "not a valid Helm release name" in run.messages(name)
    assert "Traceback" not in run.everything


def test_hostile_release_name_is_that_apps_error_and_others_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script, marker = evil_script(tmp_path)
    hostile = json.dumps(f"--post-renderer={script}")
    repo = make_repo(tmp_path, {
        "apps/web.yaml": application("web", f"    helm:\n      releaseName: {hostile}\n"),
        "apps/plain.yaml": application("plain", path="plain"),
    })  # fmt: skip
    run = run_diff(capsys, tmp_path, repo.path, "--helm", str(helm_bin()))
    assert not marker.exists()
    assert run.code == 2
    assert run.app("web")["status"] == "error"
    assert "not a valid Helm release name" in run.messages("web")
    assert run.app("plain")["status"] == "in-sync"  # still checked


def test_flux_release_name_and_project_app_name_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script, marker = evil_script(tmp_path)
    hostile = f"--post-renderer={script}"
    release = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: ns}\n"
        f"spec:\n  releaseName: {json.dumps(hostile)}\n"
        "  chart: {spec: {chart: ./charts/web, sourceRef: {kind: GitRepository, name: flux-system, "
        "namespace: flux-system}}}\n"
    )
    sync = (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        f"metadata: {{name: flux-system, namespace: flux-system}}\nspec: {{url: {REPO_URL}, interval: 1m}}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: flux-system, namespace: flux-system}\n"
        "spec: {path: ./flux-apps, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}\n"
    )
    repo = make_repo(tmp_path, {"flux-system/sync.yaml": sync, "flux-apps/release.yaml": release})
    run = run_diff(capsys, tmp_path, repo.path, "--helm", str(helm_bin()))
    assert not marker.exists()
    assert run.code == 2
    assert "not a valid Helm release name" in run.everything

    project = {"version": 1, "apps": [{"name": hostile, "path": "charts/web", "namespace": "ns"}]}
    other = make_repo(tmp_path / "p", {".gitops-check.yaml": json.dumps(project)})
    run = run_diff(capsys, tmp_path, other.path, "--helm", str(helm_bin()))
    assert not marker.exists()
    assert run.code == 2


@pytest.mark.parametrize(
    "name",
    ["web", "a", "web.prod", "a-b-c", "x" * 53, "0abc"],
)
def test_helm_accepts_these_release_names(name: str) -> None:
    from gitops_check.render.helm import checked_release_name

    assert checked_release_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-x",
        "--post-renderer=/bin/sh",
        "Web",
        "web-",
        "a_b",
        "x" * 54,
        "a..b",
        "web\n",
        "a b",
        ".a",
        "a/b",
    ],
)
def test_helm_refuses_these_release_names(name: str) -> None:
    from gitops_check.render.helm import checked_release_name

    with pytest.raises(RenderError, match="not a valid Helm release name"):
        checked_release_name(name)


def test_kustomize_folder_is_never_an_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An app path that starts with a dash is a folder name, not a flag (``--enable-exec``, ``--enable-helm``)."""
    folder = "--enable-alpha-plugins"
    repo = make_repo(tmp_path, {
        f"{folder}/kustomization.yaml": "resources: [cm.yaml]\n",
        f"{folder}/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dash, namespace: ns}\n",
        ".gitops-check.yaml": json.dumps({"version": 1, "apps": [{"name": "dash", "path": folder, "namespace": "ns"}]}),
    })  # fmt: skip
    run = run_diff(capsys, tmp_path, repo.path, "--kustomize", str(kustomize_bin()))
    assert run.code in (1, 2) and "Traceback" not in run.everything
    if run.code == 1:  # rendered as a folder: the ConfigMap is there
        assert run.app("dash")["status"] == "drifted"


def test_kustomize_helm_charts_release_name_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """kustomize builds ``helm template <releaseName> <chart>`` itself: the name must not become an option there."""
    script, marker = evil_script(tmp_path)
    repo = make_repo(tmp_path, {
        "kust/kustomization.yaml": (
            f"helmCharts:\n- name: web\n  releaseName: {json.dumps(f'--post-renderer={script}')}\n"
            "helmGlobals: {chartHome: ../charts}\n"
        ),
        ".gitops-check.yaml": json.dumps({"version": 1, "apps": [{"name": "kust", "path": "kust", "namespace": "ns"}]}),
    })  # fmt: skip
    run = run_diff(capsys, tmp_path, repo.path, "--kustomize", str(kustomize_bin()), "--helm", str(helm_bin()),
                   "--kustomize-build-options", "--enable-helm --load-restrictor LoadRestrictionsNone")  # fmt: skip
    assert not marker.exists()
    assert run.code == 2
    assert "not a valid Helm release name" in run.messages("kust")
