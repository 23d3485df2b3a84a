"""What the GitHub and GitLab stand-ins share: a threaded HTTP server on 127.0.0.1 that records every request.

A stand-in subclasses ``RecordingServer`` and implements ``_route(handler, record) -> (status, headers,
payload)``; payloads are sent as JSON. ``fail_next`` queues canned answers a stand-in's router may return
first (rate limits, server errors).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, dict[str, str], Any]


@dataclass
class Recorded:
    method: str
    path: str  # without the query
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0


class RecordingServer:
    """Base of the stand-ins; subclasses are dataclasses providing ``requests``, ``_queue`` and ``_lock``."""

    requests: list[Recorded]
    _queue: list[Answer]
    _lock: threading.Lock
    json_content_type = "application/json"

    def start(self) -> Any:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                fake._serve(self)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(
        self, status: int, *, headers: dict[str, str] | None = None, body: Any = None, times: int = 1
    ) -> None:
        for _ in range(times):
            self._queue.append((status, headers or {}, body if body is not None else {"message": "canned"}))

    def calls(self, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if method is None or r.method == method]

    def _route(self, h: BaseHTTPRequestHandler, r: Recorded) -> Answer:
        raise NotImplementedError

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        record = Recorded(h.command, split.path, query, dict(h.headers.items()), body)
        with self._lock:
            self.requests.append(record)
            status, headers, payload = self._route(h, record)
        record.status = status
        data = b"" if payload is None else json.dumps(payload).encode()
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if data:
            h.send_header("Content-Type", self.json_content_type)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
