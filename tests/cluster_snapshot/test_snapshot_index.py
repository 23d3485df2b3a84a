"""The index ``write_snapshot`` puts in a snapshot (``cluster/snapshot_index.py``): a read that takes the objects
from it equals a read that decodes them one by one, and an index that does not fit the file (edited, re-indented,
malformed, from another format) is passed over, never believed."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitops_check import yamlio
from gitops_check.cluster import snapshot as snapshot_module
from gitops_check.cluster.packed import PackedObjects
from gitops_check.cluster.snapshot import SnapshotSource, load_snapshot, write_snapshot
from gitops_check.cluster.snapshot_index import plain_key
from gitops_check.model.live import LiveState
from tests.cluster_snapshot.test_packed import own
from tests.cluster_snapshot.test_packed_fast_path import ODD, read

PLAIN = [o for o in ODD if plain_key(o) is not None]
FLEET = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": f"d{i}", "namespace": f"ns-{i % 7}", "labels": {"app": f"a{i % 5}", "n": i % 3, "é": "ü"},
        "annotations": {"argocd.argoproj.io/tracking-id": f"a{i % 5}:apps/Deployment:ns-{i % 7}/d{i}", "x": "y"},
        **({"ownerReferences": [{"kind": "X"}]} if i % 4 == 0 else {})}, "spec": {"replicas": i}}
    for i in range(300)
] + PLAIN  # fmt: skip


def _used(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each read took its objects from the index."""
    used: list[bool] = []
    real = snapshot_module.read_index

    def spy(index: Any, data: bytes, at: int) -> Any:
        result = real(index, data, at)
        used.append(result is not None)
        return result

    monkeypatch.setattr(snapshot_module, "read_index", spy)
    return used


def _scanned(path: Path, objects: list[Any], tmp_path: Path) -> list[Any]:
    """The same objects in a file without an index (as written before there was one), read one by one."""
    plain = tmp_path / f"scan-{path.name}"
    plain.write_text(yamlio.dump_json(own(objects), indent=None))
    return read(plain)


def _document(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)


def test_a_read_from_the_index_equals_a_read_of_every_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    used = _used(monkeypatch)
    path = tmp_path / "snap.json"
    write_snapshot(path, own(FLEET))
    assert "index" in _document(path) and list(_document(path))[-2:] == ["index", "objects"]
    # Keys in order (a later object replaces an earlier one in its place), objects, owner views, depth flags.
    assert read(path) == _scanned(path, FLEET, tmp_path)
    assert used == [True]
    # The other fields read as before; the index is not one of them.
    state = load_snapshot(path)
    assert state.cluster == "prod" and state.coverage.namespaces == frozenset({"shop"})


def test_a_gzip_snapshot_takes_its_objects_from_the_index_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    used = _used(monkeypatch)
    path = tmp_path / "snap.json.gz"
    write_snapshot(path, own(FLEET))
    assert read(path) == _scanned(path, FLEET, tmp_path)
    assert used == [True]


def test_the_child_process_state_from_the_index_equals_a_read_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snap.json"
    write_snapshot(path, own(FLEET))
    here = load_snapshot(path)
    monkeypatch.setattr(snapshot_module, "CHILD_READ_BYTES", 0)
    child = SnapshotSource(str(path)).load()
    spans = pickle.loads(pickle.dumps(load_snapshot(path, spans=True)))
    for state in (child, spans):
        assert isinstance(state, LiveState) and isinstance(state.objects, PackedObjects)
        assert state.objects.open_file()
        assert list(state.objects) == list(here.objects)
        assert dict(state.objects.items()) == dict(here.objects.items())
        assert [state.objects.owner_view(k) for k in state.objects] == [
            here.objects.owner_view(k) for k in here.objects
        ]


def test_objects_the_index_cannot_describe_leave_the_file_without_one(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    write_snapshot(path, own(ODD))  # Lists, fields of other types: the general path reads them
    assert "index" not in _document(path)
    assert read(path) == _scanned(path, ODD, tmp_path)


def _rewrite(path: Path, change: Callable[[dict[str, Any], bytearray], None]) -> None:
    """``change`` the index of a written snapshot (its digest then made to fit the array again), or the array."""
    data = bytearray(path.read_bytes())
    head_end = data.index(b', "objects": [')
    head = json.loads(bytes(data[:head_end]) + b"}")
    array = bytearray(data[head_end + len(b', "objects": ') : -1])
    change(head["index"], array)
    head["index"]["sha256"] = hashlib.sha256(array).hexdigest()
    path.write_bytes(json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "objects": ' + array + b"}")


def _swap_first_spans(index: dict[str, Any], array: bytearray) -> None:
    index["spans"][0:4] = index["spans"][2:4] + index["spans"][0:2]


def _leave_out(at: int) -> Callable[[dict[str, Any], bytearray], None]:
    def change(index: dict[str, Any], array: bytearray) -> None:
        i = at % len(index["keys"])
        del index["keys"][i], index["owner"][i], index["spans"][2 * i : 2 * i + 2]

    return change


MALFORMED: dict[str, Callable[[dict[str, Any], bytearray], None]] = {
    "another format": lambda index, array: index.update(format=2),
    "a span past the array": lambda index, array: index["spans"].__setitem__(-1, index["bytes"] + 5),
    "a span starting inside the previous": lambda index, array: index["spans"].__setitem__(2, index["spans"][1] - 3),
    "spans out of order": _swap_first_spans,
    "the first object left out": _leave_out(0),
    "an object in the middle left out": _leave_out(7),
    "the last object left out": _leave_out(-1),
    "a span not on an object": lambda index, array: index["spans"].__setitem__(0, index["spans"][0] + 1),
    "an owner view past the table": lambda index, array: index["owner"].__setitem__(0, len(index["owners"])),
    "a negative owner view": lambda index, array: index["owner"].__setitem__(0, -1),
    "an owner view not a mapping": lambda index, array: index["owners"].__setitem__(0, ["x"]),
    "a key of three fields": lambda index, array: index["keys"].__setitem__(0, ["", "ConfigMap", "x"]),
    "a key of a List": lambda index, array: index["keys"][0].__setitem__(1, "ConfigMapList"),
    "an empty name": lambda index, array: index["keys"][0].__setitem__(3, ""),
    "an empty namespace": lambda index, array: index["keys"][0].__setitem__(2, ""),
    "one key too few": lambda index, array: index["keys"].pop(),
    "a length that is not the array's": lambda index, array: index.update(bytes=index["bytes"] - 1),
    "spans as strings": lambda index, array: index["spans"].__setitem__(0, str(index["spans"][0])),
    "a span start as a float": lambda index, array: index["spans"].__setitem__(0, float(index["spans"][0])),
    "a span end as a float": lambda index, array: index["spans"].__setitem__(1, float(index["spans"][1])),
    "no spans": lambda index, array: index.pop("spans"),
    "nothing but a format that is a list": lambda index, array: index.clear() or index.update(format=[1]),
}  # fmt: skip


@pytest.mark.parametrize("how", sorted(MALFORMED))
def test_an_index_that_does_not_fit_the_file_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    path = tmp_path / "snap.json"
    write_snapshot(path, own(FLEET))
    _rewrite(path, MALFORMED[how])
    used = _used(monkeypatch)
    assert read(path) == _scanned(path, FLEET, tmp_path)
    assert used == [False]


def test_an_object_edited_after_writing_is_read_as_it_is_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit of the same length keeps every span in place; the digest no longer fits, so the edited label is
    what the pruning index sees, not the one the index recorded."""
    path = tmp_path / "snap.json"
    write_snapshot(path, own(FLEET))
    data = path.read_bytes()
    tail = data.index(b'"objects": [')
    at = data.index(b'"app": "a3"', tail)
    path.write_bytes(data[:at] + b'"app": "b3"' + data[at + 11 :])
    edited = copy.deepcopy(FLEET)
    first = next(o for o in edited if o["metadata"].get("labels", {}).get("app") == "a3")
    first["metadata"]["labels"]["app"] = "b3"
    used = _used(monkeypatch)
    assert read(path) == _scanned(path, edited, tmp_path)
    assert used == [False]


def test_a_reindented_snapshot_is_read_one_object_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snap.json"
    write_snapshot(path, own(FLEET))
    path.write_text(
        json.dumps(_document(path), indent=2)
    )  # as `jq .` leaves it: the index kept, the bytes moved
    used = _used(monkeypatch)
    assert read(path) == _scanned(path, FLEET, tmp_path)
    assert used == [False]


def test_the_index_must_come_before_the_objects_that_end_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snap.json"
    write_snapshot(path, own(FLEET))
    document = _document(path)
    used = _used(monkeypatch)
    moved = {k: v for k, v in document.items() if k != "index"} | {"index": document["index"]}
    path.write_text(yamlio.dump_json(moved, indent=None))
    assert read(path) == _scanned(path, FLEET, tmp_path)
    later = {**document, "schema": {"x": 1}}  # a field after the objects: the array does not end the document
    path.write_text(yamlio.dump_json(later, indent=None))
    assert read(path) == _scanned(path, FLEET, tmp_path)
    assert used == [False]  # the first file never asked (objects came first); the second refused


def test_a_deep_object_is_flagged_from_its_bytes_whatever_the_index_says(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    write_snapshot(path, own(FLEET))
    packed = load_snapshot(path).objects
    assert isinstance(packed, PackedObjects)
    deep = [k.name for k in packed if packed.may_be_deep(k)]
    assert deep == ["deep", "bracket-strings"]
