"""The snapshot reader's per-object fast path (``snapshot._read_streamed``'s ``take``, ``packed.owner_view``,
``packed._read_array``, the blocks' shared compressor) against a plain reference: every element decoded with
``json.JSONDecoder.raw_decode``, checked and keyed by ``_objects_of``/``_key``, its owner view and depth flag
computed as the reader computed them before the fast path. Odd JSON and odd fields included."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gitops_check import yamlio
from gitops_check.cluster import snapshot as snapshot_module
from gitops_check.cluster.packed import PackedObjects
from gitops_check.cluster.snapshot import load_snapshot
from gitops_check.errors import InputError
from gitops_check.model.live import OWNER_ANNOTATIONS
from gitops_check.model.objects import ResourceKey


def reference_owner_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """The owner view as first written (one dict comprehension over every annotation)."""
    metadata = body.get("metadata")
    if not isinstance(metadata, Mapping):
        return {"metadata": {}}
    view: dict[str, Any] = {}
    if metadata.get("labels"):
        view["labels"] = metadata["labels"]
    annotations = metadata.get("annotations")
    if isinstance(annotations, Mapping):
        kept = {k: v for k, v in annotations.items() if k in OWNER_ANNOTATIONS}
        if kept:
            view["annotations"] = kept
    elif annotations:
        view["annotations"] = annotations
    if metadata.get("ownerReferences"):
        view["ownerReferences"] = [True]
    return {"metadata": view}


def reference_read(text: str, where: str) -> tuple[list[tuple[ResourceKey, Any, Any, bool]], str | None]:
    """(key, object, owner view or None when kept parsed, may be deep) per object in order, a later object
    replacing an earlier one of the same key in its place; or the first error's message."""
    decoder = json.JSONDecoder()
    i = text.index("[", text.index('"objects"')) + 1
    out: dict[ResourceKey, tuple[Any, Any, bool]] = {}
    index = 0
    while text[i] in " \t\r\n":
        i += 1
    while text[i] != "]":
        start = i
        element, i = decoder.raw_decode(text, i)
        raw = text[start:i]
        try:
            docs = list(snapshot_module._objects_of(element, f"{where} (objects[{index}])", 1))
        except InputError as e:
            return [], e.message
        for doc in docs:
            key = snapshot_module._key(doc)
            # a later object replaces one in its place
            if doc is element:
                deep = raw.count("{") + raw.count("[") >= yamlio.MAX_DEPTH
                out[key] = (doc, reference_owner_view(doc), deep)
            else:
                out[key] = (doc, None, True)
        index += 1
        while text[i] in " \t\r\n,":
            i += 1
    return [(k, *v) for k, v in out.items()], None


def _nested(levels: int) -> Any:
    value: Any = {}
    for i in range(levels):
        value = {"k": value} if i % 2 else [value]
    return value


def cm(name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, **fields}


ODD: list[Any] = [
    cm("unicode", data={"\u00e9\u4e2d\U0001f600": "\u00fc\\\"\n\t\u2028\x00", "esc": "\\u0041 is A"}),
    cm("brackets-in-strings", data={"a": "{[{[", "b": "]}]}", "c": '"}, {"apiVersion": "v1"'}),
    cm("empty-things", data={}, spec={"a": [], "b": {}, "c": [{}], "d": ""}),
    cm("deep", data={"d": _nested(yamlio.MAX_DEPTH + 5)}),
    cm("just-under", data={"d": _nested(yamlio.MAX_DEPTH - 8)}),
    cm("bracket-strings", data={"d": "{" * yamlio.MAX_DEPTH}),
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "owned", "namespace": "ns", "labels": {"a": "b"}, "ownerReferences": [{"kind": "ReplicaSet"}],
        "annotations": {"meta.helm.sh/release-name": "r", "other": "x", "argocd.argoproj.io/tracking-id": "t"}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "no-owner-annotations", "namespace": "ns", "labels": {}, "ownerReferences": [],
        "annotations": {"other": "x"}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "annotations-a-list", "annotations": ["x"]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "annotations-a-string", "annotations": "x"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "annotations-empty", "annotations": {}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "labels-null", "labels": None}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cluster-scoped"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "namespace-null", "namespace": None}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "namespace-empty", "namespace": ""}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "namespace-zero", "namespace": 0}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "namespace-false", "namespace": False}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "namespace-list", "namespace": []}},
    {"apiVersion": "example.com/v1/extra", "kind": "Odd", "metadata": {"name": "slashes"}},
    {"apiVersion": "/v1", "kind": "Odd", "metadata": {"name": "leading-slash"}},
    {"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"name": "a-list-kind-without-items"}},
    {"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"name": "items-not-a-list"}, "items": {}},
    {"apiVersion": "v1", "kind": "List", "items": [cm("from-a-list"), {
        "apiVersion": "v1", "kind": "SecretList", "items": [cm("nested-list")]}]},
    {"apiVersion": "v1", "kind": "List", "items": []},
    cm("unicode", data={"replaced": "by a later object"}),
    {"kind": "ConfigMap", "metadata": {"name": "kind-first", "namespace": "ns"}, "apiVersion": "v1"},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dup", "name": "duplicate-key"}},  # noqa: F601
    {"apiVersion": "v1", "kind": "X", "metadata": {"name": "numbers"}, "n": [1e400, -0.0, 10**30, 1.5e-7]},
]  # fmt: skip


BAD: list[Any] = [
    cm(""),
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "ns"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": 5}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n", "namespace": 5}},
    {"apiVersion": 1, "kind": "ConfigMap", "metadata": {"name": "n"}},
    {"apiVersion": "v1", "kind": ["ConfigMap"], "metadata": {"name": "n"}},
    {"apiVersion": "", "kind": "ConfigMap", "metadata": {"name": "n"}},
    {"apiVersion": "v1", "kind": "", "metadata": {"name": "n"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name"]},
    {"apiVersion": "v1", "kind": "List", "items": [{"kind": "ConfigMap"}]},
    [cm("an-array")],
    "a string",
    None,
    {},
]  # fmt: skip


def snapshot_text(objects: list[Any], layout: str) -> str:
    body = {"apiVersion": "gitops-check.io/v1", "kind": "ClusterSnapshot", "metadata": {"cluster": "c"}}
    if layout == "compact":
        return json.dumps({**body, "objects": objects}, separators=(",", ":"), ensure_ascii=False)
    if layout == "ascii":
        return json.dumps({**body, "objects": objects})
    if layout == "indented":
        return " \n" + json.dumps({**body, "objects": objects}, indent="\t") + "\r\n"
    # Whitespace of every kind around every element and separator.
    inner = " ,\r\n\t ".join(json.dumps(o, ensure_ascii=False) for o in objects)
    return json.dumps(body)[:-1] + ', "objects" : [\n\t ' + inner + " \n] }"


LAYOUTS = ("compact", "ascii", "indented", "spaced")


def read(path: Path) -> list[tuple[ResourceKey, Any, Any, bool]]:
    live = load_snapshot(path)
    packed = live.objects
    assert isinstance(packed, PackedObjects)
    out = []
    for key in packed:
        text_view = packed.owner_view(key)
        kept_parsed = text_view is packed._items[key]
        out.append((key, packed[key], None if kept_parsed else text_view, packed.may_be_deep(key)))
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_reader_equals_the_reference_on_odd_objects(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(snapshot_text(ODD, layout), encoding="utf-8")
    expected, error = reference_read(path.read_text(encoding="utf-8"), str(path))
    assert error is None
    got = read(path)
    assert [g[0] for g in got] == [e[0] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert repr(g) == repr(e)  # repr: key order, -0.0 and inf compared too
    assert sum(1 for g in got if g[3]) > 2  # the depth flag is exercised both ways
    assert any(g[2] and "annotations" in g[2]["metadata"] for g in got)


@pytest.mark.parametrize("bad", range(len(BAD)))
@pytest.mark.parametrize("layout", ("compact", "spaced"))
def test_errors_equal_the_reference(tmp_path: Path, bad: int, layout: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(snapshot_text([cm("first"), BAD[bad], cm("last")], layout), encoding="utf-8")
    _, error = reference_read(path.read_text(encoding="utf-8"), str(path))
    assert error is not None
    with pytest.raises(InputError) as raised:
        load_snapshot(path)
    assert raised.value.message == error


def test_many_blocks_from_one_compressor_read_back_in_any_order(tmp_path: Path) -> None:
    """Every block is inflated on its own though one deflate stream wrote them all."""
    objects = [cm(f"o{i}", data={"v": "\u00e9" * (i % 5) + "x" * (i * 7919 % 3000)}) for i in range(600)]
    path = tmp_path / "s.json"
    path.write_text(snapshot_text(objects, "compact"), encoding="utf-8")
    packed = load_snapshot(path).objects
    assert isinstance(packed, PackedObjects)
    assert len(packed._blocks._sealed) > 20
    keys = list(packed)
    for key in keys[::-3] + keys[::2]:
        assert packed[key] == objects[int(key.name[1:])]
    # Two files: the second's texts are copied into the first's blocks, views and flags carried along.
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.json").write_text(snapshot_text(objects[:300], "compact"), encoding="utf-8")
    (tmp_path / "dir" / "b.json").write_text(snapshot_text(ODD + objects[250:], "spaced"), encoding="utf-8")
    both = read(tmp_path / "dir")
    expected_a, _ = reference_read((tmp_path / "dir" / "a.json").read_text(), "a")
    expected_b, _ = reference_read((tmp_path / "dir" / "b.json").read_text(), "b")
    merged = {e[0]: e for e in expected_a}
    for e in expected_b:
        merged[e[0]] = e
    assert repr(both) == repr(list(merged.values()))


def test_without_keeps_views_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(snapshot_text(ODD, "compact"), encoding="utf-8")
    packed = load_snapshot(path).objects
    assert isinstance(packed, PackedObjects)
    keys = list(packed)
    fewer = packed.without({keys[0]})
    assert keys[0] not in fewer and len(fewer) == len(packed) - 1
    for key in keys[1:]:
        assert fewer.owner_view(key) == packed.owner_view(key)
        assert fewer.may_be_deep(key) == packed.may_be_deep(key)
        assert fewer[key] == packed[key]
    with pytest.raises(KeyError):
        fewer.owner_view(keys[0])
    assert fewer.may_be_deep(keys[0]) is True  # unknown: it may be
