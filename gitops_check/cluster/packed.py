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

A snapshot file read by the child process (``snapshot_child``) keeps no texts at all: its objects are *spans* of
the file (``FileTexts``), read again with ``os.pread`` when asked for. Compressing a fleet's 309 MB and sending
it to the parent cost more CPU than reading the JSON (1.1 + 0.5 s against 2.4 s), in every shard of a check; the
spans cost neither, and no memory but the page cache's. The parent opens the file only if it is still the one
read (device, inode, size, modification time), and each object read back must decode to the key it was read as:
a file changed under the run is an error, never another object.
"""

from __future__ import annotations

import json
import marshal
import os
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gitops_check import yamlio
from gitops_check.errors import InputError
from gitops_check.model.live import OWNER_ANNOTATIONS
from gitops_check.model.objects import ResourceKey

_SPACE = re.compile(r"[ \t\n\r]*")
_SPACES = frozenset(" \t\n\r")
BLOCK_CHARS = 32 * 1024  # texts per compressed block; a block's decompression costs ~50 us
_KEPT_BLOCKS = 64  # decompressed blocks kept (~2 MB)


class _At:
    """Where an object's text lies (block ``block``, characters ``start:end``), with what was learned from the
    decode that read it: its owner view and whether it may nest ``MAX_DEPTH`` deep."""

    __slots__ = ("block", "deep", "end", "start", "view")

    def __init__(self, block: int, start: int, end: int, view: Any, deep: bool) -> None:
        self.block, self.start, self.end, self.view, self.deep = block, start, end, view, deep


class _Blocks:
    """Texts appended one after another and compressed a block at a time; shared (read-only once sealed) by the
    ``PackedObjects`` derived from one another. Thread-safe: render workers read objects concurrently.

    One raw deflate stream serves every block, each ended by a full flush (the compressor's state reset, which
    zlib documents for random access): every block then inflates on its own, and the compressor is set up once
    instead of per block (its setup cost about as much as compressing a 32 KB block)."""

    def __init__(self) -> None:
        self._sealed: list[bytes] = []
        self._pending: list[str] = []
        self._pending_chars = 0
        self._kept: OrderedDict[int, str] = OrderedDict()
        self._lock = threading.Lock()
        self._compressor = zlib.compressobj(1, zlib.DEFLATED, -15)

    def __getstate__(self) -> list[bytes]:
        """Pickled (a snapshot read in a child process): the blocks, every text sealed into one."""
        with self._lock:
            self._seal()
            return list(self._sealed)

    def __setstate__(self, sealed: list[bytes]) -> None:
        self.__init__()  # type: ignore[misc]
        # Blocks appended later start a new deflate stream: each block inflates on its own anyway.
        self._sealed = sealed

    def append(self, text: str, view: Any, deep: bool) -> _At:
        with self._lock:
            start = self._pending_chars
            self._pending_chars = end = start + len(text)
            at = _At(len(self._sealed), start, end, view, deep)
            self._pending.append(text)
            if end >= BLOCK_CHARS:
                self._seal()
            return at

    def _seal(self) -> None:
        if self._pending:
            data = "".join(self._pending).encode()
            self._sealed.append(self._compressor.compress(data) + self._compressor.flush(zlib.Z_FULL_FLUSH))
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
        block = zlib.decompressobj(-15).decompress(packed).decode()
        with self._lock:
            self._kept[at.block] = block
            while len(self._kept) > _KEPT_BLOCKS:
                self._kept.popitem(last=False)
        return block[at.start : at.end]


def may_nest_deep(text: str | bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether JSON ``text[start:end]`` has brackets enough to nest ``yamlio.MAX_DEPTH`` levels: a value cannot
    nest deeper than it has brackets, and almost no object has that many (counted without copying the span).
    ``text`` may be the UTF-8 bytes: no byte of a multi-byte character is a bracket, so the count is the same."""
    if isinstance(text, bytes):
        return text.count(b"{", start, end) + text.count(b"[", start, end) >= yamlio.MAX_DEPTH
    return text.count("{", start, end) + text.count("[", start, end) >= yamlio.MAX_DEPTH


FileIdentity = tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns
IN_FILE = -1  # the block of an _At whose text is a span of the snapshot file (FileTexts)


def file_identity(st: os.stat_result) -> FileIdentity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class FileTexts:
    """Texts that are byte spans of one UTF-8 file, read with ``os.pread`` when asked for.
    Pickled as the file's path and identity; the unpickling process calls ``open``, which refuses a file that is
    no longer the one read."""

    def __init__(self, path: str, identity: FileIdentity) -> None:
        self.path, self.identity = path, identity
        self._fd: int | None = None
        self._lock = threading.Lock()  # render workers read objects concurrently: one opens the file

    def __getstate__(self) -> tuple[str, FileIdentity]:
        return self.path, self.identity

    def __setstate__(self, state: tuple[str, FileIdentity]) -> None:
        self.__init__(*state)  # type: ignore[misc]

    def open(self) -> bool:
        """Open the file for reading; False (nothing opened) when it is not the file read any more."""
        with self._lock:
            if self._fd is not None:
                return True
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except OSError:
                return False
            try:
                same = file_identity(os.fstat(fd)) == self.identity
            except OSError:
                same = False
            if not same:
                os.close(fd)
                return False
            self._fd = fd
            return True

    def text(self, at: _At) -> str:
        if self._fd is None and not self.open():  # the reading process itself (CRDs read while loading)
            raise self.changed()
        assert self._fd is not None
        data = os.pread(self._fd, at.end - at.start, at.start)
        # Written to since it was read (its size or modification time moved), or cut short: not the same text.
        if len(data) != at.end - at.start or file_identity(os.fstat(self._fd)) != self.identity:
            raise self.changed()
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise self.changed() from None

    def changed(self) -> InputError:
        return InputError(
            "the snapshot file changed while the check read it; run the check again", file=self.path
        )

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class PackedObjects(Mapping[ResourceKey, Any]):
    """Objects by key; each one decoded anew on access (insertion order kept, a later object replaces one).

    An object put as text also keeps its *owner view* (its labels, the annotations in ``OWNER_ANNOTATIONS`` and
    whether it has owner references) and whether its text has enough brackets to nest ``MAX_DEPTH`` levels, so
    the pass over every live object before diffing (screening, the pruning index) decodes none of them again."""

    def __init__(self, blocks: _Blocks | None = None, file: FileTexts | None = None) -> None:
        self._blocks = blocks if blocks is not None else _Blocks()
        self._file = file  # where the texts of _At(IN_FILE, ...) are
        self._items: dict[ResourceKey, _At | Any] = {}  # an _At carries its owner view and depth flag

    def put_text(self, key: ResourceKey, text: str, body: Mapping[str, Any]) -> None:
        """An object as the JSON text it was read from and ``body``, that text decoded."""
        self._items[key] = self._blocks.append(text, owner_view(body), may_nest_deep(text))

    def put_viewed(self, key: ResourceKey, text: str, view: Any, deep: bool) -> None:
        """An object as its JSON text, with its owner view and ``may_nest_deep`` of the text (a snapshot's index)."""
        self._items[key] = self._blocks.append(text, view, deep)

    def put_span(
        self, key: ResourceKey, file: FileTexts, start: int, end: int, view: Any, deep: bool
    ) -> None:
        """An object whose JSON text is ``file``'s bytes ``start:end`` (one file per PackedObjects), with its
        owner view (``owner_view`` of that text decoded) and ``may_nest_deep`` of that text."""
        self._file = file
        self._items[key] = _At(IN_FILE, start, end, view, deep)

    def open_file(self) -> bool:
        """After unpickling: open the file spans are read from (see ``FileTexts.open``); True when there is none."""
        return self._file is None or self._file.open()

    def _text(self, at: _At) -> str:
        if at.block == IN_FILE:
            assert self._file is not None
            return self._file.text(at)
        return self._blocks.text(at)

    def put(self, key: ResourceKey, body: Any) -> None:
        """An object that came parsed (YAML, a List's items): kept as it is."""
        self._items[key] = body

    def __reduce__(self) -> tuple[Callable[..., PackedObjects], tuple[Any, ...]]:
        """Pickled (a snapshot read in a child process) column by column: keys as tuples, each ``_At`` as a tuple,
        which the C pickler writes without a Python call per object (a fleet's 205,000 keys and places: ~2x
        faster both ways than pickling the objects themselves)."""
        keys = [(k.group, k.kind, k.namespace, k.name) for k in self._items]
        places = [
            (v.block, v.start, v.end, v.view, v.deep) if type(v) is _At else (v,)
            for v in self._items.values()
        ]
        # marshal writes these plain tuples, dicts and strings in half pickle's time (it keeps no memo) and reads
        # them as fast; a value it refuses (another type, nesting past its limit) leaves them to pickle.
        try:
            columns: bytes | tuple[Any, Any] = marshal.dumps((keys, places), 4)
        except ValueError:
            columns = (keys, places)
        return _unpickle_packed, (self._blocks, columns, self._file)

    def absorb(self, other: PackedObjects) -> None:
        """Take every object of ``other`` (its objects replace ones with the same key)."""
        if not self._items:  # the common case, one snapshot file: take its blocks too
            self._blocks, self._file = other._blocks, other._file
            self._items = dict(other._items)
        else:  # texts of several files: copied into this one's blocks
            self._items.update(
                (k, self._blocks.append(other._text(v), v.view, v.deep) if type(v) is _At else v)
                for k, v in other._items.items()
            )

    def without(self, keys: set[ResourceKey]) -> PackedObjects:
        out = PackedObjects(self._blocks, self._file)
        out._items = {k: v for k, v in self._items.items() if k not in keys}
        return out

    def owner_view(self, key: ResourceKey) -> Any:
        """What says who owns the object (see ``owner_view``), without decoding it when it was put as text."""
        value = self._items[key]
        return value.view if type(value) is _At else value

    def may_be_deep(self, key: ResourceKey) -> bool:
        """False when the object certainly nests less than ``yamlio.MAX_DEPTH`` levels."""
        value = self._items.get(key)
        return value.deep if type(value) is _At else True

    def __getitem__(self, key: ResourceKey) -> Any:
        value = self._items[key]
        if type(value) is _At:
            if value.block != IN_FILE:
                return json.loads(self._blocks.text(value))
            return self._from_file(key, value)
        return value

    def _from_file(self, key: ResourceKey, at: _At) -> Any:
        """A span of the file decoded; it must still be the object of ``key`` (the file may have changed)."""
        assert self._file is not None
        try:
            body = json.loads(self._file.text(at))
        except ValueError:
            raise self._file.changed() from None
        metadata = body.get("metadata") if type(body) is dict else None
        if (
            type(metadata) is not dict
            or body.get("kind") != key.kind
            or str(body.get("apiVersion", "")).rpartition("/")[0] != key.group
            or metadata.get("name") != key.name
            or (metadata.get("namespace") or None) != key.namespace
        ):
            raise self._file.changed()
        return body

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[ResourceKey]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def _unpickle_packed(
    blocks: _Blocks, columns: bytes | tuple[Any, Any], file: FileTexts | None
) -> PackedObjects:
    # marshal's bytes come from our own child (``__reduce__``), as the pickle around them does.
    keys, places = marshal.loads(columns) if isinstance(columns, bytes) else columns
    out = PackedObjects(blocks, file)
    out._items = {
        ResourceKey(*key): _At(*place) if len(place) == 5 else place[0]
        for key, place in zip(keys, places, strict=True)
    }
    return out


def owner_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a live object that says who owns it: ``metadata.labels``, the ``OWNER_ANNOTATIONS`` it has
    and ``ownerReferences`` (reduced to one entry when present: only whether there are any is read)."""
    metadata = body.get("metadata")
    # The exact type is asked first throughout: it is cheaper than the ABC's check, and what JSON gives.
    if type(metadata) is not dict and not isinstance(metadata, Mapping):
        return {"metadata": {}}
    view: dict[str, Any] = {}
    labels = metadata.get("labels")
    if labels:
        view["labels"] = labels
    annotations = metadata.get("annotations")
    if type(annotations) is dict or isinstance(annotations, Mapping):
        if not OWNER_ANNOTATIONS.isdisjoint(annotations):
            view["annotations"] = {k: v for k, v in annotations.items() if k in OWNER_ANNOTATIONS}
    elif annotations:
        view["annotations"] = annotations  # not a mapping: left for the reader to judge, as in the object
    if metadata.get("ownerReferences"):
        view["ownerReferences"] = [True]
    return {"metadata": view}


def read_own_snapshot(
    text: str,
    take: Callable[[Any, int, int, int], None],
    indexed: Callable[[Any, int], int | None] | None = None,
) -> dict[str, Any] | None:
    """The top-level fields of a JSON object, ``objects`` left empty: each of its elements goes to
    ``take(element, start, end, index)`` as it is read (its JSON text is ``text[start:end]``). None when ``text``
    is not one well-formed JSON object (the caller then parses it whole, and reports the error with its line).
    ``indexed``: when an ``index`` field came before ``objects``, ``indexed(index, i)`` (``i``: where the array's
    ``[`` is) may take the whole array from it and return where the array ends; None: it is read element by
    element."""
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
                after = indexed(head["index"], i) if indexed is not None and "index" in head else None
                i = after if after is not None else _read_array(text, space(i + 1), decoder, space, take)
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
    take: Callable[[Any, int, int, int], None],
) -> int:
    """Reads the elements of an array whose ``[`` was just passed; returns the index after its ``]``."""
    if text[i] == "]":
        return i + 1
    # What raw_decode calls, without its frame: this loop runs once per object. Typeshed leaves it out.
    scan: Callable[[str, int], tuple[Any, int]] = decoder.scan_once  # type: ignore[attr-defined]
    index = 0
    while True:
        start = i
        try:
            element, i = scan(text, i)
        except StopIteration:
            raise ValueError("expected a value in objects") from None
        take(element, start, i, index)
        index += 1
        if text[i] in _SPACES:
            i = space(i)
        if text[i] == "]":
            return i + 1
        if text[i] != ",":
            raise ValueError("expected , or ] in objects")
        i += 1
        if text[i] in _SPACES:
            i = space(i)
