"""The real OCI distribution registry (built by scripts/tools.py into the tool cache) on 127.0.0.1, over HTTPS
with a self-signed certificate, optionally with htpasswd basic auth; and pushing a Flux artifact the way
``flux push artifact`` lays it out (a config blob and one tar.gz layer, OCI manifest).
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import subprocess
import tarfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.helpers.binaries import cached_binary
from tests.helpers.chartrepo import make_ca

REGISTRY = "registry-v3.1.2"
FLUX_CONFIG = "application/vnd.cncf.flux.config.v1+json"
FLUX_LAYER = "application/vnd.cncf.flux.content.v1.tar+gzip"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    cert: Path
    auth: tuple[str, str] | None

    def session(self) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.cert)
        if self.auth:
            session.auth = self.auth
        return session

    def push_artifact(self, repo: str, tag: str, files: dict[str, str]) -> str:
        """Push files as a Flux artifact; returns the manifest digest."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name, text in sorted(files.items()):
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        layer = buf.getvalue()
        config = b"{}"
        s = self.session()
        for blob in (config, layer):
            self._upload(s, repo, blob)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": FLUX_CONFIG,
            "config": {"mediaType": FLUX_CONFIG, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": FLUX_LAYER, "digest": _digest(layer), "size": len(layer)}],
            "annotations": {
                "org.opencontainers.image.source": "test",
                "org.opencontainers.image.revision": tag,
            },
        }
        body = json.dumps(manifest).encode()
        r = s.put(f"https://{self.host}/v2/{repo}/manifests/{tag}", data=body,
                  headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, verify=str(self.cert))  # fmt: skip
        r.raise_for_status()
        return _digest(body)

    def _upload(self, s: requests.Session, repo: str, blob: bytes) -> None:
        r = s.post(f"https://{self.host}/v2/{repo}/blobs/uploads/", verify=str(self.cert))
        r.raise_for_status()
        location = r.headers["Location"]
        if location.startswith("/"):
            location = f"https://{self.host}{location}"
        sep = "&" if "?" in location else "?"
        r = s.put(f"{location}{sep}digest={_digest(blob)}", data=blob,
                  headers={"Content-Type": "application/octet-stream"}, verify=str(self.cert))  # fmt: skip
        r.raise_for_status()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@contextmanager
def running_registry(where: Path, *, auth: tuple[str, str] | None = None) -> Iterator[Registry]:
    binary = cached_binary(REGISTRY)
    cert, key = make_ca(where / "tls")
    port = _free_port()
    lines = [
        "version: 0.1",
        "log: {level: error}",
        f"storage: {{filesystem: {{rootdirectory: {where / 'data'}}}}}",
        f"http: {{addr: '127.0.0.1:{port}', tls: {{certificate: {cert}, key: {key}}}}}",
    ]
    if auth:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt

            hashed = crypt.crypt(auth[1], crypt.mksalt(crypt.METHOD_BLOWFISH))
        (where / "htpasswd").write_text(f"{auth[0]}:{hashed}\n")
        lines.append(f"auth: {{htpasswd: {{realm: basic-realm, path: {where / 'htpasswd'}}}}}")
    config = where / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = (where / "registry.log").open("w")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"https://127.0.0.1:{port}/v2/", verify=str(cert), timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(
                        "the registry did not start: " + (where / "registry.log").read_text()
                    ) from None
                time.sleep(0.1)
        yield Registry(f"127.0.0.1:{port}", cert, auth)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
