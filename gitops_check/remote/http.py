"""The one HTTP door for remote sources (the only ``requests`` user outside publish/ and sync/).

Every hop of a request, redirects included, passes the network policy. Redirects are followed here, not by
requests, so that a credential is attached per hop only where it is bound: the job's credential for that URL
prefix, or an Authorization a caller got for one origin (an OCI bearer token). A redirect to another host
therefore never carries a credential. Connection errors, timeouts, 429 and 5xx are retried a bounded number of
times with backoff (``Retry-After`` honoured up to a limit); bodies larger than the maximum download size are
cut off. Messages name the URL without user-info, and which credential was tried, never its value.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit

import requests
import requests.structures
import requests.utils

from gitops_check import backoff
from gitops_check.errors import FetchError
from gitops_check.remote.credentials import Credential, Credentials
from gitops_check.remote.policy import NetworkPolicy, check_url, host_port, redact

MAX_REDIRECTS = 10
MAX_RETRY_AFTER = 10.0
_CHUNK = 1 << 16
_RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass
class Reply:
    url: str  # the final URL, after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    sha256: str | None = None  # of the body (also when it was written to a file)
    size: int = 0


@dataclass(frozen=True)
class BoundAuth:
    """An Authorization header value valid only for one origin (scheme, host, port)."""

    origin: tuple[str, str, int | None]
    header: str

    @staticmethod
    def for_url(url: str, header: str) -> BoundAuth:
        host, port = host_port(url)
        return BoundAuth((urlsplit(url).scheme.lower(), host, port), header)

    def applies(self, url: str) -> bool:
        host, port = host_port(url)
        return (urlsplit(url).scheme.lower(), host, port) == self.origin

    def __repr__(self) -> str:
        return "BoundAuth(*****)"


@dataclass
class Stats:
    """Requests sent (each hop and retry counts), by host; benchmarks and tests read them."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    by_host: Counter[str] = field(default_factory=Counter)

    def count(self, url: str) -> None:
        host, port = host_port(url)
        with self.lock:
            self.by_host[f"{host}:{port}" if port else host] += 1

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.by_host.values())


STATS = Stats()


class Fetcher:
    """HTTP GETs under one network policy; safe to share between threads (one session per thread)."""

    def __init__(
        self,
        policy: NetworkPolicy,
        credentials: Credentials | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.policy = policy
        self.sleep = sleep
        self.credentials = credentials if credentials is not None else Credentials.from_environment()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no netrc or proxy settings applied behind our back; proxies below
            session.headers["User-Agent"] = "gitops-check"
            self._local.session = session
        return session

    def credential_for(self, url: str) -> Credential | None:
        return self.credentials.for_url(url)

    def get(
        self,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        auth: BoundAuth | None = None,
        use_credentials: bool = True,
        expect: tuple[int, ...] = (200,),
        dest: Path | None = None,
        max_bytes: int | None = None,
    ) -> Reply:
        """GET ``url`` following redirects; a status outside ``expect`` is a FetchError saying why.

        With ``dest`` the body is streamed into that file (created or replaced), else kept in memory.
        """
        limit = max_bytes or self.policy.max_download
        current = url
        dropped: Credential | None = None  # a credential an earlier hop carried and this host does not get
        for _ in range(MAX_REDIRECTS + 1):
            check_url(self.policy, current, what=what)
            hop_headers = dict(headers or {})
            credential = self.credentials.for_url(current) if use_credentials else None
            tried: Credential | None = None
            if auth is not None and auth.applies(current):
                hop_headers["Authorization"] = auth.header
            elif credential is not None:
                hop_headers["Authorization"] = credential.header()
                tried = credential
            response = self._send(current, hop_headers, what)
            try:
                if response.status_code in (301, 302, 303, 307, 308) and "Location" in response.headers:
                    current = urljoin(current, response.headers["Location"])
                    dropped = tried or dropped
                    continue
                if response.status_code not in expect:
                    message = _status_message(current, response, what, tried)
                    if dropped is not None and tried is None and response.status_code in (401, 403):
                        message += (
                            f" (redirected from {redact(url)}: the credential {dropped.label} is bound to its URL "
                            "prefix and never sent to another host)"
                        )
                    raise FetchError(message)
                return self._read(current, response, dest, limit)
            finally:
                response.close()
        raise FetchError(f"{redact(url)}: more than {MAX_REDIRECTS} redirects while {what}")

    def _send(self, url: str, headers: dict[str, str], what: str) -> requests.Response:
        # The job's CA bundle: --fetch-ca-file, else the variables requests and OpenSSL read, else certifi's.
        verify: bool | str = (
            self.policy.ca_file
            or os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("SSL_CERT_FILE")
            or True
        )
        proxies = requests.utils.get_environ_proxies(url)

        def once() -> requests.Response:
            STATS.count(url)
            try:
                response = self._session().get(
                    url,
                    headers=headers,
                    allow_redirects=False,
                    stream=True,
                    timeout=self.policy.timeout,
                    verify=verify,
                    proxies=proxies,
                )
            except requests.exceptions.SSLError as e:
                raise FetchError(
                    f"{redact(url)}: TLS verification failed while {what} ({_reason(e)}); give the CA with --fetch-ca-file"
                ) from None
            if response.status_code in _RETRY_STATUS:
                raise _Busy(response)
            return response

        def gave_up(error: Exception, tries: backoff.Tries) -> Exception:
            if isinstance(error, _Busy):
                return error  # the last answer is returned as it is (the caller words its status)
            return FetchError(
                f"{redact(url)}: unreachable while {what} after {tries.made} attempts ({_reason(error)})"
            )

        try:
            return backoff.call(
                once, self._schedule(), _transient, sleep=self.sleep, on_retry=_close, gave_up=gave_up
            )
        except _Busy as busy:
            return busy.response

    def _schedule(self) -> backoff.Schedule:
        return backoff.Schedule(
            retries=max(0, self.policy.retries), first=0.25, cap=4.0, max_hint=MAX_RETRY_AFTER
        )

    def _read(self, url: str, response: requests.Response, dest: Path | None, limit: int) -> Reply:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FetchError(_too_big(url, limit))
        digest = hashlib.sha256()
        size = 0
        chunks: list[bytes] = []
        sink: IO[bytes] | None = None
        try:
            if dest is not None:
                dest.parent.mkdir(parents=True, exist_ok=True)
                sink = dest.open("wb")
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise FetchError(_too_big(url, limit))
                digest.update(chunk)
                if sink is not None:
                    sink.write(chunk)
                else:
                    chunks.append(chunk)
        except requests.RequestException as e:
            raise FetchError(f"{redact(url)}: the download broke off ({_reason(e)})") from None
        finally:
            if sink is not None:
                sink.close()
        headers = requests.structures.CaseInsensitiveDict(response.headers)  # header names in any case
        return Reply(url, response.status_code, headers, b"".join(chunks), digest.hexdigest(), size)


class _Busy(Exception):
    """An answer worth another try (429, 5xx); returned as it is when the tries are spent."""

    def __init__(self, response: requests.Response):
        super().__init__(response.status_code)
        self.response = response


def _transient(error: Exception) -> backoff.Transient | None:
    if isinstance(error, _Busy):
        return backoff.Transient(backoff.retry_after_seconds(error.response.headers.get("Retry-After")))
    if isinstance(error, (requests.ConnectionError, requests.Timeout)):
        return backoff.Transient()
    return None


def _close(error: Exception, _delay: float) -> None:
    if isinstance(error, _Busy):
        error.response.close()


def _too_big(url: str, limit: int) -> str:
    return (
        f"{redact(url)}: larger than the maximum download size ({limit // (1024 * 1024)} MiB); raise it with "
        "--max-download-size if it is expected"
    )


def _reason(error: Exception) -> str:
    text = str(error.__context__ or error) if not str(error) else str(error)
    for marker in ("Failed to establish a new connection: ", "Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return redact(text.strip().rstrip(")")[:300])


def _status_message(url: str, response: requests.Response, what: str, tried: Credential | None) -> str:
    status = f"HTTP {response.status_code} {response.reason or ''}".strip()
    shown = redact(url)
    if response.status_code in (401, 403):
        if tried is not None:
            return f"{shown}: {status} while {what}; the credential {tried.label} was tried and refused"
        return (
            f"{shown}: {status} while {what}; no credential is configured for this URL (set "
            "GITOPS_CHECK_CRED_<NAME>_URL/_USERNAME/_PASSWORD, or log in with helm/docker)"
        )
    if response.status_code == 404:
        return f"{shown}: not found (HTTP 404) while {what}"
    return f"{shown}: {status} while {what}"


# Run state kept per process, like remote.charts._REMOTES (``reset_fetchers`` forgets it when a command starts).
_FETCHERS: dict[NetworkPolicy, Fetcher] = {}
_FETCHERS_LOCK = threading.Lock()


def fetcher_for(policy: NetworkPolicy, factory: Callable[[NetworkPolicy], Fetcher] | None = None) -> Fetcher:
    """The shared fetcher of a policy (credentials read once per run)."""
    with _FETCHERS_LOCK:
        found = _FETCHERS.get(policy)
        if found is None:
            found = _FETCHERS[policy] = (factory or Fetcher)(policy)
        return found


def reset_fetchers() -> None:
    """Forget shared fetchers (tests change the environment's credentials between runs)."""
    with _FETCHERS_LOCK:
        _FETCHERS.clear()
