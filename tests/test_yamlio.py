from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check import yamlio
from gitops_check.errors import InputError


def test_documents_keep_their_start_line_and_skip_empty_ones() -> None:
    docs = list(yamlio.load_documents("a: 1\n---\n---\n# c\nb: 2\n", "f.yaml"))
    assert [(d.data, d.line) for d in docs] == [({"a": 1}, 1), ({"b": 2}, 5)]


def test_dates_stay_strings_like_go_yaml() -> None:
    assert next(yamlio.load_documents("when: 2024-01-01\n", "f.yaml")).data == {"when": "2024-01-01"}


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(InputError) as e:
        list(yamlio.load_documents("a: 1\nb: [1\nc: 2\n", "apps/x.yaml"))
    assert str(e.value).startswith("apps/x.yaml:3: invalid YAML")


def test_duplicate_keys_are_an_error() -> None:
    with pytest.raises(InputError, match="duplicate key 'image'"):
        list(yamlio.load_documents("image: a\nimage: b\n", "f.yaml"))


def test_alias_bomb_refused_before_expansion() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for name in "bcdefghijk":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
        prev = name
    with pytest.raises(InputError, match="alias bomb"):
        list(yamlio.load_documents("\n".join(lines), "bomb.yaml"))


def test_small_aliases_are_fine() -> None:
    doc = next(yamlio.load_documents("base: &b {x: 1}\nother: *b\n", "f.yaml")).data
    assert doc == {"base": {"x": 1}, "other": {"x": 1}}


def test_oversized_input_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_FILE_BYTES", 10)
    with pytest.raises(InputError, match="over the 10 byte limit"):
        list(yamlio.load_documents("a: 123456789012\n", "big.yaml"))


def test_json_is_read_as_json() -> None:
    assert [d.data for d in yamlio.load_documents('{"kind": "List", "items": []}', "f.json")] == [
        {"kind": "List", "items": []}
    ]


def test_scalars_are_read_as_go_reads_them() -> None:
    doc = yamlio.load_one(
        "time: 12:30\nports: 8080:80\nbig: 1e3\nratio: 1.0\nflag: y\noctal: 0o17\nsep: 1_000\nkeep: '1e3'\n",
        "f.yaml",
    )
    assert doc == {
        "time": "12:30",
        "ports": "8080:80",
        "big": 1000,
        "ratio": 1,
        "flag": True,
        "octal": 15,
        "sep": 1000,
        "keep": "1e3",
    }
    assert type(doc["big"]) is int


def test_map_keys_become_strings_like_go() -> None:
    assert yamlio.load_one("1: a\n1.5e7: b\non: c\n", "f.yaml") == {"1": "a", "1.5e+07": "b", "true": "c"}


def test_values_json_cannot_hold_are_refused() -> None:
    with pytest.raises(InputError, match=r"f.yaml:1: invalid YAML: .inf cannot be written as JSON"):
        yamlio.load_one("v: .inf\n", "f.yaml")


def test_merge_keys_are_overridden_by_the_mapping_own_keys() -> None:
    doc = yamlio.load_one("base: &b {x: 1, z: 2}\nm:\n  <<: *b\n  z: 3\n", "f.yaml")
    assert doc["m"] == {"x": 1, "z": 3}


def test_document_heads_read_what_a_full_load_reads_as_strings() -> None:
    """(apiVersion, kind, metadata.name, metadata.namespace) of each document without building it; None wherever
    a full load would not give a string, or could give another one (tags, merge keys, duplicates)."""
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, labels: {a: b}}\n---\n"
        "# only a comment\n---\n"
        "apiVersion: 'v1'\nkind: \"Secret\"\nmetadata:\n  name: 'true'\n  namespace: ns\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: true, namespace: null}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 0x1F}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: !!str x}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: !custom x}\n---\n"
        "base: &b {name: from-anchor}\napiVersion: v1\nkind: ConfigMap\nmetadata: *b\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: {name: merged}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: dup}\n---\n"
        "- a list\n---\n"
        "just text\n---\n"
        "apiVersion: v1\nkind: ConfigMap\n"
    )
    assert yamlio.document_heads(text, "f.yaml") == [
        ("v1", "ConfigMap", "plain", ""),
        ("v1", "Secret", "true", "ns"),
        ("v1", "ConfigMap", None, None),
        ("v1", "ConfigMap", None, ""),
        ("v1", "ConfigMap", "x", ""),
        ("v1", "ConfigMap", None, ""),
        ("v1", "ConfigMap", "from-anchor", ""),
        ("v1", "ConfigMap", None, None),
        ("v1", None, "dup", ""),
        (None, None, None, None),
        (None, None, None, None),
        ("v1", "ConfigMap", None, None),
    ]
    full = [d.data for d in yamlio.load_yaml_documents(text.split("---\n")[5], "f.yaml")]
    assert full[0]["metadata"]["name"] == "x"  # the same string as the head's


def test_document_heads_refuse_what_the_full_load_refuses() -> None:
    with pytest.raises(InputError) as e:
        yamlio.document_heads("a: [1\n", "apps/x.yaml")
    assert e.value.file == "apps/x.yaml" and e.value.line


def _constructed_by_pyyaml(text: bytes) -> list[tuple[object, int]] | str:
    """What the documents were before the quick construction: PyYAML's constructor for every node."""
    loader = yamlio._Loader(text)
    try:
        out = []
        while loader.check_node():
            node = loader.get_node()
            data = loader.construct_document(node)
            if data is not None:
                out.append((data, node.start_mark.line + 1))
        return out
    except (yaml.YAMLError, RecursionError) as e:
        return type(e).__name__
    finally:
        loader.dispose()


QUICK_CASES = [
    "a: 1\nb: [x, 2, 3.5, true, null, ~, '', yes, 0755, 0x1F, 1e3, 12:30]\nc: {d: {e: [[], {}]}}\n",
    "a: 1\na: 2\n", "? [1, 2]\n: v\n", "1: one\n2.5: two\ntrue: three\n~: four\n", "x: !!binary aGVsbG8=\n",
    "x: !!set {a, b}\n", "x: !custom v\n", "base: &b {a: 1}\nderived:\n  <<: *b\n  c: 2\n", "<<: {a: 1}\nb: 2\n",
    "x: 2001-12-14t21:59:43.10-05:00\n", "- a\n- b: c\n---\n---\nz: 1\n", "x: !!str 12\ny: !!int '7'\n",
    "x: !!float 1\ny: !!bool 'true'\nz: !!null ''\n", "'quoted': \"v\"\nplain key: |\n  block\n  text\n",
    "k: " + "[" * 150 + "]" * 150 + "\n", "k: " + "{a: " * 300 + "1" + "}" * 300 + "\n", "x: .inf\n",
]  # fmt: skip


@pytest.mark.parametrize("text", QUICK_CASES)
def test_quick_construction_equals_pyyaml_constructor(text: str) -> None:
    """Documents without aliases skip PyYAML's constructor where they can (``yamlio._construct``): the data, the
    lines and the errors are the same."""
    expected = _constructed_by_pyyaml(text.encode())
    try:
        got: object = [(d.data, d.line) for d in yamlio.load_yaml_documents(text.encode(), "f.yaml")]
    except InputError:
        got = "error"
    if isinstance(expected, str):
        assert got == "error"
    else:
        assert got == expected and repr(got) == repr(expected)  # types too: 1 is not 1.0 nor True


def test_quick_construction_equals_pyyaml_on_every_yaml_file_of_the_repository() -> None:
    root = Path(__file__).resolve().parent.parent
    files = [
        p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and ".venv" not in p.parts and p.is_file()
    ]
    assert len(files) > 100
    for path in files:
        text = path.read_bytes()
        if b"*" in text:
            continue  # aliases: the constructor builds those documents, as before
        expected = _constructed_by_pyyaml(text)
        if isinstance(expected, str):
            continue
        try:
            got = [(d.data, d.line) for d in yamlio.load_yaml_documents(text, str(path))]
        except InputError:
            continue  # refused by a check of its own (too deep); PyYAML's constructor read it
        assert repr(got) == repr(expected), path


# Plain, quoted, block, flow, tagged, anchored, merged and empty nodes: what the resolvers tag.
_TAGGED = (
    'a: 1\nb: "2"\nc: \'x\'\nd: [1, "y", {e: null}]\nf: |\n  text\ng: !!str 3\nh: !custom z\n'
    "i: &k {j: 0x1}\nl: *k\nm:\n  <<: *k\n  n: ~\n---\n"
    '{"apiVersion": "v1", "kind": "List", "items": [{"x": 1.5}, "", true]}\n---\n\n---\n- - - deep\n'
)


def _tags(node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return (node.tag, node.value, node.style)
    items = (
        [(_tags(k), _tags(v)) for k, v in node.value]
        if isinstance(node, yaml.MappingNode)
        else [_tags(v) for v in node.value]
    )
    return (node.tag, items)


def _composed(loader: Any) -> list[object]:
    try:
        return [_tags(loader.get_node()) for _ in iter(loader.check_node, False)]
    finally:
        loader.dispose()


def test_node_tags_are_pyyamls_own_for_nodes_that_are_not_plain_scalars() -> None:
    """The loaders answer the resolver's question for quoted scalars and collections (and document_heads' loader
    for every node) without PyYAML's general lookup; the tags are the ones that lookup gives."""

    class PyYAMLResolution(yamlio._Loader):
        def resolve(self, kind: type, value: object, implicit: tuple[bool, bool]) -> str:
            if kind is yaml.ScalarNode and implicit[0]:
                return super().resolve(kind, value, implicit)
            return yaml.resolver.Resolver.resolve(self, kind, value, implicit)  # type: ignore[no-untyped-call,no-any-return]

    assert _composed(yamlio._Loader(_TAGGED)) == _composed(PyYAMLResolution(_TAGGED))
    assert yamlio._HeadLoader is not None
    assert _composed(yamlio._HeadLoader(_TAGGED)) == _composed(yaml.CBaseLoader(_TAGGED))


def _depth_by_stack(data: Any, limit: int) -> bool:
    """The explicit-stack walk depth_exceeds replaced (the reference for the differential test)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def test_depth_exceeds_answers_as_an_explicit_stack_walk() -> None:
    import random

    rng = random.Random(7)

    def nested(depth: int) -> Any:
        if depth == 0 or rng.random() < 0.2:
            return rng.choice([1, "x", None, {}, []])
        if rng.random() < 0.5:
            return {str(i): nested(depth - 1) for i in range(rng.randint(1, 3))}
        return [nested(depth - 1) for _ in range(rng.randint(1, 3))]

    for _ in range(300):
        data = nested(rng.randint(0, 12))
        for limit in (0, 1, 2, 3, 5, 8, 13):
            assert yamlio.depth_exceeds(data, limit) == _depth_by_stack(data, limit)
    chain: Any = "leaf"
    for i in range(300):
        chain = [chain] if i % 2 else {"k": chain}
    for limit in (127, 128, 129, 256):
        assert yamlio.depth_exceeds(chain, limit) == _depth_by_stack(chain, limit) is True
    assert yamlio.depth_exceeds(chain) is True  # MAX_DEPTH, without coming near Python's recursion limit
    with pytest.raises(ValueError):
        yamlio.depth_exceeds(chain, 10_000)
