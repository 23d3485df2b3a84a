"""Helpers for the hostile-repository tests (tests/security): real binaries, real git repositories, one CLI run.

Each test builds a repository as a hostile contributor would and runs ``gitops-check diff`` on it the way CI does
(``main([...])``); the binaries come from the tool cache (tests/helpers/binaries.py: skip locally, fail under CI=true when
missing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cli import main
from tests.helpers.binaries import HELM, KUSTOMIZE, cached_binary

REPO_URL = "https://git.example.com/org/gitops.git"


def helm_bin() -> Path:
    return cached_binary(HELM)


def kustomize_bin() -> Path:
    return cached_binary(KUSTOMIZE)


@dataclass
class Run:
    code: int
    out: str
    err: str
    report: dict[str, Any]
    files: str  # every report file written, concatenated

    def app(self, name: str) -> dict[str, Any]:
        for app in self.report["apps"]:
            if app["name"] == name:
                return dict(app)
        raise AssertionError(f"no app {name} in {[a['name'] for a in self.report['apps']]}")

    def messages(self, name: str) -> str:
        return "\n".join(str(e["message"]) for e in self.app(name).get("errors", []))

    @property
    def everything(self) -> str:
        return self.out + self.err + self.files


PLAIN_CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "plain", "namespace": "ns"},
    "data": {"k": "v"},
}


def snapshot_of(tmp_path: Path, *objects: dict[str, Any]) -> Path:
    """A kubectl-style dump: it covers the kinds it contains (ConfigMaps always, through PLAIN_CM)."""
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [PLAIN_CM, *objects]}))
    return path


def run_diff(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, repo: Path, *extra: str, snapshot: Path | None = None
) -> Run:
    """``gitops-check diff`` with every report format written, as a CI job would run it."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    files = {k: out / f"report.{k}" for k in ("json", "md", "xml")}
    capsys.readouterr()
    target = [] if "--live" in extra else ["--snapshot", str(snapshot or snapshot_of(tmp_path))]
    code = main([
        "diff", "--repo", str(repo), *target, "--no-color",
        "--json", str(files["json"]), "--markdown", str(files["md"]), "--junit", str(files["xml"]), *extra,
    ])  # fmt: skip
    captured = capsys.readouterr()
    written = "".join(p.read_text() for p in files.values() if p.exists())
    report = json.loads(files["json"].read_text()) if files["json"].exists() else {"apps": []}
    return Run(code, captured.out, captured.err, report, written)
