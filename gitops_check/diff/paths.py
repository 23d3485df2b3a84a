"""Field paths inside an object, in the three spellings the diff needs.

A path is a tuple of segments. Each segment knows how to find itself in a managedFields ``fieldsV1`` trie
(``f:name``, ``k:{"name":"app"}``, ``v:"x"``, ``i:0``), how to print itself for users
(``containers[name=app]``) and how to find the matching element in another object (the last-applied
configuration), so ownership and display never disagree about which element is meant.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class Field:
    name: str

    @property
    def managed(self) -> str:
        return "f:" + self.name

    def display(self) -> str:
        return "." + self.name if _PLAIN.match(self.name) else f"[{json.dumps(self.name)}]"

    def find(self, node: Any) -> Any:
        return node.get(self.name, MISSING) if isinstance(node, dict) else MISSING


@dataclass(frozen=True, slots=True)
class Keyed:
    """A list element identified by its merge key fields, e.g. ``(("name", "app"),)``."""

    keys: tuple[tuple[str, Any], ...]

    @property
    def managed(self) -> str:
        return "k:" + json.dumps(dict(self.keys), sort_keys=True, separators=(",", ":"))

    def display(self) -> str:
        return "[" + ",".join(f"{k}={v}" for k, v in self.keys) + "]"

    def find(self, node: Any) -> Any:
        if isinstance(node, list):
            wanted = dict(self.keys)
            for item in node:
                if isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items()):
                    return item
        return MISSING


@dataclass(frozen=True, slots=True)
class SetValue:
    """An element of a list with set semantics (``finalizers``)."""

    value: Any

    @property
    def managed(self) -> str:
        return "v:" + json.dumps(self.value, separators=(",", ":"))

    def display(self) -> str:
        return f"[{self.value}]"

    def find(self, node: Any) -> Any:
        return self.value if isinstance(node, list) and self.value in node else MISSING


@dataclass(frozen=True, slots=True)
class Index:
    index: int

    @property
    def managed(self) -> str:
        return f"i:{self.index}"

    def display(self) -> str:
        return f"[{self.index}]"

    def find(self, node: Any) -> Any:
        return node[self.index] if isinstance(node, list) and self.index < len(node) else MISSING


Segment = Field | Keyed | SetValue | Index
Path = tuple[Segment, ...]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def display(path: Path) -> str:
    text = "".join(seg.display() for seg in path)
    return text[1:] if text.startswith(".") else text


def pointer_tokens(pointer: str) -> list[str]:
    """RFC 6901 JSON pointer -> unescaped tokens."""
    if pointer in ("", "/"):
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")]


def delete(node: Any, path: Path) -> None:
    """Remove the field or list element at ``path`` from ``node`` in place (nothing when it is not there).

    Removing a merge-key field of a keyed list element, or the element's last field, removes the element.
    """
    if not path:
        return
    *parents, last = path
    container: Any = None
    for seg in parents:
        container, node = node, seg.find(node)
        if node is MISSING:
            return
    if isinstance(last, Field) and isinstance(node, dict):
        node.pop(last.name, None)
        owner = parents[-1] if parents else None
        if isinstance(owner, Keyed) and isinstance(container, list):
            if not node or last.name in dict(owner.keys):
                container.remove(node)
    elif isinstance(last, (Keyed, SetValue)) and isinstance(node, list):
        found = last.find(node)
        if found is not MISSING:
            node.remove(found)
