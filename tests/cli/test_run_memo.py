"""The run memo (``pipeline/memo.py``): a ``diff`` whose inputs are byte-identical to a recorded run reports that
run's result again; any input that changes misses; incomplete runs are never kept; no Secret value is stored."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.cli import main
from gitops_check.pipeline import memo as memo_module
from tests.helpers.binaries import HELM, KUSTOMIZE, cached_binary
from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.shards import comparable as comparable_json

EXAMPLE = Path(__file__).resolve().parents[2] / "examples"
MARKER = "memo-marker-s3cr3t-value-4711"
# The marker as a Secret value in Git: reported as a changed key, never shown.
SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata: {name: shop-token, namespace: shop}\ntype: Opaque\n"
    f"stringData:\n  token: {MARKER}\n"
)


@pytest.fixture(autouse=True)
def _outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "CI_NODE_INDEX", "CI_NODE_TOTAL", "GITOPS_CHECK_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def shop(tmp_path: Path) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    shutil.copytree(EXAMPLE / "shop", repo.path, dirs_exist_ok=True)
    repo.write({"apps/redis/token.yaml": SECRET})
    repo.commit("shop")
    return repo


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.json"
    shutil.copyfile(EXAMPLE / "shop-cluster.json", path)
    return path


def run(
    repo: GitRepo, snapshot: Path, out: Path, cache: Path, *extra: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any], str]:
    """One diff with every report; its exit code, JSON report and stderr."""
    out.mkdir(parents=True, exist_ok=True)
    code = main([
        "diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--cache-dir", str(cache), "--no-color",
        "--helm", str(cached_binary(HELM)), "--kustomize", str(cached_binary(KUSTOMIZE)),
        "--json", str(out / "r.json"), "--markdown", str(out / "r.md"), "--junit", str(out / "r.xml"),
        "--markdown-full", str(out / "full.md"), "--part", str(out / "part.json"), *extra,
    ])  # fmt: skip
    err = capsys.readouterr().err
    return code, json.loads((out / "r.json").read_text()), err


def hit(doc: dict[str, Any]) -> bool:
    return doc["stats"].get("memo_hit") == 1


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "memo").rglob("*.json") if not p.name.startswith(".tmp-"))


def test_a_second_identical_run_reports_the_first_runs_result(
    shop: GitRepo, snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    code, first, _ = run(shop, snapshot, tmp_path / "a", cache, capsys=capsys)
    assert code == 1 and not hit(first) and first["stats"]["memo_stored"] == 1
    assert len(entries(cache)) == 1

    again, second, err = run(shop, snapshot, tmp_path / "b", cache, capsys=capsys)

    assert again == code and hit(second)
    assert "run memo: every input is byte-identical" in err and shop.head()[:12] in err
    assert comparable_json(second) == comparable_json(first)
    for name in ("r.md", "full.md", "r.xml"):  # JUnit times are the apps' render times, kept in the result
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name
    # What merge makes of the recorded part is what the hit reported.
    merged = tmp_path / "m"
    merged.mkdir()
    merge_code = main(["merge", str(tmp_path / "a" / "part.json"), "--no-color", "--json", str(merged / "r.json"),
                       "--markdown", str(merged / "r.md"), "--junit", str(merged / "r.xml")])  # fmt: skip
    assert merge_code == again
    assert comparable_json(json.loads((merged / "r.json").read_text())) == comparable_json(second)
    for name in ("r.md", "r.xml"):
        assert (merged / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_no_secret_value_is_stored(
    shop: GitRepo, snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    run(shop, snapshot, tmp_path / "a", cache, capsys=capsys)
    assert entries(cache)
    encoded = [MARKER.encode(), base64.b64encode(MARKER.encode())]
    for path in (cache / "memo").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(e in data for e in encoded), path


def one_change(
    name: str, shop: GitRepo, snapshot: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> list[str]:
    """Change one input of the run; the extra command-line arguments it needs."""
    if name == "commit":
        shop.write(
            {
                "apps/redis/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: shop}\n"
            }
        )
        shop.commit("one more file")
    elif name == "snapshot byte":
        data = bytearray(snapshot.read_bytes())
        data[data.rindex(b"}")] = ord("}")  # rewritten first...
        data += b" "  # ...then one byte more (JSON whitespace: the same cluster, other bytes)
        snapshot.write_bytes(bytes(data))
    elif name == "option":
        return ["--kube-version", "1.30.0"]
    elif name == "cluster option":
        return ["--assume-complete-snapshot"]
    elif name == "tool mtime":
        helm = tmp_path / "helm"
        if not helm.exists():
            shutil.copy2(cached_binary(HELM), helm)
        st = helm.stat()
        os.utime(helm, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        return ["--helm", str(helm)]
    elif name == "environment":
        monkeypatch.setenv("HELM_DEBUG", "false")
    return []


@pytest.mark.parametrize(
    "change", ["commit", "snapshot byte", "option", "cluster option", "tool mtime", "environment"]
)
def test_each_input_change_misses(
    change: str,
    shop: GitRepo,
    snapshot: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache = tmp_path / "cache"
    base: list[str] = []
    if change == "tool mtime":  # a copy of helm whose mtime the test moves
        base = one_change(change, shop, snapshot, monkeypatch, tmp_path)
    _, cold, _ = run(shop, snapshot, tmp_path / "a", cache, *base, capsys=capsys)
    assert cold["stats"]["memo_stored"] == 1

    extra = one_change(change, shop, snapshot, monkeypatch, tmp_path)
    _, changed, _ = run(shop, snapshot, tmp_path / "c", cache, *(extra or base), capsys=capsys)

    assert not hit(changed), change
    assert changed["stats"]["memo_stored"] == 1  # and the new inputs are recorded in turn
    _, after, _ = run(shop, snapshot, tmp_path / "d", cache, *(extra or base), capsys=capsys)
    assert hit(after)


def test_a_garbled_entry_is_a_miss(
    shop: GitRepo, snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    code, first, _ = run(shop, snapshot, tmp_path / "a", cache, capsys=capsys)
    (entry,) = entries(cache)
    assert b'"changed"' in entry.read_bytes()
    for garbage in (b"", b"{not json\n", entry.read_bytes()[: len(entry.read_bytes()) // 2],
                    entry.read_bytes().replace(b'"apps"', b'"appz"'),
                    entry.read_bytes().replace(b'"changed"', b'"unchanged"')):  # still JSON  # fmt: skip
        entry.write_bytes(garbage)
        again, doc, _ = run(shop, snapshot, tmp_path / "b", cache, capsys=capsys)
        assert again == code and not hit(doc)
        assert comparable_json(doc) == comparable_json(first)
        assert entry.exists()  # written again by the run that missed


def test_incomplete_runs_are_not_stored(
    shop: GitRepo, snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    project = (shop.path / ".gitops-check.yaml").read_text()
    ghost = "  - name: ghost\n    path: apps/ghost\n    tool: directory\n    namespace: shop\n"
    shop.write({".gitops-check.yaml": project.replace("apps:\n", "apps:\n" + ghost, 1)})
    shop.commit("an app whose folder does not exist")
    code, doc, _ = run(shop, snapshot, tmp_path / "a", cache, "-v", capsys=capsys)
    assert code == 2 and doc["stats"]["memo_stored"] == 0
    assert not entries(cache)
    code, doc, err = run(shop, snapshot, tmp_path / "b", cache, "-v", capsys=capsys)
    assert code == 2 and not hit(doc)
    assert "not kept: the run did not check everything" in err


def test_a_memo_inside_the_checkout_is_refused(
    shop: GitRepo, snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inside = shop.path / ".cache"
    for folder in ("a", "b"):
        code, doc, _ = run(shop, snapshot, tmp_path / folder, inside, capsys=capsys)
        assert code == 1 and not hit(doc)
    assert not (inside / "memo").exists()


def test_no_cache_disables_the_memo(
    shop: GitRepo, snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    run(shop, snapshot, tmp_path / "a", cache, capsys=capsys)
    code, doc, _ = run(shop, snapshot, tmp_path / "b", cache, "--no-cache", capsys=capsys)
    assert code == 1 and "memo_hit" not in doc["stats"] and "cache_hits" not in doc["stats"]


def test_a_dirty_working_tree_is_not_memoized(
    shop: GitRepo, snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    shop.write({"apps/redis/config.yaml": (shop.path / "apps/redis/config.yaml").read_text() + "# edited\n"})
    for folder in ("a", "b"):
        _, doc, err = run(shop, snapshot, tmp_path / folder, cache, "--working-tree", "-v", capsys=capsys)
        assert not hit(doc) and doc["stats"]["memo_stored"] == 0
    assert "the working tree has changes" in err


def test_the_key_covers_the_environment_tools_read() -> None:
    def keyed(name: str) -> bool:
        return name in memo_module.ENV_NAMES or name.startswith(memo_module.ENV_PREFIXES)

    read = ("GITOPS_CHECK_SNAPSHOT_KEY", "HELM_CACHE_HOME", "KUSTOMIZE_PLUGIN_HOME", "XDG_CONFIG_HOME", "HOME", "PATH",
            "GIT_DIR", "CI_NODE_INDEX")  # fmt: skip
    assert all(keyed(name) for name in read)
    assert not any(
        keyed(name) for name in ("CI_JOB_ID", "GITHUB_RUN_ID", "CI_PIPELINE_ID")
    )  # new in every job


def test_what_is_never_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitops_check.model.app import App
    from gitops_check.model.result import AppError, AppResult, CheckResult
    from gitops_check.remote import charts

    def result(**kw: Any) -> CheckResult:
        app = AppResult(App("web", ()), resolved=kw.pop("resolved", []), errors=kw.pop("app_errors", []))
        return CheckResult(apps=[app], target="t", against="a", **kw)

    why = memo_module.not_stored_because
    assert why(result()) is None
    assert why(result(resolved=["podinfo 6.x -> 6.14.1 (sha256:…) from https://charts.example"]))
    assert why(result(stats={"fetch_requests": 3}))
    assert why(result(errors=[AppError("*", "no apps found")]))
    assert why(result(app_errors=[AppError("web", "render failed")]))
    assert why(result(), other_clusters=["prod"])
    monkeypatch.setattr(charts, "used", lambda: True)  # something reached for the network or the fetch cache
    assert why(result())


def test_a_moved_branch_misses_with_honour_target_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli.test_shards import URL, application, configmap

    repo = GitRepo.init(tmp_path / "repo")
    repo.git("remote", "add", "origin", URL)
    repo.write({"apps/web.yaml": application("web", "workloads/web", "web").replace("main", "release"),
                "workloads/web/cm.yaml": configmap("web", "v1")})  # fmt: skip
    repo.commit("web")
    repo.git("branch", "release")
    snapshot = tmp_path / "cluster.json"
    live = json.loads(json.dumps(yaml.safe_load(configmap("web", "v1"))))
    live["metadata"]["namespace"] = "web"
    snapshot.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [live]}))
    cache = tmp_path / "cache"
    args = ("--honour-target-revision", "--assume-complete-snapshot")
    code, first, _ = run(repo, snapshot, tmp_path / "a", cache, *args, capsys=capsys)
    assert code == 0 and first["stats"]["memo_stored"] == 1

    # The release branch moves on; the commit checked (HEAD, on main) stays the same.
    repo.git("checkout", "-q", "-b", "side")
    repo.write({"workloads/web/cm.yaml": configmap("web", "v2")})
    repo.commit("v2 on the release branch")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-f", "release", "side")
    code, moved, _ = run(repo, snapshot, tmp_path / "b", cache, *args, capsys=capsys)

    assert not hit(moved) and code == 1  # the app renders the release branch: v2 against the cluster's v1


def test_a_cluster_of_the_project_file_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli.test_shards import URL, application, configmap

    # Its snapshot is a path the project file names (relative to the job's folder), which the key does not cover.
    repo = GitRepo.init(tmp_path / "repo")
    repo.git("remote", "add", "origin", URL)
    app = application("web", "workloads/web", "web").replace(
        "server: 'https://kubernetes.default.svc'", "name: prod"
    )
    repo.write({"apps/web.yaml": app, "workloads/web/cm.yaml": configmap("web", "v1"),
                ".gitops-check.yaml": "version: 1\nclusters:\n  - name: prod\n    snapshot: prod.json\n"})  # fmt: skip
    repo.commit("web on the prod cluster")
    live = yaml.safe_load(configmap("web", "v1"))
    live["metadata"]["namespace"] = "web"
    (tmp_path / "prod.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [live]}))
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "other.json"
    empty.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": []}))
    for folder in ("a", "b"):
        code, doc, err = run(repo, empty, tmp_path / folder, tmp_path / "cache", "--assume-complete-snapshot", "-v",
                             capsys=capsys)  # fmt: skip
        assert code == 0 and not hit(doc) and doc["stats"]["memo_stored"] == 0, err
    assert "clusters from the project file's clusters: were read (prod)" in err


def test_a_live_run_is_never_memoized(
    shop: GitRepo, tmp_path: Path, kube_cluster: TestCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    # The cluster changes without any input of the key changing.
    cache = tmp_path / "cache"
    for folder in ("a", "b"):
        out = tmp_path / folder
        out.mkdir()
        main(["diff", "--repo", str(shop.path), "--live", "--kubeconfig", str(kube_cluster.admin_kubeconfig),
              "--cache-dir", str(cache), "--helm", str(cached_binary(HELM)), "--kustomize",
              str(cached_binary(KUSTOMIZE)), "--json", str(out / "r.json")])  # fmt: skip
        stats = json.loads((out / "r.json").read_text())["stats"]
        assert "memo_hit" not in stats and "memo_stored" not in stats
        assert "cache_hits" in stats  # the render cache is on
    assert not list(cache.glob("memo/**/*.json"))


def test_the_part_is_encoded_once_and_is_the_memo_entry(
    shop: GitRepo,
    snapshot: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A cold run with --part writes the text it stored in the memo: one encoding of the result, not two; merge
    reads it as the run's result; the warm run that reuses it reports what the memo's first run reported."""
    from gitops_check.report import parts

    calls: list[int] = []
    dump_part = parts.dump_part
    monkeypatch.setattr(parts, "dump_part", lambda *a: calls.append(1) or dump_part(*a))
    cache = tmp_path / "cache"
    code, cold, _ = run(shop, snapshot, tmp_path / "a", cache, capsys=capsys)
    assert len(calls) == 1 and cold["stats"]["memo_stored"] == 1
    part_text = (tmp_path / "a" / "part.json").read_text()
    (entry,) = entries(cache)
    assert entry.read_text().partition("\n")[2] == part_text
    stats = dict(cold["stats"])
    assert parts.load_part(part_text, "part").result.stats == stats

    _, warm, _ = run(shop, snapshot, tmp_path / "b", cache, capsys=capsys)
    assert hit(warm) and "memo_stored" not in warm["stats"]
    assert comparable_json(warm) == comparable_json(cold)
    merged = tmp_path / "m"
    assert main(["merge", str(tmp_path / "a" / "part.json"), "--json", str(merged / "r.json")]) == code
    assert json.loads((merged / "r.json").read_text())["stats"] == stats


def test_a_part_the_memo_did_not_store_says_so(
    shop: GitRepo,
    snapshot: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A memo entry that could not be written (a full or read-only cache): the part file says memo_stored 0."""
    monkeypatch.setattr(memo_module.RunMemo, "put", lambda self, part: False)
    _, doc, _ = run(shop, snapshot, tmp_path / "a", tmp_path / "cache", capsys=capsys)
    assert doc["stats"]["memo_stored"] == 0
    part = json.loads((tmp_path / "a" / "part.json").read_text())
    assert part["result"]["stats"]["memo_stored"] == 0
