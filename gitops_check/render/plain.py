"""A folder of plain YAML/JSON manifests, read the way Argo CD's directory source reads it.

Argo CD's rules, kept here because they decide which objects exist: files ending in .yaml, .yml or .json
(``.jsonnet`` files are evaluated by ``render/jsonnet.py``; ``.libsonnet`` files only through imports); subfolders only with ``recurse``; ``include``/``exclude`` globs
matched against the path relative to the app folder, where ``*`` also crosses ``/`` and exclude wins; files in
lexical order, depth first. A YAML file whose first document is not a Kubernetes object is ignored unless it
looks like one (mentions ``apiVersion:``, ``kind:`` and ``metadata:``); a JSON file must be one object.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from gitops_check import yamlio
from gitops_check.errors import InputError, RenderError
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject
from gitops_check.render import jsonnet
from gitops_check.render.base import RenderOutput, SourceContext, resolve_inside

_MANIFEST_FILE = re.compile(r"^.*\.(yaml|yml|json|jsonnet)$")


def render_directory(ctx: SourceContext) -> RenderOutput:
    opts = ctx.source.directory
    include = [glob_regex(p) for p in opts.include if p]
    exclude = [glob_regex(p) for p in opts.exclude if p]
    out = RenderOutput()
    for rel, path, st in _walk(ctx.folder, "", opts.recurse):
        name = rel.rsplit("/", 1)[-1]
        if not _MANIFEST_FILE.match(name):
            continue
        shown = ctx.rel(rel)
        if stat.S_ISLNK(st.st_mode):
            if not ctx.inside(path):
                raise RenderError(f"symlink {shown} points outside the repository; refusing to read it")
            try:
                st = os.stat(path)
            except OSError:
                out.warnings.append(f"skipped {shown}: the symlink's target is missing")
                continue
        if not stat.S_ISREG(st.st_mode):
            out.warnings.append(f"skipped {shown}: not a regular file")
            continue
        if any(p.match(rel) for p in exclude):
            continue
        if include and not any(p.match(rel) for p in include):
            continue
        yamlio.check_size(st.st_size, shown)
        if name.endswith(".jsonnet"):
            out.objects.extend(_jsonnet_objects(ctx, path, shown))
            continue
        try:
            data = path.read_bytes()
        except OSError as e:
            raise RenderError(f"cannot read {shown}: {e.strerror}") from e
        origin_app = ctx.app.name
        if name.endswith(".json"):
            body = yamlio.load_json(data, shown)
            out.objects.append(RawObject(body, Origin(origin_app, shown, 1)))
            continue
        objects = _yaml_objects(data, shown, origin_app)
        if objects is None:
            out.warnings.append(f"ignored {shown}: not a Kubernetes manifest (Argo CD ignores it too)")
            continue
        out.objects.extend(objects)
    return out


def _jsonnet_objects(ctx: SourceContext, path: Path, shown: str) -> list[RawObject]:
    options = ctx.source.directory.jsonnet
    # Argo CD: the app folder first, then ``libs`` (relative to the repository root, never outside it).
    jpaths = [ctx.folder, *(resolve_inside(ctx.ws.root, lib, "jsonnet library path") for lib in options.libs)]
    docs = jsonnet.evaluate(
        path, root=ctx.ws.root, shown=shown, jpaths=jpaths, ext_vars=options.ext_vars, tlas=options.tlas
    )
    origin = Origin(ctx.app.name, shown, None)
    return [RawObject(doc, origin) for doc in docs]


def _yaml_objects(data: bytes, shown: str, app: str) -> list[RawObject] | None:
    """All documents, or None when Argo CD would silently ignore the file."""
    docs: list[yamlio.Document] = []
    error: InputError | None = None
    try:
        docs.extend(yamlio.load_documents(data, shown))
    except InputError as e:
        error = e
    if not docs and error is None:
        return []  # empty, or only comments
    objects = [RawObject(d.data, Origin(app, shown, d.line)) for d in docs]
    if not docs or not _is_object(docs[0].data):
        # Argo CD: nothing decoded before the failure. A file that looks like a manifest is an error,
        # anything else (a values file, some tool's config) is not meant for Kubernetes and is skipped.
        if not _looks_like_manifest(data):
            return None
    if error is not None:
        raise error
    # Documents after the first that are not objects are kept: identity reports them with file:line.
    return objects


def _is_object(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("kind"), str) and bool(data.get("kind"))


def _looks_like_manifest(data: bytes) -> bool:
    return b"apiVersion:" in data and b"kind:" in data and b"metadata:" in data


def _walk(folder: Path, prefix: str, recurse: bool) -> Iterator[tuple[str, Path, os.stat_result]]:
    """Like Go's filepath.Walk: entries in lexical order, depth first, symlinks not followed."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as e:
        raise RenderError(f"cannot list {folder}: {e.strerror}") from e
    for name in names:
        path = folder / name
        rel = f"{prefix}{name}"
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            if recurse:
                yield from _walk(path, rel + "/", recurse)
            continue
        yield rel, path, st


# ---------------------------------------------------------------------------------------------------------------
# Globs as Argo CD matches them (github.com/gobwas/glob without separators)


# A constant cache: a pure function of its text, so runs may share it.
@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` and ``**`` match any run of characters including ``/``; ``?`` one character; ``[a-z]``/``[!a-z]``
    classes; ``{a,b}`` alternatives (nestable); backslash escapes."""
    regex, pos = _translate(pattern, 0, in_braces=False)
    if pos != len(pattern):  # an unmatched "}" or ","
        regex += re.escape(pattern[pos:])
    return re.compile(f"(?s:{regex})\\Z")


def _translate(pattern: str, pos: int, *, in_braces: bool) -> tuple[str, int]:
    out: list[str] = []
    while pos < len(pattern):
        c = pattern[pos]
        if in_braces and c in ",}":
            return "".join(out), pos
        if c == "\\" and pos + 1 < len(pattern):
            out.append(re.escape(pattern[pos + 1]))
            pos += 2
        elif c == "*":
            while pos < len(pattern) and pattern[pos] == "*":
                pos += 1
            out.append(".*")
        elif c == "?":
            out.append(".")
            pos += 1
        elif c == "[":
            end = pattern.find("]", pos + 2)
            if end < 0:
                out.append(re.escape(c))
                pos += 1
                continue
            body = pattern[pos + 1 : end]
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("^", "\\^")
            out.append(f"[{'^' if negate else ''}{body}]")
            pos = end + 1
        elif c == "{":
            alternatives: list[str] = []
            pos += 1
            while True:
                alt, pos = _translate(pattern, pos, in_braces=True)
                alternatives.append(alt)
                if pos >= len(pattern):
                    break  # unterminated: treat what we have as alternatives
                if pattern[pos] == "}":
                    pos += 1
                    break
                pos += 1  # ","
            out.append("(?:" + "|".join(alternatives) + ")")
        else:
            out.append(re.escape(c))
            pos += 1
    return "".join(out), pos
