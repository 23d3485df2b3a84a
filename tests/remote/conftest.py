"""Fixtures for remote sources: a chart repository with several versions on loopback, a private cache per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops_check.proc import tool_cache_dir
from gitops_check.remote.charts import reset
from tests.helpers.binaries import KUSTOMIZE, cached_binary
from tests.helpers.chartrepo import helm_binary, index, make_chart, package, run

VERSIONS = ("1.2.4", "1.2.5", "1.3.0-rc.1", "2.0.0")


@dataclass
class ChartSite:
    folder: Path  # served files: index.yaml and the archives
    work: Path


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GITOPS_CHECK_FETCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GITOPS_CHECK_BIN_CACHE", str(tool_cache_dir()))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no helm/docker logins of the machine
    for key in [k for k in __import__("os").environ if k.startswith("GITOPS_CHECK_CRED_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GITOPS_CHECK_HELM", helm_binary())
    monkeypatch.setenv("GITOPS_CHECK_KUSTOMIZE", str(cached_binary(KUSTOMIZE)))
    reset()
    yield
    reset()


@pytest.fixture
def site(tmp_path: Path) -> ChartSite:
    helm_binary()
    folder = tmp_path / "site"
    for version in VERSIONS:
        package(make_chart(tmp_path / "src", "demo", version, value=f"v{version}"), folder)
    return ChartSite(folder, tmp_path)


def publish(site: ChartSite, url: str) -> None:
    index(site.folder, url)


def helm_template(chart_tgz: Path, release: str, namespace: str, *extra: str) -> list[dict[str, object]]:
    """What ``helm template`` renders from the same archive, as objects (the reference for comparisons)."""
    out = run(
        [
            helm_binary(),
            "template",
            release,
            str(chart_tgz),
            "--namespace",
            namespace,
            "--include-crds",
            *extra,
        ]
    )
    import yaml

    return [d for d in yaml.safe_load_all(out) if d]


def snapshot_of(objects: list[dict[str, object]], namespace: str, path: Path) -> Path:
    """A kubectl-style dump (``kind: List``) of ``objects`` as if applied to ``namespace``."""
    items = []
    for obj in objects:
        body = json.loads(json.dumps(obj))
        body["metadata"].setdefault("namespace", namespace)
        items.append(body)
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path
