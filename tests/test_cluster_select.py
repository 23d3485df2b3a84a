"""Which cluster an app's destination goes to: project-file entries, in-cluster, and (--live) the kubeconfig's
contexts matched by server URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.cluster.kubeconfig import context_servers
from gitops_check.cluster.select import ClusterEntry, ClusterResolver
from gitops_check.errors import ClusterError
from gitops_check.model.app import Destination
from gitops_check.model.live import LiveState, ReadScope


class Source:
    def __init__(self, name: str) -> None:
        self.name = name

    def prefetch(self) -> None:
        pass

    def load(self, scope: ReadScope) -> LiveState:
        raise AssertionError("not read in these tests")

    def whole_state(self) -> None:
        return None

    def predictor(self) -> None:
        return None


def kubeconfig(tmp_path: Path) -> Path:
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "prod", "cluster": {"server": "https://10.0.0.1:6443/"}},
            {"name": "stage", "cluster": {"server": "https://10.0.0.2:6443"}},
        ],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": "prod-ctx", "context": {"cluster": "prod", "user": "u"}},
            {"name": "stage-ctx", "context": {"cluster": "stage", "user": "u"}},
        ],
        "current-context": "prod-ctx",
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_destination_url_of_a_kubeconfig_context_needs_no_clusters_entry(tmp_path: Path) -> None:
    servers = context_servers(str(kubeconfig(tmp_path)), None, {})
    assert servers.current == "https://10.0.0.1:6443"
    made: list[ClusterEntry] = []

    def factory(entry: ClusterEntry) -> Source:
        made.append(entry)
        return Source(entry.name)

    default = Source("live")
    resolver = ClusterResolver(default, [], factory, kube_servers=servers)  # type: ignore[arg-type]
    # The selected context's server is the default cluster (an Argo CD cluster Secret with that URL).
    assert resolver.resolve(Destination(server="https://10.0.0.1:6443")) == ("default", default)
    # Another context's server: that context, made once.
    name, source = resolver.resolve(Destination(server="https://10.0.0.2:6443/"))
    assert (name, source.name) == ("context stage-ctx", "context stage-ctx")
    assert [(e.context, e.server) for e in made] == [("stage-ctx", "https://10.0.0.2:6443")]
    # Unknown URLs stay "not checked"; a destination name is never guessed from URLs.
    with pytest.raises(ClusterError, match="has no snapshot or context"):
        resolver.resolve(Destination(server="https://10.9.9.9"))
    with pytest.raises(ClusterError):
        resolver.resolve(Destination(server="https://10.0.0.2:6443", name="stage"))


def test_project_entries_win_and_another_context_is_selectable(tmp_path: Path) -> None:
    servers = context_servers(str(kubeconfig(tmp_path)), "stage-ctx", {})
    assert servers.current == "https://10.0.0.2:6443"
    entry = ClusterEntry("prod-snapshot", server="https://10.0.0.1:6443", snapshot="prod.json")
    resolver = ClusterResolver(Source("live"), [entry], lambda e: Source(e.name), kube_servers=servers)  # type: ignore[arg-type, return-value]
    assert resolver.resolve(Destination(server="https://10.0.0.1:6443"))[0] == "prod-snapshot"
    assert resolver.resolve(Destination(server="https://10.0.0.2:6443"))[0] == "default"


def test_no_kubeconfig_means_no_url_matching(tmp_path: Path) -> None:
    servers = context_servers(None, None, {"HOME": str(tmp_path)})
    assert (dict(servers.by_server), servers.current) == ({}, None)
