"""HTTP for the comment publishers: one session, bounded waits on rate limits, one-line errors, no token leaks.

GitHub and GitLab both answer a busy client with 429 (GitHub also with 403 for its secondary limits) and say
how long to wait in ``Retry-After`` or a reset time. A CI job can afford a short wait, not an unbounded one, so
waits are capped per wait and per call; beyond that the user gets a one-line error saying when to retry.

The token travels only in a request header. It is never part of a URL, a log line or an exception message:
responses are quoted only through ``Api.quote`` (which masks it), redirects are not followed (a custom header
such as ``PRIVATE-TOKEN`` would be sent on to wherever the redirect points), and pagination links must stay on
the API's own host. The only module besides the Argo CD client that imports ``requests``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from gitops_check import __version__, backoff, redact
from gitops_check.errors import PublishError

log = logging.getLogger("gitops_check.publish")

USER_AGENT = f"gitops-check/{__version__}"
_IDEMPOTENT = frozenset({"GET", "PUT", "PATCH", "DELETE"})
_TOKEN_OK = re.compile(r"[\x21-\x7e]+")


@dataclass
class RetryPolicy:
    """How long a call may wait for rate limits and flaky gateways before giving up with an error."""

    attempts: int = 4
    max_wait: float = 60.0  # longest single wait honoured
    total_wait: float = 120.0  # all waits of one call together
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def schedule(self) -> backoff.Schedule:
        # Failed connections wait 1, 2, 4 s; a server's wait longer than max_wait is not waited out at all.
        return backoff.Schedule(
            retries=self.attempts - 1, first=1.0, cap=self.max_wait, max_hint=self.max_wait,
            over_hint="give up", budget=self.total_wait,
        )  # fmt: skip


class _Busy(Exception):
    """A response that asks to come back later (rate limit, flaky gateway): ``wait`` seconds."""

    def __init__(self, response: requests.Response, wait: float):
        super().__init__(response.status_code)
        self.response = response
        self.status = response.status_code
        self.wait = wait


class HttpError(PublishError):
    """A response the publisher did not expect; ``status`` lets callers react (fork fallback, leftover parts)."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


def debug_logging(env: Mapping[str, str]) -> None:
    """With GITOPS_CHECK_DEBUG set, log every call (method, URL, status; never headers or bodies) to stderr."""
    if not env.get("GITOPS_CHECK_DEBUG"):
        return
    for name in ("gitops_check.publish", "urllib3"):
        logger = logging.getLogger(name)
        if not any(getattr(h, "_gitops_check", False) for h in logger.handlers):
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
            handler._gitops_check = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


def check_token(token: str, variable: str) -> str:
    """A token usable in a header. Never echoes it: requests' own error for a bad header value quotes the value."""
    token = token.strip()
    if not _TOKEN_OK.fullmatch(token):
        raise PublishError(
            f"the token in {variable} contains spaces or control characters: set the variable to the token alone"
        )
    return token


# Explains an error response in one line: (status, what was being done, the server's message) -> text.
Explain = Callable[[int, str, str], str]


class Api:
    """A REST API with a fixed base URL and authentication header."""

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        auth: Mapping[str, str],
        secret: str,
        explain: Explain,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (10.0, 30.0),
        extra_headers: Mapping[str, str] | None = None,
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PublishError(f"{service} API URL {base_url!r} is not an http(s) URL")
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.shown = _loggable(self.base_url)
        self._secret = secret
        self._explain = explain
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.session = requests.Session()
        # Proxies from the environment, but no credentials from ~/.netrc: they would replace our auth header.
        self.session.trust_env = False
        self.session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        self.session.headers.update({"User-Agent": USER_AGENT, **(extra_headers or {}), **auth})
        self.requests_sent = 0

    # ------------------------------------------------------------------------------------------- helpers

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def quote(self, text: str, limit: int = 200) -> str:
        """Server text fit for a message: one line, short, and with the token masked should the server echo it."""
        if self._secret:
            text = text.replace(self._secret, "***")
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def server_message(self, response: requests.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return self.quote(response.text)
        if isinstance(data, dict):
            parts = [data.get("message"), data.get("error"), data.get("error_description")]
            for err in data.get("errors") or ():
                if isinstance(err, dict) and err.get("message"):
                    parts.append(err["message"])
                elif isinstance(err, str):
                    parts.append(err)
            text = "; ".join(_flatten(p) for p in parts if p)
            return self.quote(text)
        return self.quote(str(data))

    # ------------------------------------------------------------------------------------------- requests

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> requests.Response:
        """Send one call, waiting out rate limits within the policy; any other failure is an HttpError."""
        url = self.url(path)
        json = scrubbed(json)  # comment bodies: the last step before they leave (gitops_check.redact)
        if not self.same_origin(url):
            raise PublishError(
                f"{self.service} pointed {what} at another host ({urlsplit(url).hostname}); not following it"
            )

        def send() -> requests.Response:
            response = self.session.request(
                method, url, params=params, json=json, timeout=self.timeout, allow_redirects=False
            )
            self.requests_sent += 1
            log.debug("%s %s -> %s", method, _loggable(url), response.status_code)
            if response.status_code in ok and response.status_code < 400:
                return response
            wait = self._wait_for(response)
            if wait is None:
                return response  # final: an expected refusal, or an error explained below
            raise _Busy(response, wait)

        def verdict(error: Exception) -> backoff.Transient | None:
            if isinstance(error, _Busy):
                return backoff.Transient(error.wait)
            if isinstance(error, requests.RequestException) and method in _IDEMPOTENT:
                return backoff.Transient()
            return None

        def retrying(error: Exception, delay: float) -> None:
            if isinstance(error, _Busy):
                log.debug("%s asks to wait %.0f s (status %s)", self.service, delay, error.status)
            else:
                log.debug("%s %s failed (%s); retrying in %.0f s", method, _loggable(url),
                          type(error).__name__, delay)  # fmt: skip

        def gave_up(error: Exception, tries: backoff.Tries) -> Exception:
            if not isinstance(error, _Busy):
                return error
            return HttpError(
                f"{self.service} rate limit reached while trying to {what}: it asks to wait {error.wait:.0f} s"
                f" (waited {tries.waited:.0f} s already); rerun the job later",
                status=error.status,
            )

        try:
            response = backoff.call(
                send,
                self.retry.schedule(),
                verdict,
                sleep=self.retry.sleep,
                on_retry=retrying,
                gave_up=gave_up,
            )
        except requests.RequestException as e:
            raise PublishError(
                f"cannot reach {self.service} at {self.shown} to {what}: {type(e).__name__}"
            ) from None
        if response.status_code in ok:  # an expected refusal, e.g. GET /user with an app token
            return response
        status = response.status_code
        if 300 <= status < 400:
            raise HttpError(
                f"{self.service} answered {status} (a redirect) to {what}; check the API URL {self.shown}"
                " and whether the project was renamed",
                status=status,
            )
        raise HttpError(self._explain(status, what, self.server_message(response)), status=status)

    def _wait_for(self, response: requests.Response) -> float | None:
        """Seconds to wait before retrying, or None when the response is final."""
        status = response.status_code
        headers = response.headers
        retry_after = backoff.retry_after_seconds(headers.get("Retry-After"), self.retry.clock)
        if status in (502, 503, 504):
            return retry_after if retry_after is not None else 2.0
        if status not in (403, 429):
            return None
        if retry_after is not None:
            return retry_after
        if headers.get("X-RateLimit-Remaining", headers.get("RateLimit-Remaining")) == "0":
            reset = headers.get("X-RateLimit-Reset", headers.get("RateLimit-Reset"))
            if reset and reset.isdigit():
                return max(float(reset) - self.retry.clock(), 1.0)
            return 60.0
        if status == 429:
            return 60.0
        if "secondary rate limit" in self.server_message(response).lower():
            return 60.0  # GitHub: without a header, wait at least a minute
        return None


def scrubbed(value: Any) -> Any:
    """``value`` (a JSON payload) with every known secret value scrubbed from its strings."""
    if isinstance(value, str):
        return redact.scrub(value)
    if isinstance(value, dict):
        return {k: scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    return value


def _loggable(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def _flatten(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k} {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_flatten(v) for v in value)
    return str(value)
