"""The Flux proof: a fleet repository (tests/fixtures/flux/fleet) checked end to end with the real tools.

Layout as Flux documents it: ``clusters/<env>/flux-system`` (bootstrap) applies ``clusters/<env>``, whose
Kustomizations apply ``infrastructure`` (a folder without kustomization.yaml) and the ``apps/<env>`` overlays,
which hold a HelmRelease whose chart is in the same repository. Variables come from ``postBuild.substitute``,
a ConfigMap rendered by the parent, and (prod) a Secret given through the project file's ``fromEnv``. The
snapshots (tests/fixtures/flux/snapshots) hold what an earlier sync left plus hand changes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cli import main
from gitops_check.diff.hooks import split_hooks
from gitops_check.pipeline.check import CheckRequest, render_repo
from gitops_check.project.config import JobOptions
from tests.helpers.binaries import cached_tools
from tests.helpers.fluxrepos import FIXTURES, by_id, findings, flux_repo, run_diff
from tests.helpers.gitrepo import GitRepo

TOKEN = "fleet-api-t0ken-do-not-print"
PROJECT = """\
version: 1
clusters:
  - {{name: prod, snapshot: {prod}}}
  - {{name: staging, snapshot: {staging}}}
discovery:
  flux:
    objects:
      - kind: Secret
        namespace: flux-system
        name: cluster-secrets
        fromEnv: {{api_token: FLEET_API_TOKEN}}
"""


@pytest.fixture(autouse=True)
def in_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where the snapshots are: the project file may name snapshot files only inside the working folder."""
    monkeypatch.chdir(FIXTURES)


@pytest.fixture(autouse=True)
def tools() -> None:
    cached_tools("helm", "kustomize")


def fleet(tmp_path: Path, *, project: bool = True) -> GitRepo:
    snapshots = Path("snapshots")  # relative to the working folder (FIXTURES, see in_fixtures)
    text = PROJECT.format(prod=snapshots / "prod.yaml", staging=snapshots / "staging.yaml")
    files = {".gitops-check.yaml": text} if project else None
    return flux_repo(tmp_path, "fleet", "https://github.com/example/fleet.git", files=files)


def test_apps_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_API_TOKEN", TOKEN)
    repo = fleet(tmp_path)
    code = main(["apps", "--repo", str(repo.path), "--json", "--allow-env", "FLEET_API_TOKEN"])
    listing = json.loads(capsys.readouterr().out)
    assert code == 0, listing["errors"]
    assert [(a["name"], a["kind"], a["sources"][0]["path"], a["namespace"], a["cluster"]) for a in listing["apps"]] == [
        ("prod/Kustomization/flux-system/flux-system", "flux-kustomization", "clusters/prod", None, "prod"),
        ("staging/Kustomization/flux-system/flux-system", "flux-kustomization", "clusters/staging", None, "staging"),
        ("prod/Kustomization/flux-system/apps", "flux-kustomization", "apps/prod", None, "prod"),
        ("prod/Kustomization/flux-system/infrastructure", "flux-kustomization", "infrastructure", None, "prod"),
        ("staging/Kustomization/flux-system/apps", "flux-kustomization", "apps/staging", None, "staging"),
        ("staging/Kustomization/flux-system/infrastructure", "flux-kustomization", "infrastructure", None, "staging"),
        ("prod/HelmRelease/podinfo/podinfo", "flux-helmrelease", "charts/podinfo", "podinfo", "prod"),
        ("staging/HelmRelease/podinfo/podinfo", "flux-helmrelease", "charts/podinfo", "podinfo", "staging"),
    ]  # fmt: skip
    origins = {a["name"]: a["origin"] for a in listing["apps"]}
    assert origins["prod/Kustomization/flux-system/flux-system"] == (
        "clusters/prod/flux-system/gotk-sync.yaml:16 (clusters/prod of GitRepository flux-system/flux-system "
        "(this repository))"
    )
    assert origins["prod/Kustomization/flux-system/apps"] == (
        "rendered by prod/Kustomization/flux-system/flux-system (apps/prod of GitRepository "
        "flux-system/flux-system (this repository); after flux-system/infrastructure)"
    )


def objects(app: Any) -> dict[str, dict[str, Any]]:
    """The objects an app applies: Helm hooks (a chart's test Pod) are set apart, as the comparison does."""
    return by_id(split_hooks(app.app, app.output.objects)[0])


def test_rendered_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_API_TOKEN", TOKEN)
    repo = fleet(tmp_path)
    job = JobOptions(environment=(("FLEET_API_TOKEN", TOKEN),))  # --allow-env FLEET_API_TOKEN
    done = render_repo(CheckRequest(repo=repo.path, revision="HEAD", default_source=None, job=job))
    assert done.errors == [] and all(r.error is None for r in done.rendered)
    rendered = {r.app.name: objects(r) for r in done.rendered}

    assert sorted(rendered["prod/Kustomization/flux-system/flux-system"]) == [
        "ConfigMap/flux-system/cluster-vars",
        "GitRepository/flux-system/flux-system",
        "Kustomization/flux-system/apps",
        "Kustomization/flux-system/flux-system",
        "Kustomization/flux-system/infrastructure",
        "Namespace//flux-system",
    ]
    # A folder without kustomization.yaml: every manifest below it, not the CI file; substitution with defaults,
    # $$ escapes and the opt-out annotation.
    infra = rendered["prod/Kustomization/flux-system/infrastructure"]
    assert sorted(infra) == [
        "ConfigMap/monitoring/raw-template",
        "ConfigMap/monitoring/scripts",
        "LimitRange/monitoring/default-limits",
        "Namespace//monitoring",
    ]
    assert infra["Namespace//monitoring"]["metadata"]["labels"] == {
        "environment": "prod",
        "region": "eu-central-1",
    }
    assert infra["ConfigMap/monitoring/scripts"]["data"] == {
        "backup.sh": 'echo "backing up ${CLUSTER:-prod} from $HOME"\n'
    }
    assert infra["ConfigMap/monitoring/raw-template"]["data"] == {"template": "${not_substituted}"}

    apps = rendered["prod/Kustomization/flux-system/apps"]
    assert sorted(apps) == [
        "ConfigMap/podinfo/podinfo-values",
        "HelmRelease/podinfo/podinfo",
        "Namespace//podinfo",
        "Secret/podinfo/podinfo-token",
    ]
    assert apps["Secret/podinfo/podinfo-token"]["stringData"] == {
        "token": TOKEN
    }  # from the project file's fromEnv
    release = apps["HelmRelease/podinfo/podinfo"]
    assert release["metadata"]["labels"] == {"toolkit.fluxcd.io/tenant": "apps"}  # commonMetadata
    assert release["spec"]["values"] == {
        "ingress": {"host": "podinfo.example.com"},
        "replicaCount": 3,
        "resources": {"limits": {"memory": "256Mi"}},
    }

    # prod: targetNamespace podinfo, so the release is podinfo-podinfo; staging keeps the HelmRelease's name.
    prod = rendered["prod/HelmRelease/podinfo/podinfo"]
    assert sorted(prod) == [
        "Deployment//podinfo-podinfo",
        "Ingress//podinfo-podinfo",
        "Service//podinfo-podinfo",
    ]
    deploy = prod["Deployment//podinfo-podinfo"]
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["template"]["metadata"]["annotations"] == {"region": "eu-central-1"}  # targetPath
    assert deploy["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "PODINFO_UI_MESSAGE", "value": "Hello from prod"},  # valuesFrom the parent's ConfigMap
        {"name": "PODINFO_UI_COLOR", "value": "#2e7d32"},
    ]
    staging = rendered["staging/HelmRelease/podinfo/podinfo"]
    assert sorted(staging) == ["Deployment//podinfo", "Ingress//podinfo", "Service//podinfo"]
    assert staging["Ingress//podinfo"]["spec"]["rules"][0]["host"] == "podinfo.staging.example.com"
    image = staging["Deployment//podinfo"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/stefanprodan/podinfo:6.7.1-rc.1"


def run_cli(repo: GitRepo, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    prod = FIXTURES / "snapshots" / "prod.yaml"
    return run_diff(repo, out, "--snapshot", str(prod), "--allow-env", "FLEET_API_TOKEN", env=env)


def test_diff_against_snapshots(tmp_path: Path) -> None:
    repo = fleet(tmp_path)
    out = tmp_path / "out"
    done = run_cli(repo, out, {"FLEET_API_TOKEN": TOKEN})
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["errors"] == []
    assert findings(report) == [
        ("prod/HelmRelease/podinfo/podinfo", "ConfigMap/podinfo/podinfo-podinfo-legacy", "removed"),
        ("prod/HelmRelease/podinfo/podinfo", "Deployment/podinfo/podinfo-podinfo", "changed"),
        ("prod/Kustomization/flux-system/apps", "Secret/podinfo/podinfo-token", "changed"),
        ("prod/Kustomization/flux-system/infrastructure", "ConfigMap/monitoring/old-dashboards", "removed"),
        ("prod/Kustomization/flux-system/infrastructure", "LimitRange/monitoring/default-limits", "added"),
        ("prod/Kustomization/flux-system/infrastructure", "Namespace/monitoring", "changed"),
        ("staging/HelmRelease/podinfo/podinfo", "Deployment/podinfo/podinfo", "changed"),
    ]
    assert "rendered by apps" not in done.stdout  # one tree per cluster is no conflict
    everything = done.stdout + done.stderr + "".join(p.read_text() for p in out.iterdir())
    assert TOKEN not in everything
    assert "old-token-value" not in everything


def test_secret_values_only_as_hashes_are_not_checked(tmp_path: Path) -> None:
    """Without the project file's values, the prod snapshot's hashed Secret cannot feed substitution."""
    repo = fleet(tmp_path)
    snapshots = Path("snapshots")  # relative to the working folder (FIXTURES, see in_fixtures)
    repo.write(
        {".gitops-check.yaml": PROJECT.split("discovery:")[0].format(prod=snapshots / "prod.yaml", staging=snapshots / "staging.yaml")}
    )  # fmt: skip
    repo.commit("no values")
    out = tmp_path / "out"
    done = run_cli(repo, out, {})
    assert done.returncode == 2
    report = json.loads((out / "report.json").read_text())
    assert [(e["app"], e["message"]) for e in report["errors"]] == [
        (
            "prod/Kustomization/flux-system/apps",
            "not checked: Secret flux-system/cluster-secrets in cluster prod (snapshot or live): the snapshot keeps "
            "only hashes of Secret values; give the values under discovery.flux.objects in .gitops-check.yaml "
            "(fromEnv keeps them out of Git)",
        )
    ]
    checked = {a["name"] for a in report["apps"]}
    assert "prod/HelmRelease/podinfo/podinfo" not in checked  # declared by the app that could not be checked
    assert "staging/HelmRelease/podinfo/podinfo" in checked
