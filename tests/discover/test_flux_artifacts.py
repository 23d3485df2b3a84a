"""Flux ArtifactGenerator / ExternalArtifact, checked end to end (tests/fixtures/flux/artifacts).

The layout of Flux's official example (fluxcd/flux2-kustomize-helm-example): each cluster folder holds an
ArtifactGenerator that splits this repository into an ``infrastructure`` and an ``apps`` artifact
(``@monorepo/apps/base/** -> @artifact/base/``, ``@monorepo/apps/<env>/** -> @artifact/<env>/``), and the
Kustomizations deploy them with ``sourceRef.kind: ExternalArtifact``. Both clusters' generators share the name
``flux-system/flux-system``; each cluster must get its own. The fixture adds an ``exclude`` per cluster (each
keeps only its own LimitRange). The snapshots (tests/fixtures/flux/artifact-snapshots) hold what Flux applied
plus hand changes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cli import main
from gitops_check.pipeline.check import CheckRequest, render_repo
from tests.helpers.binaries import cached_tools
from tests.helpers.fluxrepos import EXAMPLE_URL, FIXTURES, by_id, findings, flux_repo, run_diff
from tests.helpers.gitrepo import GitRepo

EA = "ExternalArtifact flux-system/{} (built from ArtifactGenerator flux-system/flux-system)"


@pytest.fixture(autouse=True)
def tools() -> None:
    cached_tools("helm", "kustomize")


def example(tmp_path: Path) -> GitRepo:
    return flux_repo(tmp_path, "artifacts", EXAMPLE_URL, name="example")


def test_apps_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = example(tmp_path)
    code = main(["apps", "--repo", str(repo.path), "--json"])
    listing = json.loads(capsys.readouterr().out)
    assert code == 0, listing["errors"]
    apps = [(a["name"], a["sources"][0]["path"], a["cluster"]) for a in listing["apps"]]
    assert apps == [
        ("production/Kustomization/flux-system/flux-system", "clusters/production", "production"),
        ("staging/Kustomization/flux-system/flux-system", "clusters/staging", "staging"),
        ("production/Kustomization/flux-system/apps", "production", "production"),
        ("production/Kustomization/flux-system/infra-configs", "configs", "production"),
        ("production/Kustomization/flux-system/infra-controllers", "controllers", "production"),
        ("staging/Kustomization/flux-system/apps", "staging", "staging"),
        ("staging/Kustomization/flux-system/infra-configs", "configs", "staging"),
        ("staging/Kustomization/flux-system/infra-controllers", "controllers", "staging"),
        ("production/HelmRelease/podinfo/podinfo", "charts/podinfo", "production"),
        ("staging/HelmRelease/podinfo/podinfo", "charts/podinfo", "staging"),
    ]
    # The base HelmRelease is taken in through the apps artifact: no root that no cluster deploys.
    assert (
        listing["notes"][0]
        == "flux: 8 Kustomization(s) and 1 HelmRelease(s) in the repository; 2 applied by none of the others"
    )
    origins = {a["name"]: a["origin"] for a in listing["apps"]}
    assert origins["staging/Kustomization/flux-system/apps"] == (
        f"rendered by staging/Kustomization/flux-system/flux-system (staging of {EA.format('apps')}; after "
        "flux-system/infra-configs)"
    )


def objects(app: Any) -> dict[str, dict[str, Any]]:
    return by_id(app.output.objects)


def test_rendered_objects(tmp_path: Path) -> None:
    repo = example(tmp_path)
    done = render_repo(CheckRequest(repo=repo.path, revision="HEAD", default_source=None))
    assert done.errors == [] and [r.app.name for r in done.rendered if r.error] == []
    rendered = {r.app.name: objects(r) for r in done.rendered}
    for env, other in (("staging", "production"), ("production", "staging")):
        assert sorted(rendered[f"{env}/Kustomization/flux-system/flux-system"]) == [
            "ArtifactGenerator/flux-system/flux-system",
            "GitRepository/flux-system/flux-system",
            "Kustomization/flux-system/apps",
            "Kustomization/flux-system/flux-system",
            "Kustomization/flux-system/infra-configs",
            "Kustomization/flux-system/infra-controllers",
        ]
        generator = rendered[f"{env}/Kustomization/flux-system/flux-system"][
            "ArtifactGenerator/flux-system/flux-system"
        ]
        assert generator["spec"]["artifacts"][1]["copy"][1]["from"] == f"@monorepo/apps/{env}/**"
        assert sorted(rendered[f"{env}/Kustomization/flux-system/infra-controllers"]) == [
            "Namespace//ingress-nginx",
            "ServiceAccount/ingress-nginx/ingress-nginx",
        ]
        # configs/ has no kustomization.yaml: every manifest the artifact holds, the other cluster's excluded.
        configs = rendered[f"{env}/Kustomization/flux-system/infra-configs"]
        assert sorted(configs) == [
            "ConfigMap/ingress-nginx/cluster-issuers",
            "LimitRange/ingress-nginx/default-limits",
        ]
        memory = configs["LimitRange/ingress-nginx/default-limits"]["spec"]["limits"][0]["default"]["memory"]
        assert memory == {"staging": "128Mi", "production": "512Mi"}[env]
        assert other not in json.dumps(configs)
        # apps: the env overlay built inside the artifact, where ../base/podinfo is the copied apps/base/podinfo.
        apps = rendered[f"{env}/Kustomization/flux-system/apps"]
        assert sorted(apps) == ["HelmRelease/podinfo/podinfo", "Namespace//podinfo"]
        release = rendered[f"{env}/HelmRelease/podinfo/podinfo"]
        # The chart's test Pod is a Helm hook: rendered, then set apart by the comparison.
        assert sorted(release) == [
            "Deployment//podinfo",
            "Ingress//podinfo",
            "Pod//podinfo-test",
            "Service//podinfo",
        ]
        assert "helm.sh/hook" in release["Pod//podinfo-test"]["metadata"]["annotations"]
    staging = rendered["staging/HelmRelease/podinfo/podinfo"]
    assert staging["Ingress//podinfo"]["spec"]["rules"][0]["host"] == "podinfo.staging.example.com"
    image = staging["Deployment//podinfo"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/stefanprodan/podinfo:6.7.1-rc.1"
    production = rendered["production/HelmRelease/podinfo/podinfo"]
    assert production["Deployment//podinfo"]["spec"]["replicas"] == 2
    assert production["Ingress//podinfo"]["spec"]["rules"][0]["host"] == "podinfo.example.com"


SNAPS = FIXTURES / "artifact-snapshots"
NAMED = (
    "--snapshot",
    f"staging={SNAPS / 'staging.yaml'}",
    "--snapshot",
    f"production={SNAPS / 'production.yaml'}",
)


def run_cli(repo: GitRepo, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_diff(repo, out, *NAMED, *args)


def test_diff_against_each_clusters_snapshot(tmp_path: Path) -> None:
    repo = example(tmp_path)
    out = tmp_path / "out"
    done = run_cli(repo, out)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["errors"] == []
    assert findings(report) == [
        ("production/HelmRelease/podinfo/podinfo", "Deployment/podinfo/podinfo", "changed"),
        ("staging/HelmRelease/podinfo/podinfo", "Deployment/podinfo/podinfo", "changed"),
        (
            "staging/Kustomization/flux-system/infra-configs",
            "ConfigMap/ingress-nginx/legacy-issuers",
            "removed",
        ),
        (
            "staging/Kustomization/flux-system/infra-configs",
            "LimitRange/ingress-nginx/default-limits",
            "added",
        ),
    ]
    assert len(report["apps"]) == 10


def test_preview_of_a_change_in_the_artifact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pull request changing apps/production: only production's apps change, staging's artifact does not."""
    repo = example(tmp_path)
    repo.write(
        {
            "apps/production/podinfo-values.yaml": (
                FIXTURES / "artifacts/apps/production/podinfo-values.yaml"
            )
            .read_text()
            .replace("replicaCount: 2", "replicaCount: 4")
        }
    )
    repo.commit("scale production")
    code = main(["preview", "--repo", str(repo.path), "--base", "HEAD~1", "--no-cache", "--work-dir", str(tmp_path / "work"),
                 "--no-color", "--json", str(tmp_path / "preview.json")])  # fmt: skip
    capsys.readouterr()
    report = json.loads((tmp_path / "preview.json").read_text())
    assert report["errors"] == []
    assert findings(report) == [
        ("production/HelmRelease/podinfo/podinfo", "Deployment/podinfo/podinfo", "changed"),
        ("production/Kustomization/flux-system/apps", "HelmRelease/podinfo/podinfo", "changed"),
    ]
    assert code == 1


GENERATOR = """\
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {{name: flux-system, namespace: flux-system}}
spec:
  sources:
    - {{alias: monorepo, kind: GitRepository, name: flux-system}}
    - {{alias: charts, kind: OCIRepository, name: charts}}
  artifacts:
{artifacts}
"""


@pytest.mark.parametrize(
    ("artifacts", "message"),
    [
        (
            "    - name: apps\n      copy: [{from: '@charts/podinfo/**', to: '@artifact/staging/'}]\n",
            "not checked: ArtifactGenerator flux-system/flux-system: source 'charts' is a OCIRepository: fetching it "
            "needs the network, which gitops-check does not use",
        ),
        (
            "    - name: apps\n      copy: [{from: '@monorepo/apps/missing/**', to: '@artifact/staging/'}]\n",
            "not checked: ArtifactGenerator flux-system/flux-system: artifact "
            "apps: copy from '@monorepo/apps/missing/**' to '@artifact/staging/': no files match pattern "
            "'apps/missing/**' in source 'monorepo'",
        ),
        (
            "    - name: apps\n      revision: '@nope'\n      copy: [{from: '@monorepo/apps/staging/**', to: '@artifact/staging/'}]\n",
            "not checked: ArtifactGenerator flux-system/flux-system: artifact apps revision '@nope' names no source alias",
        ),
        (
            "    - name: other\n      copy: [{from: '@monorepo/apps/staging/**', to: '@artifact/staging/'}]\n",
            "not checked: ExternalArtifact flux-system/apps is made by no ArtifactGenerator of the repository or of "
            "the parent's output: something outside Git produces it, so gitops-check cannot tell what it holds",
        ),
    ],
)
def test_artifacts_that_cannot_be_built_are_not_checked(tmp_path: Path, artifacts: str, message: str) -> None:
    repo = example(tmp_path)
    repo.write({"clusters/staging/artifacts.yaml": GENERATOR.format(artifacts=artifacts)})
    repo.commit("break staging's generator")
    out = tmp_path / "out"
    done = run_cli(repo, out)
    assert done.returncode == 2, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    errors = [(e["app"], e["message"]) for e in report["errors"]]
    assert ("staging/Kustomization/flux-system/apps", message) in errors
    assert "Traceback" not in done.stderr
    # The other cluster is still checked.
    assert "production/Kustomization/flux-system/apps" in {a["name"] for a in report["apps"]}


CHART_GENERATOR = """\
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: podinfo, namespace: podinfo}
spec:
  sources:
    - {alias: repo, kind: GitRepository, name: flux-system, namespace: flux-system}
  artifacts:
    - name: podinfo-composite
      originRevision: "@repo"
      copy:
        - {from: "@repo/charts/podinfo/", to: "@artifact/"}
        - {from: "@repo/apps/staging/chart-values.yaml", to: "@artifact/podinfo/values.yaml", strategy: Merge}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: composed, namespace: podinfo}
spec:
  interval: 10m
  chartRef: {kind: ExternalArtifact, name: podinfo-composite}
"""


def test_helmrelease_chart_from_an_artifact_with_merged_values(tmp_path: Path) -> None:
    """The spec's Helm chart composition: the chart copied as a folder, production values merged into its
    values.yaml (lists replaced, maps merged)."""
    repo = example(tmp_path)
    repo.write(
        {
            "apps/staging/composite.yaml": CHART_GENERATOR,
            "apps/staging/chart-values.yaml": "replicaCount: 3\nimage: {tag: 6.8.0}\n",
            "apps/staging/kustomization.yaml": (FIXTURES / "artifacts/apps/staging/kustomization.yaml")
            .read_text()
            .replace("  - ../base/podinfo\n", "  - ../base/podinfo\n  - composite.yaml\n")
            .replace("      kind: HelmRelease\n", "      kind: HelmRelease\n      name: ^podinfo$\n"),
        }
    )
    repo.commit("a chart composed by a generator")
    done = render_repo(CheckRequest(repo=repo.path, revision="HEAD", default_source=None))
    assert done.errors == [] and [r.app.name for r in done.rendered if r.error] == []
    names = [r.app.name for r in done.rendered]
    assert "staging/HelmRelease/podinfo/composed" in names
    release = next(r for r in done.rendered if r.app.name == "staging/HelmRelease/podinfo/composed")
    assert release.app.origin.endswith(
        "(chart podinfo of ExternalArtifact podinfo/podinfo-composite (built from ArtifactGenerator "
        "podinfo/podinfo))"
    )
    deploy = objects(release)["Deployment//composed"]
    assert deploy["spec"]["replicas"] == 3
    assert (
        deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/stefanprodan/podinfo:6.8.0"
    )


PATTERNED = """\
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: platform-apps, namespace: apps}
spec:
  sources:
    - {alias: monorepo, kind: GitRepository, name: flux-system, namespace: flux-system}
  pathPattern: "@monorepo/apps/{app}/envs/{env}"
  artifacts:
    - name: "{app}-{env}"
      copy:
        - {from: "@monorepo/apps/{app}/base/**", to: "@artifact/base/"}
        - {from: "@monorepo/apps/{app}/envs/{env}/**", to: "@artifact/envs/{env}/"}
"""
KUSTOMIZATION = """\
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: apps}}
spec:
  interval: 10m
  sourceRef: {{kind: ExternalArtifact, name: {name}}}
  path: ./envs/{env}
  prune: true
"""


def _cm(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: apps}}\ndata: {{env: {value}}}\n"


def test_path_pattern_makes_one_artifact_per_matching_folder(tmp_path: Path) -> None:
    """source-watcher's pathPattern: ``{app}-{env}`` artifacts, one per ``apps/<app>/envs/<env>`` folder."""
    repo = GitRepo.init(tmp_path / "monorepo")
    files = {
        "clusters/dev/flux-system/gotk-sync.yaml": (
            FIXTURES / "artifacts/clusters/staging/flux-system/gotk-sync.yaml"
        )
        .read_text()
        .replace("./clusters/staging", "./clusters/dev"),
        "clusters/dev/apps.yaml": PATTERNED
        + KUSTOMIZATION.format(name="auth-dev", env="dev")
        + KUSTOMIZATION.format(name="payments-dev", env="dev"),
    }
    for app in ("auth", "payments"):
        files[f"apps/{app}/base/kustomization.yaml"] = "resources: [config.yaml]\n"
        files[f"apps/{app}/base/config.yaml"] = _cm(app, "base")
        for env in ("dev", "prod"):
            files[f"apps/{app}/envs/{env}/kustomization.yaml"] = (
                f"resources: [../../base]\npatches:\n  - patch: |\n{_indent(_cm(app, env))}"
            )
    repo.write(files)
    repo.git("remote", "add", "origin", "https://github.com/example/flux2-kustomize-helm-example.git")
    repo.commit("monorepo")
    done = render_repo(CheckRequest(repo=repo.path, revision="HEAD", default_source=None))
    assert done.errors == [] and [(r.app.name, r.error) for r in done.rendered if r.error] == []
    rendered = {r.app.name: objects(r) for r in done.rendered}
    assert rendered["Kustomization/apps/auth-dev"] == {
        "ConfigMap/apps/auth": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "auth", "namespace": "apps"},
            "data": {"env": "dev"},
        }
    }
    assert rendered["Kustomization/apps/payments-dev"]["ConfigMap/apps/payments"]["data"] == {"env": "dev"}
    origin = next(r.app.origin for r in done.rendered if r.app.name == "Kustomization/apps/auth-dev")
    assert (
        "envs/dev of ExternalArtifact apps/auth-dev (built from ArtifactGenerator apps/platform-apps)"
        in origin
    )


def _indent(text: str) -> str:
    return "".join(f"      {line}\n" for line in text.splitlines())
