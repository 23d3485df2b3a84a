"""gitops-check's own snapshot format is read object by object and kept packed (``cluster.packed``): the result
equals parsing the file whole, whatever the layout, and errors are the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.cluster import snapshot as snapshot_module
from gitops_check.cluster.packed import PackedObjects, read_own_snapshot
from gitops_check.cluster.snapshot import load_snapshot
from gitops_check.errors import InputError
from gitops_check.model.objects import GroupKind, ResourceKey

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Cluster"},
}  # fmt: skip
OBJECTS: list[Any] = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"},
     "data": {"ünï": "cödé \"quoted\" \\ back", "n": "1"}},
    {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"replicas": 2, "x": [1.5, None, True, {}]}}]},
    CRD,
    {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}, "data": {"later": "wins"}},
]  # fmt: skip


def own(objects: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "gitops-check.io/v1", "kind": "ClusterSnapshot", "metadata": {"cluster": "prod"},
        "coverage": {"kinds": [{"group": "", "kind": "ConfigMap", "namespaced": True}], "namespaces": ["shop"]},
        "objects": objects, **extra,
    }  # fmt: skip


def whole(path: Path) -> tuple[dict[ResourceKey, Any], Any]:
    """The objects and scopes as parsing the file whole gives them (the path for every other input)."""
    data = path.read_bytes()
    owned, part = snapshot_module._read_parsed(data, str(path))
    return dict(part.items()), owned


LAYOUTS = {
    "compact": lambda d: json.dumps(d, separators=(",", ":"), ensure_ascii=False),
    "spaced": lambda d: json.dumps(d, ensure_ascii=True),
    "indented": lambda d: "\n\t " + json.dumps(d, indent=3) + "\r\n",
    "objects first": lambda d: json.dumps(
        {"objects": d["objects"], **{k: v for k, v in d.items() if k != "objects"}}
    ),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_streamed_read_equals_the_whole_parse(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(LAYOUTS[layout](own(OBJECTS)))

    live = load_snapshot(path)

    expected, _ = whole(path)
    assert isinstance(live.objects, PackedObjects)
    assert dict(live.objects.items()) == expected
    assert list(live.objects) == list(expected)
    assert live.scopes[GroupKind("example.com", "Widget")] is False  # learned from the CRD
    assert live.cluster == "prod" and live.coverage.namespaces == frozenset({"shop"})
    key = ResourceKey("", "ConfigMap", "shop", "c")
    first = live.objects[key]
    first["data"]["later"] = "changed by a reader"
    assert live.objects[key]["data"] == {"later": "wins"}  # every access is a fresh copy


def test_yaml_and_kubectl_inputs_still_parse_whole(tmp_path: Path) -> None:
    (tmp_path / "own.yaml").write_text(yaml.safe_dump(own(OBJECTS)))
    (tmp_path / "list.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": OBJECTS[:2]})
    )
    assert len(load_snapshot(tmp_path / "own.yaml").objects) == 4
    assert len(load_snapshot(tmp_path / "list.json").objects) == 2


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(own([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}])),  # no name
        json.dumps(own([OBJECTS[0], "a string"])),
        json.dumps(own(OBJECTS))[:-40],  # cut short
        json.dumps(own(OBJECTS)) + " trailing",
    ],
)
def test_errors_are_those_of_the_whole_parse(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError) as streamed:
        load_snapshot(path)
    with pytest.raises(InputError) as parsed:
        snapshot_module._read_parsed(path.read_bytes(), str(path))
    assert streamed.value.message == parsed.value.message
    assert (streamed.value.file, streamed.value.line) == (parsed.value.file, parsed.value.line)


def test_the_reader_gives_each_element_with_its_text() -> None:
    seen: list[tuple[Any, str, int]] = []
    text = '{"a": 1, "objects": [ {"x": [1, 2]} ,{"y": "]"}], "b": {"objects": [3]}}'
    head = read_own_snapshot(text, lambda e, start, end, i: seen.append((e, text[start:end], i)))
    assert head == {"a": 1, "objects": [], "b": {"objects": [3]}}
    assert seen == [({"x": [1, 2]}, '{"x": [1, 2]}', 0), ({"y": "]"}, '{"y": "]"}', 1)]
    assert read_own_snapshot("[1]", lambda *a: None) is None
    assert read_own_snapshot('{"a": 1,}', lambda *a: None) is None


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for i in range(levels):
        value = {"n": value} if i % 2 else [value]
    return value


OWNED: list[Any] = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "tracked", "namespace": "shop", "labels": {"app.kubernetes.io/instance": "shop", "x": "1"},
        "annotations": {"argocd.argoproj.io/tracking-id": "shop:/ConfigMap:shop/tracked",
                        "kubectl.kubernetes.io/last-applied-configuration": "{" * 300}}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "extraneous", "namespace": "shop",
        "annotations": {"argocd.argoproj.io/compare-options": "IgnoreExtraneous",
                        "argocd.argoproj.io/tracking-id": "shop:/ConfigMap:shop/extraneous"}}},
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": "owned", "namespace": "shop", "labels": {"app.kubernetes.io/instance": "shop"},
        "ownerReferences": [{"kind": "Deployment", "name": "web"}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "flux", "namespace": "shop", "labels": {"kustomize.toolkit.fluxcd.io/name": "apps",
                                                         "kustomize.toolkit.fluxcd.io/namespace": "flux-system"},
        "annotations": {"kustomize.toolkit.fluxcd.io/prune": "disabled"}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "helm", "namespace": "shop",
        "annotations": {"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": "shop"}}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"},
     "data": {"k": "c2VjcmV0LXZhbHVlLXBhY2tlZA=="}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep", "namespace": "shop"},
     "data": {"d": _deep(140)}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "brackets", "namespace": "shop"},
     "data": {"d": "[" * 200, "e": _deep(10)}},
]  # fmt: skip


def test_screening_a_packed_snapshot_equals_screening_its_objects(tmp_path: Path) -> None:
    """The pass before diffing reads owner views and bracket counts instead of decoding each packed object: its
    result (objects kept, kinds made unreadable, the pruning index, Secret values registered) is the same."""
    from gitops_check import redact
    from gitops_check.model.live import LiveState
    from gitops_check.pipeline.comparison import screen_live

    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(own(OWNED)))
    packed = load_snapshot(path)
    assert isinstance(packed.objects, PackedObjects)
    plain = LiveState(objects=dict(packed.objects.items()), coverage=packed.coverage, scopes=packed.scopes)
    out: list[Any] = []
    for live in (packed, plain):
        redact.reset()
        screened, tracker = screen_live(live, track=True)
        assert tracker is not None
        index = {name: {k: sorted(map(str, v)) for k, v in getattr(tracker, name).items()}
                 for name in ("by_tracking_id", "by_label", "by_flux", "by_helm")}  # fmt: skip
        out.append((sorted(map(str, screened.objects)), screened.unreadable, index,
                    sorted(map(str, tracker.candidates)), sorted(map(str, tracker.extraneous)),
                    redact.scrub("c2VjcmV0LXZhbHVlLXBhY2tlZA== secret-value-packed")))  # fmt: skip
        assert set(tracker.objects) == set(screened.objects)
    assert out[0] == out[1]
    assert "deep" not in out[0][0] and "brackets" in str(out[0][0])
    assert "secret-value-packed" not in out[0][5]


def test_owner_annotations_cover_what_the_pruning_index_reads() -> None:
    from gitops_check.diff import prune
    from gitops_check.model.live import OWNER_ANNOTATIONS

    read = {prune.TRACKING_ANNOTATION, prune.ARGO_COMPARE_OPTIONS, prune.FLUX_PRUNE, prune.HELM_RELEASE,
            prune.HELM_NAMESPACE}  # fmt: skip
    assert read <= OWNER_ANNOTATIONS


def test_objects_spread_over_many_blocks_read_back_whole(tmp_path: Path) -> None:
    """Texts are compressed a block at a time: objects of every block (the one still being filled too), of a
    snapshot folder's several files, of a derived ``without`` view, read concurrently, come back equal."""
    from concurrent.futures import ThreadPoolExecutor

    from gitops_check.cluster import packed as packed_module

    def objects(prefix: str, n: int) -> list[Any]:
        return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{prefix}-{i}", "namespace": "ns"},
                 "data": {"v": f"{prefix}{i}-" + "ü" * (i % 7) + "x" * (i * 37 % 2000)}} for i in range(n)]  # fmt: skip

    (tmp_path / "a.json").write_text(json.dumps(own(objects("a", 400)), ensure_ascii=False))
    (tmp_path / "b.json").write_text(json.dumps(own(objects("b", 300))))
    expected = {f"{o['metadata']['name']}": o for o in objects("a", 400) + objects("b", 300)}
    live = load_snapshot(tmp_path)
    packed = live.objects
    assert isinstance(packed, PackedObjects)
    assert len(packed._blocks._sealed) > 10  # several blocks: the test means something
    keys = list(packed)
    order = keys[::-1] + keys[::7] + keys  # far jumps: blocks leave the decompressed few and come back
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda k: packed[k], order))
    assert all(body == expected[key.name] for key, body in zip(order, got, strict=True))
    fewer = packed.without({keys[0]})
    assert keys[0] not in fewer and fewer[keys[1]] == expected[keys[1].name]
    # The block being filled is read too, and objects put after that go on.
    blocks = PackedObjects()
    blocks.put_text(keys[0], json.dumps(expected[keys[0].name]), expected[keys[0].name])
    assert blocks[keys[0]] == expected[keys[0].name]
    blocks.put_text(keys[1], json.dumps(expected[keys[1].name]), expected[keys[1].name])
    assert blocks[keys[1]] == expected[keys[1].name] and blocks[keys[0]] == expected[keys[0].name]
    assert packed_module.BLOCK_CHARS > 1000


def test_pickled_objects_come_back_with_their_places_views_and_parsed_bodies() -> None:
    """A snapshot read in a child comes back pickled column by column (``PackedObjects.__reduce__``): texts,
    owner views, depth flags, objects put parsed, cluster-scoped keys and the order all survive."""
    import pickle

    packed = PackedObjects()
    bodies = {}
    for i in range(300):
        namespace = None if i % 5 == 0 else f"ns-{i % 3}"
        key = ResourceKey(
            "apps" if i % 2 else "", "Deployment" if i % 2 else "ConfigMap", namespace, f"o-{i}"
        )
        metadata: dict[str, Any] = {"name": key.name, "labels": {"app": f"a{i % 4}"}}
        if i % 7 == 0:
            metadata["ownerReferences"] = [{"uid": "u"}]
        body = {
            "apiVersion": "v1",
            "kind": key.kind,
            "metadata": metadata,
            "data": {"k": "v" * (i * 13 % 900)},
        }
        bodies[key] = body
        if i % 11 == 0:
            packed.put(key, body)
        else:
            packed.put_text(key, json.dumps(body), body)
    back = pickle.loads(pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL))
    assert list(back) == list(packed)
    for key, body in bodies.items():
        assert back[key] == body
        assert back.owner_view(key) == packed.owner_view(key)
        assert back.may_be_deep(key) == packed.may_be_deep(key)

    # A value marshal refuses (here a str subclass in an object put parsed) leaves the columns to pickle.
    odd = ResourceKey("", "ConfigMap", "x", "odd")
    packed.put(odd, {"kind": "ConfigMap", "data": {"k": Tagged("v")}})
    back = pickle.loads(pickle.dumps(packed, protocol=pickle.HIGHEST_PROTOCOL))
    assert list(back) == list(packed) and back[odd] == packed[odd]


class Tagged(str):
    """A str subclass: marshal refuses it, pickle takes it."""
