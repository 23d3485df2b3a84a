"""The schema the diff walks with: one ``Node`` per field type, looked up by apiVersion and kind.

The compact form (JSON) is ``{"types": {name: node}, "kinds": {"group/version/Kind": name}}`` where a node is
``{"p": {field: node|name}, "i": items, "a": map values, "lt": "map"|"set"|"atomic", "lk": [keys],
"at": 1 (atomic struct or map), "d": default, "q": 1 (resource quantity), "s": 1 (map of strings),
"ad": [elements the server appends to this list], "r": name (a referenced type these keys extend)}``; a node
only carries what the comparison uses, so most fields of most types are absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FORMAT_VERSION = 1
_NO_DEFAULT: Any = object()


class Node:
    """One field's schema. ``child``/``items`` are None where the schema says nothing more."""

    __slots__ = (
        "added",
        "atomic",
        "default",
        "items",
        "list_keys",
        "list_type",
        "props",
        "quantity",
        "strings",
        "values",
    )

    def __init__(self) -> None:
        self.props: dict[str, Node] = {}
        self.items: Node | None = None
        self.values: Node | None = None  # additionalProperties
        self.list_type: str | None = None
        self.list_keys: tuple[str, ...] = ()
        self.atomic = False
        self.default: Any = _NO_DEFAULT
        self.quantity = False
        self.strings = False
        self.added: tuple[Any, ...] = ()  # list elements the server appends on its own

    def child(self, name: str) -> Node | None:
        node = self.props.get(name)
        return node if node is not None else self.values

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


def kind_key(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}/{kind}"


class Schemas:
    """Nodes by kind, from several compact documents; a later document wins for a kind both describe."""

    def __init__(self, documents: Iterable[Mapping[str, Any]] = ()) -> None:
        self._kinds: dict[str, Node] = {}
        self._by_group_kind: dict[tuple[str, str], Node] = {}
        for doc in documents:
            self.add(doc)

    def add(self, doc: Mapping[str, Any], *, replace: bool = True) -> None:
        """Add a document's kinds; ``replace=False`` keeps the schema of a kind already known."""
        types = doc.get("types") or {}
        built: dict[str, Node] = {}
        for key, name in (doc.get("kinds") or {}).items():
            group, _, rest = key.partition("/")
            if not replace and (key in self._kinds or (group, rest.partition("/")[2]) in self._by_group_kind):
                continue
            node = _build(types, name, built)
            if node is None:
                continue
            self._kinds[key] = node
            group, _, rest = key.partition("/")
            self._by_group_kind[(group, rest.partition("/")[2])] = node

    def __bool__(self) -> bool:
        return bool(self._kinds)

    def lookup(self, api_version: str, kind: str) -> Node | None:
        """The kind's schema in that version, else in any version of its group (fields rarely differ)."""
        node = self._kinds.get(kind_key(api_version, kind))
        if node is not None:
            return node
        return self._by_group_kind.get((api_version.rpartition("/")[0], kind))


def _build(types: Mapping[str, Any], ref: Any, built: dict[str, Node]) -> Node | None:
    if isinstance(ref, str):
        if ref in built:
            return built[ref]
        raw = types.get(ref)
        if not isinstance(raw, dict):
            return None
        node = Node()
        built[ref] = node  # before filling: types may refer to themselves
        _fill(node, types, raw, built)
        return node
    if isinstance(ref, dict):
        node = Node()
        _fill(node, types, ref, built)
        return node
    return None


def _fill(node: Node, types: Mapping[str, Any], raw: Mapping[str, Any], built: dict[str, Node]) -> None:
    base = raw.get("r")
    if isinstance(base, str) and isinstance(types.get(base), dict) and types[base] is not raw:
        _fill(node, types, types[base], built)  # a reference with extras (a default) on top
    for name, sub in (raw.get("p") or {}).items():
        child = _build(types, sub, built)
        if child is not None:
            node.props[name] = child
    if "i" in raw:
        node.items = _build(types, raw["i"], built)
    if "a" in raw:
        node.values = _build(types, raw["a"], built)
    node.list_type = raw.get("lt")
    node.list_keys = tuple(raw.get("lk") or ())
    node.atomic = bool(raw.get("at"))
    if "d" in raw:
        node.default = raw["d"]
    node.quantity = bool(raw.get("q"))
    node.strings = bool(raw.get("s"))
    node.added = tuple(raw.get("ad") or ())
