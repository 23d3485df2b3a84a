"""git's own ``git http-backend`` on 127.0.0.1 (tests/helpers/loopback.py), with optional basic auth; records
every request (path and whether it carried a credential)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.helpers.chartrepo import Seen
from tests.helpers.loopback import Loopback, answer, basic_auth_ok, git_backend


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
                if server_ref.auth is not None and not basic_auth_ok(header, server_ref.auth):
                    answer(self, 401, b"", {"WWW-Authenticate": 'Basic realm="git"'})
                    return
                git_backend(self, server_ref.root, user="tester")

        with Loopback(Handler) as server:
            self.port = server.port
            yield self
