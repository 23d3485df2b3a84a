"""The content-addressed cache of remote sources, shared by threads, processes and CI runs.

Layout under the cache folder (``--fetch-cache-dir``, ``$GITOPS_CHECK_FETCH_CACHE_DIR``, else ``~/.cache/gitops-check/
remote``):

* ``blobs/sha256/<hex>``: chart archives, OCI blobs, by their digest (verified when written);
* ``meta/<key>.json``: small records keyed by a hash of what they describe: an index.yaml with its ETag, a
  pinned version's digest (``helm-pin``), a tag's manifest digest (``oci-pin``), so a pinned source on a warm
  cache needs no request;
* ``git/<key>/``: bare repositories of other Git repositories.

Every file is written to a temporary name and renamed into place, so a reader never sees half a file and two
processes writing the same blob both end with the same content. Using an entry touches its modification time;
``trim`` removes the least recently used blobs beyond the size bound, under a lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitops_check.remote.policy import DEFAULT_CACHE_MAX


def default_cache_dir() -> Path:
    env = os.environ.get("GITOPS_CHECK_FETCH_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-check" / "remote"


def key_of(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class Cache:
    def __init__(self, root: Path | None = None, max_bytes: int = DEFAULT_CACHE_MAX):
        self.root = Path(root) if root else default_cache_dir()
        self.max_bytes = max_bytes
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._written = 0

    # -- blobs --------------------------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256

    @property
    def written(self) -> int:
        """Bytes this process added to the cache."""
        with self._guard:
            return self._written

    def blob(self, sha256: str) -> Path | None:
        """The cached blob with this digest, or None; a hit counts as a use (LRU)."""
        path = self.blob_path(sha256)
        try:
            os.utime(path)
        except OSError:
            return None
        return path

    def temp_file(self) -> Path:
        folder = self.root / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix="dl-")
        os.close(fd)
        return Path(name)

    def put_blob(self, sha256: str, tmp: Path) -> Path:
        """Move a downloaded file (already verified to have this digest) into place."""
        path = self.blob_path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, path)
        with self._guard:
            self._written += path.stat().st_size
        return path

    # -- small records ------------------------------------------------------------------------------------

    def _meta_path(self, key: str) -> Path:
        return self.root / "meta" / f"{key}.json"

    def get_meta(self, key: str) -> dict[str, Any] | None:
        path = self._meta_path(key)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return data if isinstance(data, dict) else None

    def put_meta(self, key: str, data: dict[str, Any]) -> None:
        path = self._meta_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(name, path)

    # -- concurrency ----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """One holder per key across the threads of this process and across processes (a lock file)."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            folder = self.root / "locks"
            folder.mkdir(parents=True, exist_ok=True)
            with (folder / key[:40]).open("w") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    # -- bound ------------------------------------------------------------------------------------------------

    def trim(self) -> list[Path]:
        """Remove least recently used blobs and git folders until the cache fits ``max_bytes``."""
        with self.locked("trim"):
            entries: list[tuple[float, int, Path]] = []
            total = 0
            for folder in (self.root / "blobs" / "sha256", self.root / "git"):
                if not folder.is_dir():
                    continue
                for entry in folder.iterdir():
                    try:
                        size = _size(entry)
                        stamp = entry.stat().st_mtime
                    except OSError:
                        continue
                    total += size
                    entries.append((stamp, size, entry))
            removed = []
            for _stamp, size, entry in sorted(entries, key=lambda e: e[0]):
                if total <= self.max_bytes:
                    break
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        entry.unlink()
                total -= size
                removed.append(entry)
            return removed


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return path.stat().st_size
