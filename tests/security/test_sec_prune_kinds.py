"""Issue 10 item 14: a kind that cannot be listed where an app lives hides what would be pruned: not green.

Live, with ``--app`` on an app whose namespace holds a Secret the token may not list, the run used to exit 0
with only a warning, so an extra Secret (which a sync would prune) went unseen. Now the app is "not checked"
(exit 2) unless the job accepts it explicitly with ``--accept-unreadable-prune-kinds`` (then a warning).
A real kube-apiserver with RBAC: the limited user may list every default prune kind but Secrets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import APP, agent_apply, run, write_app

pytestmark = pytest.mark.cluster

READABLE = {
    "": ["configmaps", "services", "serviceaccounts", "persistentvolumeclaims", "namespaces"],
    "apps": ["deployments", "statefulsets", "daemonsets"],
    "batch": ["jobs", "cronjobs"],
    "networking.k8s.io": ["ingresses", "networkpolicies"],
    "autoscaling": ["horizontalpodautoscalers"],
    "policy": ["poddisruptionbudgets"],
    "rbac.authorization.k8s.io": ["roles", "rolebindings"],
}  # everything gitops-check lists for pruning by default, except Secrets


def test_an_unlistable_prune_kind_makes_the_app_not_checked(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = kube_namespace
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": ns},
              "data": {"k": "v"}}  # fmt: skip
    extra = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "left-behind", "namespace": ns},
             "stringData": {"token": "not-in-git-anymore"}}  # fmt: skip
    repo = GitRepo.init(tmp_path / "repo")
    write_app(repo, ns, [config])
    agent_apply(kube_cluster, [config, extra], namespace=ns, app=APP)
    kube_cluster.apply_rbac_for_limited(READABLE)
    base = ["diff", "--repo", str(repo.path), "--live", "--client-side", "--app", APP]

    admin = run(capsys, tmp_path, *base, "--kubeconfig", str(kube_cluster.admin_kubeconfig))
    assert admin.code == 1, admin.text  # the extra Secret would be pruned: real drift

    limited = [*base, "--kubeconfig", str(kube_cluster.limited_kubeconfig)]
    blind = run(capsys, tmp_path, *limited)
    assert blind.code == 2, blind.text
    app = blind.report["apps"][0]
    assert app["status"] == "error"
    assert any("Secret in namespace" in e["message"] and "--accept-unreadable-prune-kinds" in e["message"]
               for e in app["errors"])  # fmt: skip

    accepted = run(capsys, tmp_path, *limited, "--accept-unreadable-prune-kinds")
    assert accepted.code == 0, accepted.text
    assert any("accepted" in w for w in accepted.report["apps"][0]["warnings"])
