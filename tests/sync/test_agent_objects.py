"""cluster/agents.py against the real API server: a merge patch is one request through ``Cluster.request``.

The JSON body is encoded once (a merge patch the server understands, not a JSON string of JSON), the answer is
the patched object, and a failure is an ApiError from the first answer, never retried here: retries are the
sync's decision.
"""

from __future__ import annotations

import pytest

from gitops_check.cluster.agents import open_agents
from gitops_check.cluster.client import ApiError
from tests.helpers.cluster import LIMITED_USER, TestCluster
from tests.sync.standin import create, get

pytestmark = pytest.mark.cluster


@pytest.fixture
def ns(agent_crds: TestCluster, kube_namespace: str) -> str:
    agent_crds.apply_rbac_for_limited({"kustomize.toolkit.fluxcd.io": ["kustomizations"]},
                                      verbs=("get", "patch"), namespace=kube_namespace)  # fmt: skip
    return kube_namespace


def test_merge_patch_is_one_request_with_the_patch_applied(agent_crds: TestCluster, ns: str) -> None:
    create(agent_crds, "Kustomization", ns, "apps", {"path": "./apps", "prune": True},
           annotations={"keep": "me"})  # fmt: skip
    objects = open_agents(str(agent_crds.kubeconfig(LIMITED_USER)))
    mark = agent_crds.audit_mark()
    patch = {
        "metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "2026-11-20T10:00:00.000000001Z"}}
    }
    answer = objects.merge_patch("Kustomization", ns, "apps", patch)
    assert answer["metadata"]["annotations"] == {
        "keep": "me",  # a merge patch: what it does not name stays
        "reconcile.fluxcd.io/requestedAt": "2026-11-20T10:00:00.000000001Z",
    }
    assert (
        get(agent_crds, "Kustomization", ns, "apps")["metadata"]["annotations"]
        == answer["metadata"]["annotations"]
    )
    events = [(e["verb"], e["objectRef"].get("name"), e["responseStatus"]["code"])
              for e in agent_crds.audit_events(LIMITED_USER, since=mark)]  # fmt: skip
    assert events == [("patch", "apps", 200)]
    assert objects.requests == 1
    objects.close()


def test_a_failed_patch_is_sent_once_and_says_what_was_attempted(agent_crds: TestCluster, ns: str) -> None:
    objects = open_agents(str(agent_crds.kubeconfig(LIMITED_USER)))
    mark = agent_crds.audit_mark()
    with pytest.raises(ApiError) as info:
        objects.merge_patch("Kustomization", ns, "missing", {"metadata": {"annotations": {"a": "b"}}})
    assert info.value.status == 404
    assert str(info.value).startswith(
        f"cannot patch kustomizations.kustomize.toolkit.fluxcd.io missing in namespace {ns}: not found"
    )
    assert [e["verb"] for e in agent_crds.audit_events(LIMITED_USER, since=mark)] == ["patch"]
    objects.close()
