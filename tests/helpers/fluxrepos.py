"""The Flux fixture repositories (tests/fixtures/flux) as git repositories, and the CLI run their tests make.

``flux_repo`` copies one fixture layout into a fresh repository with the remote its Flux objects name (so
discovery sees the GitRepository as this repository) and commits it; ``run_diff`` runs ``gitops-check diff``
as a process of its own with every report format written to ``out`` (report.json, report.md, report.xml).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitops_check.model.rendered import RawObject
from tests.helpers.gitrepo import GitRepo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "flux"
EXAMPLE_URL = "https://github.com/example/flux2-kustomize-helm-example.git"  # the "artifacts" layout's remote


def flux_repo(
    tmp_path: Path,
    layout: str,
    remote: str,
    *,
    name: str | None = None,
    files: Mapping[str, str] | None = None,
) -> GitRepo:
    """FIXTURES/``layout`` committed in ``tmp_path/<name or layout>``, plus ``files``, with ``remote`` as origin."""
    repo = GitRepo.init(tmp_path / (name or layout))
    shutil.copytree(FIXTURES / layout, repo.path, dirs_exist_ok=True)
    if files:
        repo.write(dict(files))
    repo.git("remote", "add", "origin", remote)
    repo.commit(name or layout)
    return repo


def run_diff(
    repo: GitRepo, out: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed ``gitops-check diff`` on ``repo``, every report written to ``out``."""
    script = shutil.which("gitops-check") or str(Path(sys.executable).parent / "gitops-check")
    return subprocess.run(
        [script, "diff", "--repo", str(repo.path), *args, "--json", str(out / "report.json"),
         "--markdown", str(out / "report.md"), "--junit", str(out / "report.xml")],
        capture_output=True, text=True, check=False, env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )  # fmt: skip


def findings(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(app, resource, status) of every resource a JSON report does not call unchanged, sorted."""
    return sorted(
        (a["name"], r["id"], r["status"])
        for a in report["apps"]
        for r in a["resources"]
        if r["status"] != "unchanged"
    )


def by_id(objects: Iterable[RawObject]) -> dict[str, dict[str, Any]]:
    """Rendered objects by ``kind/namespace/name``."""
    out = {}
    for o in objects:
        metadata = o.body["metadata"]
        out[f"{o.body['kind']}/{metadata.get('namespace', '')}/{metadata['name']}"] = o.body
    return out
