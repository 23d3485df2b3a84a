"""A minimal client for Argo CD's REST API: read an Application, ask for a sync. ``requests`` lives here only.

The bearer token comes from an environment variable or a file, never from a command-line value (those land in
shell history and CI logs), and it never appears in any message: every error text is scrubbed of it. TLS is
verified (against the system store or ``--ca-file``) unless the user passes ``--insecure``.

Each method sends one request; errors say whether trying again may help (``transient``), and the sync decides.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gitops_check import __version__, backoff
from gitops_check.errors import ConfigError, SyncError

_MAX_MESSAGE = 300
_TRANSIENT = frozenset({429, 502, 503, 504})


class ArgoApiError(SyncError):
    """One request to Argo CD failed. ``status`` 0: no answer. ``transient``: a later try may succeed."""

    def __init__(self, message: str, *, status: int = 0, transient: bool = False, sent: bool = True):
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after: float | None = None
        self.sent = sent  # False when the request surely never reached the server


def read_token(
    *, env: str | None, file: str | None, environ: dict[str, str] | None = None
) -> tuple[str, str]:
    """(token, where it came from) from ``$env`` or ``file``; the source is named in errors, the token never."""
    environ = dict(os.environ) if environ is None else environ
    if file:
        source = f"token file {file}"
        try:
            token = Path(file).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigError(f"cannot read the Argo CD {source}: {e.strerror}") from None
    else:
        name = env or "ARGOCD_AUTH_TOKEN"
        source = f"${name}"
        token = environ.get(name, "").strip()
        if not token:
            raise ConfigError(
                f"no Argo CD token: ${name} is empty or unset (pass --token-env VAR or --token-file FILE)"
            )
    if not token:
        raise ConfigError(f"the Argo CD {source} is empty")
    if any(c in token for c in "\r\n\t ") or not token.isprintable():
        raise ConfigError(
            f"the Argo CD {source} holds more than one token-like word; it must hold the token only"
        )
    return token, source


def server_url(server: str) -> str:
    text = server.strip().rstrip("/")
    if not text:
        raise ConfigError("--server is empty (or set ARGOCD_SERVER)")
    if "://" not in text:
        text = "https://" + text
    if not text.startswith(("https://", "http://")):
        raise ConfigError(f"--server {server}: only https:// (or http://) URLs are supported")
    return text


class ArgoCDClient:
    def __init__(
        self,
        server: str,
        token: str,
        *,
        token_source: str = "the token",
        verify: bool | str = True,
        timeout: float = 30.0,
    ) -> None:
        import requests

        self.server = server_url(server)
        self._token = token
        self.token_source = token_source
        self.timeout = timeout
        self.verify = verify
        self.session = requests.Session()
        self.session.trust_env = True  # proxies; REQUESTS_CA_BUNDLE only when no --ca-file / --insecure
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": f"gitops-check/{__version__}",
            }
        )
        self.requests = 0
        if verify is False:  # asked for: urllib3 (under requests) would warn on every request
            warnings.filterwarnings("ignore", message="Unverified HTTPS request", module="urllib3")

    def scrub(self, text: str) -> str:
        """``text`` without the token (a server or library may quote a header back)."""
        return text.replace(self._token, "***") if self._token else text

    def _path(self, name: str) -> str:
        return f"/api/v1/applications/{quote(name, safe='')}"

    def get_application(
        self, name: str, app_namespace: str | None = None, *, refresh: str | None = None
    ) -> Any:
        params = {k: v for k, v in (("appNamespace", app_namespace), ("refresh", refresh)) if v}
        return self._send("GET", self._path(name), f"read Application {name}", params=params)

    def sync(self, name: str, body: dict[str, Any]) -> Any:
        return self._send("POST", self._path(name) + "/sync", f"sync Application {name}", body=body)

    def close(self) -> None:
        self.session.close()

    def _send(
        self, method: str, path: str, what: str, *, params: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        import requests

        url = self.server + path
        self.requests += 1
        try:
            response = self.session.request(
                method,
                url,
                params=params or None,
                data=None if body is None else json.dumps(body),
                headers={"Content-Type": "application/json"} if body is not None else None,
                # Per request: a session-level value would lose to REQUESTS_CA_BUNDLE from the environment.
                verify=self.verify,
                timeout=(min(10.0, self.timeout), self.timeout),
            )
        except requests.exceptions.SSLError as e:
            why = "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in str(e) else "handshake failed"
            raise ArgoApiError(
                f"cannot {what}: TLS {why} for {self.server} (pass --ca-file with its CA, or --insecure)",
                sent=False,
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise ArgoApiError(
                f"cannot {what}: {self.server} unreachable (connect timed out)", transient=True, sent=False
            ) from None
        except requests.exceptions.ConnectionError as e:
            refused = "refused" in str(e).lower() or "NewConnectionError" in str(e)
            raise ArgoApiError(
                f"cannot {what}: {self.server} "
                + ("unreachable (connection refused)" if refused else "dropped the connection"),
                transient=True,
                sent=not refused,
            ) from None
        except requests.exceptions.Timeout:
            raise ArgoApiError(
                f"cannot {what}: {self.server} did not answer in time", transient=True
            ) from None
        except requests.exceptions.RequestException as e:
            raise ArgoApiError(self.scrub(f"cannot {what}: {type(e).__name__}")) from None
        if 200 <= response.status_code < 300:
            try:
                return response.json() if response.content else None
            except ValueError:
                raise ArgoApiError(f"cannot {what}: the answer from {self.server} is not JSON") from None
        raise self._http_error(response, what, method)

    def _http_error(self, response: Any, what: str, method: str) -> ArgoApiError:
        status = int(response.status_code)
        message = ""
        try:
            data = response.json()
            if isinstance(data, dict):
                message = str(data.get("message") or data.get("error") or "")
        except ValueError:
            message = ""
        message = self.scrub(" ".join(message.split()))
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        if status == 401:
            text = (
                f"cannot {what}: Argo CD {self.server} rejected the token from {self.token_source} (HTTP 401)"
            )
        elif status == 403:
            text = (
                f"cannot {what}: permission denied (HTTP 403; Argo CD also answers this for an app that does "
                "not exist: check the name, --app-namespace and the token's project role)"
            )
        elif status == 404:
            text = f"cannot {what}: not found (HTTP 404)" + (f": {message}" if message else "")
        else:
            text = f"cannot {what}: HTTP {status}" + (f": {message}" if message else "")
        transient = status in _TRANSIENT or (status == 500 and method == "GET")
        error = ArgoApiError(text, status=status, transient=transient)
        error.retry_after = backoff.retry_after_seconds(backoff.header(response.headers))
        return error
