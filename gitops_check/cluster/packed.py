"""Live objects held as compressed JSON text and decoded when asked for: a fleet's snapshot in little memory.

A snapshot of 250,000 objects is about 350 MB of JSON and several GB as Python objects, of which a check needs
one app's objects at a time. ``PackedObjects`` keeps each object as its JSON text compressed (a few percent of
the Python objects' size) and decodes it on each access, so every reader gets a fresh copy it may change. Objects
that did not come as JSON text are kept as they are.

``read_own_snapshot`` reads gitops-check's own snapshot format field by field with the standard JSON decoder, and
each element of ``objects`` on its own, so the whole file is never held as Python objects at once.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gitops_check.model.objects import ResourceKey

_SPACE = re.compile(r"[ \t\n\r]*")


class PackedObjects(Mapping[ResourceKey, Any]):
    """Objects by key; each one decoded anew on access (insertion order kept, a later object replaces one)."""

    def __init__(self) -> None:
        self._items: dict[ResourceKey, bytes | Any] = {}

    def put_text(self, key: ResourceKey, text: str) -> None:
        """An object as the JSON text it was read from (it must decode to a JSON object)."""
        self._items[key] = zlib.compress(text.encode(), 1)

    def put(self, key: ResourceKey, body: Any) -> None:
        """An object that came parsed (YAML, a List's items): kept as it is."""
        self._items[key] = body

    def absorb(self, other: PackedObjects) -> None:
        """Take every object of ``other`` (its objects replace ones with the same key)."""
        self._items.update(other._items)

    def without(self, keys: set[ResourceKey]) -> PackedObjects:
        out = PackedObjects()
        out._items = {k: v for k, v in self._items.items() if k not in keys}
        return out

    def __getitem__(self, key: ResourceKey) -> Any:
        value = self._items[key]
        if isinstance(value, bytes):
            return json.loads(zlib.decompress(value))
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[ResourceKey]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def read_own_snapshot(text: str, take: Callable[[Any, str, int], None]) -> dict[str, Any] | None:
    """The top-level fields of a JSON object, ``objects`` left empty: each of its elements goes to
    ``take(element, its JSON text, index)`` as it is read. None when ``text`` is not one well-formed JSON object
    (the caller then parses it whole, and reports the error with its line)."""
    decoder = json.JSONDecoder()
    head: dict[str, Any] = {}

    def space(i: int) -> int:
        match = _SPACE.match(text, i)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    try:
        i = space(0)
        if text[i : i + 1] != "{":
            return None
        i = space(i + 1)
        if text[i] == "}":
            return head if space(i + 1) == len(text) else None
        while True:
            name, i = decoder.raw_decode(text, i)
            i = space(i)
            if not isinstance(name, str) or text[i] != ":":
                return None
            i = space(i + 1)
            if name == "objects" and text[i] == "[":
                i = _read_array(text, space(i + 1), decoder, space, take)
                head[name] = []
            else:
                head[name], i = decoder.raw_decode(text, i)
            i = space(i)
            if text[i] == "}":
                return head if space(i + 1) == len(text) else None
            if text[i] != ",":
                return None
            i = space(i + 1)
    except (ValueError, IndexError, RecursionError):
        return None


def _read_array(
    text: str,
    i: int,
    decoder: json.JSONDecoder,
    space: Callable[[int], int],
    take: Callable[[Any, str, int], None],
) -> int:
    """Reads the elements of an array whose ``[`` was just passed; returns the index after its ``]``."""
    if text[i] == "]":
        return i + 1
    index = 0
    while True:
        start = i
        element, i = decoder.raw_decode(text, i)
        take(element, text[start:i], index)
        index += 1
        i = space(i)
        if text[i] == "]":
            return i + 1
        if text[i] != ",":
            raise ValueError("expected , or ] in objects")
        i = space(i + 1)
