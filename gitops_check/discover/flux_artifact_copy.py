"""An ArtifactGenerator's ``copy`` operations, applied the way Flux's source-watcher applies them.

Operations run in order into one staging folder, and a later one overwrites what an earlier one wrote. With
``cp``-like rules (source-watcher's builder):

* ``@alias/path`` without glob characters: a file goes to ``to`` (into it when ``to`` ends with ``/`` or is an
  existing folder); a folder is copied *as a subfolder* of ``to`` (``@repo/config/`` -> ``to/config/``;
  ``@repo/`` copies the source's root into ``to``);
* ``@alias/pattern``: Go's ``fs.Glob`` (flux_globs: ``*`` and ``**`` stay within one folder level); each match
  keeps its whole path below ``to``, except that ``dir/**`` strips ``dir/``; folders among the matches are
  copied whole;
* ``exclude``: doublestar patterns tried on the path from the source's root and on the path below the
  pattern's fixed prefix; a pattern without ``/`` also on the base name;
* ``strategy``: ``Overwrite`` (default); ``Merge`` deep-merges a YAML file into an existing destination file
  (all its documents merged into one map, lists replaced: Helm's values merge); ``Extract`` unpacks
  ``.tar.gz``/``.tgz`` archives (other files among glob matches are skipped; here ``**`` spans folders);
* ``optional: true``: a source that matches nothing is no error.

What is written is recorded (artifact path -> (alias, source path)), so discovery can tell which repository
files a build of the artifact reads. Symlinks are followed only within their source; one leaving it fails the
operation, as ``os.Root`` does in the controller.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_check import yamlio
from gitops_check.discover import flux_globs
from gitops_check.discover.flux_globs import BadPattern
from gitops_check.errors import InputError
from gitops_check.gosemantics.maps import merge_maps

STRATEGIES = ("Overwrite", "Merge", "Extract")
_TARBALLS = (".tar.gz", ".tgz")
# An archive in the checked commit is untrusted: bounded before anything is written.
MAX_EXTRACTED_BYTES = 512 * 1024 * 1024
MAX_EXTRACTED_MEMBERS = 100_000


class CopyError(Exception):
    """A copy operation the controller would fail on; the message says which and why."""


@dataclass
class Staged:
    """The artifact being built: its folder and where each of its files came from."""

    root: Path
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)  # artifact path -> (alias, source path)


def apply_copies(operations: Sequence[Any], sources: Mapping[str, Path], staged: Staged) -> None:
    for op in operations:
        if not isinstance(op, dict):
            raise CopyError("copy entries must be mappings with from and to")
        try:
            _apply(op, sources, staged)
        except CopyError as e:
            raise CopyError(f"copy from {op.get('from')!r} to {op.get('to')!r}: {e}") from None
        except BadPattern as e:
            raise CopyError(f"copy from {op.get('from')!r}: invalid pattern ({e})") from None


@dataclass(frozen=True)
class _Op:
    alias: str
    pattern: str
    dest: str
    dest_is_dir: bool
    exclude: tuple[str, ...]
    strategy: str
    optional: bool


def _parse(op: dict[str, Any], sources: Mapping[str, Path]) -> _Op:
    source, to = str(op.get("from") or ""), str(op.get("to") or "")
    if not source.startswith("@") or "/" not in source:
        raise CopyError("from must be '@alias/pattern'")
    alias, _, pattern = source[1:].partition("/")
    if alias not in sources:
        raise CopyError(f"source alias {alias!r} is not one of the generator's sources")
    if not to.startswith("@artifact/"):
        raise CopyError("to must start with '@artifact/'")
    dest = to.removeprefix("@artifact/")
    if dest.startswith("/") or ".." in dest.split("/"):
        raise CopyError("the destination must stay within the artifact")
    exclude = tuple(str(e) for e in op.get("exclude") or [])
    for e in exclude:
        flux_globs.check_alternations(e)
        flux_globs.doublestar_regex(e)
    strategy = str(op.get("strategy") or "Overwrite")
    if strategy not in STRATEGIES:
        raise CopyError(f"unknown strategy {strategy!r} ({', '.join(STRATEGIES)})")
    if flux_globs.has_glob(pattern):
        flux_globs.check_alternations(pattern)
    return _Op(
        alias, pattern, posixpath.normpath(dest) if dest else ".", to.endswith("/"), exclude, strategy,
        op.get("optional") is True,
    )  # fmt: skip


def _apply(raw: dict[str, Any], sources: Mapping[str, Path], staged: Staged) -> None:
    op = _parse(raw, sources)
    root = sources[op.alias]
    if not flux_globs.has_glob(op.pattern):
        _single(op, root, staged)
        return
    if op.strategy == "Extract":
        matches = _doublestar_glob(root, op.pattern)
    else:
        matches = flux_globs.go_glob(root, op.pattern)
    if not matches:
        if op.optional:
            return
        raise CopyError(f"no files match pattern {op.pattern!r} in source {op.alias!r}")
    base = _selection_root(op.pattern)
    kept = [m for m in matches if m not in (".", "..") and not _excluded(m, base, op.exclude)]
    if not kept:
        if op.optional:
            return
        raise CopyError(f"all files matching pattern {op.pattern!r} in source {op.alias!r} were excluded")
    for match in kept:
        if op.strategy == "Extract":
            if match.endswith(_TARBALLS) and _resolve(root, match).is_file():
                _extract(op, root, match, staged, op.dest)
            continue
        prefix = op.pattern[: -len("/**")] if op.pattern.endswith("/**") else None
        if prefix is not None and match.startswith(prefix + "/"):
            dest = _join(op.dest, match[len(prefix) + 1 :])
        else:
            dest = _join(op.dest, match)
        _copy_any(op, root, match, staged, dest, base)


def _single(op: _Op, root: Path, staged: Staged) -> None:
    path = posixpath.normpath(op.pattern) if op.pattern else "."
    if path == ".." or path.startswith("../") or path.startswith("/"):
        raise CopyError(f"source {op.pattern!r} leaves the source")
    if not os.path.lexists(root / path):
        if op.optional:
            return
        raise CopyError(f"source {path!r} does not exist")
    full = _resolve(root, path)
    if full.is_dir():
        if op.strategy == "Extract":
            raise CopyError(f"extract strategy is not supported for directories, got {path!r}")
        _copy_any(op, root, path, staged, _join(op.dest, posixpath.basename(path)), path)
        return
    if _excluded(path, ".", op.exclude):
        return
    if op.strategy == "Extract":
        if not path.endswith(_TARBALLS):
            raise CopyError(f"extract strategy requires a tarball (.tar.gz or .tgz), got {path!r}")
        _extract(op, root, path, staged, op.dest)
        return
    if op.dest_is_dir or (staged.root / op.dest).is_dir():
        dest = _join(op.dest, posixpath.basename(path))
    else:
        dest = op.dest
    _copy_any(op, root, path, staged, dest, ".")


def _copy_any(op: _Op, root: Path, src: str, staged: Staged, dest: str, base: str) -> None:
    full = _resolve(root, src)
    if not full.is_dir():
        _copy_file(op, root, src, staged, dest)
        return
    _mkdir(staged, dest)
    for dirpath, dirnames, filenames in os.walk(full):
        rel_dir = Path(dirpath).relative_to(full).as_posix()
        entries = [(d, True) for d in sorted(dirnames)] + [(f, False) for f in sorted(filenames)]
        keep_dirs = []
        for name, is_dir in entries:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            path = f"{src}/{rel}" if src != "." else rel
            if _excluded(path, base, op.exclude):
                continue
            if is_dir and os.path.islink(os.path.join(dirpath, name)):
                _resolve(root, path)  # inside the source, or an error
                raise CopyError(f"{path!r} is a symlink to a folder, which the controller cannot copy")
            if is_dir:
                keep_dirs.append(name)
                _mkdir(staged, _join(dest, rel))
            else:
                _copy_file(op, root, path, staged, _join(dest, rel))
        dirnames[:] = keep_dirs


def _copy_file(op: _Op, root: Path, src: str, staged: Staged, dest: str) -> None:
    full = _resolve(root, src)
    target = staged.root / dest
    if target.is_dir():
        raise CopyError(f"cannot overwrite folder {dest!r} with file {src!r}")
    _mkdir(staged, posixpath.dirname(dest) or ".")
    if op.strategy == "Merge" and target.is_file():
        merged = merge_maps(_load_merged(target, dest), _load_merged(full, src))
        target.write_text(yamlio.dump_yaml(merged))
    else:
        shutil.copyfile(full, target)
    staged.origins[dest] = (op.alias, src)


def _load_merged(path: Path, where: str) -> dict[str, Any]:
    """Every document of a YAML file merged into one map (source-watcher's loadYAML)."""
    try:
        docs = list(yamlio.load_yaml_documents(path.read_bytes(), where))
    except InputError as e:
        raise CopyError(f"cannot merge {where}: {e.message}") from None
    out: dict[str, Any] = {}
    for doc in docs:
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            raise CopyError(f"cannot merge {where}: a document is not a mapping")
        out = merge_maps(out, doc.data)
    return out


def _extract(op: _Op, root: Path, src: str, staged: Staged, dest: str) -> None:
    full = _resolve(root, src)
    target = staged.root / dest
    try:
        with tarfile.open(full, "r:gz") as archive:
            members = [m for m in archive.getmembers() if m.isfile() or m.isdir()]
            if len(members) > MAX_EXTRACTED_MEMBERS or sum(m.size for m in members) > MAX_EXTRACTED_BYTES:
                raise CopyError(
                    f"{src!r} unpacks to more than {MAX_EXTRACTED_MEMBERS} files or "
                    f"{MAX_EXTRACTED_BYTES // 2**20} MiB"
                )
            archive.extractall(target, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise CopyError(f"cannot extract {src!r}: {e}") from None
    for member in members:
        if member.isfile():
            staged.origins[_join(dest, posixpath.normpath(member.name))] = (op.alias, src)


def _selection_root(pattern: str) -> str:
    parts = []
    for part in posixpath.normpath(pattern).split("/"):
        if flux_globs.has_glob(part):
            break
        parts.append(part)
    return "/".join(parts) or "."


def _excluded(path: str, base: str, patterns: tuple[str, ...]) -> bool:
    if not patterns:
        return False
    if _excluded_as(path, patterns):
        return True
    if base in (".", ""):
        return False
    rel = posixpath.relpath(path, base)
    if rel == "." or rel == path or rel.startswith("../"):
        return False
    return _excluded_as(rel, patterns)


def _excluded_as(path: str, patterns: tuple[str, ...]) -> bool:
    name = posixpath.basename(path)
    return any(
        flux_globs.doublestar_match(p, path) or ("/" not in p and flux_globs.doublestar_match(p, name))
        for p in patterns
    )


def _doublestar_glob(root: Path, pattern: str) -> list[str]:
    """doublestar.Glob for the Extract strategy: every path of the source matching the pattern."""
    regex = flux_globs.doublestar_regex(pattern)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for name in sorted(dirnames + filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if regex.fullmatch(rel):
                out.append(rel)
    return out


def _resolve(root: Path, rel: str) -> Path:
    """``root/rel`` with symlinks resolved; an error when that leaves ``root``."""
    full = Path(os.path.realpath(root / rel))
    real_root = Path(os.path.realpath(root))
    if full != real_root and real_root not in full.parents:
        raise CopyError(f"{rel!r} is a symlink leaving the source")
    return full


def _mkdir(staged: Staged, rel: str) -> None:
    target = staged.root / rel
    if target.is_file():
        raise CopyError(f"cannot create folder {rel!r}: a file of that name was copied before")
    target.mkdir(parents=True, exist_ok=True)


def _join(a: str, b: str) -> str:
    return posixpath.normpath(posixpath.join(a, b))
