"""Flux's multi-tenancy layout (fluxcd/flux2-multi-tenancy), checked end to end (tests/fixtures/flux/tenancy).

The tenant's Kustomization in ``tenants/base/dev-team`` has no ``spec.path``: ``tenants/staging`` patches it in
with a JSON 6902 patch, ``tenants/production`` with a strategic merge patch file. Read as written, the base
would apply the whole repository, every cluster root would count as "applied only from a cycle" and the
cluster prefixes would go. What a cluster applies is the patched object. As in the real repository, only
staging is bootstrapped (``clusters/staging/flux-system``); production's Kustomizations are roots themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cli import main
from gitops_check.pipeline.check import CheckRequest, render_repo
from tests.helpers.binaries import cached_tools
from tests.helpers.fluxrepos import FIXTURES, by_id, findings, flux_repo
from tests.helpers.gitrepo import GitRepo

SNAPSHOTS = FIXTURES / "tenancy-snapshots"
PROJECT = f"""\
version: 1
clusters:
  - {{name: staging, snapshot: {SNAPSHOTS / "staging.yaml"}}}
  - {{name: production, snapshot: {SNAPSHOTS / "production.yaml"}}}
"""


@pytest.fixture(autouse=True)
def tools() -> None:
    cached_tools("helm", "kustomize")


def tenancy(tmp_path: Path) -> GitRepo:
    return flux_repo(tmp_path, "tenancy", "https://github.com/example/flux2-multi-tenancy.git")


def test_every_cluster_keeps_its_apps_and_prefix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tenancy(tmp_path)
    code = main(["apps", "--repo", str(repo.path), "--json"])
    listing = json.loads(capsys.readouterr().out)
    assert code == 0, listing["errors"]
    assert [(a["name"], a["sources"][0]["path"], a["cluster"]) for a in listing["apps"]] == [
        ("production/Kustomization/flux-system/kyverno", "infrastructure/kyverno", "production"),
        ("production/Kustomization/flux-system/tenants", "tenants/production", "production"),
        ("staging/Kustomization/flux-system/flux-system", "clusters/staging", "staging"),
        ("production/Kustomization/apps/dev-team", "production", "production"),
        ("staging/Kustomization/flux-system/kyverno", "infrastructure/kyverno", "staging"),
        ("staging/Kustomization/flux-system/tenants", "tenants/staging", "staging"),
        ("production/HelmRelease/apps/podinfo", "charts/podinfo", "production"),
        ("staging/Kustomization/apps/dev-team", "staging", "staging"),
        ("staging/HelmRelease/apps/podinfo", "charts/podinfo", "staging"),
    ]
    assert (
        listing["notes"][0]
        == "flux: 6 Kustomization(s) and 1 HelmRelease(s) in the repository; 3 applied by none of the others"
    )
    assert not any("cycle" in note for note in listing["notes"])


def objects(app: Any) -> dict[str, dict[str, Any]]:
    return by_id(app.output.objects)


def test_rendered_objects(tmp_path: Path) -> None:
    repo = tenancy(tmp_path)
    done = render_repo(CheckRequest(repo=repo.path, revision="HEAD", default_source=None))
    assert done.errors == [] and [r.app.name for r in done.rendered if r.error] == []
    rendered = {r.app.name: objects(r) for r in done.rendered}
    for env in ("staging", "production"):
        tenants = rendered[f"{env}/Kustomization/flux-system/tenants"]
        assert sorted(tenants) == [
            "GitRepository/apps/dev-team",
            "Kustomization/apps/dev-team",
            "Namespace//apps",
            "RoleBinding/apps/dev-team-reconciler",
            "ServiceAccount/apps/dev-team",
        ]
        assert tenants["Kustomization/apps/dev-team"]["spec"]["path"] == f"./{env}"
        assert sorted(rendered[f"{env}/Kustomization/apps/dev-team"]) == ["HelmRelease/apps/podinfo"]
        release = rendered[f"{env}/HelmRelease/apps/podinfo"]
        assert release["Ingress//podinfo"]["spec"]["rules"][0]["host"] == f"podinfo.{env}"
    assert rendered["production/HelmRelease/apps/podinfo"]["Deployment//podinfo"]["spec"]["replicas"] == 2


def test_diff_against_each_clusters_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tenancy(tmp_path)
    code = main(
        [
            "diff",
            "--repo",
            str(repo.path),
            "--snapshot",
            f"staging={SNAPSHOTS / 'staging.yaml'}",
            "--snapshot",
            f"production={SNAPSHOTS / 'production.yaml'}",
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    capsys.readouterr()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["errors"] == []
    assert findings(report) == [
        ("production/HelmRelease/apps/podinfo", "Deployment/apps/podinfo", "changed"),
        ("staging/Kustomization/flux-system/tenants", "RoleBinding/apps/dev-team-reconciler", "added"),
    ]
    assert code == 1


def test_preview_of_one_clusters_overlay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tenancy(tmp_path)
    repo.write(
        {
            "tenants/production/dev-team-patch.yaml": (
                FIXTURES / "tenancy/tenants/production/dev-team-patch.yaml"
            )
            .read_text()
            .replace("./production", "./staging")
        }
    )
    repo.commit("production runs the staging overlay")
    code = main(["preview", "--repo", str(repo.path), "--base", "HEAD~1", "--no-cache", "--work-dir", str(tmp_path / "work"),
                 "--no-color", "--json", str(tmp_path / "p.json")])  # fmt: skip
    capsys.readouterr()
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["errors"] == []
    assert findings(report) == [
        ("production/HelmRelease/apps/podinfo", "Deployment/apps/podinfo", "changed"),
        ("production/HelmRelease/apps/podinfo", "Ingress/apps/podinfo", "changed"),
        ("production/Kustomization/apps/dev-team", "HelmRelease/apps/podinfo", "changed"),
        ("production/Kustomization/flux-system/tenants", "Kustomization/apps/dev-team", "changed"),
    ]
    assert code == 1
