"""The small base of the test HTTP servers on loopback (chart repositories, git over HTTP).

``Loopback`` runs a threaded HTTP server on 127.0.0.1 (HTTPS with a certificate pair) in a daemon thread; ``git_backend`` answers one request with git's own ``git http-backend`` (smart
HTTP, protocol v2), as a real git host does; ``basic_auth_ok`` checks a basic-auth header.
"""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Mapping
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up on purpose (a size limit, a refused redirect) is not a test failure


class Loopback:
    """``handler`` served on ``host`` at a free port (bound at once: ``port`` is known before ``start``), in a
    daemon thread from ``start`` to ``stop``, or for the length of a ``with`` block."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        host: str = "127.0.0.1",
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.httpd = _Quiet((host, 0), handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, daemon=True, name=f"loopback-{handler.__name__}"
        )

    def start(self) -> Loopback:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Loopback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def basic_auth_ok(header: str | None, auth: tuple[str, str]) -> bool:
    """``header`` (an Authorization header) carries exactly ``auth``; the scheme is case-insensitive."""
    scheme, _, credentials = (header or "").partition(" ")
    return (
        scheme.lower() == "basic"
        and credentials.strip() == base64.b64encode(":".join(auth).encode()).decode()
    )


def answer(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: Mapping[str, str] = {}
) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@cache
def _backend() -> str:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout
    return str(Path(exec_path.strip()) / "git-http-backend")


def git_backend(handler: BaseHTTPRequestHandler, root: Path, *, user: str = "test") -> None:
    """Answer ``handler``'s request with ``git http-backend`` serving every repository under ``root``.

    ``REMOTE_USER`` is set, so pushes are allowed; the user's and the system's git configuration are not read.
    """
    parts = urllib.parse.urlsplit(handler.path)
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else b""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "REMOTE_USER": user,
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": handler.command,
        "PATH_INFO": urllib.parse.unquote(parts.path),
        "QUERY_STRING": parts.query,
        "CONTENT_TYPE": handler.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
    }
    if handler.headers.get("Git-Protocol"):
        env["GIT_PROTOCOL"] = handler.headers["Git-Protocol"]
    if handler.headers.get("Content-Encoding"):
        env["HTTP_CONTENT_ENCODING"] = handler.headers["Content-Encoding"]
    proc = subprocess.run([_backend()], input=body, env=env, capture_output=True, check=False)
    head, found, payload = proc.stdout.partition(b"\r\n\r\n")
    if not found and b"\n\n" in proc.stdout:
        head, _, payload = proc.stdout.partition(b"\n\n")
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers[name] = value.strip()
    answer(handler, status, payload, headers)
