"""Issue 10 item 4 and the brief's rule: the checked commit cannot read the job's environment or pick a binary.

The project file is part of the commit, so a pull request writes it. ``fromEnv`` reads only the variables the
job names with ``--allow-env`` (and their values stay secret whatever kind the entry claims); ``render.helm`` /
``render.kustomize`` only *require* a build the job must have chosen; ``timeout``/``workers`` only lower.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from gitops_check.project.config import (
    RenderOptions,
    parse_project,
    required_build_matches,
    with_project_render,
)
from tests.helpers.gitrepo import GitRepo
from tests.helpers.hostile import REPO_URL, kustomize_bin, run_diff

TOKEN = "ghp_job-token-that-must-never-print-0123456789"

FLUX = {
    "clusters/prod/fleet.yaml": (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        f"metadata: {{name: fleet, namespace: flux-system}}\nspec: {{url: {REPO_URL}, interval: 1m}}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: apps, namespace: flux-system}\n"
        "spec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  targetNamespace: apps\n"
        "  sourceRef: {kind: GitRepository, name: fleet}\n"
        "  postBuild: {substituteFrom: [{kind: KIND, name: leak}]}\n"
    ),
    "apps/kustomization.yaml": "resources: [cm.yaml]\n",
    "apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shown}\ndata: {value: '${tok}'}\n",
}


def hostile_project(kind: str) -> str:
    objects = [{"kind": kind, "namespace": "flux-system", "name": "leak", "fromEnv": {"tok": "GITHUB_TOKEN"}}]
    return yaml.safe_dump({"version": 1, "discovery": {"flux": {"objects": objects}}})


def fleet(tmp_path: Path, kind: str) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    repo.git("remote", "add", "origin", REPO_URL)
    files = {**FLUX, ".gitops-check.yaml": hostile_project(kind)}
    files["clusters/prod/fleet.yaml"] = files["clusters/prod/fleet.yaml"].replace("KIND", kind)
    repo.write(files)
    repo.commit("fromEnv")
    return repo


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
def test_from_env_cannot_read_what_the_job_did_not_allow(
    kind: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    repo = fleet(tmp_path, kind)
    run = run_diff(capsys, tmp_path, repo.path, "--kustomize", str(kustomize_bin()))
    assert TOKEN not in run.everything
    assert run.code == 2
    assert "--allow-env GITHUB_TOKEN" in run.everything  # says what the job would have to do


def test_an_allowed_variable_stays_secret_even_as_a_config_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job allows a variable for a Secret; the commit re-labels it a ConfigMap to print it: refused."""
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    repo = fleet(tmp_path, "ConfigMap")
    run = run_diff(
        capsys, tmp_path, repo.path, "--kustomize", str(kustomize_bin()), "--allow-env", "GITHUB_TOKEN"
    )
    assert TOKEN not in run.everything
    assert run.code == 2


def test_project_file_cannot_choose_a_binary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``render.helm: helm-evil`` on PATH is never run: the project file only states a requirement."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "PWNED"
    evil = bin_dir / "helm-evil"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\necho 'version.BuildInfo{{Version:\"v9.9.9\"}}'\n")
    evil.chmod(0o755)
    real = shutil.which("helm") or ""
    repo = GitRepo.init(tmp_path / "repo")
    project = {"version": 1, "render": {"helm": "helm-evil"},
               "apps": [{"name": "web", "path": "chart", "namespace": "ns"}]}  # fmt: skip
    repo.write({
        ".gitops-check.yaml": json.dumps(project),
        "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n",
    })  # fmt: skip
    repo.commit("pick a binary")
    import os

    old_path = os.environ.get("PATH", "")
    try:
        os.environ["PATH"] = f"{bin_dir}:{old_path}"
        run_diff(capsys, tmp_path, repo.path, *(["--helm", real] if real else []))
    finally:
        os.environ["PATH"] = old_path
    assert not marker.exists()


def test_render_helm_is_a_requirement_not_a_choice() -> None:
    proj = parse_project("version: 1\nrender: {helm: helm4, kustomize: kustomize-v5.8.1}\n")
    merged = with_project_render(RenderOptions(helm_binary="/opt/helm3/helm"), proj)
    assert merged.helm_binary == "/opt/helm3/helm"  # the job's choice stays
    assert (merged.helm_required, merged.kustomize_required) == ("helm4", "kustomize-v5.8.1")
    assert required_build_matches("helm4", "helm", "v4.3.1")
    assert not required_build_matches("helm4", "helm", "v3.22.0")
    assert required_build_matches("helm-v3.22", "helm", "v3.22.0")
    assert not required_build_matches("helm-v3.22.0", "helm", "v3.22.1")
    assert required_build_matches("helm", "helm", "v3.22.0")


def test_project_file_only_lowers_timeout_and_workers() -> None:
    proj = parse_project("version: 1\nrender: {timeout: 10h, workers: 64}\n")
    merged = with_project_render(RenderOptions(timeout=300.0, workers=4), proj)
    assert (merged.timeout, merged.workers) == (300.0, 4)
    lower = with_project_render(
        RenderOptions(timeout=300.0, workers=4),
        parse_project("version: 1\nrender: {timeout: 30s, workers: 2}\n"),
    )
    assert (lower.timeout, lower.workers) == (30.0, 2)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "prod", "context": "prod", "kubeconfig": "ci/kubeconfig"}, "cannot choose a kubeconfig"),
        ({"name": "prod", "snapshot": "/etc/passwd"}, "must be a relative path inside"),
        ({"name": "prod", "snapshot": "../../elsewhere.json"}, "must be a relative path inside"),
        ({"name": "prod", "snapshot": "~/.kube/config"}, "must be a relative path inside"),
    ],
)
def test_project_file_clusters_cannot_point_at_the_machine(
    entry: dict[str, str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A committed kubeconfig could run its exec plugin with the job's environment; a snapshot path could read any
    file of the machine. Both are refused (exit 2) before anything is read."""
    marker = tmp_path / "PWNED"
    repo = GitRepo.init(tmp_path / "repo")
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1",
                                                  "command": "sh", "args": ["-c", f"touch {marker}"]}}}],
    }  # fmt: skip
    project = {
        "version": 1,
        "clusters": [entry],
        "apps": [{"name": "plain", "path": "plain", "namespace": "ns"}],
    }
    repo.write({
        ".gitops-check.yaml": json.dumps(project),
        "ci/kubeconfig": yaml.safe_dump(kubeconfig),
        "plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: ns}\n",
    })  # fmt: skip
    repo.commit("clusters")
    import os

    cwd = os.getcwd()
    os.chdir(repo.path)  # where CI runs: in the checkout
    try:
        run = run_diff(capsys, tmp_path, repo.path, "--live", "--kubeconfig", str(tmp_path / "none"))
    finally:
        os.chdir(cwd)
    assert not marker.exists()
    assert run.code == 2
    assert message in run.everything
