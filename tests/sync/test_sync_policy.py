"""Durations and retries: parsing, backoff arithmetic, an Application's retry policy, and the retry loop."""

from __future__ import annotations

import pytest

from gitops_check.errors import ConfigError, GitopsCheckError
from gitops_check.sync.policy import RetryPolicy, format_duration, parse_duration, retrying


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("90s", 90), ("1h30m", 5400), ("250ms", 0.25), ("2", 2), ("1.5s", 1.5), (3, 3)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "5 m", "-1s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        parse_duration(text, "--timeout")


def test_format_duration() -> None:
    assert (format_duration(300), format_duration(42), format_duration(0.25)) == ("5m0s", "42s", "250ms")


def test_default_policy_mirrors_argocd() -> None:
    policy = RetryPolicy()
    assert [policy.delay(n) for n in (1, 2, 3)] == [5, 10, 20]
    assert policy.delay(10) == 180
    assert policy.delay(1, retry_after=7) == 7
    assert policy.delay(1, retry_after=999) == 180


def test_policy_from_application() -> None:
    policy = RetryPolicy.from_argocd(
        {"limit": 5, "backoff": {"duration": "2s", "factor": 3, "maxDuration": "1m"}}, "shop"
    )
    assert (policy.limit, policy.backoff, policy.factor, policy.max_backoff) == (5, 2, 3, 60)
    assert policy.source == "Application shop"
    assert RetryPolicy.from_argocd({"limit": 1}, "x").backoff == 5
    with pytest.raises(ConfigError, match=r"Application x: spec\.syncPolicy\.retry"):
        RetryPolicy.from_argocd({"limit": "many"}, "x")


class Flaky(GitopsCheckError):
    def __init__(self, transient: bool = True) -> None:
        super().__init__("HTTP 503 from the server")
        self.transient = transient
        self.retry_after: float | None = None


def test_retrying_retries_transient_errors_with_backoff() -> None:
    calls, slept = [], []

    def fn() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Flaky()
        return "ok"

    assert retrying(fn, RetryPolicy(limit=3, backoff=1), sleep=slept.append) == "ok"
    assert slept == [1, 2]


def test_retrying_gives_up_after_the_limit_and_says_so() -> None:
    slept: list[float] = []

    def fn() -> str:
        raise Flaky()

    with pytest.raises(Flaky, match=r"gave up after 3 attempts"):
        retrying(fn, RetryPolicy(limit=2, backoff=1), sleep=slept.append)
    assert slept == [1, 2]


def test_retrying_does_not_retry_other_errors_or_past_the_deadline() -> None:
    slept: list[float] = []

    def permanent() -> str:
        raise Flaky(transient=False)

    with pytest.raises(Flaky):
        retrying(permanent, RetryPolicy(), sleep=slept.append)
    assert slept == []

    def transient() -> str:
        raise Flaky()

    with pytest.raises(Flaky):
        retrying(transient, RetryPolicy(backoff=10), sleep=slept.append, deadline=5.0, clock=lambda: 0.0)
    assert slept == []
