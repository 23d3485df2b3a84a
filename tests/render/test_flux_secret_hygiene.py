"""Hygiene's plain-secret rule and Flux: a Secret whose values Git holds as ``${var}`` from a Secret is not plain.

The Flux renderers mark the Secret data they filled in from a Kubernetes Secret (``RawObject.secret_sourced``,
found by rendering twice, with the values and with placeholders); the rule counts only the other values. A
value from an inline ``substitute`` variable or a literal is in Git, and still counts.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.cli import main
from gitops_check.hygiene import check_app, parse_hygiene
from gitops_check.model.app import App, Destination
from gitops_check.model.objects import SecretText
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.source import HelmOptions, KustomizeOptions, Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.render.app import render_app
from gitops_check.render.base import RenderOutput
from tests.helpers.gitrepo import GitRepo, make_workspace

TOKEN = "s3cr3t-from-a-secret"
SECRET_YAML = """\
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData:
  token: ${token}
  url: https://bot:${token}@git.example.com
data:
  user: ${user_b64}
"""
CHART_SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: {{ .Release.Name }}-db}
data:
  password: {{ .Values.password | b64enc }}
  {{- with .Values.literal }}
  literal: {{ . | b64enc }}
  {{- end }}
"""


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path, {
        "secrets/kustomization.yaml": "resources: [secret.yaml]\n",
        "secrets/secret.yaml": SECRET_YAML,
        "charts/db/Chart.yaml": "apiVersion: v2\nname: db\nversion: 0.1.0\n",
        "charts/db/templates/secret.yaml": CHART_SECRET,
    })  # fmt: skip


def kustomization(ws: Workspace, kustomize_bin: Path, variables: dict[str, str]) -> tuple[App, RenderOutput]:
    source = Source(
        path="secrets", tool=Tool.FLUX_KUSTOMIZE, kustomize=KustomizeOptions(), substitute=variables
    )
    app = App(name="Kustomization/flux-system/apps", sources=(source,), destination=Destination())
    return app, render_app(app, ws, RenderOptions(kustomize_binary=str(kustomize_bin)))


def findings(app: App, objects: list[RawObject]) -> list[str]:
    return [f.message.split(" (")[0] + ": " + f.message.split(") has ")[1].split(" in plain")[0]
            for f in check_app(app, objects, parse_hygiene(None))]  # fmt: skip


def test_values_substituted_from_a_secret_are_not_in_git(ws: Workspace, kustomize_bin: Path) -> None:
    user = base64.b64encode(b"bot").decode()
    app, out = kustomization(ws, kustomize_bin, {"token": SecretText(TOKEN), "user_b64": SecretText(user)})
    [secret] = out.objects
    assert secret.secret_sourced == {"stringData.token", "stringData.url", "data.user"}
    assert findings(app, out.objects) == []


def test_values_from_inline_variables_still_count(ws: Workspace, kustomize_bin: Path) -> None:
    """``substitute: {user_b64: ...}`` is written in the Kustomization, in Git: that value is plain text in Git."""
    user = base64.b64encode(b"bot").decode()
    app, out = kustomization(ws, kustomize_bin, {"token": SecretText(TOKEN), "user_b64": user})
    assert out.objects[0].secret_sourced == {"stringData.token", "stringData.url"}
    assert findings(app, out.objects) == ["Secret creds: 1 value"]
    app, out = kustomization(ws, kustomize_bin, {"token": "inline", "user_b64": user})
    assert out.objects[0].secret_sourced == frozenset()
    assert findings(app, out.objects) == ["Secret creds: 3 values"]


def helm_release(ws: Workspace, helm_bin: Path, values: dict[str, Any]) -> tuple[App, RenderOutput]:
    source = Source(path="charts/db", tool=Tool.FLUX_HELM, helm=HelmOptions(release_name="db", namespace="db",
                                                                          values=(values,)))  # fmt: skip
    app = App(name="HelmRelease/db/db", sources=(source,), destination=Destination(namespace="db"))
    return app, render_app(app, ws, RenderOptions(helm_binary=str(helm_bin)))


def test_helmrelease_values_from_a_secret(ws: Workspace, helm_bin: Path) -> None:
    app, out = helm_release(ws, helm_bin, {"password": SecretText(TOKEN), "literal": "in-git"})
    [secret] = out.objects
    assert secret.secret_sourced == {"data.password"}
    assert findings(app, out.objects) == ["Secret db/db-db: 1 value"]
    app, out = helm_release(ws, helm_bin, {"password": "in-git-too"})
    assert findings(app, out.objects) == ["Secret db/db-db: 1 value"]


def test_end_to_end_a_flux_repository(
    tmp_path: Path, kustomize_bin: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Secret's values come from ``substituteFrom`` a Secret given to CI through the environment: no finding."""
    url = "https://git.example.com/fleet.git"
    ks = {"interval": "10m", "path": "./apps", "prune": True, "targetNamespace": "apps",
          "sourceRef": {"kind": "GitRepository", "name": "fleet"},
          "postBuild": {"substituteFrom": [{"kind": "Secret", "name": "fleet-secrets"}]}}  # fmt: skip
    objects = [
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
         "metadata": {"name": "fleet", "namespace": "flux-system"}, "spec": {"url": url, "interval": "1m"}},
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": {"name": "apps", "namespace": "flux-system"}, "spec": ks},
    ]  # fmt: skip
    project = {"version": 1, "discovery": {"flux": {"objects": [
        {"kind": "Secret", "namespace": "flux-system", "name": "fleet-secrets",
         "fromEnv": {"token": "FLEET_TOKEN", "user_b64": "FLEET_USER"}}]}}}  # fmt: skip
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        ".gitops-check.yaml": yaml.safe_dump(project),
        "clusters/prod/fleet.yaml": yaml.safe_dump_all(objects),
        "apps/kustomization.yaml": "resources: [secret.yaml, literal.yaml]\n",
        "apps/secret.yaml": SECRET_YAML,
        "apps/literal.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: literal}\nstringData: {k: in-git}\n",
    })  # fmt: skip
    repo.commit("fleet")
    monkeypatch.setenv("FLEET_TOKEN", TOKEN)
    monkeypatch.setenv("FLEET_USER", base64.b64encode(b"bot").decode())
    monkeypatch.setenv("GITOPS_CHECK_KUSTOMIZE", str(kustomize_bin))
    snapshot = tmp_path / "empty.json"
    snapshot.write_text('{"apiVersion": "v1", "kind": "List", "items": []}')
    report = tmp_path / "report.json"
    code = main(["diff", "--repo", str(repo.path), "--repo-url", url, "--snapshot", str(snapshot),
                 "--assume-complete-snapshot", "--json", str(report), "--no-color",
                 "--allow-env", "FLEET_TOKEN FLEET_USER"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 1, out.out + out.err
    doc = json.loads(report.read_text())
    assert [(f["rule"], f["message"].split(" (")[0]) for f in doc["findings"]] == [
        ("plain-secret", "Secret apps/literal")
    ]
    assert TOKEN not in out.out + out.err + report.read_text()
