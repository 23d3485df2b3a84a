"""One check split into shards (``--shard K/N --part FILE``) and joined by ``gitops-check merge``: the merged reports
equal a single run's (JSON except timings and work counters, Markdown, JUnit), every app checked exactly once."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.cli import main
from gitops_check.pipeline.shards import Shard, parse_shard, shard_from_env
from tests.helpers.binaries import HELM, KUSTOMIZE, cached_binary
from tests.helpers.gitrepo import GitRepo
from tests.helpers.shards import comparable as comparable_json

EXAMPLE = Path(__file__).resolve().parents[2] / "examples"
URL = "https://git.example.com/org/fleet.git"
NO_CI = {"GITHUB_ACTIONS": "", "GITLAB_CI": "", "CI_NODE_INDEX": "", "CI_NODE_TOTAL": ""}


@pytest.fixture(autouse=True)
def _outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in NO_CI.items():
        monkeypatch.setenv(name, value)


def tools() -> list[str]:
    return ["--helm", str(cached_binary(HELM)), "--kustomize", str(cached_binary(KUSTOMIZE)), "--no-color"]


def reports(out: Path) -> list[str]:
    return ["--json", str(out / "r.json"), "--markdown", str(out / "r.md"), "--junit", str(out / "r.xml"),
            "--markdown-full", str(out / "full.md")]  # fmt: skip


def comparable(out: Path) -> dict[str, Any]:
    doc = comparable_json(json.loads((out / "r.json").read_text()))
    junit = re.sub(r' time="[^"]*"| timestamp="[^"]*"', "", (out / "r.xml").read_text())
    return {
        "json": doc,
        "md": (out / "r.md").read_text(),
        "full": (out / "full.md").read_text(),
        "junit": junit,
    }


def single_and_sharded(
    tmp_path: Path, command: list[str], n: int
) -> tuple[int, dict[str, Any], int, dict[str, Any], list[set[str]]]:
    single = tmp_path / "single"
    single.mkdir()
    code = main([*command, *tools(), *reports(single)])
    parts = []
    names: list[set[str]] = []
    for k in range(1, n + 1):
        part = tmp_path / f"part-{k}.json"
        main([*command, *tools(), "--shard", f"{k}/{n}", "--part", str(part)])
        parts.append(str(part))
        names.append({a["app"]["name"] for a in json.loads(part.read_text())["result"]["apps"]})
    merged = tmp_path / "merged"
    merged.mkdir()
    merged_code = main(["merge", *parts, "--no-color", *reports(merged)])
    return code, comparable(single), merged_code, comparable(merged), names


def test_shard_parsing_and_stable_owner() -> None:
    assert parse_shard("2/4") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"
    for bad in ("0/4", "5/4", "x", "1/0", "2"):
        with pytest.raises(Exception, match="shard"):
            parse_shard(bad)
    assert shard_from_env({"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "5"}) == Shard(3, 5)
    assert shard_from_env({}) is None
    # The same app lands in the same shard on every run and machine (render caches stay warm).
    assert [Shard(1, 4).owner_of(n) for n in ("payments", "redis", "storefront", "web-7")] == [
        Shard(1, 4).owner_of(n) for n in ("payments", "redis", "storefront", "web-7")
    ]
    owners = {Shard(1, 4).owner_of(f"app-{i}") for i in range(200)}
    assert owners == {1, 2, 3, 4}


@pytest.mark.parametrize("n", [2, 3, 5])
def test_sharded_diff_of_the_example_merges_into_the_single_run(tmp_path: Path, n: int) -> None:
    command = ["diff", "--repo", str(EXAMPLE / "shop"), "--working-tree", "--snapshot",
               str(EXAMPLE / "shop-cluster.json")]  # fmt: skip
    code, single, merged_code, merged, names = single_and_sharded(tmp_path, command, n)

    assert merged_code == code == 1
    assert merged == single
    everyone = [name for shard in names for name in shard]
    assert sorted(everyone) == sorted(a["name"] for a in single["json"]["apps"])  # each app exactly once


def application(name: str, path: str, namespace: str) -> str:
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\n"
            f"spec:\n  project: default\n  source: {{repoURL: '{URL}', path: {path}, targetRevision: main}}\n"
            f"  destination: {{server: 'https://kubernetes.default.svc', namespace: {namespace}}}\n")  # fmt: skip


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: {value}\n"


def fleet(tmp_path: Path, apps: int = 24) -> tuple[GitRepo, Path]:
    """A root App of Apps (a folder of Applications), an ApplicationSet, and a root whose children only its
    render shows (a kustomization taking them from another folder: no text search finds them)."""
    files: dict[str, str] = {
        "apps/root.yaml": application("root", "children", "argocd"),
        "apps/hidden-root.yaml": application("hidden-root", "hidden", "argocd"),
        "hidden/kustomization.yaml": "resources: [../hidden-children]\n",
        "hidden-children/kustomization.yaml": "resources: ["
        + ", ".join(f"h-{i}.yaml" for i in range(6))
        + "]\n",
        "apps/set.yaml": (
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: envs, namespace: argocd}\n"
            "spec:\n  generators:\n  - list:\n      elements: ["
            + ", ".join(f"{{env: e{i}}}" for i in range(8))
            + "]\n"
            "  template:\n    metadata: {name: 'set-{{env}}'}\n"
            f"    spec:\n      project: default\n      source: {{repoURL: '{URL}', path: 'envs/{{{{env}}}}'}}\n"
            "      destination: {server: 'https://kubernetes.default.svc', namespace: '{{env}}'}\n"
        ),
    }
    live = []
    for i in range(apps):
        files[f"children/app-{i}.yaml"] = application(f"app-{i}", f"workloads/app-{i}", f"ns-{i}")
        files[f"workloads/app-{i}/cm.yaml"] = configmap(f"cm-{i}", "v1")
        live.append((f"cm-{i}", f"ns-{i}", "v1" if i % 5 else "drifted"))
    for i in range(6):
        files[f"hidden-children/h-{i}.yaml"] = application(f"h-{i}", f"workloads/h-{i}", f"h-{i}")
        files[f"workloads/h-{i}/cm.yaml"] = configmap(f"h-{i}", "v1")
        live.append((f"h-{i}", f"h-{i}", "v1"))
    for i in range(8):
        files[f"envs/e{i}/cm.yaml"] = configmap("env", "v1")
        live.append(("env", f"e{i}", "v1" if i else "other"))
    repo = GitRepo.init(tmp_path / "repo")
    repo.git("remote", "add", "origin", URL)
    repo.write(files)
    repo.commit("fleet")
    items = [yaml.safe_load(configmap(n, v)) | {} for n, _, v in live]
    for item, (_, ns, _) in zip(items, live, strict=True):
        item["metadata"]["namespace"] = ns
    # The Applications themselves, as the cluster holds them, so the roots compare in sync.
    snapshot = tmp_path / "cluster.yaml"
    snapshot.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    return repo, snapshot


@pytest.mark.parametrize("n", [2, 4])
def test_sharded_app_of_apps_fleet_checks_every_app_once(tmp_path: Path, n: int) -> None:
    repo, snapshot = fleet(tmp_path)
    command = ["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--assume-complete-snapshot"]

    code, single, merged_code, merged, names = single_and_sharded(tmp_path, command, n)

    assert merged_code == code
    assert merged == single
    everyone = [name for shard in names for name in shard]
    assert len(everyone) == len(set(everyone)) == len(single["json"]["apps"]) == 2 + 24 + 6 + 8
    drifted = {a["name"] for a in single["json"]["apps"] if a["status"] == "drifted"}
    assert {"app-0", "app-5", "app-10", "app-15", "app-20", "set-e0"} <= drifted
    # The hidden root's children stay with its owner: no other shard can know them.
    hidden = {f"h-{i}" for i in range(6)}
    assert sum(1 for shard in names if shard & hidden) == 1


def test_a_missing_or_damaged_shard_is_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["diff", "--repo", str(EXAMPLE / "shop"), "--working-tree", "--snapshot",
               str(EXAMPLE / "shop-cluster.json")]  # fmt: skip
    for k in (1, 3):
        main([*command, *tools(), "--shard", f"{k}/3", "--part", str(tmp_path / f"p{k}.json")])
    (tmp_path / "p2.json").write_text("{not json")
    capsys.readouterr()

    missing = main(["merge", str(tmp_path / "p1.json"), str(tmp_path / "p3.json"), "--no-color",
                    "--json", str(tmp_path / "m.json")])  # fmt: skip
    out = capsys.readouterr().out
    assert missing == 2 and "shard 2/3" in out and "no part from this shard" in out
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["exitCode"] == 2 and any(e["app"] == "shard 2/3" for e in doc["errors"])

    damaged = main(["merge", *(str(tmp_path / f"p{k}.json") for k in (1, 2, 3)), "--no-color"])
    assert damaged == 2 and "p2.json" in capsys.readouterr().out
    assert main(["merge", str(tmp_path / "p1.json"), "--shards", "3", "--no-color"]) == 2


def test_sharded_preview_merges_into_the_single_run(tmp_path: Path) -> None:
    """A pull request on the fleet: a value change in some children, a new child, a drifted cluster; with the
    cluster comparison (baseline) each shard reads and reports only for its apps."""
    repo, snapshot = fleet(tmp_path)
    repo.write({f"workloads/app-{i}/cm.yaml": configmap(f"cm-{i}", "v2") for i in (1, 2, 3, 7, 11)})
    repo.write({"children/app-new.yaml": application("app-new", "workloads/app-1", "ns-new")})
    repo.write({"hidden-children/h-0.yaml": application("h-0", "workloads/h-1", "h-0")})
    repo.commit("change")
    command = ["preview", "--repo", str(repo.path), "--base", "HEAD~1", "--no-cache", "--snapshot", str(snapshot),
               "--assume-complete-snapshot", "--work-dir", str(tmp_path / "work")]  # fmt: skip

    code, single, merged_code, merged, names = single_and_sharded(tmp_path, command, 3)

    assert code == merged_code == 1
    assert merged == single
    everyone = [name for shard in names for name in shard]
    assert len(everyone) == len(set(everyone)) == len(single["json"]["apps"])
    changed = {a["name"] for a in single["json"]["apps"] if a["status"] == "drifted"}
    assert {"app-1", "app-2", "app-3", "app-7", "app-11", "app-new", "h-0", "root"} <= changed
