"""git's own ``git http-backend`` behind a small threaded HTTP server on 127.0.0.1, with optional basic auth;
records every request (path and whether it carried a credential)."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.helpers.chartrepo import Seen


@dataclass
class GitServer:
    root: Path  # holds <name>.git bare repositories
    auth: tuple[str, str] | None = None
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def publish(self, work: Path, name: str) -> str:
        """A bare copy of the repository at ``work`` (all branches and tags); returns its URL."""
        bare = self.root / f"{name}.git"
        if bare.exists():
            subprocess.run(
                ["git", "-C", str(work), "push", "--quiet", "--force", "--all", str(bare)], check=True
            )
            subprocess.run(
                ["git", "-C", str(work), "push", "--quiet", "--force", "--tags", str(bare)], check=True
            )
        else:
            subprocess.run(["git", "clone", "--quiet", "--bare", str(work), str(bare)], check=True)
        return f"{self.url}/{name}.git"

    @contextmanager
    def running(self) -> Iterator[GitServer]:
        server_ref = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._cgi()

            def do_POST(self) -> None:
                self._cgi()

            def _cgi(self) -> None:
                header = self.headers.get("Authorization")
                server_ref.seen.append(Seen(self.path, header))
                if server_ref.auth is not None:
                    wanted = base64.b64encode(":".join(server_ref.auth).encode()).decode()
                    scheme, _, credentials = (header or "").partition(" ")
                    if (
                        scheme.lower() != "basic" or credentials.strip() != wanted
                    ):  # the scheme is case-insensitive
                        self.send_response(401)
                        self.send_header("WWW-Authenticate", 'Basic realm="git"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(server_ref.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": "tester",
                    "REMOTE_ADDR": "127.0.0.1",
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                }
                proc = subprocess.run(
                    ["git", "http-backend"], input=body, capture_output=True, env=env, check=False
                )
                head, _, payload = proc.stdout.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode(errors="replace").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        httpd = Server(("127.0.0.1", 0), Handler)
        self.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()
