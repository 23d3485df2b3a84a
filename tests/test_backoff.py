"""The one retry loop and Retry-After reader (issue 16): the loop's rules, and HTTP dates honoured by every client
that waits for a server."""

from __future__ import annotations

import email.utils
import http.server
import threading
from collections.abc import Iterator

import pytest

from gitops_check import backoff
from gitops_check.errors import FetchError
from gitops_check.remote.http import Fetcher
from gitops_check.remote.policy import NetworkPolicy
from gitops_check.sync.argocd_api import ArgoApiError, ArgoCDClient

NOW = 1_800_000_000.0


def test_seconds_and_http_dates() -> None:
    assert backoff.retry_after_seconds("120", lambda: NOW) == 120
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert backoff.retry_after_seconds(date, lambda: NOW) == pytest.approx(30)
    assert backoff.retry_after_seconds(email.utils.formatdate(NOW - 30, usegmt=True), lambda: NOW) == 0


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "-5", "1.5", "Mon, 99 Foo 2026"])
def test_anything_else_is_no_hint(value: str | None) -> None:
    assert backoff.retry_after_seconds(value) is None


def test_header_from_any_headers_object() -> None:
    assert backoff.header({"Retry-After": "3"}) == "3"
    assert backoff.header(None) is None
    assert backoff.header(object()) is None


class _Busy(http.server.BaseHTTPRequestHandler):
    """A server answering 429 with an HTTP-date Retry-After (the form the old parsers ignored)."""

    def do_GET(self) -> None:
        self.server.hits += 1  # type: ignore[attr-defined]
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Retry-After", email.utils.formatdate(self.server.retry_at, usegmt=True))  # type: ignore[attr-defined]
        body = b'{"message": "too many requests"}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Busy)
    server.hits = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_argocd_client_reads_an_http_date(busy_server: http.server.HTTPServer) -> None:
    import time

    busy_server.retry_at = time.time() + 60  # type: ignore[attr-defined]
    client = ArgoCDClient(f"http://127.0.0.1:{busy_server.server_port}", "token")
    with pytest.raises(ArgoApiError) as caught:
        client.get_application("shop")
    assert caught.value.transient
    assert caught.value.retry_after is not None and 50 < caught.value.retry_after <= 60


def test_the_chart_fetcher_reads_an_http_date_and_caps_it(busy_server: http.server.HTTPServer) -> None:
    import time

    busy_server.retry_at = time.time() + 5  # type: ignore[attr-defined]
    slept: list[float] = []
    fetcher = Fetcher(NetworkPolicy(allow_hosts=("127.0.0.1",), retries=2), sleep=slept.append)
    with pytest.raises(FetchError, match="HTTP 429"):
        fetcher.get(f"http://127.0.0.1:{busy_server.server_port}/index.yaml", what="reading the index")
    assert busy_server.hits == 3  # type: ignore[attr-defined]
    assert len(slept) == 2 and all(3 < s <= 5 for s in slept), slept
    busy_server.retry_at = time.time() + 3600  # type: ignore[attr-defined]
    slept.clear()
    with pytest.raises(FetchError):
        fetcher.get(f"http://127.0.0.1:{busy_server.server_port}/index.yaml", what="reading the index")
    assert slept == [10.0, 10.0]  # remote.http.MAX_RETRY_AFTER


# --------------------------------------------------------------------------------------------- the loop


class Flaky(Exception):
    def __init__(self, wait: float | None = None):
        super().__init__("flaky")
        self.wait = wait


def _failing(times: int, *, wait: float | None = None, result: str = "ok") -> tuple[list[int], object]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise Flaky(wait)
        return result

    return calls, fn


def _verdict(error: Exception) -> backoff.Transient | None:
    return backoff.Transient(error.wait) if isinstance(error, Flaky) else None


def test_transient_failures_are_retried_with_capped_exponential_backoff() -> None:
    calls, fn = _failing(4)
    slept: list[float] = []
    schedule = backoff.Schedule(retries=5, first=1.0, cap=3.0)
    assert backoff.call(fn, schedule, _verdict, sleep=slept.append) == "ok"  # type: ignore[arg-type]
    assert slept == [1.0, 2.0, 3.0, 3.0] and len(calls) == 5


def test_a_final_failure_propagates_at_once() -> None:
    slept: list[float] = []

    def fn() -> str:
        raise ValueError("no")

    with pytest.raises(ValueError):
        backoff.call(fn, backoff.Schedule(retries=3, first=1.0), _verdict, sleep=slept.append)
    assert slept == []


def test_giving_up_after_the_retries_raises_what_gave_up_makes_of_the_last_failure() -> None:
    calls, fn = _failing(10)
    seen: list[backoff.Tries] = []

    def gave_up(error: Exception, tries: backoff.Tries) -> Exception:
        seen.append(tries)
        return RuntimeError(f"gave up after {tries.made}")

    with pytest.raises(RuntimeError, match="gave up after 3"):
        backoff.call(
            fn, backoff.Schedule(retries=2, first=0.5), _verdict, sleep=lambda _: None, gave_up=gave_up
        )  # type: ignore[arg-type]
    assert len(calls) == 3 and seen[0].waited == 1.5


def test_a_server_wait_is_honoured_up_to_its_limit_then_capped_or_refused() -> None:
    slept: list[float] = []
    capped = backoff.Schedule(retries=3, first=1.0, max_hint=30.0)
    _, fn = _failing(2, wait=90.0)
    backoff.call(fn, capped, _verdict, sleep=slept.append)  # type: ignore[arg-type]
    assert slept == [30.0, 30.0]
    refused = backoff.Schedule(retries=3, first=1.0, max_hint=30.0, over_hint="give up")
    calls, fn = _failing(2, wait=90.0)
    with pytest.raises(Flaky):
        backoff.call(fn, refused, _verdict, sleep=slept.append)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_all_waits_stay_within_the_budget_and_the_deadline() -> None:
    slept: list[float] = []
    calls, fn = _failing(10, wait=4.0)
    with pytest.raises(Flaky):
        backoff.call(fn, backoff.Schedule(retries=-1, first=1.0, budget=10.0), _verdict, sleep=slept.append)  # type: ignore[arg-type]
    assert slept == [4.0, 4.0] and len(calls) == 3
    now = [100.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    calls, fn = _failing(10)
    with pytest.raises(Flaky):
        backoff.call(fn, backoff.Schedule(retries=-1, first=2.0, factor=1.0), _verdict, sleep=sleep,  # type: ignore[arg-type]
                     clock=lambda: now[0], deadline=105.0)  # fmt: skip
    assert now[0] == 104.0 and len(calls) == 3


def test_jitter_stays_within_its_fraction() -> None:
    schedule = backoff.Schedule(retries=3, first=10.0, jitter=0.2)
    waits = [schedule.delay(1) for _ in range(200)]
    assert all(8.0 <= w <= 12.0 for w in waits) and len(set(waits)) > 1
    assert schedule.delay(1, hint=5.0) == 5.0  # a server's wait is not jittered


def test_free_retries_neither_count_nor_wait_and_recheck_can_end_the_call() -> None:
    conflicts = 0

    def verdict(error: Exception) -> backoff.Transient | None:
        nonlocal conflicts
        if isinstance(error, KeyError) and conflicts < 3:
            conflicts += 1
            return backoff.Transient(free=True)
        return _verdict(error)

    errors = [KeyError("conflict"), KeyError("conflict"), Flaky(), KeyError("conflict")]

    def fn() -> str:
        if errors:
            raise errors.pop(0)
        return "written"

    slept: list[float] = []
    rechecked: list[str] = []

    def recheck(error: Exception) -> str | None:
        rechecked.append(type(error).__name__)
        return None

    schedule = backoff.Schedule(retries=1, first=1.0)
    assert backoff.call(fn, schedule, verdict, sleep=slept.append, recheck=recheck) == "written"
    assert slept == [1.0] and rechecked == ["KeyError", "KeyError", "Flaky", "KeyError"]
    errors[:] = [Flaky()]
    assert backoff.call(fn, schedule, _verdict, sleep=slept.append, recheck=lambda _: "landed") == "landed"
