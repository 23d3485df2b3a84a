"""Credentials for remote sources, from the places the job already keeps them, each bound to a URL prefix.

Sources, first match by longest prefix wins:

* ``GITOPS_CHECK_CRED_<NAME>_URL`` with ``_USERNAME`` / ``_PASSWORD`` (or ``_TOKEN``, sent as a bearer token):
  the documented way, in the spirit of Argo CD's credential templates;
* Helm's ``repositories.yaml`` (``$HELM_REPOSITORY_CONFIG``, else ``~/.config/helm/repositories.yaml``);
* registry logins: Helm's ``registry/config.json`` (``$HELM_REGISTRY_CONFIG``) and Docker's ``config.json``
  (``$DOCKER_CONFIG``, else ``~/.docker/config.json``), ``auths`` entries only (no credential helpers);
* ``~/.netrc`` (``$NETRC``), per host.

A credential only applies to a URL with the same scheme class, host and port whose path starts with the
credential's path: never to another host, so never on a redirect to one. Its value is never shown; messages
name it by where it came from (``GITOPS_CHECK_CRED_CHARTS``, ``helm repositories.yaml entry stable``).
"""

from __future__ import annotations

import base64
import json
import netrc
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gitops_check import yamlio
from gitops_check.errors import GitopsCheckError

_ENV_NAME = re.compile(r"^GITOPS_CHECK_CRED_([A-Z0-9_]+)_URL$")


@dataclass(frozen=True)
class Credential:
    label: str  # where it came from, safe to print
    host: str
    port: int | None
    path: str  # prefix, "/" for the whole host
    username: str | None = None
    password: str | None = None
    token: str | None = None
    scheme: str | None = None  # http/https when the prefix named one; None: any (registry logins, netrc)

    def __repr__(self) -> str:
        return f"Credential({self.label!r})"

    def header(self) -> str:
        if self.token is not None:
            return f"Bearer {self.token}"
        raw = f"{self.username or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def applies(self, url: str) -> bool:
        host, port, path = _split(url)
        scheme = url.split("://", 1)[0].lower() if "://" in url else None
        return (
            host == self.host
            and (self.scheme is None or scheme in (None, "oci") or scheme == self.scheme)
            and (self.port is None or port == self.port)
            and (
                self.path == "/"
                or path == self.path.rstrip("/")
                or path.startswith(self.path.rstrip("/") + "/")
            )
        )


def _split(url: str) -> tuple[str, int | None, str]:
    """(host, port, path); the scheme's default port when none is written (oci and bare hosts: https)."""
    text = url if "://" in url else "https://" + url
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 80 if parts.scheme.lower() == "http" else 443
    return (parts.hostname or "").lower(), port, parts.path or "/"


def _make(label: str, url: str, **values: str | None) -> Credential | None:
    scheme = url.split("://", 1)[0].lower() if "://" in url else None
    host, port, path = _split(url.removeprefix("oci://"))
    if not host:
        return None
    return Credential(
        label, host, port, path or "/", **values, scheme=scheme if scheme in ("http", "https") else None
    )


class Credentials:
    """All credentials the job provides; ``for_url`` picks the one bound to a URL."""

    def __init__(self, entries: list[Credential]):
        self.entries = entries

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Credentials:
        env = dict(os.environ if environ is None else environ)
        entries = _from_env(env)
        entries += _from_helm_repositories(env)
        for path in _registry_configs(env):
            entries += _from_docker_config(path)
        entries += _from_netrc(env)
        return cls(entries)

    def for_url(self, url: str) -> Credential | None:
        matching = [c for c in self.entries if c.applies(url)]
        if not matching:
            return None
        return max(matching, key=lambda c: len(c.path))


def _from_env(env: dict[str, str]) -> list[Credential]:
    out = []
    for key in sorted(env):
        m = _ENV_NAME.match(key)
        if not m:
            continue
        name = m.group(1)
        found = _make(
            f"GITOPS_CHECK_CRED_{name}",
            env[key],
            username=env.get(f"GITOPS_CHECK_CRED_{name}_USERNAME"),
            password=env.get(f"GITOPS_CHECK_CRED_{name}_PASSWORD"),
            token=env.get(f"GITOPS_CHECK_CRED_{name}_TOKEN"),
        )
        if found:
            out.append(found)
    return out


def _home(env: dict[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def _from_helm_repositories(env: dict[str, str]) -> list[Credential]:
    path = Path(env.get("HELM_REPOSITORY_CONFIG") or _home(env) / ".config/helm/repositories.yaml")
    try:
        data = yamlio.load_one(path.read_bytes(), str(path))
    except (OSError, GitopsCheckError):
        return []
    out = []
    for entry in (data or {}).get("repositories") or [] if isinstance(data, dict) else []:
        if not isinstance(entry, dict) or not entry.get("url") or not entry.get("username"):
            continue
        found = _make(
            f"helm repositories.yaml entry {entry.get('name') or entry['url']}",
            str(entry["url"]),
            username=str(entry["username"]),
            password=str(entry.get("password") or ""),
        )
        if found:
            out.append(found)
    return out


def _registry_configs(env: dict[str, str]) -> list[Path]:
    helm = Path(env.get("HELM_REGISTRY_CONFIG") or _home(env) / ".config/helm/registry/config.json")
    docker = Path(env.get("DOCKER_CONFIG") or _home(env) / ".docker") / "config.json"
    return [helm, docker]


def _from_docker_config(path: Path) -> list[Credential]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    auths = data.get("auths") if isinstance(data, dict) else None
    out = []
    for registry, entry in (auths or {}).items() if isinstance(auths, dict) else ():
        if not isinstance(entry, dict):
            continue
        username, password = entry.get("username"), entry.get("password")
        if entry.get("auth"):
            try:
                username, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
        token = entry.get("registrytoken") or None
        if not (username or token):
            continue
        host = str(registry)
        if host in ("https://index.docker.io/v1/", "index.docker.io", "docker.io"):
            host = "registry-1.docker.io"
        found = _make(f"registry login for {host} in {path}", host, username=username, password=password)
        if found is None:
            continue
        if token:
            out.append(Credential(found.label, found.host, found.port, "/", token=str(token)))
        else:
            out.append(Credential(found.label, found.host, found.port, "/", found.username, found.password))
    return out


def _from_netrc(env: dict[str, str]) -> list[Credential]:
    path = Path(env.get("NETRC") or _home(env) / ".netrc")
    if not path.is_file():
        return []
    try:
        parsed = netrc.netrc(str(path))
    except (OSError, netrc.NetrcParseError):
        return []
    out = []
    for host, (login, _account, password) in parsed.hosts.items():
        if host == "default":
            continue  # a catch-all would send the password to any host
        out.append(Credential(f"~/.netrc entry for {host}", host.lower(), None, "/", login, password or ""))
    return out
