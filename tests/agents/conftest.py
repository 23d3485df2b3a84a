"""The real Argo CD and the real Flux for the oracle tests: one of each per session, each in its own xdist group
(``argocd``, ``flux``: one worker starts it).

Missing pieces (binaries not built, not root) skip the tests with the reason, and fail them under CI=true.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.helpers.argocd import ArgoCD, missing_pieces
from tests.helpers.cluster import TestCluster, cluster_binaries
from tests.helpers.flux import Flux
from tests.helpers.flux import missing_pieces as flux_missing_pieces


@pytest.fixture(scope="session")
def argocd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArgoCD]:
    missing = missing_pieces()
    if missing:
        missing("the real Argo CD cannot run here: " + "; ".join(missing))
    apiserver, etcd = cluster_binaries()
    cluster = TestCluster(apiserver, etcd, tmp_path_factory.mktemp("argocd-cluster"))
    cluster.start()
    argo = ArgoCD(tmp_path_factory.mktemp("argocd"), cluster)
    try:
        argo.start()
        yield argo
    finally:
        argo.stop()
        cluster.stop()
        shutil.rmtree(cluster.workdir / "etcd-data", ignore_errors=True)


@pytest.fixture(scope="session")
def flux(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flux]:
    """The real Flux source- and kustomize-controller: one per session, in the ``flux`` xdist group."""
    missing = flux_missing_pieces()
    if missing:
        missing("the real Flux cannot run here: " + "; ".join(missing))
    apiserver, etcd = cluster_binaries()
    cluster = TestCluster(apiserver, etcd, tmp_path_factory.mktemp("flux-cluster"))
    cluster.start()
    running = Flux(tmp_path_factory.mktemp("flux"), cluster)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        cluster.stop()
        shutil.rmtree(cluster.workdir / "etcd-data", ignore_errors=True)
