"""kubeconfig files read the way kubectl reads them, without importing the kubernetes client (~0.2 s).

* Which files: ``--kubeconfig``, else every existing file of ``$KUBECONFIG`` (``:``-separated), else
  ``~/.kube/config``. Merged as kubectl merges: the first file that names a cluster, user or context wins, and
  the first file that sets ``current-context``.
* What a context gives: the cluster's ``server``, ``certificate-authority(-data)``, ``insecure-skip-tls-verify``,
  ``tls-server-name`` and ``proxy-url``; the user's ``token``, ``tokenFile``, ``client-certificate(-data)`` /
  ``client-key(-data)``, ``username``/``password`` or ``exec`` plugin. Relative paths are relative to the file
  that defined the entry. Legacy ``auth-provider`` entries (removed from kubectl in 1.26) are refused with
  the exec plugin that replaces them.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitops_check.errors import ClusterError


@dataclass
class Entry:
    """A named cluster, user or context, with the folder of the file that defined it (for relative paths)."""

    name: str
    body: Mapping[str, Any]
    base: Path


@dataclass
class KubeConfig:
    paths: list[str]
    clusters: dict[str, Entry] = field(default_factory=dict)
    users: dict[str, Entry] = field(default_factory=dict)
    contexts: dict[str, Entry] = field(default_factory=dict)
    current_context: str | None = None

    @property
    def where(self) -> str:
        return os.pathsep.join(self.paths)


def find(kubeconfig: str | None, environ: Mapping[str, str]) -> list[str] | None:
    """The files kubectl would read; None when there are none (then in-cluster credentials may apply)."""
    if kubeconfig:
        path = Path(kubeconfig).expanduser()
        if not path.is_file():
            raise ClusterError(f"kubeconfig {kubeconfig} does not exist")
        return [str(path)]
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        existing = [str(Path(p).expanduser()) for p in listed if Path(p).expanduser().is_file()]
        if not existing:
            raise ClusterError(f"none of the files in KUBECONFIG exist ({environ['KUBECONFIG']})")
        return existing
    home = Path(environ.get("HOME") or str(Path.home())) / ".kube" / "config"
    return [str(home)] if home.is_file() else None


def read(paths: list[str]) -> KubeConfig:
    config = KubeConfig(paths)
    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ClusterError(f"cannot read the kubeconfig {path}: {type(e).__name__}") from None
        if not isinstance(data, dict):
            raise ClusterError(f"the kubeconfig {path} is not a mapping")
        base = Path(path).resolve().parent
        for section, target, inner in (("clusters", config.clusters, "cluster"), ("users", config.users, "user"),
                                       ("contexts", config.contexts, "context")):  # fmt: skip
            for item in data.get(section) or ():
                if isinstance(item, dict) and item.get("name") and str(item["name"]) not in target:
                    target[str(item["name"])] = Entry(str(item["name"]), item.get(inner) or {}, base)
        if not config.current_context and data.get("current-context"):
            config.current_context = str(data["current-context"])
    return config


def context_servers(kubeconfig: str | None, context: str | None, environ: Mapping[str, str]) -> KubeServers:
    """Server URL -> context for every context of the kubeconfig kubectl would read, and the selected one's URL.

    Lets an Argo CD destination given by URL (a cluster Secret's ``server``) find the context for that API
    server without a ``clusters:`` entry. Empty when there is no readable kubeconfig (in-cluster credentials).
    """
    try:
        paths = find(kubeconfig, environ)
        config = read(paths) if paths else None
    except ClusterError:
        return KubeServers({}, None)
    if config is None:
        return KubeServers({}, None)
    servers: dict[str, str] = {}
    for name, ctx in sorted(config.contexts.items()):
        cluster = config.clusters.get(str(ctx.body.get("cluster") or ""))
        server = str((cluster.body if cluster else {}).get("server") or "").rstrip("/")
        if server:
            servers.setdefault(server, name)
    current = context or config.current_context
    chosen = next((s for s, n in servers.items() if n == current), None)
    # Several contexts may share a server: the selected one is the default cluster's.
    if chosen is None and current in config.contexts:
        cluster = config.clusters.get(str(config.contexts[current].body.get("cluster") or ""))
        chosen = str((cluster.body if cluster else {}).get("server") or "").rstrip("/") or None
    return KubeServers(servers, chosen)


@dataclass(frozen=True)
class KubeServers:
    by_server: Mapping[str, str]  # server URL (no trailing slash) -> context name
    current: str | None  # the selected context's server URL


def select(config: KubeConfig, context: str | None) -> tuple[Entry, Entry, Entry | None]:
    """(context, cluster, user) for ``--context`` or the current context."""
    name = context or config.current_context
    if not name:
        raise ClusterError(f"the kubeconfig ({config.where}) has no current-context: pass --context")
    ctx = config.contexts.get(name)
    if ctx is None:
        known = ", ".join(sorted(config.contexts)) or "none"
        raise ClusterError(f"context {name!r} is not in the kubeconfig ({config.where}); contexts: {known}")
    cluster_name = str(ctx.body.get("cluster") or "")
    cluster = config.clusters.get(cluster_name)
    if cluster is None or not cluster.body.get("server"):
        raise ClusterError(
            f"context {name}: cluster {cluster_name!r} is not in the kubeconfig or has no server"
        )
    user_name = ctx.body.get("user")
    user = config.users.get(str(user_name)) if user_name else None
    if user_name and user is None:
        raise ClusterError(f"context {name}: user {user_name!r} is not in the kubeconfig ({config.where})")
    return ctx, cluster, user


def material(entry: Entry, key: str, *, what: str) -> bytes | None:
    """``<key>-data`` (base64) or the file ``<key>`` (relative to the kubeconfig), as bytes; None if neither."""
    data = entry.body.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=False)
        except (binascii.Error, ValueError):
            raise ClusterError(f"{what}: {key}-data of {entry.name!r} is not base64") from None
    path = entry.body.get(key)
    if path:
        return read_file(entry, str(path), what=what)
    return None


def read_file(entry: Entry, path: str, *, what: str) -> bytes:
    full = Path(path).expanduser()
    if not full.is_absolute():
        full = entry.base / full
    try:
        return full.read_bytes()
    except OSError as e:
        raise ClusterError(f"{what}: cannot read {full}: {e.strerror}") from None
