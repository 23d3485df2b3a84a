"""``gitops-check sync --flux``: the reconcile annotation on Kustomizations / HelmReleases (and their sources)
on the real API server, answered by the controller stand-in; requests proven from the audit log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cluster import LIMITED_USER, TestCluster
from tests.sync.clirun import FAST, run
from tests.sync.standin import FluxAnswer, StandIn, create, get

pytestmark = pytest.mark.cluster
RFC3339NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


@pytest.fixture
def ns(agent_crds: TestCluster, kube_namespace: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    resources = {
        "kustomize.toolkit.fluxcd.io": ["kustomizations"],
        "helm.toolkit.fluxcd.io": ["helmreleases"],
        "source.toolkit.fluxcd.io": ["gitrepositories", "helmcharts", "ocirepositories"],
    }
    agent_crds.apply_rbac_for_limited(resources, verbs=("get", "patch"), namespace=kube_namespace)
    monkeypatch.chdir(tmp_path)
    return kube_namespace


def kustomization(cluster: TestCluster, ns: str, name: str = "apps", **spec: Any) -> None:
    create(cluster, "GitRepository", ns, "repo", {"url": "https://git.example/deploy.git", "interval": "1m"})
    body = {"interval": "10m", "path": "./apps", "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "repo"}, **spec}  # fmt: skip
    create(cluster, "Kustomization", ns, name, body)


def tool_calls(cluster: TestCluster, since: int) -> list[tuple[str, str, str | None]]:
    return [
        (e["verb"], e.get("objectRef", {}).get("resource", ""), e.get("objectRef", {}).get("name"))
        for e in cluster.audit_events(LIMITED_USER, since=since)
    ]


def sync(cluster: TestCluster, ns: str, capsys: pytest.CaptureFixture[str], *args: str):  # type: ignore[no-untyped-def]
    return run(
        capsys, "sync", *args, "--flux", "--kubeconfig", cluster.kubeconfig(LIMITED_USER), "-n", ns, *FAST
    )


def test_kustomization_reconciled(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kustomization(agent_crds, ns)
    mark = agent_crds.audit_mark()
    with StandIn(agent_crds, ns) as standin:
        result = sync(agent_crds, ns, capsys, "apps")
    assert result.code == 0, result.text
    [(kind, name, value)] = standin.seen
    assert (kind, name) == ("Kustomization", "apps") and RFC3339NANO.match(value)
    calls = tool_calls(agent_crds, mark)
    assert calls[:2] == [("get", "kustomizations", "apps"), ("patch", "kustomizations", "apps")]
    assert set(calls[2:]) == {("get", "kustomizations", "apps")}
    assert (
        f'(merge patch) {{"metadata": {{"annotations": {{"reconcile.fluxcd.io/requestedAt": "{value}"}}}}}}'
        in result.out
    )
    assert f"Kustomization {ns}/apps: succeeded: Applied revision: main@sha1:1a2b3c4" in result.out


def test_not_ready_fails_with_its_message(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kustomization(agent_crds, ns)
    answer = FluxAnswer("False", "kustomize build failed: accumulating resources", "BuildFailed")
    with StandIn(agent_crds, ns, flux={("Kustomization", "apps"): answer}):
        result = sync(agent_crds, ns, capsys, "apps")
    assert result.code == 1
    assert "failed: BuildFailed: kustomize build failed: accumulating resources" in result.out


def test_suspended_is_refused_without_a_write(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kustomization(agent_crds, ns, suspend=True)
    mark = agent_crds.audit_mark()
    result = sync(agent_crds, ns, capsys, "apps")
    assert result.code == 2
    assert f"Kustomization {ns}/apps is suspended (spec.suspend: true)" in result.out
    assert f"flux resume kustomization apps -n {ns}" in result.out
    assert tool_calls(agent_crds, mark) == [("get", "kustomizations", "apps")]


def test_never_handled(agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]) -> None:
    kustomization(agent_crds, ns)
    with StandIn(agent_crds, ns, flux={("Kustomization", "apps"): FluxAnswer(ready=None)}):
        result = sync(agent_crds, ns, capsys, "apps", "--timeout", "1s")
    assert result.code == 2
    assert (
        "timeout: no verdict within --timeout 1s; last: waiting for the controller to handle the request"
        in result.out
    )


def test_source_first(agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]) -> None:
    kustomization(agent_crds, ns)
    mark = agent_crds.audit_mark()
    with StandIn(agent_crds, ns) as standin:
        result = sync(agent_crds, ns, capsys, "apps", "--with-source")
    assert result.code == 0, result.text
    assert [s[:2] for s in standin.seen] == [("GitRepository", "repo"), ("Kustomization", "apps")]
    patches = [c for c in tool_calls(agent_crds, mark) if c[0] == "patch"]
    assert patches == [("patch", "gitrepositories", "repo"), ("patch", "kustomizations", "apps")]
    # Both requests were printed before the first was sent.
    assert result.out.index("gitrepositories.source.toolkit.fluxcd.io") < result.out.index("sync requested")


def test_failed_source_stops_there(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kustomization(agent_crds, ns)
    answer = FluxAnswer("False", "failed to checkout: authentication required", "GitOperationFailed")
    mark = agent_crds.audit_mark()
    with StandIn(agent_crds, ns, flux={("GitRepository", "repo"): answer}):
        result = sync(agent_crds, ns, capsys, "apps", "--with-source")
    assert result.code == 1
    assert f"source GitRepository {ns}/repo: GitOperationFailed: failed to checkout" in result.out
    assert [c for c in tool_calls(agent_crds, mark) if c[0] == "patch"] == [
        ("patch", "gitrepositories", "repo")
    ]


def test_helmrelease_with_its_chart(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = {
        "interval": "5m",
        "chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "r"}}},
    }
    create(agent_crds, "HelmRelease", ns, "web", spec)
    create(
        agent_crds,
        "HelmChart",
        ns,
        f"{ns}-web",
        {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "r"}},
    )
    with StandIn(agent_crds, ns) as standin:
        result = sync(agent_crds, ns, capsys, "web", "--kind", "helmrelease", "--with-source", "--no-wait")
    assert result.code == 0, result.text
    # Without --wait the source is still awaited (the release would reconcile the old chart otherwise).
    [(kind, name, value)] = standin.seen[:1]
    assert (kind, name) == ("HelmChart", f"{ns}-web")
    assert f"HelmRelease {ns}/web: requested" in result.out
    annotations = get(agent_crds, "HelmRelease", ns, "web")["metadata"]["annotations"]
    assert annotations["reconcile.fluxcd.io/requestedAt"] == value


def test_argocd_options_are_rejected(
    agent_crds: TestCluster, ns: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = sync(agent_crds, ns, capsys, "apps", "--revision", "abc", "--prune")
    assert result.code == 2
    assert "--revision, --prune: Argo CD options" in result.err
