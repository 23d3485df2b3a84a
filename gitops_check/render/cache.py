"""Renders kept on disk by content key (``inputs.content_key``), so later runs skip them.

Meant for CI: point ``--cache-dir`` at a folder the CI system caches between jobs. Several jobs may share it at
the same time: an entry is written to a temporary file in its own folder and renamed into place, so a reader sees
a whole entry or none; an entry that cannot be read is a miss, never an error. The folder stays under a size
bound: after a run that wrote entries, the least recently used ones go until it is back under 80 % of it.
Deleting the folder is always safe.

A cache never holds Secret values. Every render, cached or fresh, is *sealed* before use: each value of a
``v1/Secret`` (``data`` and ``stringData``) becomes a keyed hash (``secrethash``, salted by a random salt kept in
the cache folder), so two renders still tell changed values from unchanged ones, and a cached render holds
nothing but hashes. Entries are JSON (never pickle: a shared cache must not be able to run code) and are
stored only when they read back equal to the render, so a cached render is indistinguishable from a fresh one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gitops_check import __version__, secrethash
from gitops_check.errors import GitopsCheckError, RenderError
from gitops_check.model.live import SecretHashing
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.project.config import RenderOptions
from gitops_check.render import jsonnet
from gitops_check.render.base import RenderOutput, SymlinkGuard, ToolFinder

FORMAT = "v1"
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
INVALID_BASE64 = "!not-base64!"  # stands for a data value that is not base64 (the diff reports it, valueless)
_STALE_TMP_SECONDS = 3600


def _json_exact(value: Any) -> bool:
    """Whether ``value`` reads back from JSON as it is: dicts with string keys, lists, str, int, float, bool and
    None, exactly those types (a subclass, a tuple or an int key would come back as something else). A walk: 2.4x
    cheaper on rendered manifests than decoding the encoded render to compare it. It recurses once per level: an
    object nested past Python's recursion limit raises RecursionError (the caller stores nothing then)."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not _json_exact(item):
                return False
        return True
    if kind is list:
        for item in value:
            if not _json_exact(item):
                return False
        return True
    return kind is str or kind is int or kind is float or kind is bool or value is None


def default_cache_dir() -> Path:
    """``$GITOPS_CHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/gitops-check/renders`` (``~/.cache/...``)."""
    env = os.environ.get("GITOPS_CHECK_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-check" / "renders"


def open_cache(folder: Path, repo: Path, max_bytes: int, warnings: list[str]) -> RenderCache | None:
    """The cache in ``folder``; None (and a warning why) when it lies inside the checked checkout or cannot be made."""
    checkout = checkout_root(repo)
    if checkout is not None and folder.resolve().is_relative_to(checkout):
        # The pull request controls every file of the checkout: entries it committed there would be read as
        # renders of its apps (GitLab's `cache:` can only keep such paths; keep the cache outside).
        warnings.append(
            f"render cache {folder} not used: it lies inside the checkout of the checked repository "
            f"({checkout}), whose files the change controls; give a folder outside it"
        )
        return None
    try:
        return RenderCache(folder, max_bytes=max_bytes)
    except OSError as e:
        warnings.append(f"render cache {folder} not used: {e.strerror or e}")
        return None


def checkout_root(repo: Path) -> Path | None:
    """The working tree holding ``repo`` (the nearest folder at or above it with a ``.git``), resolved."""
    here = repo.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def tool_versions(tools: ToolFinder, cache: RenderCache | None) -> dict[str, str | None]:
    """helm's and kustomize's (else kubectl's) versions; remembered beside the cache by binary path, size, mtime."""

    def version(name: str) -> str | None:
        try:
            tool = tools.find(name)
            if tool is None:
                return None
            st = os.stat(tool.path)
            binary = f"{os.path.realpath(tool.path)}:{st.st_size}:{st.st_mtime_ns}"
            known = cache.remembered("tool-versions", binary) if cache else None
            if known is None:
                known = tools.version(name)
                if cache:
                    cache.remember("tool-versions", binary, known)
            return known
        except (GitopsCheckError, OSError):
            return None

    # kubectl only stands in for a missing kustomize; each version is a process, so they run side by side.
    names = ("helm", "kustomize") if tools.find("kustomize") else ("helm", "kubectl")
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="tool-version") as pool:
        return dict(zip(names, pool.map(version, names), strict=True))


def key_context(
    versions: Mapping[str, str | None],
    options: RenderOptions,
    ws: Workspace,
    has_links: bool,
    symlinks: SymlinkGuard,
) -> dict[str, Any]:
    """What every content key of one commit shares: gitops-check and tool versions, render options, and whether
    the commit's symlinks stay inside it (``has_links``: it has some; none, none bad: no need to walk its files;
    ``symlinks``: the run's guard, which the renders share)."""
    problem = None
    try:
        if has_links:
            symlinks.check(ws)
    except RenderError as e:
        problem = e.message  # every render of this commit fails the same way
    return {
        "gitops-check": __version__,
        "tools": {**versions, "jsonnet": jsonnet.version()},
        "render": {"kubeVersion": options.kube_version, "apiVersions": list(options.api_versions),
                   "allowRemoteBases": options.allow_remote_bases,
                   "kustomizeBuild": options.kustomize_build, "allowKustomizeExec": options.allow_kustomize_exec,
                   "plugins": options.plugins},
        "symlinks": problem,
    }  # fmt: skip


def holds_secret_values(output: RenderOutput) -> bool:
    """Whether a render has a ``v1/Secret`` with values (Lists looked into)."""
    return any(_has_secret_values(o.body) for o in output.objects)


def _has_secret_values(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    if isinstance(body.get("items"), list) and str(body.get("kind", "")).endswith("List"):
        return any(_has_secret_values(item) for item in body["items"])
    return (
        body.get("kind") == "Secret"
        and body.get("apiVersion") == "v1"
        and any(isinstance(body.get(f), dict) and body[f] for f in ("data", "stringData"))
    )


# ---------------------------------------------------------------------------------------------------------------
# Sealing Secret values


def seal(output: RenderOutput, hashing: SecretHashing) -> RenderOutput:
    """The render with every Secret value replaced by its keyed hash (idempotent)."""
    objects = [RawObject(_seal_body(o.body, hashing), o.origin) for o in output.objects]
    return RenderOutput(objects, list(output.warnings), list(output.resolved))


def _seal_body(body: Any, hashing: SecretHashing) -> Any:
    if not isinstance(body, dict):
        return body
    if isinstance(body.get("items"), list) and str(body.get("kind", "")).endswith("List"):
        return {**body, "items": [_seal_body(item, hashing) for item in body["items"]]}
    if body.get("kind") != "Secret" or body.get("apiVersion") != "v1":
        return body
    sealed: dict[str, str] = {}
    data = body.get("data")
    for key, value in data.items() if isinstance(data, dict) else ():
        sealed[str(key)] = _seal_data_value(value, hashing)
    string_data = body.get("stringData")
    for key, value in string_data.items() if isinstance(string_data, dict) else ():
        text = "" if value is None else str(value)
        sealed[str(key)] = text if secrethash.is_hash(text) else secrethash.hash_value(text.encode(), hashing)
    out = {k: v for k, v in body.items() if k not in ("data", "stringData")}
    if sealed or "data" in body or "stringData" in body:
        out["data"] = sealed
    return out


def _seal_data_value(value: Any, hashing: SecretHashing) -> str:
    text = "" if value is None else str(value)
    if secrethash.is_hash(text) or text == INVALID_BASE64:
        return text
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return INVALID_BASE64
    return secrethash.hash_value(raw, hashing)


# ---------------------------------------------------------------------------------------------------------------
# The cache


class RenderCache:
    """Sealed renders by content key under ``root``. Counters say what a run got from it."""

    def __init__(self, root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES):
        self.root = root
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.writes = 0
        salt = self._salt()
        self.hashing = SecretHashing("hmac-sha256", salt)
        self.space = root / FORMAT / hashlib.sha256(salt.encode()).hexdigest()[:16]

    def _salt(self) -> str:
        """The salt for Secret hashes, made once per folder; concurrent first runs agree on one (link is atomic)."""
        path = self.root / "salt"
        with contextlib.suppress(OSError, ValueError):
            return _valid_salt(path.read_text())
        self.root.mkdir(parents=True, exist_ok=True)
        fresh = secrets.token_hex(32)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-salt-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(fresh)
            try:
                os.link(tmp, path)
            except FileExistsError:
                with contextlib.suppress(OSError, ValueError):
                    return _valid_salt(path.read_text())  # another run made it first
                os.replace(tmp, path)  # damaged: replace it (its entries are simply not found again)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return fresh

    def _path(self, key: str) -> Path:
        return self.space / key[:2] / f"{key}.json"

    def get(self, key: str) -> RenderOutput | None:
        path = self._path(key)
        try:
            doc = json.loads(path.read_bytes())
            if doc.get("key") != key:
                raise ValueError("key mismatch")
            objects = [RawObject(body, Origin(app, file, line)) for body, app, file, line in doc["objects"]]
            output = RenderOutput(
                objects, [str(w) for w in doc["warnings"]], [str(r) for r in doc.get("resolved", [])]
            )
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            with contextlib.suppress(OSError):
                path.unlink()  # damaged: let a later run write it again
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        self.hits += 1
        return output

    def put(self, key: str, output: RenderOutput) -> bool:
        """Store a sealed render; False (nothing stored) when it would not read back exactly as it is."""
        objects = [[o.body, o.origin.app, o.origin.file, o.origin.line] for o in output.objects]
        doc = {
            "key": key,
            "objects": objects,
            "warnings": list(output.warnings),
            "resolved": list(output.resolved),
        }
        # Tuples, non-string keys...: a cached copy would differ from a render (NaN and infinities: dumps refuses).
        try:
            if not all(map(_json_exact, objects)):
                return False
        except RecursionError:
            return False
        try:
            # No cycle can be left after _json_exact's walk: the encoder's own check (~25 % of its time) is skipped.
            text = json.dumps(doc, separators=(",", ":"), allow_nan=False, check_circular=False)
        except (TypeError, ValueError):
            return False
        if not write_entry(self._path(key), text):
            return False
        self.writes += 1
        return True

    def remembered(self, name: str, key: str) -> str | None:
        """A small fact kept beside the renders (a tool's version by binary path, size and mtime)."""
        try:
            value = json.loads((self.root / f"{name}.json").read_text()).get(key)
        except (OSError, ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    def remember(self, name: str, key: str, value: str) -> None:
        path = self.root / f"{name}.json"
        try:
            facts = json.loads(path.read_text())
            facts = facts if isinstance(facts, dict) and len(facts) < 1000 else {}
        except (OSError, ValueError):
            facts = {}
        facts[key] = value
        write_entry(path, json.dumps(facts))  # concurrent runs: the last one wins, every version stays right

    def prune(self) -> int:
        """Delete least recently used entries until the folder is under 80 % of ``max_bytes``; returns how many."""
        entries = cache_entries(self.root / FORMAT)
        total = sum(size for _, size, _ in entries)
        if total <= self.max_bytes:
            return 0
        removed = 0
        for _, size, path in sorted(entries):
            if total <= self.max_bytes * 0.8:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
            total -= size
        return removed


def write_entry(path: Path, *texts: str) -> bool:
    """``texts``, one after another, as the file ``path``, whole or not at all: written to a temporary file beside it (``.tmp-``, which
    ``cache_entries`` skips and clears once stale) and renamed into place, so a reader sees a whole entry or none.
    False when it could not be written: a full or read-only cache slows the next run down, it does not fail this
    one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.writelines(texts)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return False
    return True


def cache_entries(folder: Path) -> list[tuple[float, int, Path]]:
    """(mtime, size, path) of every entry below ``folder``; temporary files of runs killed over an hour ago are
    deleted on the way, those of running ones left alone."""
    entries: list[tuple[float, int, Path]] = []
    now = time.time()
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath) / name
            try:
                st = path.stat()
            except OSError:
                continue
            if name.startswith(".tmp-"):
                if now - st.st_mtime > _STALE_TMP_SECONDS:
                    with contextlib.suppress(OSError):
                        path.unlink()  # left by a run that was killed
                continue
            entries.append((st.st_mtime, st.st_size, path))
    return entries


def _valid_salt(text: str) -> str:
    salt = text.strip()
    bytes.fromhex(salt)  # ValueError on garbage
    if len(salt) < 32:
        raise ValueError("salt too short")
    return salt
