"""Flux objects in a repository or in a render, the sources they point at, and which files a path includes.

Only Kustomizations that no other Kustomization applies are apps of their own from the start ("roots",
typically ``clusters/<env>/flux-system``): the others are found by rendering their parent, after its
``postBuild`` substitution, which often decides their ``path``. Telling the two apart needs to know which files
a Kustomization's path takes in, without running kustomize: ``included_files`` follows ``resources``,
``bases`` and ``components`` of local kustomization files, or lists every manifest below a path that has none,
as Flux's generated kustomization does.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_check import repourl, yamlio
from gitops_check.errors import InputError
from gitops_check.model.objects import split_api_version
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.source import KUSTOMIZATION_FILES

KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
SOURCE_KINDS = frozenset({"GitRepository", "OCIRepository", "HelmRepository", "HelmChart", "Bucket"})
# source-watcher: composes ExternalArtifacts from other sources (discover/flux_artifacts.py).
GENERATOR_GROUP = "source.extensions.fluxcd.io"
GENERATOR = "ArtifactGenerator"
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_SNIFF = b"toolkit.fluxcd.io"
_SNIFF_GENERATOR = b"extensions.fluxcd.io"
_IGNORED_DIRS = frozenset({".git", ".github", ".circleci"})
_VARIABLE = re.compile(r"\$\{")


@dataclass(frozen=True)
class FluxObject:
    kind: str
    namespace: str
    name: str
    body: dict[str, Any]
    file: str | None = None  # repository-relative file, for objects found in the repository
    line: int | None = None

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def where(self) -> str:
        if self.file:
            return f"{self.file}:{self.line}" if self.line else self.file
        return self.id


def flux_kind(body: Any) -> str | None:
    """``Kustomization``, ``HelmRelease`` or a source kind when ``body`` is a Flux object; else None."""
    if not isinstance(body, dict) or not isinstance(body.get("apiVersion"), str):
        return None
    group, _ = split_api_version(body["apiVersion"])
    kind = body.get("kind")
    if group == KUSTOMIZE_GROUP and kind == "Kustomization":
        return "Kustomization"
    if group == HELM_GROUP and kind == "HelmRelease":
        return "HelmRelease"
    if group == SOURCE_GROUP and kind in SOURCE_KINDS:
        return str(kind)
    if group == GENERATOR_GROUP and kind == GENERATOR:
        return GENERATOR
    return None


def _object(body: Any, default_namespace: str, file: str | None, line: int | None) -> FluxObject | None:
    kind = flux_kind(body)
    metadata = body.get("metadata") if isinstance(body, dict) else None
    if kind is None or not isinstance(metadata, dict) or not metadata.get("name"):
        return None
    namespace = str(metadata.get("namespace") or default_namespace)
    return FluxObject(kind, namespace, str(metadata["name"]), body, file, line)


def from_rendered(objects: Sequence[RawObject], default_namespace: str) -> list[FluxObject]:
    found = []
    for raw in objects:
        obj = _object(raw.body, default_namespace, None, None)
        if obj is not None:
            found.append(obj)
    return found


@dataclass(frozen=True)
class Scan:
    objects: tuple[FluxObject, ...]
    notes: tuple[str, ...]


def scan_workspace(ws: Workspace) -> Scan:
    """Every Flux object in the repository's YAML/JSON files (hidden folders skipped)."""
    objects: list[FluxObject] = []
    notes: list[str] = []
    for rel in _manifest_files(ws.root):
        if ws.unmarked is not None and rel in ws.unmarked:
            continue  # holds none of the markers, _SNIFF among them: seen while the files were written
        path = ws.root / rel
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if _SNIFF not in data and _SNIFF_GENERATOR not in data:
            continue
        try:
            docs = list(yamlio.load_documents(data, rel))
        except InputError as e:
            notes.append(f"{e}: skipped while looking for Flux objects")
            continue
        for doc in docs:
            obj = _object(doc.data, "default", rel, doc.line)
            if obj is not None:
                objects.append(obj)
    return Scan(tuple(objects), tuple(notes))


def _manifest_files(root: Path) -> Iterator[str]:
    """The YAML/JSON files under ``root`` that are not symlinks, hidden folders skipped, relative to it: a
    folder's own files (sorted), then its subfolders' (sorted; a symlink to a folder is not followed)."""
    yield from _manifest_files_in(os.fspath(root), "")


def _manifest_files_in(folder: str, rel: str) -> Iterator[str]:
    # os.walk's order and choices, from the directory entries' types alone: no lstat per file (os.walk plus
    # os.path.islink cost one each, most of a scan of a few thousand files).
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:
        return
    files: list[str] = []
    folders: list[os.DirEntry[str]] = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if not entry.name.startswith("."):
                folders.append(entry)
        elif entry.name.endswith(_MANIFEST_SUFFIXES) and not entry.is_symlink():
            files.append(entry.name)
    for name in sorted(files):
        yield rel + name
    for entry in sorted(folders, key=lambda e: e.name):
        if not entry.is_symlink():
            yield from _manifest_files_in(entry.path, f"{rel}{entry.name}/")


class SourceIndex:
    """Flux source objects by (kind, namespace, name); rendered ones win over ones read from files.

    ArtifactGenerators are kept apart, every one of them: two clusters' trees often hold a generator of the
    same name (``flux-system/flux-system``), and which one makes an ExternalArtifact depends on the cluster.
    """

    def __init__(self, objects: Sequence[FluxObject] = ()):
        self._by_id: dict[tuple[str, str, str], FluxObject] = {}
        self._generators: list[FluxObject] = []
        self.add(objects)

    def add(self, objects: Sequence[FluxObject]) -> None:
        for obj in objects:
            if obj.kind in SOURCE_KINDS:
                self._by_id[(obj.kind, obj.namespace, obj.name)] = obj
            elif obj.kind == GENERATOR:
                self._generators.append(obj)

    def get(self, kind: str, namespace: str, name: str) -> FluxObject | None:
        return self._by_id.get((kind, namespace, name))

    def generators_of(self, namespace: str, artifact: str) -> list[FluxObject]:
        """ArtifactGenerators in ``namespace`` that declare an artifact named ``artifact`` (or may: one with a
        ``pathPattern`` names its artifacts from the source's folders); those a parent rendered (the cluster's
        own) replace those read from files."""
        found = [
            g
            for g in self._generators
            if g.namespace == namespace and (artifact in artifact_names(g) or g.spec.get("pathPattern"))
        ]
        rendered = [g for g in found if g.file is None]
        return rendered or found


def artifact_names(generator: FluxObject) -> list[str]:
    artifacts = generator.spec.get("artifacts")
    items = artifacts if isinstance(artifacts, list) else []
    return [str(a["name"]) for a in items if isinstance(a, dict) and a.get("name")]


def display_url(url: str) -> str:
    """A repository URL without credentials, for messages."""
    return repourl.canonical(url) if "@" in url.split("/")[2 if "://" in url else 0] else url


# ---------------------------------------------------------------------------------------------------------------
# Which files a Kustomization's path takes in


def field_map(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` when it is a mapping, else empty: a malformed field reads as absent."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def field_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def normalize_path(path: Any) -> str | None:
    """``spec.path`` as a repository-relative posix path ("." for the root); None when it cannot be used."""
    text = str(path or "").strip()
    if _VARIABLE.search(text):
        return None
    norm = posixpath.normpath(text.lstrip("/") or ".")
    if norm == ".." or norm.startswith("../"):
        return None
    return norm


def included_files(root: Path, path: str) -> frozenset[str]:
    """Repository-relative files the build of ``path`` reads manifests from (best effort, no kustomize run)."""
    found: set[str] = set()
    _include(root, path, found, set())
    return frozenset(found)


def _include(root: Path, folder: str, found: set[str], seen: set[str]) -> None:
    if folder in seen:
        return
    seen.add(folder)
    base = root / folder
    if not base.is_dir():
        return
    kfile = next((n for n in KUSTOMIZATION_FILES if (base / n).is_file()), None)
    if kfile is None:
        _include_generated(root, folder, found, seen)
        return
    try:
        data = yamlio.load_one((base / kfile).read_bytes(), posixpath.join(folder, kfile))
    except (InputError, OSError):
        return
    if not isinstance(data, dict):
        return
    for key in ("resources", "bases", "components"):
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, str) or "://" in entry:
                continue
            target = posixpath.normpath(posixpath.join(folder, entry.strip()))
            if target.startswith("../") or target == "..":
                continue
            if (root / target).is_dir():
                _include(root, target, found, seen)
            elif (root / target).is_file():
                found.add(target)


def patch_files(ws: Workspace) -> frozenset[str]:
    """Files that kustomization files of the repository use as patches: fragments, not objects of their own."""
    found: set[str] = set()
    for rel in _manifest_files(ws.root):
        folder, _, name = rel.rpartition("/")
        if name not in KUSTOMIZATION_FILES:
            continue
        try:
            raw = (ws.root / rel).read_bytes()
            if not _may_name_patches(raw):
                continue  # most kustomization files: parsing them would find no patch entry
            data = yamlio.load_one(raw, rel)
        except (InputError, OSError):
            continue
        if not isinstance(data, dict):
            continue
        entries = [e for e in _items(data, "patchesStrategicMerge") if isinstance(e, str) and "\n" not in e]
        for key in ("patches", "patchesJson6902"):
            entries += [
                e["path"] for e in _items(data, key) if isinstance(e, dict) and isinstance(e.get("path"), str)
            ]
        for entry in entries:
            found.add(posixpath.normpath(posixpath.join(folder or ".", entry.strip())))
    return frozenset(found)


def _may_name_patches(raw: bytes) -> bool:
    """False only when no ``patches*`` key can be in the file: not written out, not behind an escape sequence
    (``"\\x70atches"``), and not in UTF-16/32, which YAML also reads."""
    return b"patches" in raw or b"\\" in raw or b"\x00" in raw


def _items(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _include_generated(root: Path, folder: str, found: set[str], seen: set[str]) -> None:
    base = root / folder
    for name in sorted(os.listdir(base)):
        rel = name if folder == "." else f"{folder}/{name}"
        if (base / name).is_dir():
            if name in _IGNORED_DIRS:
                continue
            if any((base / name / k).is_file() for k in KUSTOMIZATION_FILES):
                _include(root, rel, found, seen)
            else:
                _include_generated(root, rel, found, seen)
        elif name.endswith((".yaml", ".yml")):
            found.add(rel)


# ---------------------------------------------------------------------------------------------------------------
# Kustomizations in kustomize bases: the spec.path overlays patch in


def patched_paths(ws: Workspace, objects: Sequence[FluxObject]) -> dict[tuple[str, str], frozenset[str]]:
    """``spec.path`` values overlays give Kustomization objects of their bases, by (file, object name).

    Flux's multi-tenancy layout keeps a tenant's Kustomization in ``tenants/base/<team>`` without a path and has
    ``tenants/<env>/kustomization.yaml`` patch ``/spec/path`` in. What a cluster applies is the patched object:
    read as written, the base would apply the whole repository. Only patches that set ``spec.path`` literally
    are understood (JSON 6902 add/replace of ``/spec/path``, strategic merge of ``spec.path``); each overlay
    gives one value, and an object several overlays patch has several.
    """
    found: dict[tuple[str, str], set[str]] = {}
    kustomizations = [o for o in objects if o.kind == "Kustomization" and o.file]
    if not kustomizations:
        return {}
    for rel in _manifest_files(ws.root):
        folder, _, name = rel.rpartition("/")
        if name not in KUSTOMIZATION_FILES:
            continue
        try:
            raw = (ws.root / rel).read_bytes()
            if not _may_name_patches(raw):
                continue
            data = yamlio.load_one(raw, rel)
        except (InputError, OSError):
            continue
        setters = _path_setters(ws.root, folder or ".", data) if isinstance(data, dict) else []
        if not setters:
            continue
        files = included_files(ws.root, folder or ".")
        for obj in kustomizations:
            if obj.file not in files:
                continue
            for matches, value in setters:
                if matches(obj):
                    found.setdefault((obj.file or "", obj.name), set()).add(value)
    return {k: frozenset(v) for k, v in found.items()}


_Setter = tuple[Any, str]  # (FluxObject -> bool, path value)


def _path_setters(root: Path, folder: str, data: dict[str, Any]) -> list[_Setter]:
    out: list[_Setter] = []
    for key in ("patches", "patchesJson6902"):
        for entry in _items(data, key):
            if not isinstance(entry, dict):
                continue
            target = entry.get("target") if isinstance(entry.get("target"), dict) else None
            for doc in _patch_docs(root, folder, entry.get("patch"), entry.get("path")):
                out.extend(_setters_of(doc, target))
    for entry in _items(data, "patchesStrategicMerge"):
        if isinstance(entry, str):
            inline = entry if "\n" in entry else None
            for doc in _patch_docs(root, folder, inline, None if inline else entry):
                out.extend(_setters_of(doc, None))
    return out


def _patch_docs(root: Path, folder: str, inline: Any, path: Any) -> list[Any]:
    if isinstance(inline, str):
        text, where = inline.encode(), f"{folder}/kustomization.yaml"
    elif isinstance(path, str):
        rel = posixpath.normpath(posixpath.join(folder, path.strip()))
        if rel.startswith("../") or rel == "..":
            return []
        try:
            text, where = (root / rel).read_bytes(), rel
        except OSError:
            return []
    else:
        return []
    try:
        return [d.data for d in yamlio.load_documents(text, where)]
    except InputError:
        return []


def _setters_of(doc: Any, target: dict[str, Any] | None) -> list[_Setter]:
    if isinstance(doc, list):  # JSON 6902: needs a target naming the kind
        if target is None or target.get("kind") != "Kustomization":
            return []
        values = [
            op["value"]
            for op in doc
            if isinstance(op, dict) and op.get("op") in ("add", "replace") and op.get("path") == "/spec/path"
            and isinstance(op.get("value"), str)
        ]  # fmt: skip
        return [(_selector(target, None), v) for v in values]
    if not isinstance(doc, dict) or doc.get("kind") != "Kustomization":
        return []
    group, _ = split_api_version(str(doc.get("apiVersion") or ""))
    spec = doc.get("spec")
    value = spec.get("path") if isinstance(spec, dict) else None
    if group not in ("", KUSTOMIZE_GROUP) or not isinstance(value, str):
        return []
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return [(_selector(target, str(name) if name else None), value)]


def _selector(target: dict[str, Any] | None, name: str | None) -> Any:
    """Which base objects a patch applies to: kustomize's target (name and namespace as regular expressions),
    else the strategic merge patch's own name."""
    target = target or {}
    if target.get("kind") not in (None, "Kustomization"):
        return lambda obj: False
    if target.get("group") not in (None, "", KUSTOMIZE_GROUP):
        return lambda obj: False
    wanted_name = target.get("name") or name
    wanted_ns = target.get("namespace")

    def matches(obj: FluxObject) -> bool:
        return _fullmatch(wanted_name, obj.name) and _fullmatch(wanted_ns, obj.namespace)

    return matches


def _fullmatch(pattern: Any, value: str) -> bool:
    if pattern in (None, ""):
        return True
    try:
        return re.fullmatch(str(pattern), value) is not None
    except re.error:
        return str(pattern) == value
