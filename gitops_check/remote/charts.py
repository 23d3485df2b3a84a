"""The API renderers use: fetch a chart (repository URL, name, version constraint) into a local folder.

    fetched = fetch_chart("https://charts.example.com", "podinfo", "6.x", dest, policy=policy)
    fetched.folder       # dest/podinfo, the unpacked chart
    fetched.describe()   # "podinfo 6.x -> 6.14.1 (sha256:0123abcd…) from https://charts.example.com"

``repo_url`` is an HTTP(S) Helm repository or an OCI location (``oci://registry/path``; a URL without a scheme
is taken as OCI, as Argo CD's OCI repositories are written). Resolution follows the agents: the exact version
when the repository lists it, else the highest version matching the constraint (Masterminds/semver v3), no
constraint meaning the newest release. The archive is checked against the index's digest (HTTP) or the
manifest's layer digest (OCI), kept in the content-addressed cache, and unpacked with ``archive.extract_tgz``.
Every failure is a ``FetchError`` whose message names the URL (credentials removed) and the reason.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path

from gitops_check.errors import FetchError
from gitops_check.remote import archive, helmrepo, oci
from gitops_check.remote.cache import Cache
from gitops_check.remote.gitfetch import GitFetcher
from gitops_check.remote.http import Fetcher, fetcher_for
from gitops_check.remote.policy import NetworkPolicy, redact


@dataclass(frozen=True)
class ResolvedChart:
    name: str
    constraint: str
    version: str
    digest: str  # "sha256:<hex>" of the chart archive
    source: str  # where it came from, credentials removed
    archive: Path  # the archive in the cache

    def describe(self) -> str:
        wanted = self.constraint or "(newest)"
        return f"{self.name} {wanted} -> {self.version} ({self.digest[:19]}…) from {self.source}"


@dataclass(frozen=True)
class FetchedChart(ResolvedChart):
    folder: Path = Path()


class Remote:
    """Everything one network policy shares in a run: the fetcher, the cache, parsed indexes, OCI tokens."""

    def __init__(self, policy: NetworkPolicy, fetcher: Fetcher | None = None, cache: Cache | None = None):
        self.policy = policy
        self.fetcher = fetcher or fetcher_for(policy)
        root = Path(policy.cache_dir) if policy.cache_dir else None
        self.cache = cache or Cache(root, policy.cache_max_bytes)
        self._repos: dict[str, helmrepo.HelmRepository] = {}
        self._lock = threading.Lock()
        self.oci = oci.Registry(self.fetcher, self.cache)
        self.git = GitFetcher(policy, self.cache, self.fetcher.credentials)

    def helm_repository(self, url: str) -> helmrepo.HelmRepository:
        with self._lock:
            found = self._repos.get(url.rstrip("/"))
            if found is None:
                found = self._repos[url.rstrip("/")] = helmrepo.HelmRepository(url, self.fetcher, self.cache)
            return found


# Run state kept per process (one per network policy) and forgotten by ``reset`` when a command starts; not yet
# handed down explicitly like the render's SymlinkGuard.
_REMOTES: dict[NetworkPolicy, Remote] = {}
_REMOTES_LOCK = threading.Lock()


def remote_for(policy: NetworkPolicy) -> Remote:
    with _REMOTES_LOCK:
        found = _REMOTES.get(policy)
        if found is None:
            found = _REMOTES[policy] = Remote(policy)
        return found


def used() -> bool:
    """Whether anything of this run reached for a remote source (charts, OCI artifacts, other repositories), from
    the network or the fetch cache, since the last ``reset``."""
    with _REMOTES_LOCK:
        return bool(_REMOTES)


def reset() -> None:
    """Forget what this process learned (parsed indexes, tokens, credentials); the disk cache stays."""
    from gitops_check.remote.http import reset_fetchers

    with _REMOTES_LOCK:
        for remote in _REMOTES.values():
            remote.git.close()
            if remote.cache.written:
                with contextlib.suppress(OSError):
                    remote.cache.trim()  # keep the cache within its bound (least recently used go first)
        _REMOTES.clear()
    reset_fetchers()


atexit.register(reset)


def is_oci(repo_url: str) -> bool:
    text = repo_url.strip()
    return text.startswith("oci://") or "://" not in text


def resolve_chart(
    repo_url: str, name: str, constraint: str | None, *, policy: NetworkPolicy
) -> ResolvedChart:
    """Resolve and download (or find in the cache) the chart archive; nothing is unpacked."""
    remote = remote_for(policy)
    wanted = (constraint or "").strip()
    if is_oci(repo_url):
        return _resolve_oci(remote, repo_url, name, wanted)
    return _resolve_http(remote, repo_url, name, wanted)


def fetch_chart(
    repo_url: str, name: str, constraint: str | None, dest: Path, *, policy: NetworkPolicy
) -> FetchedChart:
    """Resolve, download and unpack the chart into ``dest/<chart name>``; see the module docstring."""
    resolved = resolve_chart(repo_url, name, constraint, policy=policy)
    tops = archive.extract_tgz(
        resolved.archive, dest, shown=f"chart {resolved.name} {resolved.version} from {resolved.source}",
        max_bytes=policy.max_download * 4,
    )  # fmt: skip
    folder = dest / resolved.name if resolved.name in tops else dest / tops[0] if len(tops) == 1 else None
    if folder is None or not (folder / "Chart.yaml").is_file():
        raise FetchError(
            f"chart {resolved.name} {resolved.version} from {resolved.source}: the archive holds no chart"
        )
    return FetchedChart(**{**resolved.__dict__, "folder": folder})


def _resolve_http(remote: Remote, repo_url: str, name: str, constraint: str) -> ResolvedChart:
    shown = redact(repo_url.rstrip("/"))
    cache = remote.cache
    if helmrepo.is_exact(constraint):
        pinned = cache.get_meta(helmrepo.pin_key(repo_url, name, constraint))
        hit = cache.blob(str(pinned["digest"])) if pinned and pinned.get("digest") else None
        if pinned and hit is not None:
            return ResolvedChart(
                name, constraint, str(pinned["version"]), "sha256:" + str(pinned["digest"]), shown, hit
            )
    repository = remote.helm_repository(repo_url)
    entry = helmrepo.resolve(repository.entries(name), constraint, name, shown)
    digest = entry.digest
    path = cache.blob(digest) if digest else None
    if path is None:
        url = repository.archive_url(entry)
        from gitops_check.remote.cache import key_of

        with cache.locked(key_of("download", url)):
            path = cache.blob(digest) if digest else None
            if path is None:
                tmp = cache.temp_file()
                try:
                    reply = remote.fetcher.get(
                        url, what=f"downloading chart {name} {entry.version}", dest=tmp
                    )
                    if digest and reply.sha256 != digest:
                        raise FetchError(
                            f"chart {name} {entry.version} from {redact(url)}: digest mismatch (the index says "
                            f"sha256:{digest[:16]}…, the download is sha256:{(reply.sha256 or '')[:16]}…); not using it"
                        )
                    digest = reply.sha256 or ""
                    path = cache.put_blob(digest, tmp)
                finally:
                    tmp.unlink(missing_ok=True)
    assert digest is not None
    cache.put_meta(
        helmrepo.pin_key(repo_url, name, entry.version), {"version": entry.version, "digest": digest}
    )
    return ResolvedChart(name, constraint, entry.version, "sha256:" + digest, shown, path)


def _resolve_oci(remote: Remote, repo_url: str, name: str, constraint: str) -> ResolvedChart:
    base = repo_url.strip().removeprefix("oci://").rstrip("/")
    reference = f"{base}/{name}" if name else base
    chart_name = reference.rsplit("/", 1)[-1]
    found = remote.oci.pull(
        reference,
        constraint=constraint,
        media_types=(oci.HELM_CHART_LAYER, oci.HELM_CHART_LAYER_LEGACY),
        what=f"chart {chart_name}",
        tag_plus=True,
    )
    return ResolvedChart(
        chart_name, constraint, found.tag, found.layer_digest, f"oci://{reference}", found.path
    )


def resolution_key(item: tuple[str, str, str, str], policy: NetworkPolicy) -> str | None:
    """What a fetched input resolves to now (``inputs.AppInputs.remote``), for content keys; None when it
    cannot be resolved (the app is then always rendered, and its render says why)."""
    import json

    from gitops_check.model.source import OCIArtifact

    kind, location, name, wanted = item
    try:
        if kind == "chart":
            resolved = resolve_chart(location, name, wanted, policy=policy)
            return f"chart {resolved.source} {resolved.name} {resolved.version} {resolved.digest}"
        if kind == "oci":
            spec = OCIArtifact(**json.loads(location))
            pulled = remote_for(policy).oci.pull(
                spec.url, constraint=spec.semver or "", tag=spec.tag if not spec.semver and not spec.digest else None,
                digest=spec.digest, semver_filter=spec.semver_filter,
                media_types=(spec.media_type,) if spec.media_type else None, what="artifact", insecure=spec.insecure,
            )  # fmt: skip
            return f"oci {pulled.reference} {pulled.manifest_digest} {pulled.layer_digest}"
    except (FetchError, TypeError, ValueError):
        return None
    return None
