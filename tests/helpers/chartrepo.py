"""Real chart repositories on loopback for the remote-source tests: charts made and packaged with the real
``helm``, an ``index.yaml`` from ``helm repo index``, served over HTTP or HTTPS (a self-signed CA made with
openssl) with optional basic auth, every request recorded (path and whether it carried a credential).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.helpers.binaries import HELM, cached_binary
from tests.helpers.loopback import Loopback, answer, basic_auth_ok


def helm_binary() -> str:
    return str(cached_binary(HELM))


def run(argv: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stderr}"
    return proc.stdout


def make_chart(
    where: Path, name: str, version: str, *, value: str = "hello", extra_bytes: int = 0,
    dependencies: list[dict[str, str]] | None = None,
) -> Path:  # fmt: skip
    folder = where / f"{name}-{version}" / name
    (folder / "templates").mkdir(parents=True)
    chart = f"apiVersion: v2\nname: {name}\nversion: {version}\n"
    if dependencies:
        chart += "dependencies:\n" + "".join(
            f'  - name: {d["name"]}\n    version: "{d["version"]}"\n    repository: {d["repository"]}\n'
            for d in dependencies
        )
    (folder / "Chart.yaml").write_text(chart)
    (folder / "values.yaml").write_text(f"greeting: {value}\nreplicas: 1\n")
    (folder / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-" + name + "\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n  chart: {{ .Chart.Version | quote }}\n"
    )
    if extra_bytes:
        (folder / "files").mkdir()
        (folder / "files" / "blob.bin").write_bytes(os.urandom(extra_bytes))
    return folder


def package(chart: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    run([helm_binary(), "package", str(chart), "-d", str(out)])
    name = chart.name
    version = next(line.split(":", 1)[1].strip() for line in (chart / "Chart.yaml").read_text().splitlines()
                   if line.startswith("version:"))  # fmt: skip
    return out / f"{name}-{version}.tgz"


def index(folder: Path, url: str) -> None:
    run([helm_binary(), "repo", "index", str(folder), "--url", url])


def make_ca(where: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): (cert, key)."""
    where.mkdir(parents=True, exist_ok=True)
    cert, key = where / "cert.pem", where / "key.pem"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])  # fmt: skip
    return cert, key


@dataclass
class Seen:
    path: str
    authorization: str | None


@dataclass
class FileServer:
    """Serves ``root`` on 127.0.0.1; optional basic auth, TLS and a redirect hook; records every request."""

    root: Path
    auth: tuple[str, str] | None = None
    tls: tuple[Path, Path] | None = None
    host: str = "127.0.0.1"
    redirect: Callable[[str], str | None] | None = None
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @contextmanager
    def running(self) -> Iterator[FileServer]:
        server_ref = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                header = self.headers.get("Authorization")
                server_ref.seen.append(Seen(self.path, header))
                if server_ref.redirect is not None:
                    target = server_ref.redirect(self.path)
                    if target:
                        answer(self, 302, b"", {"Location": target})
                        return
                if server_ref.auth is not None and not basic_auth_ok(header, server_ref.auth):
                    answer(self, 401, b"unauthorized", {"WWW-Authenticate": 'Basic realm="charts"'})
                    return
                path = (server_ref.root / self.path.split("?", 1)[0].lstrip("/")).resolve()
                if not path.is_file() or server_ref.root.resolve() not in path.parents:
                    answer(self, 404, b"not found")
                    return
                answer(self, 200, path.read_bytes())

        with Loopback(Handler, host=self.host, tls=self.tls) as server:
            self.port = server.port
            yield self


def copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, dirs_exist_ok=True)
