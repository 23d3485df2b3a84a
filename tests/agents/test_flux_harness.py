"""The real Flux harness itself: the controllers run, listen on loopback only, and apply a Kustomization from the
loopback git server through source-controller's artifact storage."""

from __future__ import annotations

import pytest
import yaml

from tests.helpers.flux import CONTROLLERS, Flux, listening_addresses
from tests.helpers.gitrepo import GitRepo

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("flux")]


def test_controllers_listen_on_loopback_only(flux: Flux) -> None:
    for name in CONTROLLERS:
        addresses = listening_addresses(flux.pid(name))
        assert addresses, f"{name} listens nowhere?"
        assert all(a.startswith("127.0.0.1:") for a in addresses), f"{name} listens on {sorted(addresses)}"
    assert f"127.0.0.1:{flux.storage_port}" in listening_addresses(flux.pid("flux-source-controller"))


def test_a_kustomization_is_applied_from_the_loopback_git_server(flux: Flux) -> None:
    repo = GitRepo.init(flux.git_root / "harness")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello"}, "data": {"a": "1"}}
    repo.write({"app/cm.yaml": yaml.safe_dump(cm)})
    head = repo.commit("first")
    flux.namespace("flux-harness")
    flux.git_repository("harness", flux.git.url("harness"))
    flux.wait_ready("GitRepository", "harness", revision=head)
    flux.apply(
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "harness", "namespace": "flux-system"},
            "spec": {
                "interval": "1h",
                "path": "./app",
                "prune": True,
                "targetNamespace": "flux-harness",
                "sourceRef": {"kind": "GitRepository", "name": "harness"},
            },
        }
    )
    flux.wait_ready("Kustomization", "harness", revision=head)
    assert flux.inventory("harness") == {"ConfigMap/flux-harness/hello"}
    assert flux.apply_log("harness", head).applied == {"ConfigMap/flux-harness/hello": "created"}
    live = flux.cluster.request("GET", "/api/v1/namespaces/flux-harness/configmaps/hello").json()
    assert live["data"] == {"a": "1"}
    assert live["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "harness"
