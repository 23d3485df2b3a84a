"""How patient a sync is: retrying transient API failures with backoff, and durations as users write them.

The defaults mirror an Argo CD Application's ``syncPolicy.retry`` defaults (limit 3, 5 s doubling, at most
3 min), and an Application's own retry policy replaces them for that app, so gitops-check is exactly as
patient with the agent's API as the agent is with the cluster. Tests shrink the base delay.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from gitops_check.errors import ConfigError, GitopsCheckError

T = TypeVar("T")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str | int | float, what: str = "duration") -> float:
    """``5m``, ``90s``, ``1h30m``, ``250ms`` or a plain number of seconds -> seconds (Go-style, like Argo CD)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    value = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    parts = _DURATION.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise ConfigError(f"{what}: cannot read {value!r} as a duration (examples: 30s, 5m, 1h30m, 250ms)")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    """``5m0s``-like text for messages; sub-second values as ``250ms``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


@dataclass(frozen=True)
class RetryPolicy:
    """Retry of one request: ``limit`` retries after the first try (negative: until the deadline), the n-th
    waiting ``backoff * factor**(n-1)`` seconds, at most ``max_backoff``; a server's Retry-After wins, capped
    at ``max_backoff``."""

    limit: int = 3
    backoff: float = 5.0
    factor: float = 2.0
    max_backoff: float = 180.0
    source: str = "default"  # "default", "--retry-* options", "Application payments"

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_backoff))
        return float(min(self.backoff * self.factor ** (retry - 1), self.max_backoff))

    def describe(self) -> str:
        limit = "unlimited" if self.limit < 0 else str(self.limit)
        return (
            f"limit {limit}, backoff {format_duration(self.backoff)} x{self.factor:g}, "
            f"max {format_duration(self.max_backoff)}"
        )

    @classmethod
    def from_argocd(cls, retry: Mapping[str, Any], app: str) -> RetryPolicy:
        """An Application's ``spec.syncPolicy.retry`` (``limit``, ``backoff.{duration,factor,maxDuration}``)."""
        default = cls()
        backoff = retry.get("backoff") or {}
        where = f"Application {app}: spec.syncPolicy.retry"
        try:
            limit = int(retry.get("limit", default.limit))
            factor = float(backoff.get("factor", default.factor))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: limit and backoff.factor must be numbers") from None
        return cls(
            limit=limit,
            backoff=parse_duration(backoff.get("duration", default.backoff), f"{where}.backoff.duration"),
            factor=factor,
            max_backoff=parse_duration(
                backoff.get("maxDuration", default.max_backoff), f"{where}.backoff.maxDuration"
            ),
            source=f"Application {app}",
        )


def retrying(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[GitopsCheckError, float], None] | None = None,
) -> T:
    """Call ``fn``; an error with ``transient = True`` is retried per ``policy`` (and never past ``deadline``).

    Errors are GitopsCheckErrors carrying optional ``transient`` and ``retry_after`` attributes (the cluster
    client's ApiError and the Argo CD client's error both do). Others propagate at once.
    """
    retry = 0
    while True:
        try:
            return fn()
        except GitopsCheckError as e:
            if not getattr(e, "transient", False):
                raise
            if policy.limit >= 0 and retry >= policy.limit:
                raise _gave_up(e, retry + 1) from None
            retry += 1
            delay = policy.delay(retry, getattr(e, "retry_after", None))
            if deadline is not None and clock() + delay > deadline:
                raise _gave_up(e, retry) from None
            if on_retry is not None:
                on_retry(e, delay)
            sleep(delay)


def _gave_up(error: GitopsCheckError, attempts: int) -> GitopsCheckError:
    if attempts > 1 and "gave up after" not in error.message:
        error.message = f"{error.message} (gave up after {attempts} attempts)"
        error.args = (error.message,)
    return error
