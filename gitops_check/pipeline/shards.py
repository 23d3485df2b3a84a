"""One check spread over N CI jobs: which apps a shard owns, and which apps every shard must render anyway.

Apps are assigned by a stable hash of their name (the same app lands in the same shard run after run, so render
caches stay warm). Discovery runs in every shard, so the apps it finds are known everywhere and go by the hash.
An app declared by another app's render (App of Apps) is known to a shard only if that shard rendered its parent:
a parent whose files may declare apps (``may_declare_apps``) is rendered by every shard, and its children go by
the hash; the children of any other parent are known only to the parent's owner, which keeps them. Either way
every app is checked by exactly one shard; the text search only decides how evenly they spread.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_check.discover.markers import may_declare_apps
from gitops_check.errors import InputError
from gitops_check.model.app import App
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import KUSTOMIZATION_FILES as _KUSTOMIZATION_FILES

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based, like GitLab's ``CI_NODE_INDEX``) of ``total``."""

    index: int
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"

    def owner_of(self, name: str) -> int:
        """The shard (1-based) that owns the app named ``name``: the same for every shard and every run."""
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()
        return int.from_bytes(digest[:8], "big") % self.total + 1

    def owns(self, name: str) -> bool:
        return self.owner_of(name) == self.index


def parse_shard(text: str) -> Shard:
    """``K/N`` with 1 <= K <= N; raises InputError saying what is expected."""
    match = _SHARD.match(text)
    if not match:
        raise InputError(f"shard {text!r}: expected K/N, for example 2/4 (the second of four shards)")
    index, total = int(match.group(1)), int(match.group(2))
    if total < 1 or not 1 <= index <= total:
        raise InputError(f"shard {text!r}: K must be between 1 and N (N at least 1)")
    return Shard(index, total)


def shard_from_env(env: Mapping[str, str]) -> Shard | None:
    """GitLab ``parallel:`` jobs: ``CI_NODE_INDEX`` of ``CI_NODE_TOTAL``; None outside such a job."""
    index, total = env.get("CI_NODE_INDEX", "").strip(), env.get("CI_NODE_TOTAL", "").strip()
    if not index or not total:
        return None
    return parse_shard(f"{index}/{total}")


class ParentSniffer:
    """Whether an app's render may declare apps, from a text search of its local source folders (memoized).

    Sources outside the repository cannot be searched: they count as parents. A miss is never wrong, only
    uneven: the app's children then stay with its owner.
    """

    def __init__(self, ws: Workspace) -> None:
        self.root = ws.root
        self._folders: dict[Path, bool] = {}

    def may_declare_apps(self, app: App) -> bool:
        for source in app.sources:
            if source.repo is not None or source.chart:
                return True
            folder = (self.root / (source.path or ".")).resolve()
            if folder in self._folders:
                found = self._folders[folder]
            else:
                found = self._folders[folder] = _search_folder(folder)
            if found:
                return True
        return False


def _search_folder(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            if name in _KUSTOMIZATION_FILES:
                continue
            try:
                if may_declare_apps(Path(dirpath, name).read_bytes()):
                    return True
            except OSError:
                return True
    return False
