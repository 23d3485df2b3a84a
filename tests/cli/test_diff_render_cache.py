"""``diff --cache-dir``: an app whose inputs were rendered before is read from the render cache, with the same
reports as a fresh render; apps holding Secret values, changed inputs and uncommitted files are rendered."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cli import main
from tests.cli.test_shards import NO_CI, comparable, reports, tools
from tests.preview.repos import MIXED, SECRET_VALUE, make_repo

SECRETS_AND_CMS = [
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-a-auth", "namespace": "a"},
     "data": {"password": base64.b64encode(SECRET_VALUE.encode()).decode()}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-b-auth", "namespace": "b"},
     "data": {"password": base64.b64encode(b"another-value-77").decode()}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dev-settings", "namespace": "dev"},
     "data": {"level": "info"}},
]  # fmt: skip


@pytest.fixture(autouse=True)
def _outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**NO_CI, "GITOPS_CHECK_CACHE_DIR": ""}.items():
        monkeypatch.setenv(name, value)


def run(repo: Path, out: Path, snapshot: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out.mkdir(parents=True, exist_ok=True)
    code = main(["diff", "--repo", str(repo), "--snapshot", str(snapshot), *tools(), *reports(out), *extra])
    return code, json.loads((out / "r.json").read_text())


def status(doc: dict[str, Any], app: str, name: str) -> str:
    found = next(a for a in doc["apps"] if a["name"] == app)
    return str(next(r["status"] for r in found["resources"] if r["name"] == name))


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": SECRETS_AND_CMS}))
    return path


def test_a_warm_run_reads_renders_from_the_cache_and_reports_the_same(tmp_path: Path, snapshot: Path) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    cache = tmp_path / "cache"

    cold_code, cold = run(repo.path, tmp_path / "cold", snapshot, "--cache-dir", str(cache))
    warm_code, warm = run(repo.path, tmp_path / "warm", snapshot, "--cache-dir", str(cache))

    assert (cold["stats"]["cache_hits"], cold["stats"]["cache_writes"]) == (0, 6)
    # The Helm apps hold a Secret with a value: rendered again, never compared through the cache's hashes.
    assert (warm["stats"]["cache_hits"], warm["stats"]["cache_writes"], warm["stats"]["cache_with_secrets"]) == (
        4, 0, 2,
    )  # fmt: skip
    assert warm_code == cold_code
    assert comparable(tmp_path / "warm") == comparable(tmp_path / "cold")
    assert status(warm, "web-a", "web-a-auth") == "unchanged"
    assert status(warm, "web-b", "web-b-auth") == "changed"
    assert status(warm, "dev", "dev-settings") == "unchanged"
    assert SECRET_VALUE not in "".join(p.read_text() for p in cache.rglob("*") if p.is_file())


def test_a_clean_working_tree_is_keyed_by_its_commit(tmp_path: Path, snapshot: Path) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    cache = tmp_path / "cache"
    run(repo.path, tmp_path / "cold", snapshot, "--cache-dir", str(cache))

    _, warm = run(repo.path, tmp_path / "warm", snapshot, "--cache-dir", str(cache), "--working-tree")

    assert warm["stats"]["cache_hits"] == 4


def test_only_the_app_whose_inputs_changed_is_rendered_again(tmp_path: Path, snapshot: Path) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    cache = tmp_path / "cache"
    run(repo.path, tmp_path / "cold", snapshot, "--cache-dir", str(cache))
    repo.write(
        {
            "k8s/base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: debug\n"
        }
    )
    repo.commit("debug everywhere")
    repo.write(
        {"plain/tools/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tools\ndata:\n  a: c\n"}
    )
    repo.commit("tools")

    _, warm = run(repo.path, tmp_path / "warm", snapshot, "--cache-dir", str(cache))

    assert warm["stats"]["cache_hits"] == 0  # the base feeds dev, staging and prod; tools changed itself
    assert status(warm, "dev", "dev-settings") == "changed"
    repo.write({"values/web-a.yaml": "replicas: 3\n"})
    repo.commit("scale web-a")
    _, again = run(repo.path, tmp_path / "again", snapshot, "--cache-dir", str(cache))
    assert again["stats"]["cache_hits"] == 4


def test_a_working_tree_with_uncommitted_files_is_rendered(tmp_path: Path, snapshot: Path) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    cache = tmp_path / "cache"
    run(repo.path, tmp_path / "cold", snapshot, "--cache-dir", str(cache))
    (repo.path / "k8s/base/cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: debug\n"
    )

    _, dirty = run(repo.path, tmp_path / "dirty", snapshot, "--cache-dir", str(cache), "--working-tree")
    _, committed = run(repo.path, tmp_path / "rev", snapshot, "--cache-dir", str(cache))  # HEAD

    assert "cache_hits" not in dirty["stats"]
    assert any(
        "render cache not used: the working tree is not a clean git checkout" in n for n in dirty["notes"]
    )
    assert status(dirty, "dev", "dev-settings") == "changed"  # the uncommitted file, not the cached render
    assert committed["stats"]["cache_hits"] == 4 and status(committed, "dev", "dev-settings") == "unchanged"


def test_a_cache_inside_the_checked_checkout_is_not_used(tmp_path: Path, snapshot: Path) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    inside = repo.path / ".cache" / "renders"

    _, doc = run(repo.path, tmp_path / "out", snapshot, "--cache-dir", str(inside))

    assert "cache_hits" not in doc["stats"]
    assert any("lies inside the checkout" in w for w in doc["warnings"] + doc["notes"])
    assert not inside.exists()
