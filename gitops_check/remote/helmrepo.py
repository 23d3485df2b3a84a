"""Charts from Helm repositories over HTTP(S): ``index.yaml``, version resolution, the archive with its digest.

The index is kept in the cache with its ETag / Last-Modified and revalidated on use (``--index-ttl`` seconds
without asking, default 0), parsed once per run per repository. An exact version that was fetched before
resolves from the cache with no request at all; a range always consults the (revalidated) index.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from gitops_check import yamlio
from gitops_check.errors import FetchError, GitopsCheckError
from gitops_check.remote import semver
from gitops_check.remote.cache import Cache, key_of
from gitops_check.remote.http import Fetcher
from gitops_check.remote.policy import redact

INDEX_LIMIT = 256 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    version: str
    urls: tuple[str, ...]
    digest: str | None  # hex sha256 of the archive, when the index gives one


class HelmRepository:
    """One repository URL's index, as seen in this run."""

    def __init__(self, url: str, fetcher: Fetcher, cache: Cache):
        self.url = url.rstrip("/")
        self.fetcher = fetcher
        self.cache = cache
        self._entries: dict[str, list[Entry]] | None = None
        self._lock = threading.Lock()

    @property
    def shown(self) -> str:
        return redact(self.url)

    def entries(self, chart: str) -> list[Entry]:
        with self._lock:
            if self._entries is None:
                self._entries = self._load()
        found = self._entries.get(chart)
        if found is None:
            names = sorted(self._entries)
            hint = f" (it lists {', '.join(names[:10])}{', ...' if len(names) > 10 else ''})" if names else ""
            raise FetchError(f"chart {chart} is not in the index of {self.shown}{hint}")
        return found

    def _load(self) -> dict[str, list[Entry]]:
        index_url = self.url + "/index.yaml"
        key = key_of("helm-index", redact(self.url))
        meta = self.cache.get_meta(key)
        cached = self.cache.blob(meta["sha256"]) if meta and meta.get("sha256") else None
        body: bytes | None = None
        if (
            meta
            and cached is not None
            and time.time() - float(meta.get("fetched", 0)) < self.fetcher.policy.index_ttl
        ):
            body = cached.read_bytes()
        if body is None:
            headers = {}
            if meta and cached is not None:
                if meta.get("etag"):
                    headers["If-None-Match"] = str(meta["etag"])
                if meta.get("last_modified"):
                    headers["If-Modified-Since"] = str(meta["last_modified"])
            reply = self.fetcher.get(
                index_url,
                what="reading the chart index",
                headers=headers,
                expect=(200, 304),
                max_bytes=INDEX_LIMIT,
            )
            if reply.status == 304 and cached is not None:
                body = cached.read_bytes()
                self.cache.put_meta(key, {**(meta or {}), "fetched": time.time()})
            else:
                body = reply.body
                tmp = self.cache.temp_file()
                tmp.write_bytes(body)
                assert reply.sha256 is not None
                self.cache.put_blob(reply.sha256, tmp)
                self.cache.put_meta(key, {
                    "sha256": reply.sha256,
                    "etag": reply.headers.get("ETag"),
                    "last_modified": reply.headers.get("Last-Modified"),
                    "fetched": time.time(),
                })  # fmt: skip
        return _parse_index(body, self.shown)

    def archive_url(self, entry: Entry) -> str:
        if not entry.urls:
            raise FetchError(f"{self.shown}: version {entry.version} has no download URL in the index")
        return urljoin(self.url + "/", entry.urls[0])


def _parse_index(body: bytes, shown: str) -> dict[str, list[Entry]]:
    try:
        data = yamlio.load_one(body, f"{shown}/index.yaml", limit=INDEX_LIMIT)
    except GitopsCheckError as e:
        raise FetchError(f"{shown}/index.yaml is not a valid chart index: {e.message}") from None
    raw = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        raise FetchError(f"{shown}/index.yaml is not a chart index (no entries)")
    out: dict[str, list[Entry]] = {}
    for name, versions in raw.items():
        entries = []
        for item in versions if isinstance(versions, list) else ():
            if not isinstance(item, dict) or item.get("version") is None:
                continue
            urls = item.get("urls")
            digest = str(item.get("digest") or "").removeprefix("sha256:") or None
            entries.append(
                Entry(
                    str(item["version"]),
                    tuple(str(u) for u in urls) if isinstance(urls, list) else (),
                    digest,
                )
            )
        out[str(name)] = entries
    return out


def resolve(entries: list[Entry], constraint: str, chart: str, shown: str) -> Entry:
    """The entry Argo CD / Flux pick: the exact version when listed, else the highest matching the constraint."""
    text = constraint.strip() or "*"
    exact = [e for e in entries if e.version == text or e.version == text.removeprefix("v")]
    if exact:
        return exact[0]
    try:
        best = semver.pick(text, (e.version for e in entries))
    except semver.NoMatch as e:
        listing = (
            f"; nearest versions in the index: {', '.join(e.nearest)}"
            if e.nearest
            else "; the index lists no versions"
        )
        raise FetchError(f"chart {chart} version {text} not found in {shown}{listing}") from None
    except semver.SemverError as e:
        raise FetchError(
            f"chart {chart} from {shown}: version {text!r} is not a version or constraint ({e})"
        ) from None
    return next(e for e in entries if e.version == best)


def is_exact(constraint: str) -> bool:
    """A plain version (``1.2.3``, ``v1.2.3-rc.1``): it names one chart, so a cached pin may answer it."""
    text = constraint.strip()
    try:
        v = semver.Version.parse(text)
    except semver.SemverError:
        return False
    return text.count(".") >= 2 and not v.meta and all(c not in text for c in "xX*")


def pin_key(url: str, chart: str, version: str) -> str:
    return key_of("helm-pin", redact(url.rstrip("/")), chart, version)


def entry_meta(entry: Entry) -> dict[str, Any]:
    return {"version": entry.version, "digest": entry.digest}
