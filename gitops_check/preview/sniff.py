"""Which apps may declare other apps (App of Apps), told from their inputs without rendering them.

An app whose content key did not change is not rendered, but the apps its render declares (Argo CD
Applications, Flux Kustomizations and HelmReleases) may well have changed: they read other folders. So an
unchanged app must still be rendered (or taken from the cache) when its render can hold such objects. An
object of those kinds is written somewhere in the app's inputs, so a text search over them tells: a file that
names one of the kinds (``kind: Application``) or one of their API groups with a version
(``argoproj.io/v1alpha1``, ``kustomize.toolkit.fluxcd.io/v1``) marks the app. Annotations such as
``argocd.argoproj.io/sync-wave`` do not match. Kustomization files themselves (``kind: Kustomization`` of
kustomize.config.k8s.io) are skipped; chart archives (``.tgz``) are searched inside. A file that cannot be read
marks the app too: when in doubt, render.
"""

from __future__ import annotations

import tarfile
import threading
from pathlib import Path

from gitops_check.discover.markers import may_declare_apps
from gitops_check.model.source import KUSTOMIZATION_FILES
from gitops_check.render.inputs import AppInputs, Tree

_ARCHIVE_LIMIT = 64 * 1024 * 1024


class Sniffer:
    """Memoized by git object id, so a chart shared by a hundred apps is read once. Thread-safe."""

    def __init__(self) -> None:
        self._blobs: dict[str, bool] = {}
        self._trees: dict[str, bool] = {}
        self._lock = threading.Lock()

    def may_declare_apps(self, inputs: AppInputs, tree: Tree) -> bool:
        return any(self._path(path, tree) for path in sorted(inputs.paths))

    def _path(self, path: str, tree: Tree) -> bool:
        entry = tree.index.get(path)
        if entry is None:
            return False  # absent at this commit: the render fails or skips it
        with self._lock:
            known = self._trees.get(entry[1])
        if known is not None:
            return known
        found = any(self._blob(rel, tree) for rel in tree.files_under(path))
        with self._lock:
            self._trees[entry[1]] = found
        return found

    def _blob(self, rel: str, tree: Tree) -> bool:
        if rel.rsplit("/", 1)[-1] in KUSTOMIZATION_FILES:
            return False
        oid = tree.index[rel][1]
        with self._lock:
            known = self._blobs.get(oid)
        if known is not None:
            return known
        found = _search(tree.ws.root / rel)
        with self._lock:
            self._blobs[oid] = found
        return found


def _search(path: Path) -> bool:
    try:
        if path.name.endswith((".tgz", ".tar.gz")):
            return _search_archive(path)
        return may_declare_apps(path.read_bytes())
    except (OSError, tarfile.TarError, EOFError):
        return True


def _search_archive(path: Path) -> bool:
    read = 0
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            if not member.isfile():
                continue
            read += member.size
            if read > _ARCHIVE_LIMIT:
                return True
            f = archive.extractfile(member)
            if f is not None and may_declare_apps(f.read()):
                return True
    return False
