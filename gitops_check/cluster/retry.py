"""Bounded retries of idempotent API requests: the cluster's schedule and its idea of "transient", on the shared
loop (``gitops_check.backoff``).

Transient failures (429, 500/502/503/504, timeouts, refused and dropped connections; see
:attr:`ApiError.transient`) are tried again up to :attr:`RetryPolicy.attempts` times in all; anything else, or
the last failure, is raised as an ApiError whose message says how many attempts were made.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from gitops_check import backoff
from gitops_check.cluster.apierrors import ApiError
from gitops_check.cluster.transport import translate

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is sent again.

    ``attempts`` counts every try (4 = the first plus three retries). The n-th retry waits
    ``base_delay * factor**(n-1)`` seconds (at most ``max_delay``, then ±20% jitter), or what the server's
    ``Retry-After`` asks for, capped at ``max_retry_after``.
    """

    attempts: int = 4
    base_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def schedule(self) -> backoff.Schedule:
        return backoff.Schedule(
            retries=max(0, self.attempts - 1),
            first=self.base_delay,
            factor=self.factor,
            cap=self.max_delay,
            jitter=0.2,
            max_hint=self.max_retry_after,
        )


DEFAULT_RETRY = RetryPolicy()


def transient(error: Exception) -> backoff.Transient | None:
    """The cluster's verdict on a translated failure."""
    if isinstance(error, ApiError) and error.transient:
        return backoff.Transient(error.retry_after)
    return None


def with_retries(
    fn: Callable[[], T],
    what: str,
    *,
    server: str,
    policy: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it succeeds, retrying transient failures per ``policy``; raise an ApiError otherwise.

    ``fn`` may raise ApiError itself, or urllib3/socket/ssl errors. Only call this for idempotent work (reads,
    dry-runs, applies that may be repeated).
    """

    def once() -> T:
        try:
            return fn()
        except Exception as exc:
            raise translate(exc, what, server) from None

    return backoff.call(
        once, policy.schedule(), transient, sleep=sleep, gave_up=lambda e, tries: _gave_up(e, tries.made)
    )


def _gave_up(error: Exception, attempts: int) -> Exception:
    return error.gave_up(attempts) if isinstance(error, ApiError) else error
