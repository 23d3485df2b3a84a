"""Cluster snapshots: load what users have (kubectl output, YAML, folders, gzip) and gitops-check's own format.

gitops-check's format is one JSON document (optionally gzipped)::

    {"apiVersion": "gitops-check.io/v1", "kind": "ClusterSnapshot",
     "metadata": {"takenAt": "...", "cluster": "prod", "server": "https://...", "serverVersion": "v1.37.2",
                  "tool": "gitops-check 0.1.0"},
     "coverage": {"kinds": [{"group": "apps", "kind": "Deployment", "namespaced": true}, ...],
                  "namespaces": ["shop", ...] or null for all,
                  "unreadable": [{"group": "", "kind": "Secret", "namespace": "shop", "reason": "forbidden"}]},
     "secretHashing": {"algorithm": "hmac-sha256", "salt": "<hex>", "keyed": false},
     "schema": {...the cluster's schema for kinds the bundled one lacks (CRDs), gitops_check.kubeschema...},
     "index": {...where each object's text lies, its key and owner view: ``snapshot_index``...},
     "objects": [ ...Kubernetes objects, Secret values replaced by keyed hashes... ]}

The writer puts ``objects`` last and ``index`` right before it; the index is optional (other tools' edits make
it stale, and then the objects are read one by one, as in a file without one).

Coverage is what lets "absent from the cluster" be told from "not captured". Other inputs carry no coverage:
a kind counts as captured when at least one object of it is present (or when the user vouches with
``--assume-complete-snapshot``).
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gitops_check import secrethash, yamlio
from gitops_check.cluster.packed import (
    FileIdentity,
    FileTexts,
    PackedObjects,
    file_identity,
    may_nest_deep,
    owner_view,
    read_own_snapshot,
)
from gitops_check.cluster.snapshot_index import encode_objects, plain_key, read_index
from gitops_check.errors import InputError
from gitops_check.identity import KindScopes
from gitops_check.model.live import Coverage, LiveState, SecretHashing
from gitops_check.model.objects import GroupKind, ResourceKey, split_api_version

API_VERSION = "gitops-check.io/v1"
KIND = "ClusterSnapshot"
MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024 * 1024  # decompressed
# Files from this size on are read by a child process (``snapshot_child``: a fleet's snapshot); smaller ones,
# where starting an interpreter costs more than it saves, in a thread.
CHILD_READ_BYTES = 32 * 1024 * 1024
_LEADING_SPACE = re.compile(rb"[ \t\r\n]*")
SNAPSHOT_SUFFIXES = (".json", ".yaml", ".yml", ".json.gz", ".yaml.gz", ".yml.gz")


def _read_bytes(path: Path) -> tuple[bytes, bool]:
    """The file's bytes (decompressed when gzip) and whether they are the file's own (not decompressed)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read snapshot: {e.strerror}", file=str(path)) from None
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data), False
        except (OSError, EOFError) as e:
            raise InputError(f"corrupt gzip data: {e}", file=str(path)) from None
    return data, True


def _key(obj: dict[str, Any]) -> ResourceKey:
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    metadata = obj.get("metadata") or {}
    return ResourceKey(
        group, str(obj.get("kind", "")), metadata.get("namespace") or None, str(metadata.get("name", ""))
    )


def _objects_of(doc: Any, where: str, line: int) -> Iterator[dict[str, Any]]:
    if not isinstance(doc, dict):
        raise InputError(f"expected Kubernetes objects, found a {type(doc).__name__}", file=where, line=line)
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            yield from _objects_of(item, where, line)
        return
    metadata = doc.get("metadata")
    if not doc.get("apiVersion") or not kind or not isinstance(metadata, dict) or not metadata.get("name"):
        raise InputError("object lacks apiVersion, kind or metadata.name", file=where, line=line)
    fields = (doc["apiVersion"], kind, metadata["name"], metadata.get("namespace") or "")
    if not all(isinstance(f, str) for f in fields):
        raise InputError(
            "apiVersion, kind, metadata.name and metadata.namespace must be strings", file=where, line=line
        )
    yield doc


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = [p for p in sorted(path.rglob("*")) if p.is_file() and p.name.endswith(SNAPSHOT_SUFFIXES)]
        if not found:
            raise InputError("no .json/.yaml snapshot files in this folder", file=str(path))
        return found
    if not path.exists():
        raise InputError("snapshot file does not exist", file=str(path))
    return [path]


def load_snapshot(
    path: str | os.PathLike[str], *, assume_complete: bool = False, spans: bool = False
) -> LiveState:
    """Load a snapshot file or folder into a LiveState. Raises InputError with file and line.

    gitops-check's own JSON format is read object by object and its objects kept packed (``cluster.packed``), so
    a fleet's snapshot never sits in memory as Python objects; other inputs are parsed whole. ``spans`` (the
    child process): the objects of one uncompressed file are kept as spans of it (``packed.FileTexts``),
    which the process that unpickles the state must open (``PackedObjects.open_file``)."""
    root = Path(path)
    objects = PackedObjects()
    coverage: Coverage | None = None
    hashing: SecretHashing | None = None
    unreadable: dict[tuple[GroupKind, str | None], str] = {}
    scopes: dict[GroupKind, bool] = {}
    meta: dict[str, Any] = {}
    schema: dict[str, Any] | None = None
    files = _files(root)
    for file in files:
        where = str(file)
        before = _identity(file) if spans and len(files) == 1 else None
        data, as_stored = _read_bytes(file)
        yamlio.check_size(len(data), where, MAX_SNAPSHOT_BYTES)
        # Spans must be of the file as read: not gzip (offsets into its decompressed text), unchanged meanwhile.
        in_file = None
        if before is not None and as_stored and _identity(file) == before:
            in_file = FileTexts(os.path.abspath(file), before)
        read = _read_streamed(data, where, in_file) or _read_parsed(data, where)
        del data
        own, part = read
        if own is not None:
            coverage, hashing, meta = own.coverage, own.hashing, own.meta
            schema = own.schema
            unreadable.update(own.unreadable)
            scopes.update(own.scopes)
        objects.absorb(part)
    kind_scopes = KindScopes(dict(scopes))
    for key in objects:
        if key.kind == "CustomResourceDefinition":  # the scopes of the kinds they define
            kind_scopes.learn_crd(objects[key])
    if coverage is None:
        coverage = Coverage(complete=assume_complete)
    elif assume_complete:
        coverage = Coverage(coverage.kinds, coverage.namespaces, complete=True)
    return LiveState(
        objects=objects,
        coverage=coverage,
        unreadable=unreadable,
        scopes=kind_scopes.table,
        source=_describe(root, meta),
        secret_hashing=hashing,
        server_version=meta.get("serverVersion"),
        schema=schema,
        cluster=str(meta["cluster"]) if meta.get("cluster") else None,
        server=str(meta["server"]).rstrip("/") if meta.get("server") else None,
    )


def _identity(file: Path) -> FileIdentity | None:
    try:
        return file_identity(file.stat())
    except OSError:
        return None


def _read_streamed(
    data: bytes, where: str, in_file: FileTexts | None = None
) -> tuple[_Own, PackedObjects] | None:
    """gitops-check's own format as JSON, read object by object (``packed.read_own_snapshot``); None when the file
    is anything else, or not well-formed (then it is parsed whole, which reports the error with its line).
    ``in_file``: ``data`` is that file's bytes, and its objects are kept as byte spans of it."""
    start = _LEADING_SPACE.match(data)
    if start is None or data[start.end() : start.end() + 1] != b"{":
        return None
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return None
    part = PackedObjects()
    problems: list[InputError] = []

    put_text, put_span = part.put_text, part.put_span
    # Spans are of the file's bytes; the reader counts characters. In an ASCII file they are the same; otherwise
    # each character's bytes are counted once, as the elements come in order.
    counted = [0, 0]  # characters read, and their bytes

    def byte_at(i: int) -> int:
        counted[1] += len(text[counted[0] : i].encode())
        counted[0] = i
        return counted[1]

    same = data.isascii()

    def take(element: Any, start: int, end: int, index: int) -> None:
        # What _objects_of accepts and _key reads, for the common case of a plain object whose fields are all
        # strings: checked here in one go, without building its error context first. Anything else (a List,
        # a field of another type, a missing one) takes the general path below.
        key = plain_key(element)
        if key is not None:
            if in_file is None:
                put_text(key, text[start:end], element)
            else:
                deep = may_nest_deep(text, start, end)
                if not same:
                    start, end = byte_at(start), byte_at(end)
                put_span(key, in_file, start, end, owner_view(element), deep)
            return
        try:
            docs = list(_objects_of(element, f"{where} (objects[{index}])", 1))
        except InputError as e:
            problems.append(e)
            return
        for doc in docs:
            if doc is element:
                part.put_text(_key(doc), text[start:end], doc)
            else:  # an item of a List: no text of its own
                part.put(_key(doc), doc)

    def indexed(index: Any, i: int) -> int | None:
        """The objects array taken from the file's index (``snapshot_index``), without decoding it."""
        read = read_index(index, data, i if same else len(text[:i].encode()))
        if read is None:
            return None
        entries, end = read
        if in_file is None:
            for key, start, stop, view, deep in entries:
                part.put_viewed(key, data[start:stop].decode(), view, deep)
        else:
            for key, start, stop, view, deep in entries:
                put_span(key, in_file, start, stop, view, deep)
        return len(text) - (len(data) - end)  # what follows the array is ASCII: "}" and spaces

    head = read_own_snapshot(text, take, indexed)
    if head is None or head.get("kind") != KIND or head.get("apiVersion") != API_VERSION:
        return None
    head.pop("index", None)
    if problems:
        raise problems[0]
    return _parse_own(head, where), part


def _read_parsed(data: bytes, where: str) -> tuple[_Own | None, PackedObjects]:
    """Any snapshot input parsed whole: YAML or JSON, one object or many, Lists, the own format as YAML."""
    own: _Own | None = None
    part = PackedObjects()
    for doc in yamlio.load_documents(data, where):
        body = doc.data
        if isinstance(body, dict) and body.get("kind") == KIND and body.get("apiVersion") == API_VERSION:
            own = _parse_own(body, where)
            docs: Iterable[dict[str, Any]] = own.objects
        else:
            docs = _objects_of(body, where, doc.line)
        for obj in docs:
            part.put(_key(obj), obj)
    return own, part


def _describe(root: Path, meta: dict[str, Any]) -> str:
    parts = [f"snapshot {root}"]
    details = []
    if meta.get("takenAt"):
        details.append(f"taken {meta['takenAt']}")
    if meta.get("cluster"):
        details.append(f"from {meta['cluster']}")
    if details:
        parts.append(f"({' '.join(details)})")
    return " ".join(parts)


class _Own:
    def __init__(self) -> None:
        self.coverage = Coverage()
        self.hashing: SecretHashing | None = None
        self.meta: dict[str, Any] = {}
        self.unreadable: dict[tuple[GroupKind, str | None], str] = {}
        self.scopes: dict[GroupKind, bool] = {}
        self.objects: list[dict[str, Any]] = []
        self.schema: dict[str, Any] | None = None


def _parse_own(body: dict[str, Any], where: str) -> _Own:
    own = _Own()
    try:
        own.meta = dict(body.get("metadata") or {})
        cov = body.get("coverage") or {}
        kinds = set()
        for entry in cov.get("kinds") or ():
            gk = GroupKind(str(entry.get("group", "")), str(entry["kind"]))
            kinds.add(gk)
            if "namespaced" in entry:
                own.scopes[gk] = bool(entry["namespaced"])
        namespaces = cov.get("namespaces")
        own.coverage = Coverage(
            kinds=frozenset(kinds) if cov.get("kinds") is not None else None,
            namespaces=frozenset(str(n) for n in namespaces) if namespaces is not None else None,
        )
        for entry in cov.get("unreadable") or ():
            gk = GroupKind(str(entry.get("group", "")), str(entry["kind"]))
            own.unreadable[(gk, entry.get("namespace"))] = str(entry.get("reason", "could not be read"))
        sh = body.get("secretHashing")
        if sh:
            own.hashing = SecretHashing(str(sh["algorithm"]), str(sh["salt"]), bool(sh.get("keyed", False)))
            if own.hashing.algorithm != "hmac-sha256":
                raise InputError(f"unknown secret hashing algorithm {own.hashing.algorithm!r}", file=where)
        if isinstance(body.get("schema"), dict):
            own.schema = body["schema"]
        objects = body.get("objects") or []
        if not isinstance(objects, list):
            raise InputError("'objects' must be a list", file=where)
        for i, obj in enumerate(objects):
            own.objects.extend(_objects_of(obj, f"{where} (objects[{i}])", 1))
    except (KeyError, TypeError, AttributeError) as e:
        raise InputError(
            f"malformed gitops-check snapshot ({e.__class__.__name__}: {e})", file=where
        ) from None
    return own


# ---------------------------------------------------------------------------------------------------------------
# Writing (used by ``gitops-check snapshot``)


def hash_secret(obj: dict[str, Any], hashing: SecretHashing) -> dict[str, Any]:
    """A copy of a Secret whose values are keyed hashes; last-applied (which holds values in clear) is dropped."""
    import base64

    out = dict(obj)
    data = obj.get("data") or {}
    out["data"] = {
        k: (v if secrethash.is_hash(v) else secrethash.hash_value(base64.b64decode(str(v or "")), hashing))
        for k, v in data.items()
    }
    out.pop("stringData", None)
    metadata = dict(obj.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    if annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None) is not None:
        metadata["annotations"] = annotations
        out["metadata"] = metadata
    return out


def build_snapshot(
    objects: Iterable[dict[str, Any]],
    *,
    kinds: Iterable[tuple[GroupKind, bool]],
    namespaces: Iterable[str] | None,
    unreadable: dict[tuple[GroupKind, str | None], str],
    meta: dict[str, Any],
    hashing: SecretHashing,
    schema: Any = None,
) -> dict[str, Any]:
    safe = []
    for obj in objects:
        key = _key(obj)
        safe.append(hash_secret(obj, hashing) if key.group == "" and key.kind == "Secret" else obj)
    snapshot = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": meta,
        "coverage": {
            "kinds": [{"group": gk.group, "kind": gk.kind, "namespaced": ns} for gk, ns in sorted(kinds)],
            "namespaces": sorted(namespaces) if namespaces is not None else None,
            "unreadable": [
                {"group": gk.group, "kind": gk.kind, "namespace": ns, "reason": reason}
                for (gk, ns), reason in sorted(unreadable.items(), key=lambda i: (i[0][0], i[0][1] or ""))
            ],
        },
        "secretHashing": {"algorithm": hashing.algorithm, "salt": hashing.salt, "keyed": hashing.keyed},
        "objects": safe,
    }
    if schema:
        snapshot["schema"] = schema
    return snapshot


def write_snapshot(path: str | os.PathLike[str], snapshot: dict[str, Any]) -> None:
    """``snapshot`` as one JSON document, its ``objects`` last and indexed (``snapshot_index``)."""
    head = {name: value for name, value in snapshot.items() if name not in ("objects", "index")}
    array, index = encode_objects(snapshot.get("objects") or [])
    if index is not None:
        head["index"] = index
    text = yamlio.dump_json(head, indent=None).encode()[:-1] + b', "objects": ' + array + b"}"
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    if target.name.endswith(".gz"):
        text = gzip.compress(text, compresslevel=6)
    tmp.write_bytes(text)
    tmp.replace(target)


class SnapshotSource:
    """A snapshot as a LiveSource: loading starts early (``prefetch``) so it overlaps with rendering."""

    def __init__(
        self, path: str | os.PathLike[str], *, assume_complete: bool = False, name: str = "snapshot"
    ):
        import threading

        self.name = name
        self._path = path
        self._assume_complete = assume_complete
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._result: LiveState | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._result = self._read_in_child() or load_snapshot(
                self._path, assume_complete=self._assume_complete
            )
        except BaseException as e:  # re-raised in the caller's thread by load()
            self._error = e

    def _read_in_child(self) -> LiveState | None:
        """A large snapshot file read by a child process (``snapshot_child``); None: read it here."""
        import gc
        import pickle
        import subprocess
        import sys

        from gitops_check import proc

        try:
            if not os.path.isfile(self._path) or os.path.getsize(self._path) < CHILD_READ_BYTES:
                return None
        except OSError:
            return None
        # -P: nothing from the current folder (a checkout) on the import path; the package comes from where this
        # interpreter has it.
        argv = [sys.executable, "-P", "-c", "from gitops_check.cluster.snapshot_child import main; main()"]
        try:
            child = subprocess.Popen(
                [*argv, os.fspath(self._path), "1" if self._assume_complete else "0"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            return None
        proc.CHILDREN.add(child)  # ended with the run's programs when it is stopped
        try:
            data, _ = child.communicate()
        finally:
            proc.CHILDREN.discard(child)
        if child.returncode != 0 or not data:
            return None
        # The collector's passes over the 200,000 owner views being made would cost a third of the read; they
        # live until exit and form no cycles. (Global, but only for this read; at worst another thread's read
        # runs collected.)
        collecting = gc.isenabled()
        gc.disable()
        try:
            state = pickle.loads(data)  # written by our own child from the file: no other input
        except Exception:
            return None
        finally:
            if collecting:
                gc.enable()
        if not isinstance(state, LiveState):
            return None
        # Its objects are spans of the file: read here only if it is still the file the child read.
        if isinstance(state.objects, PackedObjects) and not state.objects.open_file():
            return None
        return state

    def prefetch(self) -> None:
        import threading

        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"snapshot-{self.name}", daemon=True)
                self._thread.start()

    def identity(self) -> tuple[str | None, str | None]:
        """(cluster, server) the snapshot says it was taken from; (None, None) when it says nothing."""
        state = self.load()
        return state.cluster, state.server

    def load(self, scope: object = None) -> LiveState:
        self.prefetch()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def whole_state(self) -> LiveState:
        """A snapshot is read whole: the scope changes nothing."""
        return self.load()

    def predictor(self) -> None:
        """A snapshot cannot dry-run anything."""
        return None
