"""Which cluster an app is compared with: its destination, mapped through the project file's ``clusters``.

Apps whose destination is unset, in-cluster (``https://kubernetes.default.svc`` / ``in-cluster``) or names
the default cluster go to the cluster given on the command line. Any other destination needs a mapping:
``--snapshot NAME=FILE`` on the command line (it wins), an entry of the project file (a snapshot file, or a
kubeconfig context for --live), or a plain ``--snapshot FILE`` whose snapshot says it was taken from that
cluster (``metadata.cluster`` or ``metadata.server``: a snapshot knows its cluster). Without one the app is
"not checked" — comparing it with the wrong cluster would give a meaningless verdict. A plain ``--snapshot``
that serves no app while apps go to clusters it does not name is ambiguous: ``unused_default`` says so, and
the run fails with that message rather than looking like a check against nothing.
With --live, a destination whose server URL is a kubeconfig context's maps to that context without an entry
(the selected context's server is the default cluster).
"""

from __future__ import annotations

import os
import posixpath
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gitops_check.cluster.kubeconfig import KubeServers
from gitops_check.errors import ClusterError, ConfigError, GitopsCheckError
from gitops_check.model.app import Destination
from gitops_check.model.live import LiveSource

IN_CLUSTER_SERVERS = frozenset({"https://kubernetes.default.svc", "https://kubernetes.default.svc/"})
IN_CLUSTER_NAMES = frozenset({"in-cluster"})
DEFAULT = "default"


@dataclass(frozen=True)
class ClusterEntry:
    name: str
    server: str | None = None
    snapshot: str | None = None
    context: str | None = None
    kubeconfig: str | None = None


def parse_clusters(raw: Any, file: str) -> list[ClusterEntry]:
    """The project file's ``clusters:`` list."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else None
    if items is None:
        raise ConfigError("clusters: expected a list of {name, server, snapshot, context}", file=file)
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("name"):
            raise ConfigError(f"clusters[{i}]: expected a mapping with a name", file=file)
        # labels and annotations are for the ApplicationSet clusters generator (discover.argocd_config).
        unknown = set(item) - {"name", "server", "snapshot", "context", "kubeconfig", "labels", "annotations"}
        if unknown:
            raise ConfigError(f"clusters[{i}]: unknown key {sorted(unknown)[0]!r}", file=file)
        if item.get("kubeconfig"):
            # The checked commit is untrusted: a kubeconfig it names could run an exec plugin with the job's
            # environment. Contexts of the job's own kubeconfig are fine.
            raise ConfigError(
                f"clusters[{i}].kubeconfig: the project file cannot choose a kubeconfig (it comes from the checked "
                "commit, and a kubeconfig can run programs); put the context into the job's kubeconfig "
                "(--kubeconfig, or KUBECONFIG=a:b to merge files) and name it with context:",
                file=file,
            )
        snapshot = item.get("snapshot")
        if snapshot and not _relative_inside(str(snapshot)):
            raise ConfigError(
                f"clusters[{i}].snapshot: {snapshot!r} must be a relative path inside the job's working "
                "folder (no absolute path, ~ or ..): the project file cannot make gitops-check read other files",
                file=file,
            )
        out.append(
            ClusterEntry(
                name=str(item["name"]),
                server=str(item["server"]).rstrip("/") if item.get("server") else None,
                snapshot=str(item["snapshot"]) if item.get("snapshot") else None,
                context=str(item["context"]) if item.get("context") else None,
                kubeconfig=str(item["kubeconfig"]) if item.get("kubeconfig") else None,
            )
        )
    return out


def _relative_inside(path: str) -> bool:
    """``path`` is relative, without ``~`` or ``..``, and its real path (symlinks followed) stays in the cwd."""
    if not path or os.path.isabs(path) or path.startswith("~"):
        return False
    norm = posixpath.normpath(path)
    if norm == ".." or norm.startswith("../"):
        return False
    here = os.path.realpath(os.getcwd())
    real = os.path.realpath(os.path.join(here, norm))
    return real == here or real.startswith(here + os.sep)


class ClusterResolver:
    """Destination -> (cluster key, LiveSource); sources are created once and shared by every app."""

    def __init__(
        self,
        default: LiveSource | None,
        entries: list[ClusterEntry],
        factory: Callable[[ClusterEntry], LiveSource] | None = None,
        named: Mapping[str, LiveSource] | None = None,
        kube_servers: KubeServers | None = None,
    ):
        self._default = default
        self._entries = entries
        # --live: the kubeconfig's contexts by server URL, so a destination given by URL needs no entry.
        self._kube = kube_servers
        self._factory = factory
        self._named = dict(named or {})  # --snapshot NAME=FILE
        self._made: dict[str, LiveSource] = {}
        self._lock = threading.Lock()

    def _entry_for(self, dest: Destination) -> ClusterEntry | None:
        server = dest.server.rstrip("/") if dest.server else None
        for entry in self._entries:
            if (dest.name and entry.name == dest.name) or (server and entry.server == server):
                return entry
        return None

    def _kube_entry(self, dest: Destination) -> ClusterEntry | str | None:
        """DEFAULT when the destination's URL is the selected context's server; an entry for another context."""
        server = dest.server.rstrip("/") if dest.server else None
        if self._kube is None or server is None or dest.name:
            return None
        if server == self._kube.current:
            return DEFAULT
        context = self._kube.by_server.get(server)
        return ClusterEntry(name=f"context {context}", server=server, context=context) if context else None

    def resolve(self, dest: Destination) -> tuple[str, LiveSource]:
        entry = self._entry_for(dest)
        name = entry.name if entry is not None else dest.name
        if name and name in self._named:
            return name, self._named[name]
        if entry is None:
            found = self._kube_entry(dest)
            if found == DEFAULT and self._default is not None:
                return DEFAULT, self._default
            entry = found if isinstance(found, ClusterEntry) else None
        if entry is not None and self._factory is not None:
            with self._lock:
                source = self._made.get(entry.name)
                if source is None:
                    source = self._factory(entry)
                    self._made[entry.name] = source
            return entry.name, source
        in_cluster = (dest.server is None or dest.server.rstrip("/") + "/" in IN_CLUSTER_SERVERS) and (
            dest.name is None or dest.name in IN_CLUSTER_NAMES
        )
        if (in_cluster or entry is not None) and self._default is not None:
            return DEFAULT, self._default
        if self._default is not None and self._default_is(dest, entry):
            return DEFAULT, self._default
        target = dest.name or dest.server or "the default cluster"
        raise ClusterError(
            f"destination cluster {target} has no snapshot or context: pass --snapshot {_flag_name(target)}=FILE "
            "or map it under 'clusters:' in .gitops-check.yaml"
        )

    def _default_is(self, dest: Destination, entry: ClusterEntry | None) -> bool:
        """The command line's snapshot says it was taken from the destination's cluster."""
        identity = getattr(self._default, "identity", None)
        if not callable(identity):
            return False
        try:
            cluster, server = identity()
        except GitopsCheckError:
            return False  # unreadable: reported when the cluster is read
        names = {n for n in (dest.name, entry.name if entry else None) if n}
        servers = {s.rstrip("/") for s in (dest.server, entry.server if entry else None) if s}
        return (cluster is not None and cluster in names) or (server is not None and server in servers)

    def unused_default(self, used: set[str], unmapped: list[Destination]) -> str | None:
        """Why a plain ``--snapshot FILE`` is ambiguous: no app used it while apps go to clusters it does not
        name. None when it was used, or nothing went unmapped."""
        identity = getattr(self._default, "identity", None)
        if self._default is None or DEFAULT in used or not unmapped or not callable(identity):
            return None
        try:
            cluster, server = identity()
        except GitopsCheckError:
            return None
        targets = sorted({d.name or d.server or "?" for d in unmapped})
        says = (
            f"says it was taken from {cluster or server}"
            if cluster or server
            else "does not say which cluster it was taken from"
        )
        return (
            f"the snapshot given with --snapshot {says}, and no app goes to that cluster: the apps go to "
            f"{', '.join(targets)}. Give each cluster its snapshot with --snapshot NAME=FILE (NAME: "
            f"{', '.join(_flag_name(t) for t in targets)}), or map them under 'clusters:' in .gitops-check.yaml"
        )

    def sources(self) -> Mapping[str, LiveSource]:
        out = dict(self._made)
        out.update(self._named)
        if self._default is not None:
            out[DEFAULT] = self._default
        return out


def _flag_name(target: str) -> str:
    return target if "=" not in target else "NAME"


def parse_named_snapshots(values: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """``--snapshot`` values: plain files, and ``NAME=FILE`` pairs (a cluster name has no ``/``; a value that
    is an existing path is a file, whatever it holds)."""
    import os

    plain: list[str] = []
    named: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name and path and "/" not in name and not os.path.exists(value):
            if name in named:
                raise ConfigError(f"--snapshot {name}=... is given twice")
            named[name] = path
        else:
            plain.append(value)
    return plain, named
