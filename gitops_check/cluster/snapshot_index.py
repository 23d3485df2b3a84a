"""The index a snapshot file carries, so that reading it does not mean decoding every object.

A fleet's snapshot is ~300 MB of JSON; each shard of a check reads all of it, for the keys of every object (what
the cluster holds) and their owner views (the pruning index), and decoding it is most of a shard's fixed cost
(2.0-2.4 CPU s at 205,000 objects). ``gitops-check snapshot`` therefore writes, before ``objects`` (the last
field), an ``index``::

    "index": {"format": 1, "bytes": <length of the objects array's text>, "sha256": "<hex of that text>",
              "keys": [[group, kind, namespace or null, name], ...],
              "spans": [start, end, ...],          # byte offsets into that text, one pair per object
              "owners": [{labels, owner annotations, ownerReferences}, ...],  # distinct owner views
              "owner": [i, ...]}                   # each object's view in ``owners``

The index only ever stands in for the scan it saves: it is used when the SHA-256 of the ``objects`` array's bytes
is the one it names (a file edited by hand or by a tool, re-indented, cut short: the objects are read one by one
as before) and every entry is well-formed. What it cannot be wrong about without the digest failing is the text;
what it says about the text (keys, owner views) is what our writer computed from it, and each object read back is
checked against its key all the same (``PackedObjects._from_file``). Whether an object may nest too deep is
counted again from its bytes, never taken from the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from gitops_check import yamlio
from gitops_check.cluster.packed import may_nest_deep, owner_view
from gitops_check.model.objects import ResourceKey

FORMAT = 1
_SPACE = b" \t\r\n"


def plain_key(element: Any) -> ResourceKey | None:
    """The key of an object whose identifying fields are all non-empty strings (namespace: a string or absent)
    and that is not a List: what the snapshot reader takes without its general path. None for anything else."""
    if type(element) is not dict:
        return None
    kind = element.get("kind")
    api_version = element.get("apiVersion")
    metadata = element.get("metadata")
    if (
        type(metadata) is not dict
        or type(kind) is not str
        or not kind
        or type(api_version) is not str
        or not api_version
        or kind.endswith("List")
    ):
        return None
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    if type(name) is not str or not name or (namespace is not None and type(namespace) is not str):
        return None
    return ResourceKey(api_version.rpartition("/")[0], kind, namespace or None, name)


def encode_objects(objects: Sequence[Any]) -> tuple[bytes, dict[str, Any] | None]:
    """The JSON text of the ``objects`` array as the snapshot's writer writes it, and its index (None when an
    object is not plain: a List, a field of another type; the reader then scans the file as it always did)."""
    texts = [yamlio.dump_json(obj, indent=None).encode() for obj in objects]
    array = b"[" + b", ".join(texts) + b"]"
    keys: list[list[str | None]] = []
    spans: list[int] = []
    owners: list[dict[str, Any]] = []
    owner: list[int] = []
    seen: dict[str, int] = {}
    at = 1
    for obj, text in zip(objects, texts, strict=True):
        key = plain_key(obj)
        if key is None:
            return array, None
        keys.append([key.group, key.kind, key.namespace, key.name])
        spans += (at, at + len(text))
        at += len(text) + 2  # the ", " between elements
        view = owner_view(obj)["metadata"]
        number = seen.setdefault(yamlio.dump_json(view, indent=None), len(owners))
        if number == len(owners):
            owners.append(view)
        owner.append(number)
    index = {
        "format": FORMAT,
        "bytes": len(array),
        "sha256": hashlib.sha256(array).hexdigest(),
        "keys": keys,
        "spans": spans,
        "owners": owners,
        "owner": owner,
    }
    return array, index


Entry = tuple[ResourceKey, int, int, dict[str, Any], bool]  # key, start, end (bytes of the file), view, deep


def read_index(index: Any, data: bytes, at: int) -> tuple[list[Entry], int] | None:
    """The objects ``index`` describes, when ``data[at:]`` is the ``objects`` array it was written for and the
    array ends the document; with the offset just past the array. None: not usable, scan the array instead."""
    if type(index) is not dict or index.get("format") != FORMAT:
        return None
    length, digest = index.get("bytes"), index.get("sha256")
    keys, spans, owners, owner = (
        index.get("keys"),
        index.get("spans"),
        index.get("owners"),
        index.get("owner"),
    )
    if type(length) is not int or type(digest) is not str or length < 2:
        return None
    if (
        type(keys) is not list
        or type(spans) is not list
        or type(owners) is not list
        or type(owner) is not list
    ):
        return None
    end = at + length
    if data[at : at + 1] != b"[" or data[end - 1 : end] != b"]" or data[end:].strip(_SPACE) != b"}":
        return None
    if len(spans) != 2 * len(keys) or len(owner) != len(keys):
        return None
    if not all(type(view) is dict for view in owners):
        return None
    views = [{"metadata": view} for view in owners]
    if hashlib.sha256(memoryview(data)[at:end]).hexdigest() != digest:
        return None
    entries: list[Entry] = []
    # The spans tile the array as the writer lays it out: "[" A ", " B ", " ... "]", each object from its "{" to
    # its "}". So no object of the array can be left out of the index, nor one counted twice.
    expected = 1
    open_brace, close_brace = ord("{"), ord("}")
    try:
        for i, fields in enumerate(keys):
            start, stop, number = spans[2 * i], spans[2 * i + 1], owner[i]
            if (
                type(start) is not int
                or start != expected
                or type(stop) is not int
                or not start < stop <= length - 1
            ):
                return None
            if data[at + start] != open_brace or data[at + stop - 1] != close_brace:
                return None
            if stop < length - 1 and data[at + stop : at + stop + 2] != b", ":
                return None
            if type(number) is not int or number < 0:
                return None
            key = _key_of(fields)
            if key is None:
                return None
            entries.append(
                (key, at + start, at + stop, views[number], may_nest_deep(data, at + start, at + stop))
            )
            expected = stop + 2
    except IndexError:  # an owner number past the views
        return None
    if expected != length + 1 and not (length == 2 and not keys):  # the last object ends at the "]"
        return None
    return entries, end


def _key_of(fields: Any) -> ResourceKey | None:
    if type(fields) is not list or len(fields) != 4:
        return None
    group, kind, namespace, name = fields
    if type(group) is not str or type(kind) is not str or type(name) is not str or not kind or not name:
        return None
    if kind.endswith("List"):  # what the writer never indexes (the reader's general path takes Lists apart)
        return None
    if namespace is not None and (type(namespace) is not str or not namespace):
        return None
    return ResourceKey(group, kind, namespace, name)
