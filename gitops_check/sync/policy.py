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

from gitops_check.backoff import Schedule, Transient, Tries, call
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

    def schedule(self) -> Schedule:
        return Schedule(
            retries=self.limit, first=self.backoff, factor=self.factor, cap=self.max_backoff,
            max_hint=self.max_backoff,
        )  # fmt: skip

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds before the ``retry``-th retry (a server's Retry-After wins, capped like the backoff)."""
        return self.schedule().delay(retry, retry_after) or 0.0

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


def transient(error: Exception) -> Transient | None:
    """The sync's verdict: GitopsCheckErrors that say ``transient`` (the cluster client's ApiError and the Argo
    CD client's error both carry ``transient`` and ``retry_after``)."""
    if isinstance(error, GitopsCheckError) and getattr(error, "transient", False):
        return Transient(getattr(error, "retry_after", None))
    return None


def retrying(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[GitopsCheckError, float], None] | None = None,
) -> T:
    """Call ``fn``; a transient error is retried per ``policy`` (and never past ``deadline``); others propagate."""
    return call(
        fn,
        policy.schedule(),
        transient,
        deadline=deadline,
        sleep=sleep,
        clock=clock,
        on_retry=None if on_retry is None else lambda e, delay: on_retry(_sync_error(e), delay),
        gave_up=gave_up,
    )


def gave_up(error: Exception, tries: Tries) -> Exception:
    """The last transient error, saying how many attempts were made."""
    return _sync_error(error).gave_up(tries.made)


def _sync_error(error: Exception) -> GitopsCheckError:
    assert isinstance(error, GitopsCheckError)  # transient() says yes only to these
    return error
