"""Every failure of a request to the API server as one ApiError with a one-line, actionable message.

``cannot list secrets in namespace payments: forbidden``, ``cluster https://10.0.0.1:6443 unreachable:
connection refused``: what was attempted (``what``, see :func:`describe`), what happened, and whether trying
again may help (``transient``). Kubernetes Status messages are quoted shortened to one line, and not at all for
requests that carried sensitive data (they can repeat it); response bodies and tokens never.
"""

from __future__ import annotations

import json
from typing import Any

from gitops_check import backoff
from gitops_check.errors import ClusterError

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_SERVER_MESSAGE = 240


class ApiError(ClusterError):
    """One request failed. ``status`` is the HTTP status (0 when no answer came); ``reason`` a short word:
    the Kubernetes Status reason (``Forbidden``, ``NotFound``, ``Invalid``...) or ``Unreachable``,
    ``Timeout``, ``TLS``, ``Dropped``. ``transient`` is True for failures a later attempt may not see."""

    def __init__(self, message: str, *, status: int = 0, reason: str = "", transient: bool = False):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.transient = transient
        self.retry_after: float | None = None

    @property
    def forbidden(self) -> bool:
        return self.status in (401, 403)

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def unanswered(self) -> bool:
        """No HTTP answer at all: the server is down, unreachable or hung up."""
        return self.status == 0


def describe(verb: str, resource: str, namespace: str | None = None, name: str | None = None) -> str:
    """``list secrets in namespace payments``, ``get clusterroles admin``: the ``what`` of error messages."""
    text = f"{verb} {resource}"
    if name:
        text += f" {name}"
    if namespace:
        text += f" in namespace {namespace}"
    return text


# ---------------------------------------------------------------------------------------------------------------
# HTTP answers as one-line ApiErrors (failures without an answer: cluster/transport.py)


def _server_message(body: Any) -> str:
    try:
        data = json.loads(body) if isinstance(body, (bytes, str)) and body else None
    except ValueError:
        data = None
    message = str(data.get("message", "")) if isinstance(data, dict) else ""
    message = " ".join(message.split())
    if len(message) > _MAX_SERVER_MESSAGE:
        message = message[: _MAX_SERVER_MESSAGE - 3] + "..."
    return message


def _retry_after(headers: Any) -> float | None:
    return backoff.retry_after_seconds(backoff.header(headers))


def http_error(
    status: int, body: Any, headers: Any, what: str, server: str, *, sensitive: bool = False
) -> ApiError:
    """The ApiError for an HTTP answer outside 2xx. ``sensitive``: never quote the server's message (it may
    repeat data of the object sent, e.g. a Secret)."""
    message = "" if sensitive else _server_message(body)
    if status == 401:
        error = ApiError(
            f"cannot {what}: unauthorized — cluster {server} rejected the credentials "
            "(expired token or wrong kubeconfig user; log in again)",
            status=401,
            reason="Unauthorized",
        )
    elif status == 403:
        error = ApiError(f"cannot {what}: forbidden", status=403, reason="Forbidden")
    elif status == 404:
        error = ApiError(f"cannot {what}: not found", status=404, reason="NotFound")
    elif status in TRANSIENT_STATUSES:
        phrase = {429: "too many requests", 500: "internal server error", 502: "bad gateway",
                  503: "service unavailable", 504: "gateway timeout"}[status]  # fmt: skip
        error = ApiError(
            f"cannot {what}: HTTP {status} {phrase} from {server}",
            status=status,
            reason="TooManyRequests" if status == 429 else "ServerError",
            transient=True,
        )
    else:
        reason = {409: "Conflict", 410: "Expired", 422: "Invalid", 400: "BadRequest", 415: "Unsupported"}
        error = ApiError(
            f"cannot {what}: HTTP {status}" + (f": {message}" if message else ""),
            status=status,
            reason=reason.get(status, "Error"),
        )
    error.retry_after = _retry_after(headers)
    return error
