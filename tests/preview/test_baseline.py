"""With a cluster: what already differs (cluster vs base commit) is reported apart, and objects the change touches
that already differ are flagged. A snapshot here; the real kube-apiserver with --live in the cluster test."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.cli import main
from gitops_check.cluster.snapshot import SnapshotSource
from gitops_check.model.result import Status
from gitops_check.report.markdown import render_markdown_full
from tests.helpers.binaries import HELM, KUSTOMIZE, cached_binary
from tests.helpers.cluster import ADMIN_USER, TestCluster, is_dry_run
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import agent_apply, manifests, write_app
from tests.preview.conftest import Preview, by_name

NS = "shop"


def two_commits(tmp_path: Path, namespace: str = NS) -> GitRepo:
    """Commit 1: the shop app (Deployment, Service, ConfigMap, Secret). Commit 2: new image, 3 replicas."""
    repo = GitRepo.init(tmp_path / "repo")
    write_app(repo, namespace, manifests())
    changed = manifests()
    changed[0]["spec"]["replicas"] = 3
    changed[0]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    write_app(repo, namespace, changed)
    return repo


def cluster_objects() -> list[dict[str, Any]]:
    """The base commit as the cluster holds it, then changed by hand: 5 replicas, another colour."""
    out = []
    for obj in manifests():
        live = copy.deepcopy(obj)
        live["metadata"]["namespace"] = NS
        if live["kind"] == "Secret":
            live["data"] = {
                k: base64.b64encode(v.encode()).decode() for k, v in live.pop("stringData").items()
            }
        out.append(live)
    out[0]["spec"]["replicas"] = 5
    out[2]["data"]["color"] = "red"
    return out


def test_snapshot_drift_reported_apart_and_flagged(tmp_path: Path, preview: Preview) -> None:
    repo = two_commits(tmp_path)
    snapshot = tmp_path / "cluster.yaml"
    snapshot.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": cluster_objects()}))

    def run(**kw: Any) -> Any:
        source = SnapshotSource(str(snapshot), assume_complete=True)
        return preview(repo.path, "HEAD~1", default_source=source, **kw)

    for result in (run(), run(cache_dir=tmp_path / "cache"), run(cache_dir=tmp_path / "cache")):
        change = {str(d.key): d for d in by_name(result)["shop"].diffs}
        assert {k for k, d in change.items() if d.is_drift} == {f"Deployment/{NS}/web"}
        notes = change[f"Deployment/{NS}/web"].notes
        assert notes == (
            "already different in the cluster (1 field); this change touches drifted field spec.replicas",
        )
        assert result.stats["flagged"] == 1

        assert result.baseline is not None and result.baseline.mode == "diff"
        before = {str(d.key): d for d in by_name(result.baseline)["shop"].diffs}
        assert {k: d.status for k, d in before.items() if d.status is not Status.UNCHANGED} == {
            f"Deployment/{NS}/web": Status.CHANGED, f"ConfigMap/{NS}/settings": Status.CHANGED,
        }  # fmt: skip
        assert (
            before[f"Secret/{NS}/creds"].status is Status.UNCHANGED
        )  # the values compared, not their hashes
        assert [(c.path, c.old, c.new) for c in before[f"Deployment/{NS}/web"].changes] == [
            ("spec.replicas", 5, 2)
        ]
        assert result.exit_code() == 1  # the change; what already differed does not count

        md = render_markdown_full(result)
        assert md.index("### Already different in the cluster") > md.index("<b>shop</b>: with changes")
        assert "this change touches drifted field" in md


def test_untouched_apps_are_not_compared_with_the_cluster(tmp_path: Path, preview: Preview) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    write_app(repo, NS, manifests())
    repo.write({"README.md": "docs\n"})
    repo.commit("docs only")
    snapshot = tmp_path / "cluster.yaml"
    snapshot.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": cluster_objects()}))

    result = preview(repo.path, "HEAD~1", default_source=SnapshotSource(str(snapshot), assume_complete=True))

    assert result.stats["renders"] == 0 and result.baseline is not None and result.baseline.apps == []
    assert result.exit_code() == 0


def test_unreadable_cluster_makes_the_preview_incomplete(tmp_path: Path, preview: Preview) -> None:
    repo = two_commits(tmp_path)
    (tmp_path / "broken.yaml").write_text("items: [\n")

    result = preview(repo.path, "HEAD~1", default_source=SnapshotSource(str(tmp_path / "broken.yaml")))

    assert result.baseline is not None and result.baseline.errors
    assert result.exit_code() == 2  # never looks complete when the asked-for comparison could not be made


@pytest.mark.cluster
def test_live_cluster_drift_apart_and_flagged(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = two_commits(tmp_path, kube_namespace)
    agent_apply(kube_cluster, manifests(), namespace=kube_namespace, app="shop")
    kube_cluster.kubectl("scale", "deployment/web", "--replicas=5", "-n", kube_namespace)
    kube_cluster.kubectl("patch", "configmap/settings", "-n", kube_namespace, "--type=merge",
                         "-p", '{"data": {"color": "red"}}')  # fmt: skip
    report = tmp_path / "report.json"
    mark = kube_cluster.audit_mark()

    code = main([
        "preview", "--repo", str(repo.path), "--base", "HEAD~1", "--live",
        "--kubeconfig", str(kube_cluster.admin_kubeconfig), "--no-cache", "--work-dir", str(tmp_path / "w"),
        "--helm", str(cached_binary(HELM)), "--kustomize", str(cached_binary(KUSTOMIZE)),
        "--json", str(report), "--no-color",
    ])  # fmt: skip

    out = capsys.readouterr()
    assert code == 1, out.out + out.err
    doc = json.loads(report.read_text())
    [shop] = doc["apps"]
    web = next(r for r in shop["resources"] if r["kind"] == "Deployment")
    assert any("touches drifted field spec.replicas" in n for n in web["notes"])
    [before] = doc["baseline"]["apps"]
    drift = {
        r["id"]: {c["path"] for c in r["changes"]} for r in before["resources"] if r["status"] != "unchanged"
    }
    assert drift == {f"Deployment/{kube_namespace}/web": {"spec.replicas"},
                     f"ConfigMap/{kube_namespace}/settings": {"data.color"}}  # fmt: skip
    assert "Already different in the cluster:" in out.out
    assert "s3cr3t-v4lue" not in out.out + out.err + report.read_text()
    # The job's own requests only: the API server writes its own leases every few seconds (system:apiserver),
    # which made this check fail now and then.
    sent = kube_cluster.audit_events(ADMIN_USER, since=mark)
    assert sent and all(e["verb"] in ("get", "list", "watch") or is_dry_run(e) for e in sent)  # reads only


def test_incomplete_cluster_comparison_shows_in_the_verdict(tmp_path: Path, preview: Preview) -> None:
    from gitops_check.report.text import verdict

    repo = two_commits(tmp_path)
    (tmp_path / "empty.yaml").write_text("apiVersion: v1\nkind: List\nitems: []\n")

    result = preview(repo.path, "HEAD~1", default_source=SnapshotSource(str(tmp_path / "empty.yaml")))

    assert result.baseline is not None and not result.errors and result.exit_code() == 2
    assert verdict(result) == "cluster comparison incomplete; changes in 1 of 1 app"
    assert "not checked" in render_markdown_full(result)
