"""Waiting and trying again: the one retry loop and the one ``Retry-After`` reader of every client here (the
cluster, Argo CD's API, the sync backends, GitHub and GitLab, chart repositories and registries).

A caller says *what* is worth another try (``transient``: a small function from the exception to a
:class:`Transient` verdict, or None for "final"), :class:`Schedule` says *how often and how long* (attempts,
exponential backoff with a cap and optional jitter, a server's wait honoured up to a limit, a budget for all waits
of one call), and :func:`call` runs the loop with an injectable ``sleep`` and ``clock`` so tests never wait. What a
give-up looks like to the user (its message) stays with the caller (``gave_up``).

``Retry-After`` (RFC 9110) is a number of seconds or an HTTP date. A date in the past means "now"; anything else
is ignored (None), so a broken header never stops a retry, it only loses the server's hint.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

T = TypeVar("T")


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


@dataclass(frozen=True)
class Transient:
    """The caller's verdict on a failure: try again. ``wait``: what the server asked for (Retry-After, a rate
    limit's reset), or None to follow the schedule's backoff."""

    wait: float | None = None
    # A retry that costs no attempt and no wait (a write refused for a conflict: read again, write again at once);
    # the caller bounds how many it grants.
    free: bool = False


@dataclass(frozen=True)
class Schedule:
    """How often and how patiently one call is tried.

    ``retries`` after the first try (negative: no limit, a deadline ends it). The n-th retry waits
    ``first * factor**(n-1)`` seconds, at most ``cap``, then ± ``jitter`` (a fraction). A server's wait is
    honoured up to ``max_hint``: beyond it the wait is cut to ``max_hint`` (``over_hint="cap"``) or the call
    gives up (``"give up"``: a CI job should not sleep for an hour). All waits of one call together stay within
    ``budget``.
    """

    retries: int
    first: float
    factor: float = 2.0
    cap: float = math.inf
    jitter: float = 0.0
    max_hint: float = math.inf
    over_hint: Literal["cap", "give up"] = "cap"
    budget: float = math.inf

    def delay(self, retry: int, hint: float | None = None) -> float | None:
        """Seconds before the ``retry``-th retry (1-based), or None when the server's wait is too long."""
        if hint is not None:
            if hint > self.max_hint and self.over_hint == "give up":
                return None
            return max(0.0, min(hint, self.max_hint))
        wait = min(self.first * self.factor ** (retry - 1), self.cap)
        return wait * random.uniform(1 - self.jitter, 1 + self.jitter) if self.jitter else wait


@dataclass
class Tries:
    """Where one call stands: tries made so far and seconds waited; handed to ``gave_up``."""

    made: int = 0
    free: int = 0  # of them, retries that cost nothing (Transient.free)
    waited: float = 0.0


def call(
    fn: Callable[[], T],
    schedule: Schedule,
    transient: Callable[[Exception], Transient | None],
    *,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_retry: Callable[[Exception, float], None] | None = None,
    recheck: Callable[[Exception], T | None] | None = None,
    gave_up: Callable[[Exception, Tries], Exception] | None = None,
) -> T:
    """``fn()``, tried again after failures ``transient`` calls transient, per ``schedule``.

    A failure it calls final propagates at once. When the schedule is spent (tries, budget, a server's wait
    over the limit, or ``deadline`` on ``clock``), the last failure is raised, as ``gave_up`` rewrites it.
    ``on_retry(error, delay)`` runs before each wait; ``recheck(error)`` after it, and a result other than
    None ends the call with it (a write whose answer was lost may have landed after all). Neither is retried.
    """
    tries = Tries()
    while True:
        tries.made += 1
        try:
            return fn()
        except Exception as exc:
            verdict = transient(exc)
            if verdict is None:
                raise
            delay = _next_delay(schedule, tries, verdict, deadline, clock)
            if delay is None:
                final = gave_up(exc, tries) if gave_up is not None else exc
                if final is exc:
                    raise
                raise final from None
            if on_retry is not None:
                on_retry(exc, delay)
            if not verdict.free:
                sleep(delay)
                tries.waited += delay
            if recheck is not None:
                done = recheck(exc)
                if done is not None:
                    return done


def _next_delay(
    schedule: Schedule, tries: Tries, verdict: Transient, deadline: float | None, clock: Callable[[], float]
) -> float | None:
    if verdict.free:
        tries.free += 1
        return 0.0
    if 0 <= schedule.retries < tries.made - tries.free:
        return None
    delay = schedule.delay(tries.made - tries.free, verdict.wait)
    if delay is None or tries.waited + delay > schedule.budget:
        return None
    if deadline is not None and clock() + delay > deadline:
        return None
    return delay
