"""The Kubernetes API calls a sync needs: read and merge-patch the agents' own objects, nothing else.

Argo CD Applications and Flux Kustomizations, HelmReleases and sources are custom resources; a sync reads one
and writes one small merge patch to it (``.operation`` or the reconcile annotation). Every request goes
through the shared cluster connection (``cluster.client``: credentials, TLS, error translation) and is sent
once: the sync decides about retries, because it knows each app's retry policy and which writes are safe to
repeat. Only this module (in the sync's path) touches the Kubernetes API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitops_check.cluster.client import ApiError, Cluster, connect


@dataclass(frozen=True)
class AgentKind:
    kind: str
    group: str
    version: str
    plural: str

    @property
    def resource(self) -> str:
        """``applications.argoproj.io``: how RBAC rules and kubectl name it."""
        return f"{self.plural}.{self.group}"

    def path(self, namespace: str, name: str) -> str:
        return f"/apis/{self.group}/{self.version}/namespaces/{namespace}/{self.plural}/{name}"


_KINDS = (
    AgentKind("Application", "argoproj.io", "v1alpha1", "applications"),
    AgentKind("Kustomization", "kustomize.toolkit.fluxcd.io", "v1", "kustomizations"),
    AgentKind("HelmRelease", "helm.toolkit.fluxcd.io", "v2", "helmreleases"),
    AgentKind("GitRepository", "source.toolkit.fluxcd.io", "v1", "gitrepositories"),
    AgentKind("OCIRepository", "source.toolkit.fluxcd.io", "v1", "ocirepositories"),
    AgentKind("Bucket", "source.toolkit.fluxcd.io", "v1", "buckets"),
    AgentKind("HelmRepository", "source.toolkit.fluxcd.io", "v1", "helmrepositories"),
    AgentKind("HelmChart", "source.toolkit.fluxcd.io", "v1", "helmcharts"),
)
KINDS = {k.kind: k for k in _KINDS}

MERGE_PATCH = "application/merge-patch+json"


def agent_kind(kind: str) -> AgentKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise ApiError(
            f"gitops-check cannot sync a {kind} (known kinds: {', '.join(sorted(KINDS))})", reason="Invalid"
        ) from None


class AgentObjects:
    """Get and merge-patch agent objects on one cluster; every call is exactly one HTTP request."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @property
    def server(self) -> str:
        return self.cluster.server

    @property
    def requests(self) -> int:
        return self.cluster.requests

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        k = agent_kind(kind)
        what = f"get {k.resource} {name} in namespace {namespace}"
        try:
            body = self.cluster.request("GET", k.path(namespace, name), what=what, retry=False)
        except ApiError as e:
            if e.not_found:
                e.message = f"{kind} {namespace}/{name} not found in cluster {self.server}"
                e.args = (e.message,)
            raise
        return dict(body or {})

    def merge_patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        k = agent_kind(kind)
        what = f"patch {k.resource} {name} in namespace {namespace}"
        body = self.cluster.request(
            "PATCH", k.path(namespace, name), what=what, body=patch, content_type=MERGE_PATCH, retry=False
        )
        return dict(body or {})

    def close(self) -> None:
        self.cluster.close()


def open_agents(kubeconfig: str | None = None, context: str | None = None) -> AgentObjects:
    """Agent objects on the cluster of ``kubeconfig``/``context`` (kubectl's lookup rules, or in-cluster)."""
    return AgentObjects(connect(kubeconfig, context))
