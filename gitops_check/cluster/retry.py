"""Bounded retries with exponential backoff that honours ``Retry-After``, for idempotent requests.

Transient failures (429, 500/502/503/504, timeouts, refused and dropped connections; see
:attr:`ApiError.transient`) are tried again up to :attr:`RetryPolicy.attempts` times in all; anything else, or
the last failure, is raised as an ApiError whose message says how many attempts were made.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from gitops_check.cluster.apierrors import translate

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is sent again.

    ``attempts`` counts every try (4 = the first plus three retries). The n-th retry waits
    ``base_delay * factor**(n-1)`` seconds (with ±20% jitter, at most ``max_delay``), or what the server's
    ``Retry-After`` asks for, capped at ``max_retry_after``.
    """

    attempts: int = 4
    base_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        wait = min(self.base_delay * self.factor ** (retry - 1), self.max_delay)
        return wait * random.uniform(0.8, 1.2)


DEFAULT_RETRY = RetryPolicy()


def with_retries(
    fn: Callable[[], T],
    what: str,
    *,
    server: str,
    policy: RetryPolicy = DEFAULT_RETRY,
    sensitive: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it succeeds, retrying transient failures per ``policy``; raise an ApiError otherwise.

    ``fn`` may raise ApiError itself, a kubernetes ApiException / DynamicApiError, or urllib3 errors. Only call
    this for idempotent work (reads, dry-runs, applies that may be repeated).
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            error = translate(exc, what, server, sensitive=sensitive)
            if not error.transient or attempt >= policy.attempts:
                if error.transient and attempt > 1:
                    error.message = f"{error.message} (gave up after {attempt} attempts)"
                    error.args = (error.message,)
                raise error from None
            sleep(policy.delay(attempt, error.retry_after))
