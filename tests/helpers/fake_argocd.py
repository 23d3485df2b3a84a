"""A local stand-in for Argo CD's REST API (HTTPS on 127.0.0.1), following the documented endpoints.

Serves ``GET /api/v1/applications/{name}`` and ``POST /api/v1/applications/{name}/sync`` like the API server:
``Authorization: Bearer <token>`` checked on every request (401 with Argo CD's error JSON otherwise), 403
"permission denied" for an unknown app (what Argo CD answers), 400 when another operation is in progress, and
the operation built as the API server builds it (the app's sync options and retry policy filled in, the
initiator the token's account). Every request is recorded, so tests assert the exact calls.

After a sync each app moves through its ``script``: one step per later GET, each a function that changes the
Application as the controller would (``running``, ``succeeded``, ``failed``, ``degraded``). ``fail_next``
answers the next requests with error statuses (transient-failure tests); ``quote_token`` makes error bodies
repeat the Authorization header, as a careless proxy might, to prove the client scrubs it.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

Step = Callable[[dict[str, Any]], None]
ACCOUNT = "ci-bot"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for IP 127.0.0.1 (openssl CLI); returns (cert, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl CLI is needed to make the fake Argo CD's certificate")
    cert, key = directory / "argocd.crt", directory / "argocd.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=fake-argocd", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


# ------------------------------------------------------------------------------------------ controller steps


def running(message: str = "syncing") -> Step:
    def step(app: dict[str, Any]) -> None:
        op = app.get("operation") or app["status"].get("operationState", {}).get("operation")
        app["status"]["operationState"] = {
            "operation": op,
            "phase": "Running",
            "message": message,
            "startedAt": now(),
        }

    return step


def _finish(app: dict[str, Any], phase: str, message: str) -> None:
    state = app["status"].setdefault("operationState", {})
    if "startedAt" not in state:
        running()(app)
        state = app["status"]["operationState"]
    state.update({"phase": phase, "message": message, "finishedAt": now()})
    app.pop("operation", None)


def succeeded(message: str = "successfully synced (all tasks run)") -> Step:
    def step(app: dict[str, Any]) -> None:
        _finish(app, "Succeeded", message)
        revision = (app["status"]["operationState"]["operation"] or {}).get("sync", {}).get("revision")
        app["status"]["sync"] = {"status": "Synced", "revision": revision or "HEAD"}
        app["status"]["health"] = {"status": "Healthy"}
        app["status"]["reconciledAt"] = now()

    return step


def failed(message: str, resource_message: str | None = None) -> Step:
    def step(app: dict[str, Any]) -> None:
        _finish(app, "Failed", message)
        if resource_message:
            app["status"]["operationState"]["syncResult"] = {
                "resources": [
                    {"kind": "Deployment", "namespace": "shop", "name": "web", "status": "SyncFailed",
                     "message": resource_message}
                ]
            }  # fmt: skip

    return step


def degraded(message: str) -> Step:
    def step(app: dict[str, Any]) -> None:
        _finish(app, "Succeeded", "successfully synced (all tasks run)")
        app["status"]["sync"] = {"status": "Synced"}
        app["status"]["health"] = {"status": "Degraded", "message": message}
        app["status"]["reconciledAt"] = now()

    return step


def nothing() -> Step:
    def step(app: dict[str, Any]) -> None:
        pass

    return step


# ------------------------------------------------------------------------------------------------- server


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeArgoCD:
    token: str
    cert: Path
    key: Path
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    scripts: dict[str, list[Step]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    quote_token: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def add_app(
        self,
        name: str,
        *,
        namespace: str = "argocd",
        script: list[Step] | None = None,
        spec: dict[str, Any] | None = None,
        status: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        app = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1"},
            "spec": spec or {"project": "default", "source": {"repoURL": "https://git.example/x", "path": name,
                                                               "targetRevision": "HEAD"}},
            "status": status or {"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}},
        }  # fmt: skip
        self.apps[name] = app
        self.scripts[name] = list(script if script is not None else [running(), succeeded()])
        return app

    def calls(self, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if method is None or r.method == method]

    # -- lifecycle

    def start(self) -> FakeArgoCD:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert), str(self.key))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True, name="fake-argocd").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- request handling

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, handler: BaseHTTPRequestHandler, status: int, code: int, message: str) -> None:
        if self.quote_token:
            message += f" (request header Authorization: {handler.headers.get('Authorization', '')})"
        self._reply(handler, status, {"error": message, "code": code, "message": message})

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append(
                Recorded(
                    method, url.path, urllib.parse.parse_qs(url.query), dict(handler.headers.items()), body
                )
            )
            if self.fail_next:
                status = self.fail_next.pop(0)
                return self._error(handler, status, 14, "upstream connect error")
            if handler.headers.get("Authorization") != f"Bearer {self.token}":
                return self._error(handler, 401, 16, "invalid session: token signature is invalid")
            parts = url.path.strip("/").split("/")
            if parts[:3] != ["api", "v1", "applications"] or len(parts) not in (4, 5):
                return self._error(handler, 404, 5, "Not Found")
            app = self.apps.get(parts[3])
            if app is None:
                return self._error(handler, 403, 7, "permission denied")
            if method == "GET" and len(parts) == 4:
                if app.get("_synced") and self.scripts[parts[3]]:
                    self.scripts[parts[3]].pop(0)(app)
                return self._reply(handler, 200, {k: v for k, v in app.items() if not k.startswith("_")})
            if method == "POST" and len(parts) == 5 and parts[4] == "sync":
                return self._sync(handler, app, body or {})
            return self._error(handler, 405, 12, "method not allowed")

    def _sync(self, handler: BaseHTTPRequestHandler, app: dict[str, Any], body: dict[str, Any]) -> None:
        if app.get("operation"):
            return self._error(handler, 400, 9, "another operation is already in progress")
        policy = app["spec"].get("syncPolicy") or {}
        options = (body.get("syncOptions") or {}).get("items") or policy.get("syncOptions")
        sync = {k: body[k] for k in ("revision", "prune", "dryRun", "resources") if k in body}
        if body.get("strategy"):
            sync["syncStrategy"] = body["strategy"]
        if options:
            sync["syncOptions"] = options
        app["operation"] = {"sync": sync, "initiatedBy": {"username": ACCOUNT}}
        if policy.get("retry"):
            app["operation"]["retry"] = policy["retry"]
        app["_synced"] = True
        self._reply(handler, 200, {k: v for k, v in app.items() if not k.startswith("_")})


@pytest.fixture(scope="session")
def argocd_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("fake-argocd"))


@pytest.fixture
def fake_argocd(argocd_certificate: tuple[Path, Path]) -> Any:
    cert, key = argocd_certificate
    fake = FakeArgoCD(token="argocd-token-" + "5f3a9c2e7b1d4e8f", cert=cert, key=key).start()
    try:
        yield fake
    finally:
        fake.stop()
