"""Several clusters, one snapshot each, from the command line (no ``clusters:`` in the project file).

The fleet is Flux's official example (tests/fixtures/flux/artifacts): apps of ``clusters/staging`` go to cluster
``staging``, those of ``clusters/production`` to ``production``. ``--snapshot NAME=FILE`` gives a cluster its
snapshot; a plain ``--snapshot FILE`` serves the cluster the snapshot says it was taken from; one that serves no
app while apps go to other clusters is a clear error, never a check "against no cluster". Every report says
which cluster each app was compared with.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_check import yamlio
from gitops_check.cli import main
from tests.helpers.binaries import cached_tools
from tests.helpers.fluxrepos import EXAMPLE_URL, FIXTURES, findings, flux_repo, run_diff
from tests.helpers.gitrepo import GitRepo

STAGING = FIXTURES / "artifact-snapshots" / "staging.yaml"
PRODUCTION = FIXTURES / "artifact-snapshots" / "production.yaml"
FINDINGS = [
    ("production/HelmRelease/podinfo/podinfo", "Deployment/podinfo/podinfo", "changed"),
    ("staging/HelmRelease/podinfo/podinfo", "Deployment/podinfo/podinfo", "changed"),
    ("staging/Kustomization/flux-system/infra-configs", "ConfigMap/ingress-nginx/legacy-issuers", "removed"),
    ("staging/Kustomization/flux-system/infra-configs", "LimitRange/ingress-nginx/default-limits", "added"),
]


@pytest.fixture(autouse=True)
def tools() -> None:
    cached_tools("helm", "kustomize")


@pytest.fixture
def fleet(tmp_path: Path) -> GitRepo:
    return flux_repo(tmp_path, "artifacts", EXAMPLE_URL, name="fleet")


def test_one_snapshot_per_cluster_by_name(fleet: GitRepo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_diff(fleet, out, "--snapshot", f"staging={STAGING}", "--snapshot", f"production={PRODUCTION}")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["errors"] == []
    assert findings(report) == FINDINGS
    clusters = {a["name"]: a["cluster"] for a in report["apps"]}
    assert len(clusters) == 10
    assert all(cluster == name.split("/")[0] for name, cluster in clusters.items())
    # Every report says it: terminal, Markdown, JUnit.
    assert "staging/HelmRelease/podinfo/podinfo [drifted] 1 changed  cluster staging" in done.stdout
    assert "Compared with cluster `production`." in (out / "report.md").read_text()
    assert '<property name="cluster" value="staging"/>' in (out / "report.xml").read_text()


def test_a_plain_snapshot_serves_the_cluster_it_names(fleet: GitRepo, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_diff(fleet, out, "--snapshot", str(PRODUCTION))
    assert done.returncode == 2, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert findings(report) == [f for f in FINDINGS if f[0].startswith("production/")]
    by_name = {a["name"]: a for a in report["apps"]}
    assert by_name["production/Kustomization/flux-system/apps"]["cluster"] == "production"
    staging = by_name["staging/Kustomization/flux-system/apps"]
    assert staging["cluster"] is None
    assert [e["message"] for e in staging["errors"]] == [
        "destination cluster staging has no snapshot or context: pass --snapshot staging=FILE or map it under "
        "'clusters:' in .gitops-check.yaml"
    ]
    assert report["errors"] == []  # the snapshot was used: nothing ambiguous


def test_a_snapshot_of_no_cluster_the_apps_name_is_an_error(fleet: GitRepo, tmp_path: Path) -> None:
    snapshot = yamlio.load_one(PRODUCTION.read_bytes(), "snapshot")
    snapshot["metadata"]["cluster"] = "eu-west"
    other = tmp_path / "eu-west.json"
    other.write_text(json.dumps(snapshot))
    out = tmp_path / "out"
    done = run_diff(fleet, out, "--snapshot", str(other))
    assert done.returncode == 2, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert [e["message"] for e in report["errors"]] == [
        "the snapshot given with --snapshot says it was taken from eu-west, and no app goes to that cluster: the "
        "apps go to production, staging. Give each cluster its snapshot with --snapshot NAME=FILE (NAME: "
        "production, staging), or map them under 'clusters:' in .gitops-check.yaml"
    ]
    assert all(a["cluster"] is None and a["status"] == "error" for a in report["apps"])
    assert (
        "against no cluster: the --snapshot given is the snapshot of none of the apps' clusters"
        in done.stdout
    )


def test_several_plain_snapshots_need_names(fleet: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["diff", "--repo", str(fleet.path), "--snapshot", str(STAGING), "--snapshot", str(PRODUCTION)]
    )
    assert code == 2
    assert (
        "2 snapshots without a cluster name: give each with --snapshot NAME=FILE" in capsys.readouterr().err
    )


def test_a_name_given_twice_is_an_error(fleet: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "diff",
            "--repo",
            str(fleet.path),
            "--snapshot",
            f"staging={STAGING}",
            "--snapshot",
            f"staging={PRODUCTION}",
        ]
    )
    assert code == 2
    assert "--snapshot staging=... is given twice" in capsys.readouterr().err


def test_preview_compares_the_base_with_each_clusters_snapshot(
    fleet: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet.write(
        {
            "apps/staging/podinfo-values.yaml": (FIXTURES / "artifacts/apps/staging/podinfo-values.yaml")
            .read_text()
            .replace("6.7.1-rc.1", "6.7.1")
        }
    )
    fleet.commit("release 6.7.1 to staging")
    code = main(["preview", "--repo", str(fleet.path), "--base", "HEAD~1", "--no-cache", "--work-dir", str(tmp_path / "work"),
                 "--no-color", "--json", str(tmp_path / "p.json"),
                 "--snapshot", f"staging={STAGING}", "--snapshot", f"production={PRODUCTION}"])  # fmt: skip
    capsys.readouterr()
    report = json.loads((tmp_path / "p.json").read_text())
    assert code == 1
    assert findings(report) == [
        ("staging/HelmRelease/podinfo/podinfo", "Deployment/podinfo/podinfo", "changed"),
        ("staging/Kustomization/flux-system/apps", "HelmRelease/podinfo/podinfo", "changed"),
    ]
    baseline = {a["name"]: a for a in report["baseline"]["apps"]}
    assert baseline["staging/HelmRelease/podinfo/podinfo"]["cluster"] == "staging"
    assert baseline["staging/HelmRelease/podinfo/podinfo"]["status"] == "drifted"
