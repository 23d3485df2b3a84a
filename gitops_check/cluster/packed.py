"""Live objects held as compressed JSON text and decoded when asked for: a fleet's snapshot in little memory.

A snapshot of 250,000 objects is about 350 MB of JSON and several GB as Python objects, of which a check needs
one app's objects at a time. ``PackedObjects`` keeps the objects' JSON texts compressed in blocks of about
``BLOCK_CHARS`` characters (a few objects each; about a tenth of the text's size) and decodes an object on each
access, so every reader gets a fresh copy it may change. Blocks, not objects, are compressed because starting a
compressor costs more than compressing one small object (41,000 objects: 1.9 s one by one, 0.3 s in 32 KB
blocks, and the blocks take a quarter of the room); the last blocks read back are kept decompressed, since a
check reads objects in runs (an app's, or a kind's, lie close together in a snapshot). Objects that did not come
as JSON text are kept as they are.

``read_own_snapshot`` reads gitops-check's own snapshot format field by field with the standard JSON decoder, and
each element of ``objects`` on its own, so the whole file is never held as Python objects at once.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gitops_check import yamlio
from gitops_check.model.live import OWNER_ANNOTATIONS
from gitops_check.model.objects import ResourceKey

_SPACE = re.compile(r"[ \t\n\r]*")
BLOCK_CHARS = 32 * 1024  # texts per compressed block; a block's decompression costs ~50 us
_KEPT_BLOCKS = 64  # decompressed blocks kept (~2 MB)


class _At:
    """Where an object's text lies: block ``block``, characters ``start:end``."""

    __slots__ = ("block", "end", "start")

    def __init__(self, block: int, start: int, end: int) -> None:
        self.block, self.start, self.end = block, start, end


class _Blocks:
    """Texts appended one after another and compressed a block at a time; shared (read-only once sealed) by the
    ``PackedObjects`` derived from one another. Thread-safe: render workers read objects concurrently."""

    def __init__(self) -> None:
        self._sealed: list[bytes] = []
        self._pending: list[str] = []
        self._pending_chars = 0
        self._kept: OrderedDict[int, str] = OrderedDict()
        self._lock = threading.Lock()

    def append(self, text: str) -> _At:
        with self._lock:
            at = _At(len(self._sealed), self._pending_chars, self._pending_chars + len(text))
            self._pending.append(text)
            self._pending_chars += len(text)
            if self._pending_chars >= BLOCK_CHARS:
                self._seal()
            return at

    def _seal(self) -> None:
        if self._pending:
            self._sealed.append(zlib.compress("".join(self._pending).encode(), 1))
            self._pending, self._pending_chars = [], 0

    def text(self, at: _At) -> str:
        with self._lock:
            # The block being filled: sealed now, later texts go to the next.
            if at.block == len(self._sealed):
                self._seal()
            block = self._kept.get(at.block)
            if block is not None:
                self._kept.move_to_end(at.block)
                return block[at.start : at.end]
            packed = self._sealed[at.block]
        block = zlib.decompress(packed).decode()
        with self._lock:
            self._kept[at.block] = block
            while len(self._kept) > _KEPT_BLOCKS:
                self._kept.popitem(last=False)
        return block[at.start : at.end]


class PackedObjects(Mapping[ResourceKey, Any]):
    """Objects by key; each one decoded anew on access (insertion order kept, a later object replaces one).

    An object put as text also keeps its *owner view* (its labels, the annotations in ``OWNER_ANNOTATIONS`` and
    whether it has owner references) and whether its text has enough brackets to nest ``MAX_DEPTH`` levels, so
    the pass over every live object before diffing (screening, the pruning index) decodes none of them again."""

    def __init__(self, blocks: _Blocks | None = None) -> None:
        self._blocks = blocks if blocks is not None else _Blocks()
        self._items: dict[ResourceKey, _At | Any] = {}
        self._views: dict[ResourceKey, Any] = {}
        self._maybe_deep: set[ResourceKey] = set()

    def put_text(self, key: ResourceKey, text: str, body: Mapping[str, Any]) -> None:
        """An object as the JSON text it was read from and ``body``, that text decoded."""
        self._items[key] = self._blocks.append(text)
        self._views[key] = owner_view(body)
        # A value cannot nest deeper than it has brackets; almost no object has MAX_DEPTH of them.
        if text.count("{") + text.count("[") >= yamlio.MAX_DEPTH:
            self._maybe_deep.add(key)
        else:
            self._maybe_deep.discard(key)

    def put(self, key: ResourceKey, body: Any) -> None:
        """An object that came parsed (YAML, a List's items): kept as it is."""
        self._items[key] = body
        self._views.pop(key, None)
        self._maybe_deep.discard(key)

    def absorb(self, other: PackedObjects) -> None:
        """Take every object of ``other`` (its objects replace ones with the same key)."""
        for key in other._items:
            self._views.pop(key, None)
            self._maybe_deep.discard(key)
        if not self._items and not self._views:  # the common case, one snapshot file: take its blocks too
            self._blocks = other._blocks
            self._items.update(other._items)
        else:  # texts of several files: copied into this one's blocks
            self._items.update(
                (k, self._blocks.append(other._blocks.text(v)) if isinstance(v, _At) else v)
                for k, v in other._items.items()
            )
        self._views.update(other._views)
        self._maybe_deep.update(other._maybe_deep)

    def without(self, keys: set[ResourceKey]) -> PackedObjects:
        out = PackedObjects(self._blocks)
        out._items = {k: v for k, v in self._items.items() if k not in keys}
        out._views = {k: v for k, v in self._views.items() if k not in keys}
        out._maybe_deep = self._maybe_deep - keys
        return out

    def owner_view(self, key: ResourceKey) -> Any:
        """What says who owns the object (see ``owner_view``), without decoding it when it was put as text."""
        view = self._views.get(key)
        return view if view is not None else self[key]

    def may_be_deep(self, key: ResourceKey) -> bool:
        """False when the object certainly nests less than ``yamlio.MAX_DEPTH`` levels."""
        return key in self._maybe_deep or key not in self._views

    def __getitem__(self, key: ResourceKey) -> Any:
        value = self._items[key]
        if isinstance(value, _At):
            return json.loads(self._blocks.text(value))
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[ResourceKey]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def owner_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a live object that says who owns it: ``metadata.labels``, the ``OWNER_ANNOTATIONS`` it has
    and ``ownerReferences`` (reduced to one entry when present: only whether there are any is read)."""
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
        view["annotations"] = annotations  # not a mapping: left for the reader to judge, as in the object
    if metadata.get("ownerReferences"):
        view["ownerReferences"] = [True]
    return {"metadata": view}


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
