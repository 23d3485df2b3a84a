"""The real Argo CD for the oracle tests: one per session, in the ``argocd`` xdist group (one worker starts it).

Missing pieces (binaries not built, not root) skip the tests with the reason, and fail them under CI=true.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.helpers.argocd import ArgoCD, missing_pieces
from tests.helpers.cluster import TestCluster, _missing, cluster_binaries


@pytest.fixture(scope="session")
def argocd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArgoCD]:
    missing = missing_pieces()
    if missing:
        _missing("the real Argo CD cannot run here: " + "; ".join(missing))
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
