"""A local HTTP proxy in front of the test kube-apiserver that injects faults, for the live-reader fault tests.

It listens on 127.0.0.1 (plain HTTP) and forwards every request to the real API server over verified TLS, adding
the bearer token. Rules decide, per request, whether to answer with an error instead (500, 429 with
``Retry-After``...), or to drop the connection without answering. Every request is recorded, so tests can
assert on the exact sequence (the retries included).

    with FaultProxy(kube_cluster) as proxy:
        proxy.fail(r"/configmaps", status=500, times=2)
        proxy.kubeconfig(tmp_path / "k.yaml")   # a kubeconfig pointing at the proxy
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.cluster import TestCluster


@dataclass
class Rule:
    pattern: re.Pattern[str]
    method: str | None
    status: int  # 0: drop the connection
    times: int | None  # None: always
    retry_after: str | None = None
    hits: int = 0


@dataclass
class Seen:
    method: str
    path: str
    status: int  # what the client got (0: dropped)


@dataclass
class FaultProxy:
    cluster: TestCluster
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ssl = ssl.create_default_context(cafile=str(self.cluster.ca_file))
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, pattern: str, *, status: int, times: int | None = None, method: str | None = None,
             retry_after: str | None = None) -> Rule:  # fmt: skip
        rule = Rule(re.compile(pattern), method, status, times, retry_after)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def kubeconfig(self, path: Path, user: str = "admin") -> str:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": self.url}}],
            "users": [{"name": user, "user": {"token": self.cluster.token(user)}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": user}}],
            "current-context": "proxy",
        }
        path.write_text(yaml.safe_dump(config))
        return str(path)

    def _rule_for(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.method and rule.method != method:
                    continue
                if not rule.pattern.search(path):
                    continue
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                rule.hits += 1
                return rule
        return None

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.seen.append(Seen(method, path, status))

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        rule = self._rule_for(h.command, h.path)
        if rule is not None and rule.status == 0:
            self._record(h.command, h.path, 0)
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if rule is not None:
            self._record(h.command, h.path, rule.status)
            payload = (
                b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected fault","code":%d}'
                % rule.status
            )
            h.send_response(rule.status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            if rule.retry_after is not None:
                h.send_header("Retry-After", rule.retry_after)
            h.end_headers()
            h.wfile.write(payload)
            return
        conn = http.client.HTTPSConnection("127.0.0.1", self.cluster.port, context=self._ssl, timeout=30)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(h.command, h.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError:
            self._record(h.command, h.path, 0)
            h.close_connection = True
            return
        finally:
            conn.close()
        self._record(h.command, h.path, resp.status)
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
