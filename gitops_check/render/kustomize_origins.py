"""Which file each object of a plain ``kustomize build`` came from, worked out from the kustomization tree.

kustomize says it itself when asked (``buildMetadata: [originAnnotations]``), but the annotations cost it about
three times the CPU of the plain build. For the kustomizations whose naming is fully known, the origins are
computed instead: the tree is walked the way kustomize accumulates it (``resources``/``bases`` into a fresh
accumulator per folder, ``components`` into their parent's, then the folder's generators and transformers over
all it holds), each resource file's documents give (group, kind, name), and each name is carried through every
level's transformers that can change it, as kustomize 5 does:

* ``namePrefix``/``nameSuffix`` wrap the name, inner levels first, except for CustomResourceDefinitions,
  Namespaces (any group) and apiregistration.k8s.io APIServices;
* ``namespace`` renames a ``v1`` Namespace to the namespace (and only that kind of object);
* generators (``configMapGenerator``, ``secretGenerator``) add objects with no file, whose name may end with a
  content hash added once at the very end; their origin is the app folder, as kustomize's annotation gives.

Nothing else in the whitelist below (``_KNOWN_FIELDS``) renames an object: strategic-merge patches keep the
name and kind unless their options allow a change (refused here), JSON6902 operations are read and refused
when one touches ``/metadata/name``, ``/metadata``, ``/kind``, ``/apiVersion`` or the whole object, and so are
replacements whose target field paths may reach ``metadata.name``, ``kind`` or ``apiVersion``. The
prediction is then accepted only if the build's objects and the predicted ones pair up exactly, keyed by
(group, kind, name) — and the namespace, where objects share a name and none went through a namespace
transformer (whether kustomize sets an object's namespace depends on the scope it knows for the kind): every key
unique, every object and every prediction used once, a generated name unable to pass for a file's. Anything else — a field outside the whitelist (``vars``, ``helmCharts``,
plugins, ``configurations``, ``crds``, ``openapi``, ``buildMetadata``, ``sortOptions``...), a remote or
absolute reference, a symlinked kustomization folder (kustomize's origin path is lexical, its loading is not),
a ``*List`` document, a name that is not a plain string, a generator merging into a base, KRM functions in the
build options — returns None, and the caller asks kustomize for the annotations as before.

Residual risk: a wrong origin needs kustomize to give an object a name this model does not predict, and that
name to be exactly the predicted name of another object of the same group and kind, which in turn must be
missing from the output under its own predicted name (objects swapping names). Within the whitelist no field
renames that way in kustomize 5.8.1, so it takes a kustomize (an old ``kubectl kustomize``) whose naming rules
differ for these fields, or a name YAML reads differently here and in kustomize (only plain strings are
accepted); a repository alone cannot do it without a field that falls back. The oracle test (tests/render/test_kustomize_origins_oracle.py) runs both ways on every Kustomize
fixture and on generated cases.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_check import yamlio
from gitops_check.errors import GitopsCheckError
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject
from gitops_check.model.source import KUSTOMIZATION_FILES, KustomizeBuild
from gitops_check.render.base import SourceContext

# Fields whose effect on names is known (see the module docstring); any other field means "ask kustomize".
_KNOWN_FIELDS = frozenset(
    (
        "apiVersion", "kind", "metadata", "resources", "bases", "components", "namePrefix", "nameSuffix",
        "namespace", "commonLabels", "labels", "commonAnnotations", "images", "replicas", "patches",
        "patchesStrategicMerge", "patchesJson6902", "configMapGenerator", "secretGenerator", "generatorOptions",
        "replacements",
    )
)  # fmt: skip
_GENERATORS = (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret"))
_HASH = 10  # kustomize's name hash: "-" and ten characters
_MAX_DEPTH = 64  # kustomization folders nested; kustomize itself refuses cycles


@dataclass(frozen=True)
class Places:
    """Real paths, resolved once per build: the folder built (maybe an edited copy), the app folder it stands for,
    the workspace."""

    built: str
    app: str
    root: str


def origin_at(app: str, real: str, places: Places) -> Origin | None:
    """The origin of an object kustomize read from the file at ``real`` (normalized, absolute): that file relative
    to the workspace, when it is a file of the workspace; None otherwise."""
    if places.built != places.app and real.startswith(places.built + os.sep):
        real = places.app + real[len(places.built) :]  # the edited copy stands for the app folder
    if not real.startswith(places.root + os.sep) or not os.path.isfile(real):
        return None
    return Origin(app, real[len(places.root) + 1 :].replace(os.sep, "/"), None)


class _Item:
    """One object the build will output: its identity as it goes through the levels, and the file it is from
    (None: made by a generator)."""

    __slots__ = ("api_version", "group", "kind", "name", "namespace", "path")

    def __init__(
        self, api_version: str, kind: str, name: str, path: str | None, namespace: str | None = None
    ) -> None:
        self.api_version = api_version
        self.group = api_version.rpartition("/")[0]
        self.kind = kind
        self.name = name
        self.path = path
        # As the file has it ("" for none) until a namespace transformer sets it: then None (unknown here, as
        # it depends on whether kustomize takes the kind for cluster-scoped).
        self.namespace = namespace


@dataclass(frozen=True)
class OriginPlan:
    """The objects a plain build of a folder will output, with their files."""

    items: tuple[_Item, ...]

    def assign(
        self, bodies: Iterable[Any], app: str, places: Places, fallback: Origin
    ) -> list[RawObject] | None:
        """The build's objects with their origins, or None unless they pair up exactly with the plan."""
        by_name: dict[tuple[str, str, str], list[_Item]] = {}
        stems: set[tuple[str, str]] = set()
        for item in self.items:
            if item.path is None:
                stem = (item.kind, item.name)
                if stem in stems:
                    return None
                stems.add(stem)
            else:
                by_name.setdefault((item.group, item.kind, item.name), []).append(item)
        # (group, kind, name) -> file, or namespace -> file when several objects share a name (and then each must
        # have a namespace known for sure, and a different one).
        files: dict[tuple[str, str, str], str | dict[str, str]] = {}
        for key, items in by_name.items():
            group, kind, name = key
            if group == "" and ((kind, name) in stems or _stem(kind, name) in stems):
                return None  # a file's object could pass for a generated one
            if len(items) == 1:
                files[key] = items[0].path or ""
                continue
            spaces = {i.namespace: i.path or "" for i in items if i.namespace is not None}
            if len(spaces) != len(items):
                return None
            files[key] = spaces
        expected = sum(len(v) if isinstance(v, dict) else 1 for v in files.values())
        origins: dict[str, Origin] = {}
        used: set[tuple[str, str, str, str]] = set()
        made: set[tuple[str, str]] = set()
        out: list[RawObject] = []
        for body in bodies:
            identity = _identity(body)
            if identity is None:
                return None
            api_version, kind, name, namespace = identity
            key = (api_version.rpartition("/")[0], kind, name)
            found = files.get(key)
            if found is not None:
                path = found.get(namespace) if isinstance(found, dict) else found
                if path is None or (*key, namespace) in used:
                    return None
                used.add((*key, namespace))
                if path not in origins:
                    origins[path] = origin_at(app, path, places) or fallback
                out.append(RawObject(body, origins[path]))
                continue
            stem = (kind, name) if (kind, name) in stems else _stem(kind, name)
            if api_version != "v1" or stem not in stems or stem in made:
                return None
            made.add(stem)
            out.append(RawObject(body, fallback))
        if len(used) != expected or len(made) != len(stems):
            return None
        return out


def _identity(body: Any) -> tuple[str, str, str, str] | None:
    """(apiVersion, kind, name, namespace or "") of an object the build output."""
    meta = body.get("metadata") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        return None
    api_version, kind, name = body.get("apiVersion"), body.get("kind"), meta.get("name")
    namespace = meta.get("namespace", "")
    if (
        isinstance(api_version, str)
        and isinstance(kind, str)
        and isinstance(name, str)
        and isinstance(namespace, str)
    ):
        return api_version, kind, name, namespace
    return None


def _stem(kind: str, name: str) -> tuple[str, str]:
    """(kind, name without kustomize's hash suffix), or an impossible stem when the name has none."""
    if len(name) > _HASH + 1 and name[-_HASH - 1] == "-":
        return kind, name[: -_HASH - 1]
    return "", ""


def plan_origins(ctx: SourceContext, folder: Path, build: KustomizeBuild | None) -> OriginPlan | None:
    """The plan for a plain build of ``folder`` (the app folder or its edited copy), or None when kustomize must
    be asked (see the module docstring). Resource files are read once per run (``ctx.shared``)."""
    if build is not None and build.exec_functions:
        return None
    return plan_folder(ctx.ws.root, folder, ctx.shared.once)


Once = Callable[[Hashable, Callable[[], Any]], Any]


def plan_folder(root: Path, folder: Path, once: Once | None = None) -> OriginPlan | None:
    """``plan_origins`` for ``folder`` of the tree at ``root``; ``once(key, work)`` memoizes file reads."""
    walk = _Walk(os.path.realpath(root), once or (lambda _, work: work()))
    items: list[_Item] = []
    try:
        if not walk.accumulate(os.path.realpath(folder), items, component=False, depth=0):
            return None
    except (OSError, GitopsCheckError, RecursionError):
        return None
    return OriginPlan(tuple(items))


class _Walk:
    def __init__(self, root: str, once: Once) -> None:
        self.root = root
        self.once = once

    def shown(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    def inside(self, path: str) -> bool:
        return path.startswith(self.root + os.sep)

    def accumulate(self, kdir: str, items: list[_Item], *, component: bool, depth: int) -> bool:
        """Adds what the kustomization in ``kdir`` outputs to ``items`` (a component: transforms what ``items``
        already holds too, as kustomize does); False when its naming is not known."""
        if depth > _MAX_DEPTH or not self.inside(kdir + os.sep):
            return False
        content = self.kustomization(kdir)
        if content is None or not set(content) <= _KNOWN_FIELDS:
            return False
        kind = content.get("kind", "Kustomization")
        if kind != ("Component" if component else "Kustomization"):
            return False
        own: list[_Item] = items if component else []
        for field in ("resources", "bases"):
            for entry in _entries(content, field):
                target = _local(kdir, entry)
                if target is None:
                    return False
                if os.path.isfile(target):
                    if not self.read_file(target, own):
                        return False
                    continue
                sub: list[_Item] = []
                if not self.folder(target) or not self.accumulate(
                    target, sub, component=False, depth=depth + 1
                ):
                    return False
                own.extend(sub)
        for entry in _entries(content, "components"):
            target = _local(kdir, entry)
            if target is None or not self.folder(target):
                return False
            if not self.accumulate(target, own, component=True, depth=depth + 1):
                return False
        if not _generated(content, own) or not self.patches_keep_names(kdir, content):
            return False
        if not self.replacements_keep_names(kdir, content):
            return False
        prefix, suffix, namespace = (content.get(f, "") for f in ("namePrefix", "nameSuffix", "namespace"))
        if not (isinstance(prefix, str) and isinstance(suffix, str) and isinstance(namespace, str)):
            return False
        for item in own:
            if namespace:
                item.namespace = None
            if namespace and item.kind == "Namespace" and item.api_version == "v1":
                item.name = namespace
            if (prefix or suffix) and not _keeps_name(item):
                item.name = prefix + item.name + suffix
        if not component:
            items.extend(own)
        return True

    def folder(self, target: str) -> bool:
        """A kustomization folder kustomize will load at the path its origin names: no symlink on the way."""
        return os.path.isdir(target) and self.inside(target) and os.path.realpath(target) == target

    def kustomization(self, kdir: str) -> dict[str, Any] | None:
        found = [os.path.join(kdir, n) for n in KUSTOMIZATION_FILES if os.path.isfile(os.path.join(kdir, n))]
        if len(found) != 1:
            return None  # kustomize refuses several; none: not a kustomization
        data = yamlio.load_one(Path(found[0]).read_bytes(), self.shown(found[0]))
        return data if isinstance(data, dict) else ({} if data is None else None)

    def read_file(self, path: str, into: list[_Item]) -> bool:
        if not self.inside(path) or not self.inside(os.path.realpath(path)):
            return False
        heads = self.once(("kustomize resource heads", path), lambda: _heads(path, self.shown(path)))
        if heads is None:
            return False
        into.extend(_Item(a, k, n, path, ns) for a, k, n, ns in heads)
        return True

    def patches_keep_names(self, kdir: str, content: Mapping[str, Any]) -> bool:
        """Whether no patch of the kustomization can rename an object or change its kind."""
        for entry in _entries(content, "patches"):
            if not isinstance(entry, dict) or not set(entry) <= {"path", "patch", "target", "options"}:
                return False
            options = entry.get("options") or {}
            if not isinstance(options, dict) or any(options.values()):
                return False  # allowNameChange / allowKindChange, or an option not known here
            if not self.patch_keeps_names(kdir, entry):
                return False
        for entry in _entries(content, "patchesJson6902"):
            if not isinstance(entry, dict) or not self.patch_keeps_names(kdir, entry):
                return False
        return True  # patchesStrategicMerge: kustomize keeps the target's name and kind

    def replacements_keep_names(self, kdir: str, content: Mapping[str, Any]) -> bool:
        """Whether no replacement writes a name, a kind or an apiVersion (inline, or from a file)."""
        for entry in _entries(content, "replacements"):
            if not isinstance(entry, dict):
                return False
            replacements: list[Any] = [entry]
            if "path" in entry:
                target = _local(kdir, entry["path"]) if set(entry) == {"path"} else None
                if target is None or not self.inside(target) or not os.path.isfile(target):
                    return False
                replacements = []
                for doc in yamlio.load_yaml_documents(Path(target).read_bytes(), self.shown(target)):
                    replacements.extend(doc.data if isinstance(doc.data, list) else [doc.data])
            for replacement in replacements:
                if not isinstance(replacement, dict):
                    return False
                for target_spec in _entries(replacement, "targets"):
                    paths = target_spec.get("fieldPaths") if isinstance(target_spec, dict) else None
                    if not isinstance(paths, list) or not paths:
                        return False
                    if not all(isinstance(p, str) and not _writes_identity(p) for p in paths):
                        return False
        return True

    def patch_keeps_names(self, kdir: str, entry: Mapping[str, Any]) -> bool:
        text = entry.get("patch")
        if isinstance(entry.get("path"), str):
            target = _local(kdir, entry["path"])
            if target is None or not self.inside(target) or not os.path.isfile(target):
                return False
            text = Path(target).read_bytes()
        if not isinstance(text, (str, bytes)):
            return False
        for doc in yamlio.load_yaml_documents(text, "patch"):
            if isinstance(doc.data, list) and not _operations_keep_names(doc.data):
                return False
            if not isinstance(doc.data, (list, dict)):
                return False
        return True


def _heads(path: str, shown: str) -> tuple[tuple[str, str, str, str | None], ...] | None:
    """(apiVersion, kind, name, namespace) of a resource file's objects, or None when one cannot be predicted."""
    try:
        heads = yamlio.document_heads(Path(path).read_bytes(), shown)
    except (OSError, GitopsCheckError):
        return None
    out = []
    for api_version, kind, name, namespace in heads:
        if api_version is None or kind is None or name is None or kind.endswith("List"):
            return None  # kustomize inlines *List items; an object it would refuse
        out.append((api_version, kind, name, namespace))
    return tuple(out)


def _generated(content: Mapping[str, Any], into: list[_Item]) -> bool:
    options = content.get("generatorOptions")
    if options is not None and not isinstance(options, dict):
        return False
    for field, kind in _GENERATORS:
        for gen in _list(content.get(field)):
            if not isinstance(gen, dict) or not isinstance(gen.get("name"), str) or not gen["name"]:
                return False
            if gen.get("behavior", "create") != "create":
                return False  # merges into (or replaces) an object of a base: that one's name and origin
            into.append(_Item("v1", kind, gen["name"], None))
    return True


def _operations_keep_names(operations: list[Any]) -> bool:
    for op in operations:
        if not isinstance(op, dict):
            return False
        for key in ("path", "from"):
            pointer = op.get(key)
            if pointer is None:
                continue
            if not isinstance(pointer, str) or not pointer.startswith("/"):
                return False  # the whole object, or not a JSON pointer
            tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]
            if tokens[0] in ("kind", "apiVersion") or (
                tokens[0] == "metadata" and (len(tokens) == 1 or tokens[1] == "name")
            ):
                return False
    return True


def _writes_identity(field_path: str) -> bool:
    """Whether a replacement's target field path (``spec.containers.[name=x].image``) may reach the name, the
    kind or the apiVersion: ``metadata.name``, ``metadata``, ``kind``, wildcards and selectors included."""
    parts: list[str] = []
    depth, current = 0, ""
    for char in field_path:
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += (char == "[") - (char == "]")
        current += char
    parts.append(current)
    head = parts[0]
    if head in ("kind", "apiVersion", "*", "") or head.startswith("["):
        return True
    return head == "metadata" and (
        len(parts) == 1 or parts[1] in ("name", "*", "") or parts[1].startswith("[")
    )


def _keeps_name(item: _Item) -> bool:
    """Kinds kustomize's prefix/suffix transformer leaves alone."""
    return item.kind in ("CustomResourceDefinition", "Namespace") or (
        item.kind == "APIService" and item.group == "apiregistration.k8s.io"
    )


def _entries(content: Mapping[str, Any], field: str) -> list[Any]:
    value = content.get(field)
    if value is None:
        return []
    return value if isinstance(value, list) else [object()]  # not a list: never predicted


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _local(kdir: str, entry: Any) -> str | None:
    """The normalized path of a plainly local entry, as kustomize's origin joins it; None for anything kustomize
    might read as remote (a URL, a git spec, ``host.tld/...``), an absolute path, or not a string."""
    if not isinstance(entry, str) or not entry or entry != entry.strip() or entry.startswith("/"):
        return None
    if any(mark in entry for mark in ("://", "?", "@", "git::", "\n", "\\")):
        return None
    parts = entry.split("/")
    if len(parts) > 1 and "." in parts[0] and parts[0] not in (".", ".."):
        return None  # github.com/org/repo: kustomize may take it for a repository
    if any(p.endswith(".git") or p == "_git" for p in parts):
        return None
    return os.path.normpath(os.path.join(kdir, entry))
