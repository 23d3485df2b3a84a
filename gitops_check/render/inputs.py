"""What an app reads from the repository, and the content key built from it.

A preview renders an app only when something it reads changed between the two commits, and a render cache
reuses a render whose inputs were seen before. Both rest on this module: an app's inputs are the folders and
files it reads (its folder, value files wherever they are, Kustomize bases, components, patches and generator
files, local chart dependencies, the targets of symlinks, the file declaring it), and its content key is a hash
of their git object ids together with the app's own settings and whatever else shapes a render (tool versions,
render options), supplied by the caller.

Getting the set too small means missing a change, so every rule errs towards more: a whole folder rather than
the files a template happens to use, every local reference of a kustomization, the parent folder of a glob.
Anything that cannot be pinned to files of the commit (another repository, a Helm repository, a remote base, a
path leaving the repository, a kustomization that cannot be read) makes the app *unresolved*: it has no key,
so it is always rendered and never cached.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import functools
import hashlib
import itertools
import json
import os
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gitops_check import yamlio
from gitops_check.errors import GitopsCheckError
from gitops_check.model.app import App
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import KUSTOMIZATION_FILES, Source, Tool

KEY_VERSION = "1"
CHART_FILES = ("Chart.yaml", "requirements.yaml")
MODE_SYMLINK = "120000"
MODE_TREE = "040000"
MODE_GITLINK = "160000"
# App kinds whose every setting comes from a strictly validated project file entry: its file adds nothing.
_SELF_CONTAINED_KINDS = ("project", "auto")
# Kustomization fields holding local paths (or remote targets) of resources, and of plain files.
_REFERENCE_FIELDS = ("resources", "bases", "components")
_FILE_LIST_FIELDS = (
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
)
# Keys that name files inside patches, generator configs and inline plugin configs.
_FILE_KEYS = ("path", "files", "envs", "env", "valuesFile", "additionalValuesFiles", "chartHome")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_GLOB = re.compile(r"[*?\[]")
_DOMAIN_FIRST = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?$")
_MAX_SYMLINK_HOPS = 40

TreeIndex = Mapping[str, tuple[str, str]]  # path -> (git mode, object id); "" is the root folder


class Tree:
    """One commit: its files materialized in ``ws`` and its ``git ls-tree`` listing, with memoized lookups.

    Shared by every app of that commit (and safe to share between threads: the memo only ever gains
    entries that any thread would compute the same way).
    """

    def __init__(self, ws: Workspace, index: TreeIndex, parsed: dict[str, Any] | None = None):
        self.ws = ws
        self.index = index
        self.sorted = sorted(index)
        self.links = [p for p in self.sorted if index[p][0] == MODE_SYMLINK]
        # Parsed YAML by object id; pass the other commit's dict to share it (most files are the same blob).
        self.parsed: dict[str, Any] = {} if parsed is None else parsed

    def is_dir(self, rel: str) -> bool:
        entry = self.index.get(rel)
        return entry is not None and entry[0] == MODE_TREE

    def is_file(self, rel: str) -> bool:
        entry = self.index.get(rel)
        return entry is not None and entry[0] not in (MODE_TREE, MODE_SYMLINK, MODE_GITLINK)

    @functools.cached_property
    def _jsonnet_files(self) -> list[str]:
        return [rel for rel in self.sorted if rel.endswith(".jsonnet") and self.is_file(rel)]

    def holds_jsonnet(self, path: str, *, recurse: bool) -> bool:
        """Whether a ``.jsonnet`` file is ``path`` or lies below it (directly in it unless ``recurse``). Asked of
        every directory app: a look-up among the commit's few ``.jsonnet`` files, not a walk of the folder (an app
        at the root walked every file of the commit)."""
        if self.is_file(path):
            return path.endswith(".jsonnet")
        prefix = path + "/" if path else ""
        start = bisect.bisect_left(self._jsonnet_files, prefix)
        for rel in itertools.islice(self._jsonnet_files, start, None):
            if not rel.startswith(prefix):
                break
            if recurse or "/" not in rel[len(prefix) :]:
                return True
        return False

    def files_under(self, path: str) -> list[str]:
        """Files (not folders, symlinks or submodules) at or below ``path``."""
        if self.is_file(path):
            return [path]
        prefix = path + "/" if path else ""
        start = bisect.bisect_left(self.sorted, prefix)
        out = []
        for rel in itertools.islice(self.sorted, start, None):
            if not rel.startswith(prefix):
                break
            if self.is_file(rel):
                out.append(rel)
        return out

    def load(self, rel: str) -> Any:
        """The YAML document at ``rel``, parsed once per object id; raises GitopsCheckError or OSError."""
        oid = self.index[rel][1]
        if oid not in self.parsed:
            self.parsed[oid] = yamlio.load_one((self.ws.root / rel).read_bytes(), rel)
        return self.parsed[oid]


@dataclass(frozen=True)
class AppInputs:
    """Paths (relative to the workspace root, posix, ``""`` for the root) an app reads, and why that may be incomplete."""

    paths: frozenset[str]
    unresolved: tuple[str, ...] = ()
    # The file declaring the app (an Application manifest): part of the key, but not read by the render.
    declared: str | None = None
    # What the render fetches from outside the repository: (kind, location, name, wanted) with kind "chart"
    # (a Helm or OCI chart) or "oci" (a Flux OCIRepository, location its settings as JSON). Their resolved
    # versions and digests become part of the key (``content_key``'s ``resolve``).
    remote: tuple[tuple[str, str, str, str], ...] = ()
    # The unresolved inputs that are not even named by the app's settings or its files (a path leaving the
    # repository, too many symlinks): what a change touches cannot be told either (``change_key``).
    unknown: tuple[str, ...] = ()


def norm(path: str) -> str:
    """``./a/b/`` -> ``a/b``; the root is ``""``; a path leaving the root keeps its leading ``..``."""
    text = posixpath.normpath(path.strip() or ".")
    return "" if text == "." else text


def _outside(path: str) -> bool:
    return path == ".." or path.startswith("../") or path.startswith("/")


class _Collector:
    def __init__(self, tree: Tree):
        self.tree = tree
        self.ws = tree.ws
        self.index = tree.index
        self.paths: set[str] = set()
        self.unresolved: list[str] = []
        self.remote: list[tuple[str, str, str, str]] = []
        # Unresolved inputs named by the app's settings or by files among its inputs (a remote base, a chart of a
        # Helm repository): the same for both commits of one run. Any other is unknown (``AppInputs.unknown``).
        self.named: set[str] = set()
        self._walked: set[str] = set()

    def name_outside(self, reason: str) -> None:
        self.unresolved.append(reason)
        self.named.add(reason)

    def add(self, path: str, what: str) -> str | None:
        rel = norm(path)
        if _outside(rel):
            self.unresolved.append(f"{what} {path} is outside the repository")
            return None
        self.paths.add(rel)
        return rel

    # ------------------------------------------------------------------------------------------ Kustomize

    def kustomization(self, folder: str) -> None:
        if folder in self._walked:
            return
        self._walked.add(folder)
        kfile = next(
            (posixpath.join(folder, n) for n in KUSTOMIZATION_FILES if self._is_file(folder, n)), None
        )
        if kfile is None:
            return
        data = self._load(norm(kfile), "kustomization")
        if not isinstance(data, dict):
            return
        for field in _REFERENCE_FIELDS:
            for entry in _entries(data.get(field)):
                if isinstance(entry, str):
                    self._reference(folder, entry, field)
        for field in _FILE_LIST_FIELDS:
            for entry in _entries(data.get(field)):
                if isinstance(entry, str) and "\n" not in entry:
                    self._reference(folder, entry, field)
                    if field in ("generators", "transformers", "validators"):
                        self._plugin_config(folder, norm(posixpath.join(folder, entry)))
                elif isinstance(entry, dict):
                    self._file_keys(folder, entry, field)
        for field in ("patches", "patchesJson6902", "replacements", "configMapGenerator", "secretGenerator",
                      "helmCharts"):  # fmt: skip
            for entry in _entries(data.get(field)):
                if isinstance(entry, dict):
                    self._file_keys(folder, entry, field)
        for field in ("openapi", "helmGlobals"):
            if isinstance(data.get(field), dict):
                self._file_keys(folder, data[field], field)

    def _reference(self, folder: str, entry: str, field: str) -> None:
        text = entry.strip()
        if _is_remote(text, self.index, folder):
            self.name_outside(f"{field} entry {text} in {folder or '.'} is remote")
            return
        rel = self.add(posixpath.join(folder, text), f"{field} entry")
        if rel is not None and self.tree.is_dir(rel):
            self.kustomization(rel)

    def _file_keys(self, folder: str, entry: Mapping[str, Any], field: str) -> None:
        for key in _FILE_KEYS:
            value = entry.get(key)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item.strip() and "\n" not in item:
                    path = item.split("=", 1)[1] if key == "files" and "=" in item else item
                    self.add(posixpath.join(folder, path.strip()), f"{field} {key}")

    def _plugin_config(self, folder: str, rel: str) -> None:
        """A generator/transformer file may itself name files (a ConfigMapGenerator object with ``files:``)."""
        if not self.tree.is_file(rel):
            return
        try:
            docs = yamlio.load_documents((self.ws.root / rel).read_bytes(), rel)
        except (GitopsCheckError, OSError):
            return  # kustomize reports it; the file itself is an input already
        for doc in docs:
            if isinstance(doc.data, dict):
                self._file_keys(folder, doc.data, "plugin config")

    # ------------------------------------------------------------------------------------------ Helm

    def chart(self, folder: str) -> None:
        if f"chart:{folder}" in self._walked:
            return
        self._walked.add(f"chart:{folder}")
        for name in CHART_FILES:
            if not self._is_file(folder, name):
                continue
            data = self._load(norm(posixpath.join(folder, name)), "chart file")
            deps = data.get("dependencies") if isinstance(data, dict) else None
            for dep in deps if isinstance(deps, list) else []:
                repository = dep.get("repository") if isinstance(dep, dict) else None
                if isinstance(repository, str) and repository.startswith("file://"):
                    rel = self.add(
                        posixpath.join(folder, repository.removeprefix("file://")), "chart dependency"
                    )
                    if rel is not None:
                        self.chart(rel)
                elif isinstance(repository, str) and repository.startswith(("https://", "http://", "oci://")):
                    assert isinstance(dep, dict)
                    self.remote.append(
                        ("chart", repository, str(dep.get("name")), str(dep.get("version") or ""))
                    )

    # ------------------------------------------------------------------------------------------ helpers

    def _is_file(self, folder: str, name: str) -> bool:
        return self.tree.is_file(norm(posixpath.join(folder, name)))

    def _load(self, rel: str, what: str) -> Any:
        try:
            return self.tree.load(rel)
        except (GitopsCheckError, OSError) as e:
            self.name_outside(f"cannot read {what} {rel}: {e}")  # the file itself is an input
            return None


def _entries(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_remote(entry: str, index: TreeIndex, folder: str) -> bool:
    """kustomize's view: URLs and git specs are remote; a path that exists in the commit is local."""
    if _URL.match(entry) or entry.startswith(("git::", "git@", "gh:", "ssh:")) or "?ref=" in entry:
        return True
    if norm(posixpath.join(folder, entry)) in index:
        return False
    first = entry.split("/", 1)[0]
    return "/" in entry and bool(_DOMAIN_FIRST.match(first))


def _source_inputs(c: _Collector, app: App, source: Source, plugins_discover: bool = False) -> None:
    if source.tool is Tool.PLUGIN or (
        plugins_discover and source.tool is Tool.AUTO and source.plugin is not None
    ):
        # A plugin gets the whole repository and the commit id, and its commands may read anything: always
        # rendered. Whether a change touches it (when it cannot be rendered) goes by its folder and declaration,
        # as for any app (docs/preview.md: a plugin reading files outside its folder is not seen as touched).
        c.name_outside("config management plugin (its output may depend on anything)")
        c.add(source.path, "path")
        return
    # Fetched sources: their content is pinned by the resolved digest; value files other than ``$ref/...``
    # ones are read from the fetched content too.
    if source.oci is not None:
        c.remote.append(("oci", json.dumps(plain(source.oci), sort_keys=True), "", ""))
        return
    if source.chart:
        c.remote.append(("chart", source.repo or "", source.chart, source.target_revision or ""))
        for value_file in source.helm.value_files:
            if value_file.strip().startswith("$"):
                _value_file(c, app, "", value_file)
        return
    if source.repo is not None:
        c.name_outside(f"source from another repository ({source.repo})")
        return
    folder = c.add(source.path, "path")
    if folder is None:
        return
    c.kustomization(folder)
    c.chart(folder)
    _jsonnet_inputs(c, source, folder)
    for component in source.kustomize.components:
        c.add(posixpath.join(folder, component), "kustomize component")
        c.kustomization(norm(posixpath.join(folder, component)))
    for patch in source.kustomize.patches:
        c._file_keys(folder, patch, "kustomize patch")
    helm = source.helm
    if source.tool is Tool.FLUX_HELM:
        # helm-controller's valuesFiles are relative to the source's root, never to the chart.
        for value_file in helm.value_files:
            c.add(value_file.strip().lstrip("/"), "valuesFiles entry")
        return
    for value_file in (*helm.value_files, *(path for _, path in helm.file_parameters)):
        _value_file(c, app, folder, value_file)


def _jsonnet_inputs(c: _Collector, source: Source, folder: str) -> None:
    """A directory app's ``.jsonnet`` files may import any file of the repository (``../lib``, ``libs``)."""
    if source.tool not in (Tool.AUTO, Tool.DIRECTORY):
        return
    if c.tree.holds_jsonnet(folder, recurse=source.directory.recurse):
        c.add("", "jsonnet imports")


def _value_file(c: _Collector, app: App, folder: str, text: str) -> None:
    """Argo CD's rules: ``$ref/x`` in the ref source's repository, ``/x`` from the root, else from the chart folder."""
    value = text.strip()
    if _URL.match(value):
        c.name_outside(f"value file {value} is a URL")
        return
    if value.startswith("$"):
        name, _, rest = value[1:].partition("/")
        ref = next((s for s in app.sources if s.ref == name), None)
        if ref is None or ref.repo is not None:
            c.name_outside(f"value file {value} is in another repository")
            return
        path = rest
    elif value.startswith("/"):
        path = value.lstrip("/")
    else:
        path = posixpath.join(folder, value)
    if _GLOB.search(path):
        # Anything in the folder holding the first wildcard may match, now or at the other commit.
        parts = norm(path).split("/")
        path = "/".join(parts[: next(i for i, p in enumerate(parts) if _GLOB.search(p))])
    c.add(path, "value file")


def _follow_symlinks(c: _Collector) -> None:
    """Add the targets of symlinks inside, or on the way to, every input (the render follows them)."""
    links = c.tree.links
    if not links:
        return
    pending = list(c.paths)
    hops = 0
    while pending:
        path = pending.pop()
        for link in links:
            inside = path == "" or link == path or link.startswith(path + "/")
            on_the_way = path.startswith(link + "/")
            if not (inside or on_the_way):
                continue
            try:
                target = os.readlink(c.ws.root / link)
            except OSError:
                continue
            resolved = norm(posixpath.join(posixpath.dirname(link), target))
            if on_the_way:
                resolved = norm(resolved + path[len(link) :])
            if _outside(resolved) or resolved in c.paths:
                continue  # the render refuses symlinks leaving the repository
            hops += 1
            if hops > _MAX_SYMLINK_HOPS * max(1, len(links)):
                c.unresolved.append("too many symlinks to follow")
                return
            c.paths.add(resolved)
            pending.append(resolved)


def origin_file(app: App, index: TreeIndex) -> str | None:
    """The file declaring the app (an Application or Kustomization manifest), when its origin names one."""
    if app.kind in _SELF_CONTAINED_KINDS or not app.origin:
        return None
    candidate = norm(re.split(r"[\s:]", app.origin.strip(), maxsplit=1)[0])
    entry = index.get(candidate)
    return candidate if entry is not None and entry[0] != MODE_TREE else None


def app_inputs(app: App, tree: Tree, *, plugins_discover: bool = False) -> AppInputs:
    """Everything ``app`` reads at the commit ``tree``; ``plugins_discover``: the job gave config management
    plugins with discover rules, so a source without a tool may be rendered by one."""
    c = _Collector(tree)
    for source in app.sources:
        if source.ref and norm(source.path) == "":
            continue  # only names a repository for "$ref/..." value files; renders nothing itself
        _source_inputs(c, app, source, plugins_discover)
    _follow_symlinks(c)
    return AppInputs(
        frozenset(c.paths), tuple(dict.fromkeys(c.unresolved)), origin_file(app, tree.index),
        tuple(dict.fromkeys(c.remote)), tuple(dict.fromkeys(u for u in c.unresolved if u not in c.named)),
    )  # fmt: skip


def same_inputs(app: App, inputs: AppInputs, old: Tree, new: Tree) -> bool:
    """Whether ``app``, whose ``inputs`` were read at ``old``, reads exactly the same at ``new``.

    Then ``app_inputs(app, new) == inputs``, and the content key at ``new`` differs only if the app's settings or
    the context do, so neither needs computing. Every path read has the same git entry at both commits (a
    folder's entry is its tree id: anything added, removed or changed inside shows), every file the collector
    parsed lies at or below one of those paths, the declaring file has the same entry, and no symlink of either
    tree differs (inputs follow symlinks, whose targets are not input paths). Unresolved inputs have no key:
    never the same.
    """
    if inputs.unresolved or old.links != new.links:
        return False
    oi, ni = old.index, new.index
    if any(oi[link] != ni[link] for link in old.links) or origin_file(app, ni) != inputs.declared:
        return False
    if inputs.declared is not None and oi.get(inputs.declared) != ni.get(inputs.declared):
        return False
    return all(oi.get(p) == ni.get(p) for p in inputs.paths)


# ---------------------------------------------------------------------------------------------------------------
# The key


_FIELDS: dict[type, tuple[str, ...]] = {}  # a constant cache: a dataclass's field names


def plain(value: Any) -> Any:
    """Dataclasses, enums, mappings and tuples as JSON data, for hashing (str subclasses keep their value)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    names = _FIELDS.get(kind)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS.setdefault(kind, tuple(f.name for f in dataclasses.fields(value)))
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=json.dumps)
    return value


def app_material(app: App) -> str:
    """The app's own settings as canonical JSON (its ``origin`` left out: it says where, not what)."""
    # plain(), not repr(): values that came from Secrets (model.objects.SecretText) hide themselves from repr.
    fields = plain(app)
    fields.pop("origin", None)
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)


def context_text(context: Mapping[str, Any]) -> str:
    return json.dumps(plain(context), sort_keys=True, separators=(",", ":"), default=str)


def content_key(
    app: App,
    inputs: AppInputs,
    tree: Tree,
    context: Mapping[str, Any] | str,
    *,
    material: str | None = None,
    resolve: Callable[[tuple[str, str, str, str]], str | None] | None = None,
) -> str | None:
    """A hash of everything the app's render depends on; None when that cannot be pinned down (always render).

    ``context`` holds what is the same for every app of a run: tool versions, render options, repository-wide
    conditions (or its canonical JSON, ``context_text``). ``material`` is ``app_material(app)`` when the caller
    has it already. The file declaring the app counts through its object id.
    """
    if inputs.unresolved:
        return None
    resolved = []
    for item in inputs.remote:  # a chart version or an artifact digest: what was published counts
        found = resolve(item) if resolve is not None else None
        if found is None:
            return None
        resolved.append(found)
    return _key(app, inputs, tree, context, material, resolved)


def change_key(
    app: App, inputs: AppInputs, tree: Tree, context: Mapping[str, Any] | str, *, material: str | None = None
) -> str | None:
    """Like ``content_key``, but only what a change to this repository can alter: equal at two commits of one
    run means the change does not touch the app, even when the app also reads things from elsewhere.

    Inputs outside the commit (another repository, a Helm repository, a remote Kustomize base, a URL) are named
    by the app's settings or by files among its inputs, and are the same for both commits of one run, so they
    leave this key defined; fetched charts and artifacts count by their names and wanted versions as written,
    not by what they resolve to. It is None only when some input is not named anywhere (a path leaving the
    repository). Never a cache key: the same names may fetch different content tomorrow.
    """
    if inputs.unknown:
        return None
    return _key(app, inputs, tree, context, material, [list(item) for item in inputs.remote])


def _key(
    app: App,
    inputs: AppInputs,
    tree: Tree,
    context: Mapping[str, Any] | str,
    material: str | None,
    remote: list[Any],
) -> str:
    parts = {
        "version": KEY_VERSION,
        "app": material if material is not None else app_material(app),
        "inputs": {p: list(tree.index[p]) if p in tree.index else None for p in sorted(inputs.paths)},
        "declared": list(tree.index[inputs.declared]) if inputs.declared else None,
        "context": context if isinstance(context, str) else context_text(context),
        "remote": remote,
    }
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
