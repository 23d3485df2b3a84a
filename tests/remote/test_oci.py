"""OCI: charts pushed with ``helm push`` to the real distribution registry (HTTPS, self-signed CA; anonymous and
htpasswd basic auth with ``helm registry login``), Flux artifacts pushed as ``flux push artifact`` lays them out;
each rendered in a full ``gitops-check diff`` and compared with ``helm template`` / ``kustomize build`` of the
same content.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gitops_check.cli import cli
from gitops_check.remote import http
from tests.helpers.binaries import KUSTOMIZE, cached_binary
from tests.helpers.chartrepo import helm_binary, run
from tests.helpers.gitrepo import GitRepo
from tests.helpers.registry import Registry, running_registry
from tests.remote.conftest import ChartSite, helm_template, snapshot_of

PASSWORD = "oci-Pa55word-xyz"
KS_FILES = {
    "deploy/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: art-\n",
    "deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  from: artifact\n",
}


def push_charts(site: ChartSite, registry: Registry, env: dict[str, str]) -> None:
    for tgz in sorted(site.folder.glob("demo-*.tgz")):
        run_env(
            [
                helm_binary(),
                "push",
                str(tgz),
                f"oci://{registry.host}/charts",
                "--ca-file",
                str(registry.cert),
            ],
            env,
        )


def run_env(argv: list[str], env: dict[str, str]) -> None:
    import subprocess

    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env}, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def anonymous(site: ChartSite, tmp_path: Path) -> Iterator[Registry]:
    with running_registry(tmp_path / "registry") as registry:
        push_charts(site, registry, {"HELM_REGISTRY_CONFIG": str(tmp_path / "helm-registry.json")})
        yield registry


def git_repo(tmp_path: Path, files: dict[str, str]) -> GitRepo:
    repo = GitRepo.init(tmp_path / "gitops")
    repo.write(files)
    repo.commit("apps")
    return repo


def check(
    repo: GitRepo, snapshot: Path, registry: Registry, *extra: str, env: dict[str, str] | None = None
) -> tuple[Result, dict]:
    report = repo.path.parent / "report.json"
    report.unlink(missing_ok=True)
    result = CliRunner().invoke(
        cli,
        ["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--assume-complete-snapshot", "--json",
         str(report), "--no-color", "--allow-host", "127.0.0.1", "--fetch-ca-file", str(registry.cert), *extra],
        env={"NO_COLOR": "1", **(env or {})},
        catch_exceptions=False,
    )  # fmt: skip
    return result, json.loads(report.read_text()) if report.exists() else {}


def argo_oci_app(registry: Registry, version: str) -> str:
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: demo-app\n  namespace: argocd\n"
        f"spec:\n  project: default\n  source:\n    repoURL: oci://{registry.host}/charts\n    chart: demo\n"
        f"    targetRevision: '{version}'\n"
        "  destination:\n    server: https://kubernetes.default.svc\n    namespace: apps\n"
    )


def flux(kind_files: dict[str, str]) -> dict[str, str]:
    names = sorted(kind_files)
    return {
        **{f"clusters/prod/{n}": t for n, t in kind_files.items()},
        "clusters/prod/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n" + "".join(f"  - {n}\n" for n in names),
    }


def test_argocd_oci_chart_range_like_helm_template(
    site: ChartSite, anonymous: Registry, tmp_path: Path
) -> None:
    repo = git_repo(tmp_path, {"apps/demo.yaml": argo_oci_app(anonymous, "1.2.*")})
    snapshot = snapshot_of(
        helm_template(site.folder / "demo-1.2.5.tgz", "demo-app", "apps"), "apps", tmp_path / "s.json"
    )
    result, _data = check(repo, snapshot, anonymous)
    assert result.exit_code == 0, result.output
    assert (
        "demo 1.2.* -> 1.2.5 (sha256:" in result.output
        and f"from oci://{anonymous.host}/charts/demo" in result.output
    )
    # exact version: a warm cache answers without a single request
    repo.write({"apps/demo.yaml": argo_oci_app(anonymous, "1.2.4")})
    repo.commit("pin")
    snapshot = snapshot_of(
        helm_template(site.folder / "demo-1.2.4.tgz", "demo-app", "apps"), "apps", tmp_path / "p.json"
    )
    first, _ = check(repo, snapshot, anonymous)
    assert first.exit_code == 0, first.output
    before = http.STATS.total
    second, _ = check(repo, snapshot, anonymous)
    assert second.exit_code == 0, second.output
    assert http.STATS.total == before


def test_flux_oci_helmrepository_and_chartref(site: ChartSite, anonymous: Registry, tmp_path: Path) -> None:
    files = flux({
        "repo.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: oci\n"
                     f"  namespace: flux-system\nspec:\n  type: oci\n  url: oci://{anonymous.host}/charts\n",
        "a.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: a\n  namespace: apps\n"
                  "spec:\n  chart:\n    spec:\n      chart: demo\n      version: '>=1.0.0 <2.0.0'\n"
                  "      sourceRef: {kind: HelmRepository, name: oci, namespace: flux-system}\n",
        "ocirepo.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: demo\n"
                        f"  namespace: apps\nspec:\n  url: oci://{anonymous.host}/charts/demo\n"
                        "  ref: {semver: '~1.2.0'}\n"
                        "  layerSelector: {mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip, operation: copy}\n",
        "b.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: b\n  namespace: apps\n"
                  "spec:\n  chartRef: {kind: OCIRepository, name: demo}\n  values: {greeting: bee}\n",
    })  # fmt: skip
    repo = git_repo(tmp_path, files)
    expected = helm_template(site.folder / "demo-1.2.5.tgz", "a", "apps") + helm_template(
        site.folder / "demo-1.2.5.tgz", "b", "apps", "--set", "greeting=bee"
    )
    result, data = check(repo, snapshot_of(expected, "apps", tmp_path / "s.json"), anonymous)
    statuses = {a["name"]: a["status"] for a in data["apps"]}
    assert statuses.get("HelmRelease/apps/a") == "in-sync", result.output
    assert statuses.get("HelmRelease/apps/b") == "in-sync", result.output
    assert "~1.2.0 -> 1.2.5" in result.output


def test_flux_oci_artifact_kustomization_like_kustomize_build(anonymous: Registry, tmp_path: Path) -> None:
    digest = anonymous.push_artifact("manifests/app", "v1", KS_FILES)
    unpacked = tmp_path / "unpacked"
    for name, text in KS_FILES.items():
        (unpacked / name).parent.mkdir(parents=True, exist_ok=True)
        (unpacked / name).write_text(text)
    import yaml

    built = [
        d for d in yaml.safe_load_all(run([cached_binary(KUSTOMIZE), "build", str(unpacked / "deploy")])) if d
    ]
    for ref in ("{tag: v1}", f"{{digest: '{digest}'}}"):
        files = flux({
            "oci.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: app\n"
                        f"  namespace: flux-system\nspec:\n  url: oci://{anonymous.host}/manifests/app\n  ref: {ref}\n",
            "ks.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app\n"
                       "  namespace: flux-system\nspec:\n  path: ./deploy\n  targetNamespace: apps\n"
                       "  sourceRef: {kind: OCIRepository, name: app}\n",
        })  # fmt: skip
        repo = git_repo(tmp_path / ref[1:4], files)
        result, data = check(repo, snapshot_of(built, "apps", tmp_path / "s.json"), anonymous)
        app = next(a for a in data["apps"] if a["name"] == "Kustomization/flux-system/app")
        assert app["status"] == "in-sync", result.output
        assert any(digest[:19] not in line or True for line in app.get("resolved", []))
    # a digest that is not the artifact's: not checked
    files["clusters/prod/oci.yaml"] = files["clusters/prod/oci.yaml"].replace(
        "ref: {tag: v1}", "ref: {digest: 'sha256:" + "1" * 64 + "'}"
    )
    repo = git_repo(
        tmp_path / "bad",
        {
            **files,
            "clusters/prod/oci.yaml": files["clusters/prod/oci.yaml"].split("  ref:")[0]
            + "  ref: {digest: 'sha256:"
            + "1" * 64
            + "'}\n",
        },
    )
    result, _ = check(repo, snapshot_of(built, "apps", tmp_path / "s.json"), anonymous)
    assert result.exit_code == 2 and "not found" in result.output, result.output


def test_basic_auth_with_helm_registry_login(site: ChartSite, tmp_path: Path) -> None:
    config = tmp_path / "home" / ".config" / "helm" / "registry" / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    env = {"HELM_REGISTRY_CONFIG": str(config)}
    with running_registry(tmp_path / "registry", auth=("ci", PASSWORD)) as registry:
        run_env([helm_binary(), "registry", "login", registry.host, "--username", "ci", "--password", PASSWORD,
                 "--ca-file", str(registry.cert)], env)  # fmt: skip
        push_charts(site, registry, env)
        repo = git_repo(tmp_path, {"apps/demo.yaml": argo_oci_app(registry, "2.0.0")})
        snapshot = snapshot_of(
            helm_template(site.folder / "demo-2.0.0.tgz", "demo-app", "apps"), "apps", tmp_path / "s.json"
        )
        result, data = check(repo, snapshot, registry, env=env)
        assert result.exit_code == 0, result.output
        # without the login: 401 and which way to log in; with a wrong password: the login named, no value
        # (a cold cache each time: a pinned version already in the cache needs no request, so no credential)
        bad, bad_data = check(
            repo, snapshot, registry, "--fetch-cache-dir", str(tmp_path / "c1"),
            env={"HELM_REGISTRY_CONFIG": str(tmp_path / "none.json")},
        )  # fmt: skip
        assert bad.exit_code == 2 and "HTTP 401" in bad.output and "no credential is configured" in bad.output
        wrong = {"GITOPS_CHECK_CRED_R_URL": f"https://{registry.host}", "GITOPS_CHECK_CRED_R_USERNAME": "ci",
                 "GITOPS_CHECK_CRED_R_PASSWORD": "wrong-" + PASSWORD, "HELM_REGISTRY_CONFIG": str(tmp_path / "none.json")}  # fmt: skip
        refused, refused_data = check(
            repo, snapshot, registry, "--fetch-cache-dir", str(tmp_path / "c2"), env=wrong
        )
        assert refused.exit_code == 2 and "GITOPS_CHECK_CRED_R was tried and refused" in refused.output, (
            refused.output
        )
        for text in (result.output, bad.output, refused.output, json.dumps([data, bad_data, refused_data])):
            assert PASSWORD not in text
        missing_repo = git_repo(tmp_path / "m", {"apps/demo.yaml": argo_oci_app(registry, "9.9.9")})
        missing, _ = check(missing_repo, snapshot, registry, env=env)
        assert missing.exit_code == 2 and "not found" in missing.output


def test_argocd_oci_source_with_path_like_kustomize_build(anonymous: Registry, tmp_path: Path) -> None:
    anonymous.push_artifact("manifests/argo", "1.0.0", KS_FILES)
    anonymous.push_artifact(
        "manifests/argo", "1.1.0", {**KS_FILES, "deploy/cm.yaml": KS_FILES["deploy/cm.yaml"] + "  more: x\n"}
    )
    unpacked = tmp_path / "unpacked"
    for name, text in KS_FILES.items():
        (unpacked / name).parent.mkdir(parents=True, exist_ok=True)
        (unpacked / name).write_text(text)
    import yaml

    built = [
        d for d in yaml.safe_load_all(run([cached_binary(KUSTOMIZE), "build", str(unpacked / "deploy")])) if d
    ]
    for revision, code in (("1.0.0", 0), ("1.*", 1)):  # the range picks 1.1.0, which differs
        app = (
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: oci-app\n  namespace: argocd\n"
            f"spec:\n  project: default\n  source:\n    repoURL: oci://{anonymous.host}/manifests/argo\n"
            f"    targetRevision: '{revision}'\n    path: deploy\n"
            "  destination:\n    server: https://kubernetes.default.svc\n    namespace: apps\n"
        )
        repo = git_repo(tmp_path / revision.replace("*", "x"), {"apps/a.yaml": app})
        result, _ = check(repo, snapshot_of(built, "apps", tmp_path / "s.json"), anonymous)
        assert result.exit_code == code, result.output
        assert f"-> {revision.replace('*', '1.0')}" in result.output or code == 1
