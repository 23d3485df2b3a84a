"""A git server on loopback: ``git http-backend`` (smart HTTP, protocol v2) behind a threaded HTTP server
(tests/helpers/loopback.py).

Serves every repository under ``root`` as ``http://127.0.0.1:<port>/<name>`` (no auth; pushes are allowed
because ``REMOTE_USER`` is set). Argo CD's repo-server clones from it exactly as from a real git host.

    with GitServer(root) as server:
        url = server.url("apps")   # root/apps (a bare or a working repository)
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.helpers.loopback import Loopback, git_backend


class GitServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                server.requests.append(f"{self.command} {self.path}")

            def do_GET(self) -> None:
                git_backend(self, server.root)

            def do_POST(self) -> None:
                git_backend(self, server.root)

        self._loopback = Loopback(Handler)
        self.port = self._loopback.port

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def start(self) -> GitServer:
        self._loopback.start()
        return self

    def stop(self) -> None:
        self._loopback.stop()

    def __enter__(self) -> GitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
