"""Where gitops-check may fetch from: the job decides (command line, environment), the commit can only restrict.

A URL is allowed when its scheme is http or https, the run is not offline, its host matches ``--allow-host`` (when
any is given) and, after name resolution, none of its addresses is loopback, private, link-local or otherwise
not public, unless the job named that host explicitly (a pattern without wildcards). ``file://`` is never fetched:
it would read the machine the job runs on.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from gitops_check.errors import FetchError

DEFAULT_MAX_DOWNLOAD = 256 * 1024 * 1024
DEFAULT_CACHE_MAX = 2 * 1024 * 1024 * 1024
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")
_WILDCARDS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class NetworkPolicy:
    """The job's network settings. Hashable: renderers look up the shared fetcher by it."""

    offline: bool = False
    # fnmatch patterns on ``host`` or ``host:port``; empty: any public host.
    allow_hosts: tuple[str, ...] = ()
    # Patterns from the checked commit: they only narrow (a host must match them too).
    commit_hosts: tuple[str, ...] | None = None
    commit_offline: bool = False
    timeout: float = 30.0
    retries: int = 3
    max_download: int = DEFAULT_MAX_DOWNLOAD
    ca_file: str | None = None
    cache_dir: str | None = None
    cache_max_bytes: int = DEFAULT_CACHE_MAX
    # Seconds an index.yaml / tag list is reused without asking the server again (0: always revalidate).
    index_ttl: float = 0.0

    @property
    def is_offline(self) -> bool:
        return self.offline or self.commit_offline

    def restricted(
        self, *, offline: bool = False, allow_hosts: tuple[str, ...] | None = None
    ) -> NetworkPolicy:
        """This policy narrowed by the commit's project file: it can go offline or list fewer hosts, no more."""
        from dataclasses import replace

        hosts = self.commit_hosts
        if allow_hosts is not None:
            hosts = allow_hosts if hosts is None else tuple(h for h in hosts if h in allow_hosts)
        return replace(self, commit_offline=self.commit_offline or offline, commit_hosts=hosts)


def redact(text: str) -> str:
    """``https://user:pass@host/x`` -> ``https://***@host/x`` anywhere in ``text``."""
    return _USERINFO.sub(r"\1***@", text)


def host_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise FetchError(f"{redact(url)}: the port is not a number") from None
    return (parts.hostname or "").lower(), port


def _matches(patterns: tuple[str, ...], host: str, port: int | None, *, explicit: bool = False) -> bool:
    names = {host, f"{host}:{port}"} if port else {host}
    for pattern in patterns:
        pattern = pattern.strip().lower()
        if explicit and _WILDCARDS.search(pattern):
            continue
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            return True
    return False


def _not_public(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, what in (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_private, "a private address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
    ):
        if test:
            return what
    return None


def _addresses(host: str, port: int | None) -> list[str]:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return [host.strip("[]")]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except OSError as e:
        raise FetchError(f"cannot resolve host {host}: {e.strerror or e}") from None
    return sorted({str(info[4][0]) for info in infos})


_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?([^/:]+):(?!//)")
_DOMAIN_FIRST = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?/")


def remote_target_url(entry: str) -> str:
    """A kustomize remote target as a URL the policy can check (``github.com/o/r//p?ref=x`` -> https://...)."""
    text = entry.strip()
    for prefix in ("git::", "gh:"):
        text = text.removeprefix(prefix)
    if "://" in text:
        return text
    scp = _SCP_LIKE.match(text)
    if scp and not _DOMAIN_FIRST.match(text):
        return f"ssh://{scp.group(1)}/"
    return "https://" + text


def check_remote_target(policy: NetworkPolicy, entry: str) -> None:
    """A kustomize remote base or file: the same policy as every other fetch (ssh allowed as a scheme)."""
    check_url(
        policy,
        remote_target_url(entry),
        what="fetching a remote kustomize base",
        schemes=("http", "https", "ssh"),
    )


def check_url(
    policy: NetworkPolicy, url: str, *, what: str = "fetching", schemes: tuple[str, ...] = ("http", "https")
) -> None:
    """Raise FetchError (URL redacted, reason, what to do) unless ``policy`` allows ``url``."""
    shown = redact(url)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file" or not scheme:
        raise FetchError(
            f"{shown}: local paths and file:// URLs are never fetched (they would read this machine)"
        )
    if scheme not in schemes:
        raise FetchError(f"{shown}: the scheme {scheme}:// is not supported for {what}")
    if policy.offline:
        raise FetchError(f"{shown}: not fetched, the run is offline (--offline)")
    if policy.commit_offline:
        raise FetchError(f"{shown}: not fetched, the project file's render.network.offline is set")
    host, port = host_port(url)
    if not host:
        raise FetchError(f"{shown}: no host in the URL")
    if policy.allow_hosts and not _matches(policy.allow_hosts, host, port):
        raise FetchError(
            f"{shown}: host {host} is not allowed by --allow-host ({', '.join(policy.allow_hosts)})"
        )
    if policy.commit_hosts is not None and not _matches(policy.commit_hosts, host, port):
        raise FetchError(f"{shown}: host {host} is not in the project file's render.network.allowHosts")
    if _matches(policy.allow_hosts, host, port, explicit=True):
        return  # the job named this host: it may be internal
    for address in _addresses(host, port):
        problem = _not_public(address)
        if problem:
            raise FetchError(
                f"{shown}: host {host} resolves to {problem} ({address}); refused unless the job allows it "
                f"explicitly with --allow-host {host}"
            )
