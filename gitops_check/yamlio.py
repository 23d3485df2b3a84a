"""The one place YAML and JSON are read and written.

Reading uses libyaml (PyYAML's C parser) and keeps the line of every document, so errors and reports can point
at ``file:line``. Scalars are read as Go's YAML libraries read them (``goyaml``: ``12:30`` is a string, ``1e3`` is
1000, map keys are strings, timestamps stay strings), and duplicate keys are an error. Alias bombs are refused before anything is expanded, and oversized inputs
before they are parsed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from gitops_check import blockyaml
from gitops_check.errors import InputError
from gitops_check.gosemantics import goyaml

MAX_FILE_BYTES = 20 * 1024 * 1024
# Total nodes a document may reach once aliases are expanded; real manifests stay far below.
MAX_EXPANDED_NODES = 200_000
# Deepest nesting accepted in an object. Kubernetes objects stay far below (a CRD's schema reaches ~40); every
# stage after parsing (diff walk, YAML dumper) recurses, and 400 levels once ended the whole run in a
# RecursionError. Checked per object, so a too-deep one is that app's error (or a "not checked" kind).
MAX_DEPTH = 128

try:  # pragma: no branch
    _BaseLoader: type = yaml.CSafeLoader
    _BaseDumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader
    _BaseDumper = yaml.SafeDumper


_PLAIN_TAGS = goyaml.PLAIN_TAGS  # plain scalars' tags by text, shared with blockyaml


# What PyYAML's resolver gives a node that is not a plain scalar when no path resolver is added (none is):
# libyaml calls ``resolve`` once per node, so for a quoted scalar (every one in JSON-style YAML) or a collection it
# is answered here instead of through the resolver's general lookup.
_SCALAR_NODE = yaml.ScalarNode
_DEFAULT_TAGS: dict[type, str] = {
    yaml.ScalarNode: yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG,
    yaml.SequenceNode: yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
    yaml.MappingNode: yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
}


class _NoPathResolvers:
    """libyaml calls these around every node, for path resolvers, which gitops-check's loaders never have: the
    inherited ones look that up each time (~10 % of a load)."""

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


class _Loader(_NoPathResolvers, _BaseLoader):  # type: ignore[misc]
    """SafeLoader with go-yaml v2's scalar resolution (``goyaml``), JSON-style keys and duplicate-key detection."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is _SCALAR_NODE and implicit[0]:
            return _PLAIN_TAGS.get(value) or goyaml.remembered_plain_tag(value)
        if self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]
        return _DEFAULT_TAGS[kind]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)
        own = sum(1 for key_node, _ in node.value if key_node.tag != goyaml.MERGE)
        self.flatten_mapping(node)
        merged = (
            len(node.value) - own
        )  # flatten puts merged pairs first; the mapping's own keys win over them
        mapping: dict[str, Any] = {}
        own_keys: set[str] = set()
        for i, (key_node, value_node) in enumerate(node.value):
            # A float key stays a float64 in Go until it is formatted, unlike a float value.
            float_key = key_node.tag == goyaml.FLOAT and isinstance(key_node, yaml.ScalarNode)
            key = key_node.value if float_key else self.construct_object(key_node, deep=deep)
            if type(key) is not str or float_key:
                try:
                    key = goyaml.float_key(key) if float_key else goyaml.key_string(key)
                except goyaml.NotJSON as e:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, str(e), key_node.start_mark
                    ) from None
            if i >= merged:
                # Go keeps the last of duplicate keys; a duplicate is almost always a mistake, so we refuse it.
                if key in own_keys:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}",
                        key_node.start_mark,
                    )
                own_keys.add(key)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def _go_scalar(self, node: yaml.ScalarNode, convert: Callable[[str], Any]) -> Any:
        try:
            return convert(self.construct_scalar(node))
        except goyaml.NotJSON as e:
            raise yaml.constructor.ConstructorError(None, None, str(e), node.start_mark) from None
        except (KeyError, ValueError):
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.value!r} as {node.tag.rpartition(':')[2]}", node.start_mark
            ) from None


_CONVERTERS = goyaml.CONVERTERS
for _tag, _convert in _CONVERTERS.items():
    _Loader.add_constructor(_tag, lambda loader, node, convert=_convert: loader._go_scalar(node, convert))
# "<<" outside a key position is just text to go-yaml.
_Loader.add_constructor(goyaml.MERGE, _Loader.construct_yaml_str)


class _Unusual(Exception):
    """A node the quick construction leaves to PyYAML's constructor."""


_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


def _construct(loader: _Loader, node: yaml.Node) -> Any:
    """The document of ``node``, as ``loader.construct_document`` builds it, in a third of the time: one plain
    function call per node instead of PyYAML's generators and bookkeeping. Only the shapes rendered manifests are
    made of (maps with string keys, lists, scalars of the plain tags, no alias: the caller checks); anything else
    (a duplicate or non-string key, a merge, another tag, very deep nesting) goes to the constructor, which also
    words its errors."""
    try:
        return _node(loader, node)
    except (_Unusual, RecursionError):
        return loader.construct_document(node)


_STR, _NULL = goyaml.STR, goyaml.NULL


def _node(loader: _Loader, node: yaml.Node) -> Any:
    # Called once per node of every document read: the tags are module globals, not attribute lookups.
    tag = node.tag
    if type(node) is yaml.ScalarNode:
        if tag == _STR:
            return node.value
        if tag == _NULL:
            return None
        convert = _CONVERTERS.get(tag)
        if convert is None:
            raise _Unusual
        return loader._go_scalar(node, convert)
    if type(node) is yaml.MappingNode and tag == _MAP:
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if type(key_node) is not yaml.ScalarNode or key_node.tag != _STR or key in mapping:
                raise _Unusual
            mapping[key] = _node(loader, value_node)
        return mapping
    if type(node) is yaml.SequenceNode and tag == _SEQ:
        return [_node(loader, item) for item in node.value]
    raise _Unusual


@dataclass(frozen=True)
class Document:
    data: Any
    line: int  # 1-based line where the document starts


def _check_expansion(node: yaml.Node, where: str) -> None:
    """Refuse documents whose aliases would expand past MAX_EXPANDED_NODES (billion laughs) or that recurse."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise InputError(
                "recursive YAML alias; refusing to expand it", file=where, line=n.start_mark.line + 1
            )
        active.add(key)
        total = 1
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                total += size(k) + size(v)
        elif isinstance(n, yaml.SequenceNode):
            for v in n.value:
                total += size(v)
        active.discard(key)
        if total > MAX_EXPANDED_NODES:
            raise InputError(
                f"YAML aliases expand to more than {MAX_EXPANDED_NODES} nodes; refusing to expand them (alias bomb?)",
                file=where,
                line=n.start_mark.line + 1,
            )
        sizes[key] = total
        return total

    size(node)


def depth_exceeds(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``data`` nests mappings/lists more than ``limit`` levels deep. It recurses at most ``limit``
    levels itself (a plain recursive walk is ~3x faster than an explicit stack), so ``limit`` stays far below
    Python's recursion limit."""
    if limit > _DEPTH_LIMIT_MAX:
        raise ValueError(f"depth limit {limit} over {_DEPTH_LIMIT_MAX}")
    return isinstance(data, (dict, list)) and _nests_past(data, 0, limit)


_DEPTH_LIMIT_MAX = 256


def _nests_past(value: dict[Any, Any] | list[Any], depth: int, limit: int) -> bool:
    if depth >= limit:
        return True
    for child in value.values() if isinstance(value, dict) else value:
        if isinstance(child, (dict, list)) and _nests_past(child, depth + 1, limit):
            return True
    return False


def check_size(size: int, where: str, limit: int | None = None) -> None:
    limit = MAX_FILE_BYTES if limit is None else limit
    if size > limit:
        raise InputError(
            f"file is {size} bytes, over the {limit} byte limit; split it or raise the limit", file=where
        )


def _block_documents(text: str | bytes) -> blockyaml.Documents | None:
    """The documents by ``blockyaml`` (plain block YAML, read without libyaml's nodes), None when it gives up."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return None  # another encoding (a UTF-16 byte order mark) or not text: libyaml says which
    return blockyaml.load(text)


def load_yaml_documents(text: str | bytes, where: str, limit: int | None = None) -> Iterator[Document]:
    """Parse a multi-document YAML stream; empty documents are skipped. Raises InputError with file:line.

    Plain block YAML (what kustomize writes, and most manifests) is read by ``blockyaml``; anything else, and
    anything it is not sure of, by libyaml (``load_with_libyaml``), which gives the same values for every text both
    read (tests/test_blockyaml.py)."""
    check_size(len(text), where, limit)
    block = _block_documents(text)
    if block is not None:
        for data, line in block:
            yield Document(data, line)
        return
    yield from load_with_libyaml(text, where)


def load_with_libyaml(text: str | bytes, where: str) -> Iterator[Document]:
    """``load_yaml_documents`` by libyaml alone (the size already checked)."""
    may_alias = ("*" in text) if isinstance(text, str) else (b"*" in text)
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if may_alias:
                _check_expansion(node, where)
                data = loader.construct_document(node)
            else:
                data = _construct(loader, node)
            if data is None:
                continue
            yield Document(data, node.start_mark.line + 1)
    except yaml.YAMLError as e:
        raise _invalid(e, where) from None
    except RecursionError:
        raise InputError("YAML nested too deeply", file=where) from None
    finally:
        loader.dispose()


Head = tuple[str | None, str | None, str | None, str | None]


class _BaseTags(_NoPathResolvers):
    """``yaml.BaseLoader``'s resolver, which has no implicit or path resolvers: every node gets its kind's default
    tag. Answered without its general lookup, as libyaml asks once per node."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        return _DEFAULT_TAGS[kind]


# document_heads only composes nodes (no constructor): libyaml's parser with the base resolver's tags.
_HeadLoader: type | None
try:
    from yaml._yaml import CParser

    _HeadLoader = type("_HeadLoader", (_BaseTags, CParser), {})
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _HeadLoader = None


def document_heads(text: str | bytes, where: str, limit: int | None = None) -> list[Head]:
    """(apiVersion, kind, metadata.name, metadata.namespace) of each non-empty document, without building the
    documents: libyaml composes the nodes (no Python per scalar) and only those four are read. Each is the string a
    full load gives, or None when the document has it as anything but a string (a plain ``true``, ``0x1``, a tag,
    a merge key, a duplicate key, a non-mapping document) or lacks it; a missing namespace is "". Raises
    InputError on invalid YAML, like ``load_yaml_documents``."""
    check_size(len(text), where, limit)
    block = _block_documents(text)
    if block is not None:
        return [_head_of(data) for data, _ in block]
    return heads_with_libyaml(text, where)


def _head_of(data: Any) -> Head:
    """A loaded document's head, as ``heads_with_libyaml`` reads it from the nodes (strings only, a missing
    namespace "", a metadata that is not a mapping: no name and no namespace; a mapping with a "<<" key, quoted
    or not, is read as a merge there: nothing of it)."""
    if type(data) is not dict or "<<" in data:  # a "<<" key, even quoted, makes the heads' mapping unreadable
        return (None, None, None, None)
    metadata = data.get("metadata")
    name = namespace = None
    if type(metadata) is dict and "<<" not in metadata:
        name, namespace = metadata.get("name"), metadata.get("namespace", "")

    def text(value: Any) -> str | None:
        return value if type(value) is str else None

    return (text(data.get("apiVersion")), text(data.get("kind")), text(name), text(namespace))


def heads_with_libyaml(text: str | bytes, where: str) -> list[Head]:
    """``document_heads`` by libyaml's composer alone (the size already checked)."""
    loader = _HeadLoader(text) if _HeadLoader is not None else yaml.BaseLoader(text)
    heads: list[Head] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, yaml.ScalarNode) and not node.style and node.value == ""):
                continue  # an empty document
            top = _string_fields(node, ("apiVersion", "kind", "metadata"))
            meta = top.get("metadata")
            own = (
                _string_fields(meta, ("name", "namespace"))
                if isinstance(meta, yaml.Node)
                else dict.fromkeys(("name", "namespace"))
            )
            namespace = _string_of(own["namespace"]) if "namespace" in own else ""
            heads.append(
                (
                    _string_of(top.get("apiVersion")),
                    _string_of(top.get("kind")),
                    _string_of(own.get("name")),
                    namespace,
                )
            )
    except yaml.YAMLError as e:
        raise _invalid(e, where) from None
    finally:
        loader.dispose()
    return heads


def _invalid(e: yaml.YAMLError, where: str) -> InputError:
    """A YAML error as the user sees it: what is wrong, with the line when libyaml knows it."""
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        return InputError(f"invalid YAML: {problem}", file=where, line=mark.line + 1 if mark else None)
    return InputError(f"invalid YAML: {e}", file=where)


def _string_fields(node: yaml.Node, keys: tuple[str, ...]) -> dict[str, yaml.Node | None]:
    """The value nodes of ``keys`` in a mapping node; a key seen twice, or any merge key, makes it unreadable
    (None), as does a node that is not a mapping."""
    found: dict[str, yaml.Node | None] = {}
    if not isinstance(node, yaml.MappingNode):
        return dict.fromkeys(keys)
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key == "<<" or not isinstance(key, str):
            return dict.fromkeys(keys)
        if key in keys:
            found[key] = None if key in found else value_node
    return found


def _string_of(node: yaml.Node | None) -> str | None:
    """A scalar node's value when the full loader reads it as a string (quoted, or plain and resolving to one)."""
    if not isinstance(node, yaml.ScalarNode) or node.tag != goyaml.STR:
        return None
    if not node.style and goyaml.plain_tag(node.value) != goyaml.STR:  # plain: None, or "" from libyaml
        return None
    return str(node.value)


def load_json(text: str | bytes, where: str) -> Any:
    check_size(len(text), where)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg} (column {e.colno})", file=where, line=e.lineno) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=where) from None
    except RecursionError:
        raise InputError("JSON nested too deeply", file=where) from None


def load_documents(text: str | bytes, where: str, limit: int | None = None) -> Iterator[Document]:
    """YAML or JSON by content: JSON (one value) is much faster to parse, so use json when it looks like JSON."""
    first = text.lstrip()[:1]
    if first in ("{", "[", b"{", b"["):
        try:
            yield Document(json.loads(text), 1)
            return
        except json.JSONDecodeError:
            pass  # flow-style YAML, or broken JSON: YAML reports it with a line
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", file=where) from None
        except RecursionError:
            raise InputError("JSON nested too deeply", file=where) from None
    yield from load_yaml_documents(text, where, limit)


def load_one(text: str | bytes, where: str, limit: int | None = None) -> Any:
    """A file that must hold exactly one document (project file, values file); empty -> None."""
    docs = list(load_documents(text, where, limit))
    if not docs:
        return None
    if len(docs) > 1:
        raise InputError(f"expected one YAML document, found {len(docs)}", file=where, line=docs[1].line)
    return docs[0].data


def dump_yaml(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_BaseDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )


def dump_yaml_all(docs: list[Any]) -> str:
    return yaml.dump_all(
        docs,
        Dumper=_BaseDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )


def dump_json(data: Any, *, indent: int | None = 2) -> str:
    return json.dumps(data, indent=indent, sort_keys=False, ensure_ascii=False, default=str)


# Python's C encoder serves only unindented output; the indenting one is pure Python, ~10x slower.
# Reports are trees built by this process (no cycles): the encoder's check for them (~25 % of its time) is off.
_FAST = json.JSONEncoder(ensure_ascii=False, default=str, separators=(", ", ": "), check_circular=False)
_QUOTE = json.encoder.encode_basestring  # how it quotes strings (ensure_ascii=False)


def json_line(value: Any) -> str:
    """One value as ``dump_json_lines`` writes it, on one line."""
    return _FAST.encode(value)


def json_string(text: str) -> str:
    """A string as ``dump_json_lines`` writes it (the C encoder's own quoting)."""
    return _QUOTE(text)


def dump_json_lines(data: Mapping[str, Any], encoded: Collection[str] = ()) -> str:
    """A large document (a fleet's report) as JSON, fast: one top-level field per line, a list one element per
    line, each value in one line by the C encoder. The lists of the fields named in ``encoded`` hold their
    elements already written (``json_line``)."""
    encode = _FAST.encode
    lines = ["{"]
    last = len(data) - 1
    for i, (key, value) in enumerate(data.items()):
        end = "," if i < last else ""
        head = f"  {encode(str(key))}: "
        if isinstance(value, list) and value:
            lines.append(head + "[")
            final = len(value) - 1
            text = value if key in encoded else map(encode, value)
            lines += [f"    {item}{',' if j < final else ''}" for j, item in enumerate(text)]
            lines.append(f"  ]{end}")
        else:
            lines.append(head + encode(value) + end)
    lines.append("}")
    return "\n".join(lines)
