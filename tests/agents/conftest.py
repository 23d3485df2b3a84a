"""The real Argo CD and the real Flux for the oracle tests: one of each per session, each in its own xdist group
(``argocd``, ``flux``: one worker starts it).

Missing pieces (binaries not built, not root) skip the tests with the reason, and fail them under CI=true.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests.helpers import argocd as argocd_harness
from tests.helpers import flux as flux_harness
from tests.helpers.agent import AgentProcesses
from tests.helpers.argocd import ArgoCD
from tests.helpers.binaries import missing
from tests.helpers.cluster import TestCluster, cluster_binaries
from tests.helpers.flux import Flux

H = TypeVar("H", bound=AgentProcesses)


def _running(
    factory: pytest.TempPathFactory,
    name: str,
    what: str,
    harness: Callable[..., H],
    missing_pieces: list[str],
) -> Iterator[H]:
    """``harness`` on a kube-apiserver of its own, from start to stop (``name``: its folders' prefix)."""
    if missing_pieces:
        missing(f"the real {what} cannot run here: " + "; ".join(missing_pieces))
    apiserver, etcd = cluster_binaries()
    cluster = TestCluster(apiserver, etcd, factory.mktemp(f"{name}-cluster"))
    cluster.start()
    running = harness(factory.mktemp(name), cluster)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        cluster.stop()
        shutil.rmtree(cluster.workdir / "etcd-data", ignore_errors=True)


@pytest.fixture(scope="session")
def argocd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArgoCD]:
    """Argo CD's redis, repo-server, application-controller and server: one per session, in the ``argocd`` group."""
    yield from _running(tmp_path_factory, "argocd", "Argo CD", ArgoCD, argocd_harness.missing_pieces())


@pytest.fixture(scope="session")
def flux(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flux]:
    """The real Flux source- and kustomize-controller: one per session, in the ``flux`` xdist group."""
    yield from _running(tmp_path_factory, "flux", "Flux", Flux, flux_harness.missing_pieces())
