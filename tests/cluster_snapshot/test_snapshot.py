from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

from gitops_check.cluster.snapshot import build_snapshot, load_snapshot, write_snapshot
from gitops_check.errors import InputError
from gitops_check.model.live import SecretHashing
from gitops_check.model.objects import GroupKind, ResourceKey

CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c", "namespace": "shop"},
    "data": {"a": "1"},
}
DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}


def test_kubectl_list_json_and_yaml_and_gzip(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": [CM, DEPLOY]})
    )
    live = load_snapshot(tmp_path / "list.json")
    assert set(live.objects) == {
        ResourceKey("", "ConfigMap", "shop", "c"),
        ResourceKey("apps", "Deployment", "shop", "web"),
    }
    (tmp_path / "multi.yaml").write_text(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n"
    )
    assert list(load_snapshot(tmp_path / "multi.yaml").objects) == [ResourceKey("", "ConfigMap", "shop", "c")]
    (tmp_path / "s.json.gz").write_bytes(gzip.compress(json.dumps(CM).encode()))
    assert len(load_snapshot(tmp_path / "s.json.gz").objects) == 1


def test_folder_of_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "cm.yaml").write_text(json.dumps(CM))
    (tmp_path / "deploy.json").write_text(json.dumps(DEPLOY))
    (tmp_path / "README.md").write_text("ignored")
    assert len(load_snapshot(tmp_path).objects) == 2


def test_foreign_snapshot_coverage_is_kinds_present(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps(CM))
    live = load_snapshot(tmp_path / "s.json")
    present = live.present_kinds()
    assert live.coverage.covers(ResourceKey("", "ConfigMap", "shop", "other"), present)
    assert not live.coverage.covers(ResourceKey("apps", "Deployment", "shop", "web"), present)
    vouched = load_snapshot(tmp_path / "s.json", assume_complete=True)
    assert vouched.coverage.covers(ResourceKey("apps", "Deployment", "shop", "web"), present)


def test_own_format_round_trip_hashes_secrets(tmp_path: Path) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop",
              "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"stringData":{"p":"s3cr3t-value"}}'}},
              "data": {"p": base64.b64encode(b"s3cr3t-value").decode()}}  # fmt: skip
    hashing = SecretHashing("hmac-sha256", "ab" * 16)
    snap = build_snapshot(
        [CM, secret],
        kinds=[(GroupKind("", "ConfigMap"), True), (GroupKind("", "Secret"), True)],
        namespaces=["shop"],
        unreadable={(GroupKind("apps", "Deployment"), "shop"): "forbidden"},
        meta={"takenAt": "2026-11-26T00:00:00Z", "cluster": "prod"},
        hashing=hashing,
    )
    path = tmp_path / "cluster.json.gz"
    write_snapshot(path, snap)
    raw = gzip.decompress(path.read_bytes()).decode()
    assert "s3cr3t-value" not in raw and base64.b64encode(b"s3cr3t-value").decode() not in raw
    live = load_snapshot(path)
    assert live.secret_hashing == hashing
    assert live.unreadable == {(GroupKind("apps", "Deployment"), "shop"): "forbidden"}
    assert "taken 2026-11-26T00:00:00Z from prod" in live.source
    present = live.present_kinds()
    assert live.coverage.covers(ResourceKey("", "Secret", "shop", "new"), present)
    assert not live.coverage.covers(ResourceKey("", "Secret", "other", "new"), present)
    assert not live.coverage.covers(ResourceKey("", "Service", "shop", "new"), present)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: [1\n", "s.yaml:2: invalid YAML"),
        ("- 1\n- 2\n", "s.yaml:1: expected Kubernetes objects, found a list"),
        ("kind: ConfigMap\n", "s.yaml:1: object lacks apiVersion"),
    ],
)
def test_bad_snapshots_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "s.yaml").write_text(content)
    with pytest.raises(InputError) as e:
        load_snapshot(tmp_path / "s.yaml")
    assert str(e.value).replace(str(tmp_path) + "/", "").startswith(message)


def test_missing_snapshot(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_snapshot(tmp_path / "nope.json")
