"""The one Retry-After reader (issue 16): seconds or an HTTP date, from every client that waits for a server."""

from __future__ import annotations

import email.utils
import http.server
import threading
from collections.abc import Iterator

import pytest

from gitops_check import backoff
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
    """Argo CD's API answering 429 with an HTTP-date Retry-After (the form the old parser ignored)."""

    def do_GET(self) -> None:
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
