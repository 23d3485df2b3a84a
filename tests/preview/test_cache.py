"""The render cache: later runs skip renders, concurrent writers are safe, the size stays bounded, and neither the
cache nor any report ever holds a Secret value."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from click.testing import CliRunner

from gitops_check.cli import cli
from gitops_check.model.objects import Origin, SecretText
from gitops_check.model.rendered import RawObject
from gitops_check.project.config import RenderOptions
from gitops_check.render.base import RenderOutput
from gitops_check.render.cache import INVALID_BASE64, RenderCache, seal
from tests.preview.conftest import Preview, by_name, changed_apps
from tests.preview.repos import MIXED, SECRET_VALUE, make_repo

NEW_SECRET = "n3w-Secret-Value-42"


def test_warm_cache_skips_every_render(tmp_path: Path, preview: Preview) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({"values/web-a.yaml": "replicas: 5\n"})
    repo.commit("scale web-a")
    cache = tmp_path / "cache"

    cold = preview(repo.path, "HEAD~1", cache_dir=cache)
    warm = preview(repo.path, "HEAD~1", cache_dir=cache)

    assert (cold.stats["renders"], cold.stats["cache_hits"], cold.stats["cache_writes"]) == (2, 0, 2)
    assert (warm.stats["renders"], warm.stats["cache_hits"], warm.stats["cache_writes"]) == (0, 2, 0)
    assert changed_apps(warm) == changed_apps(cold) == {"web-a"}
    assert [d.changes for d in by_name(warm)["web-a"].diffs] == [
        d.changes for d in by_name(cold)["web-a"].diffs
    ]


def test_other_tool_version_misses_the_cache(
    tmp_path: Path, preview: Preview, render_options: RenderOptions
) -> None:
    from tests.helpers.binaries import HELM4, cached_binary

    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({"values/web-a.yaml": "replicas: 5\n"})
    repo.commit("scale web-a")
    cache = tmp_path / "cache"
    preview(repo.path, "HEAD~1", cache_dir=cache)
    helm4 = RenderOptions(helm_binary=str(cached_binary(HELM4)),
                          kustomize_binary=render_options.kustomize_binary)  # fmt: skip

    again = preview(repo.path, "HEAD~1", cache_dir=cache, render=helm4)

    assert again.stats["renders"] == 2 and again.stats["cache_hits"] == 0


def test_secret_values_never_reach_cache_or_reports(tmp_path: Path) -> None:
    from tests.helpers.binaries import HELM, KUSTOMIZE, cached_binary

    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({"values/web-a.yaml": f"replicas: 2\npassword: {NEW_SECRET}\n"})
    repo.commit("rotate web-a password")
    out = tmp_path / "out"
    args = [
        "preview", "--repo", str(repo.path), "--base", "HEAD~1", "--cache-dir", str(tmp_path / "cache"),
        "--helm", str(cached_binary(HELM)), "--kustomize", str(cached_binary(KUSTOMIZE)),
        "--work-dir", str(tmp_path / "work"), "--json", str(out / "r.json"), "--junit", str(out / "r.xml"),
        "--markdown", str(out / "c.md"), "--markdown-full", str(out / "full.md"),
        "--markdown-parts-dir", str(out / "parts"), "-v",
    ]  # fmt: skip

    runs = [CliRunner().invoke(cli, args, env={"GITHUB_ACTIONS": "", "GITLAB_CI": ""}) for _ in range(2)]

    for run in runs:
        assert run.exit_code == 1, run.output
        assert "Secret/a/web-a-auth" in run.output and "data.password" in run.output
    reports = [run.output for run in runs] + [p.read_text() for p in out.rglob("*") if p.is_file()]
    cached = [p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert len(reports) == 8 and len(cached) == 4  # the salt, tool versions and two renders
    for text in reports + cached:
        for value in (SECRET_VALUE, NEW_SECRET):
            assert value not in text and _b64(value) not in text
    assert not [text for text in reports if "gitops-check-hash" in text]  # not even the hashes
    assert any("gitops-check-hash" in text for text in cached)
    doc = json.loads((out / "r.json").read_text())
    [secret] = [
        r for a in doc["apps"] for r in a["resources"] if r["kind"] == "Secret" and r["status"] == "changed"
    ]
    assert [c["path"] for c in secret["changes"]] == ["data.password"]


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def test_seal_hashes_every_secret_value_and_is_idempotent(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "c")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"a": _b64("one"), "bad": "%%%"}, "stringData": {"b": "two", "a": "three"}}  # fmt: skip
    listed = {"apiVersion": "v1", "kind": "List", "items": [secret]}
    output = RenderOutput([RawObject(secret, Origin("x")), RawObject(listed, Origin("x"))])

    sealed = seal(output, cache.hashing)

    body = sealed.objects[0].body
    assert set(body) == {"apiVersion", "kind", "metadata", "data"}
    assert body["data"]["bad"] == INVALID_BASE64
    assert body["data"]["a"].startswith("gitops-check-hash:v1:") and body["data"]["a"] != body["data"]["b"]
    assert sealed.objects[1].body["items"][0] == body
    assert seal(sealed, cache.hashing).objects == sealed.objects
    assert "three" not in json.dumps(body) and "one" not in json.dumps(body)


def test_entries_are_exact_or_absent(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "c")
    good = RenderOutput(
        [RawObject({"kind": "ConfigMap", "data": {"k": "v"}}, Origin("a", "f.yaml", 3))], ["w"]
    )
    odd = RenderOutput([RawObject({"kind": "ConfigMap", "data": {1: "int key"}}, Origin("a"))])

    assert cache.put("k1", good) and not cache.put("k2", odd)
    # Whatever would read back as something else is not stored: a tuple, a str subclass (a SecretText would
    # come back a plain string, no longer known as a secret), NaN, nesting past Python's recursion limit.
    deep: dict[str, object] = {}
    for _ in range(2000):
        deep = {"d": deep}
    for n, body in enumerate(
        [
            {"kind": "ConfigMap", "data": {"k": ("a", "b")}},
            {"kind": "Secret", "stringData": {"k": SecretText("from-a-secret")}},
            {"kind": "ConfigMap", "data": {"k": float("nan")}},
            {"kind": "ConfigMap", "data": deep},
        ]
    ):
        assert not cache.put(f"odd{n}", RenderOutput([RawObject(body, Origin("a"))]))
        assert cache.get(f"odd{n}") is None

    again = cache.get("k1")
    assert again is not None and again.objects == good.objects and again.warnings == ["w"]
    assert cache.get("k2") is None
    damaged = next((tmp_path / "c").rglob("k1.json"))
    damaged.write_text("{not json")
    assert cache.get("k1") is None and not damaged.exists()


def test_concurrent_writers_and_one_salt(tmp_path: Path) -> None:
    root = tmp_path / "c"
    output = RenderOutput([RawObject({"kind": "ConfigMap", "data": {"k": "v" * 1000}}, Origin("a"))])

    def job(i: int) -> str:
        cache = RenderCache(root)
        for n in range(20):
            cache.put(f"key{n:02d}", output)
            got = cache.get(f"key{(n + i) % 20:02d}")
            assert got is None or got.objects == output.objects  # a whole entry or none, never a torn one
        return cache.hashing.salt

    with ThreadPoolExecutor(8) as pool:
        salts = set(pool.map(job, range(8)))

    assert len(salts) == 1
    cache = RenderCache(root)
    assert all(cache.get(f"key{n:02d}") is not None for n in range(20))
    assert not [p for p in root.rglob(".tmp-*")]


def test_prune_keeps_the_folder_under_its_bound(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "c", max_bytes=20_000)
    output = RenderOutput([RawObject({"kind": "ConfigMap", "data": {"k": "v" * 1000}}, Origin("a"))])
    for n in range(40):
        cache.put(f"key{n:02d}", output)
        path = next((tmp_path / "c").rglob(f"key{n:02d}.json"))
        os.utime(path, (time.time() - 1000 + n, time.time() - 1000 + n))
    cache.get("key00")  # recently used: kept

    removed = cache.prune()

    sizes = sum(p.stat().st_size for p in (tmp_path / "c").rglob("*.json"))
    assert removed > 0 and sizes <= 16_000
    assert cache.get("key00") is not None and cache.get("key01") is None
