"""The proof fixture: an App of Apps whose root is a Helm chart rendering Applications with Helm and Kustomize
sources, plus an ApplicationSet (git directories over apps/* x a list of environments), checked end to end with
``gitops-check diff`` against a snapshot: the exact apps found, what they render, the drift and the hygiene
findings, and no Secret value anywhere in the output.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cli import main
from gitops_check.discover import gotemplate
from gitops_check.identity import KindScopes, assign_keys
from gitops_check.pipeline.check import CheckRequest, render_repo
from tests.helpers.binaries import cached_tools
from tests.helpers.gitrepo import GitRepo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "argocd"
URL = "https://git.example.com/platform/gitops.git"
SECRETS = ("not-a-real-password-4217", "live-password-9031")


@pytest.fixture(scope="module")
def tools() -> None:
    cached_tools("helm", "kustomize", gotemplate.HELPER)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, tools: None) -> Path:
    root = tmp_path_factory.mktemp("platform") / "gitops"
    shutil.copytree(FIXTURES / "platform", root)
    GitRepo.init(root).commit("platform")
    return root


def run(args: list[str]) -> int:
    return main(args)


def secret_free(text: str) -> None:
    for value in SECRETS:
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text


APPS = ["cart-prod", "cart-staging", "frontend", "payments", "root", "search-prod", "search-staging"]


def test_apps_lists_every_app_and_where_it_came_from(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["apps", "--repo", str(repo), "--repo-url", URL, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    origins = {a["name"]: a["origin"] for a in listed["apps"]}
    assert sorted(origins) == APPS
    assert origins["root"] == "bootstrap/root.yaml:2"
    assert origins["payments"] == "rendered by app root (charts/root/templates/applications.yaml)"
    assert origins["cart-prod"] == (
        "ApplicationSet services (bootstrap/services.yaml:2), generators[0] matrix(git directories, list) "
        "[env=prod replicas=2 path.path=apps/cart]"
    )
    assert listed["errors"] == []


def test_rendered_objects(repo: Path) -> None:
    done = render_repo(CheckRequest(repo=repo, revision="HEAD", default_source=None, repo_urls=(URL,)))
    objects: dict[str, dict[str, Any]] = {}
    for r in done.rendered:
        assert r.output is not None, r.error
        for m in assign_keys(r.app, r.output.objects, KindScopes()).manifests:
            objects[f"{r.app.name} {m.key}"] = m.body
    assert sorted(objects) == [
        "cart-prod ConfigMap/prod/prod-cart-config",
        "cart-prod Deployment/prod/prod-cart",
        "cart-staging ConfigMap/staging/staging-cart-config",
        "cart-staging Deployment/staging/staging-cart",
        "frontend Deployment/frontend/frontend",
        "frontend Service/frontend/frontend",
        "payments Deployment/payments/payments",
        "payments Secret/payments/payments-db",
        "root Application/argocd/frontend",
        "root Application/argocd/payments",
        "search-prod ConfigMap/prod/prod-search-config",
        "search-prod Deployment/prod/prod-search",
        "search-staging ConfigMap/staging/staging-search-config",
        "search-staging Deployment/staging/staging-search",
    ]
    payments = objects["payments Deployment/payments/payments"]
    assert payments["spec"]["replicas"] == 3  # values-prod.yaml after values.yaml
    assert (
        payments["spec"]["template"]["spec"]["containers"][0]["image"]
        == "registry.example.com/payments:2.4.1"
    )
    frontend = objects["frontend Deployment/frontend/frontend"]
    assert (
        frontend["spec"]["template"]["spec"]["containers"][0]["image"]
        == "registry.example.com/frontend:1.9.0"
    )
    assert frontend["metadata"]["annotations"] == {"team": "web"}
    for env, replicas in (("staging", 1), ("prod", 2)):
        cart = objects[f"cart-{env} Deployment/{env}/{env}-cart"]
        assert cart["spec"]["replicas"] == replicas
        assert cart["metadata"]["labels"] == {"app.kubernetes.io/part-of": "cart"}


def test_diff_against_the_snapshot(repo: Path, tmp_path: Path) -> None:
    """The installed console script, every report: exact drift, findings as warnings, no Secret value."""
    script = shutil.which("gitops-check") or str(Path(sys.executable).parent / "gitops-check")
    out = {k: tmp_path / f"report.{k}" for k in ("json", "xml", "md")}
    proc_ = subprocess.run(
        [script, "diff", "--repo", str(repo), "--repo-url", URL, "--snapshot", str(FIXTURES / "platform-cluster.yaml"),
         "--assume-complete-snapshot", "--json", str(out["json"]), "--junit", str(out["xml"]),
         "--markdown", str(out["md"]), "--no-color"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc_.returncode == 1, proc_.stdout + proc_.stderr
    assert "Traceback" not in proc_.stderr
    report = json.loads(out["json"].read_text())
    assert sorted(a["name"] for a in report["apps"]) == APPS
    changes = sorted(
        (a["name"], r["id"], r["status"])
        for a in report["apps"]
        for r in a["resources"]
        if r["status"] != "unchanged"
    )
    assert changes == [
        ("cart-prod", "ConfigMap/prod/prod-cart-config", "changed"),
        ("frontend", "Deployment/frontend/frontend", "changed"),
        ("frontend", "Service/frontend/frontend", "added"),
        ("payments", "Secret/payments/payments-db", "changed"),
        ("search-staging", "ConfigMap/staging/staging-search-old", "removed"),
    ]
    findings = [(f["app"], f["rule"], f["severity"]) for f in report["findings"]]
    assert findings == [
        ("cart-prod", "self-heal-required", "warning"),
        ("payments", "plain-secret", "warning"),
        ("payments", "prune-in-production", "warning"),
        ("payments", "self-heal-required", "warning"),
        ("search-prod", "self-heal-required", "warning"),
    ]
    assert not [w for a in report["apps"] for w in a["warnings"] if w.startswith("hygiene")]  # not repeated
    junit = out["xml"].read_text()
    assert junit.count('<skipped type="skipped" message="hygiene warning (fails only with --strict)') == 5
    assert "<b>Hygiene</b>" in out["md"].read_text()
    secret_free(proc_.stdout + proc_.stderr + "".join(p.read_text() for p in out.values()))


def test_strict_turns_findings_into_a_failure(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """search-prod is in sync but lacks the selfHeal the project file asks for: 0 normally, 1 with --strict."""
    base = ["diff", "--repo", str(repo), "--repo-url", URL, "--snapshot", str(FIXTURES / "platform-cluster.yaml"),
            "--assume-complete-snapshot", "--app", "search-prod", "--no-color"]  # fmt: skip
    assert run(base) == 0
    assert "hygiene (self-heal-required)" in capsys.readouterr().out
    assert run([*base, "--strict"]) == 1
    assert "hygiene failure (self-heal-required)" in capsys.readouterr().out
    assert run([*base[:-3], "--app", "payments", "--strict"]) == 1


def test_without_the_repository_url_nothing_is_guessed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Applications pointing at an unknown repository are not checked (exit 2), never compared with the wrong files."""
    code = run(["diff", "--repo", str(repo), "--snapshot", str(FIXTURES / "platform-cluster.yaml"),
                "--assume-complete-snapshot", "--no-color"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2
    assert "--repo-map" in captured.out + captured.err
    secret_free(captured.out + captured.err)
