"""A large snapshot is read by a child process (``cluster/snapshot_child.py``): the state that comes back is the
one a read in this process gives, later objects pack into it as before, and any failure of the child leaves the
read (and its error) to this process."""

from __future__ import annotations

import gzip
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cluster import snapshot as snapshot_module
from gitops_check.cluster.packed import FileTexts, PackedObjects
from gitops_check.cluster.snapshot import SnapshotSource, load_snapshot
from gitops_check.errors import InputError
from gitops_check.model.live import LiveState
from tests.cluster_snapshot.test_packed import OBJECTS, own


def _fields(state: LiveState) -> dict[str, Any]:
    return {
        "objects": dict(state.objects.items()),
        "views": {k: state.objects.owner_view(k) for k in state.objects}
        if isinstance(state.objects, PackedObjects)
        else None,
        "coverage": state.coverage,
        "unreadable": dict(state.unreadable),
        "scopes": state.scopes,  # a dataclass: compared by its table
        "rest": (
            state.source,
            state.secret_hashing,
            state.cluster,
            state.server,
            state.schema,
            state.warnings,
        ),
    }


def test_a_large_snapshot_read_by_the_child_equals_a_read_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "namespace": "shop",
         "labels": {"n": str(i)}, "annotations": {"argocd.argoproj.io/tracking-id": f"app:/ConfigMap:shop/c{i}"}},
         "data": {"k": "v" * (i % 50)}}
        for i in range(3000)
    ] + OBJECTS  # fmt: skip
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(own(many, secretHashing={"algorithm": "hmac-sha256", "salt": "ab" * 16})))
    here = load_snapshot(path)

    monkeypatch.setattr(snapshot_module, "CHILD_READ_BYTES", 0)
    # The read must come from the child: this process could not read the file itself.
    monkeypatch.setattr(snapshot_module, "load_snapshot", _refuse)
    child = SnapshotSource(str(path)).load()

    assert _fields(child) == _fields(here)
    assert child.present_kinds() == here.present_kinds()
    # The unpickled blocks take more objects, which read back with the rest (a new deflate stream per block).
    assert isinstance(child.objects, PackedObjects) and isinstance(here.objects, PackedObjects)
    extra = PackedObjects()
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late", "namespace": "x"}}
    extra.put_text(next(iter(here.objects)), json.dumps(body), body)
    child.objects.absorb(extra)
    assert child.objects[next(iter(here.objects))] == body
    assert len(child.objects) == len(here.objects)


def _spans(path: Path) -> LiveState:
    """A state as the child sends it: read with its texts left in the file, then pickled."""
    state = pickle.loads(pickle.dumps(load_snapshot(path, spans=True)))
    assert isinstance(state.objects, PackedObjects)
    return state


def test_the_child_leaves_the_texts_in_the_file_and_reads_them_back_from_it(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(own(OBJECTS)))
    state = _spans(path)
    assert isinstance(state.objects, PackedObjects) and isinstance(state.objects._file, FileTexts)
    assert state.objects.open_file()
    assert _fields(state) == _fields(load_snapshot(path))

    # Characters of two, three and four bytes (gitops-check writes them as they are) before, inside and between
    # objects: spans are of bytes, the reader counts characters.
    wide = tmp_path / "wide.json"
    odd = [
        {**o, "metadata": {**o["metadata"], "annotations": {"note": "é€😀" * (i + 1)}}}
        if "metadata" in o
        else o
        for i, o in enumerate(OBJECTS)
    ]
    wide.write_text(
        json.dumps({"metadata": {"cluster": "ü"}, **own(odd)}, ensure_ascii=False), encoding="utf-8"
    )
    spanned = _spans(wide)
    assert isinstance(spanned.objects, PackedObjects) and isinstance(spanned.objects._file, FileTexts)
    assert _fields(spanned) == _fields(load_snapshot(wide))
    # Gzip: spans would be of the decompressed text, so its texts are kept in compressed blocks.
    zipped = tmp_path / "snap.json.gz"
    zipped.write_bytes(gzip.compress(wide.read_bytes()))
    kept = _spans(zipped)
    assert isinstance(kept.objects, PackedObjects) and kept.objects._file is None
    assert _fields(kept) == _fields(load_snapshot(zipped))


def test_a_snapshot_file_changed_after_the_child_read_it_is_never_read_as_another_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snap.json"
    text = json.dumps(own(OBJECTS))
    path.write_text(text)
    # Changed before the parent opens it: refused (the parent then reads the file itself).
    state = _spans(path)
    os.utime(path, ns=(1, 1))
    assert isinstance(state.objects, PackedObjects) and not state.objects.open_file()

    # Changed in place after it was opened (the same size and place, other names): an error naming the file,
    # never the other object.
    path.write_text(text)
    state = _spans(path)
    assert isinstance(state.objects, PackedObjects) and state.objects.open_file()
    key = next(k for k in state.objects if k.name in text)
    assert state.objects[key]["metadata"]["name"] == key.name
    stamp = path.stat()
    with open(path, "r+") as f:
        f.write(text.replace(f'"{key.name}"', '"' + "x" * len(key.name) + '"'))
    with pytest.raises(InputError, match="changed while the check read it") as caught:
        state.objects[key]  # its modification time moved
    assert caught.value.file == str(path)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    with pytest.raises(InputError, match="changed while the check read it"):
        state.objects[key]  # the same size and time, but the span is another object now
    # Cut short: the same.
    with open(path, "r+") as f:
        f.truncate(10)
    with pytest.raises(InputError, match="changed while the check read it"):
        state.objects[key]


def _refuse(*args: Any, **kwargs: Any) -> LiveState:
    raise AssertionError("read in this process")


def test_a_snapshot_the_child_cannot_read_gets_this_process_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "snap.json"
    path.write_text(
        '{"apiVersion": "gitops-check.io/v1", "kind": "ClusterSnapshot", "objects": [\n  {"a": 1},\n  ]}'
    )
    monkeypatch.setattr(snapshot_module, "CHILD_READ_BYTES", 0)
    with pytest.raises(InputError) as caught:
        SnapshotSource(str(path)).load()
    assert str(path) in str(caught.value)


def test_the_child_imports_nothing_from_the_folder_and_takes_the_name_as_a_plain_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project file may name a snapshot (a relative path): that name reaches the child's command line. A name
    that reads like interpreter options stays a file name, and a ``gitops_check`` package planted in the current
    folder (a checkout) is not what the child imports (``-P``)."""
    monkeypatch.chdir(tmp_path)
    planted = tmp_path / "gitops_check"
    (planted / "cluster").mkdir(parents=True)
    marker = tmp_path / "planted-code-ran"
    code = f"open({str(marker)!r}, 'w').close()\n"
    for rel in ("__init__.py", "cluster/__init__.py", "cluster/snapshot_child.py"):
        (planted / rel).write_text(code + "def main():\n    pass\n")
    name = "-c print(1) --help -P.json"
    Path(name).write_text(json.dumps(own(OBJECTS)))
    here = load_snapshot(name)

    monkeypatch.setattr(snapshot_module, "CHILD_READ_BYTES", 0)
    monkeypatch.setattr(snapshot_module, "load_snapshot", _refuse)
    child = SnapshotSource(name).load()

    assert _fields(child) == _fields(here)
    assert not marker.exists()


def test_a_snapshot_changed_under_a_check_is_exit_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The child reads the example's snapshot as spans; every read back here then finds the file changed (as if
    it were rewritten after the parent opened it): the check cannot be trusted, so it is exit 2 with the file
    named, not a report on other objects, and no traceback."""
    from gitops_check.cli import main

    example = Path(__file__).resolve().parents[2] / "examples"
    snapshot = tmp_path / "cluster.json"
    snapshot.write_bytes((example / "shop-cluster.json").read_bytes())
    monkeypatch.setattr(snapshot_module, "CHILD_READ_BYTES", 0)
    monkeypatch.setattr(snapshot_module, "load_snapshot", _refuse)  # the child's read, not this process's

    def changed(self: FileTexts, at: Any) -> str:
        raise self.changed()

    monkeypatch.setattr(FileTexts, "text", changed)
    report = tmp_path / "r.json"
    code = main(["diff", "--repo", str(example / "shop"), "--working-tree", "--snapshot", str(snapshot),
                 "--json", str(report)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{snapshot}: the snapshot file changed while the check read it" in err + report.read_text()
    assert "Traceback" not in err
