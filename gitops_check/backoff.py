"""What a server says about waiting: the one ``Retry-After`` reader of every HTTP client here (the cluster, Argo
CD's API, GitHub and GitLab).

RFC 9110 allows two forms: a number of seconds, or an HTTP date. A date in the past means "now"; anything else
is ignored (None), so a broken header never stops a retry, it only loses the server's hint.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any


def retry_after_seconds(value: Any, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (``"120"`` or ``"Fri, 05 Dec 2026 07:00:00 GMT"``)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as such
        return None
    return max(0.0, when.timestamp() - now())


def header(headers: Any, name: str = "Retry-After") -> Any:
    """A header from any mapping-like headers object (requests, urllib3, kubernetes' HTTPHeaderDict), or None."""
    try:
        return headers.get(name) if headers is not None else None
    except AttributeError:
        return None
