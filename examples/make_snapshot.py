"""Regenerate examples/shop-cluster.json from a real kube-apiserver (developers only; needs scripts/tools.py ensure).

Renders the example repository with gitops-check, applies every object server-side as Argo CD would
(field manager argocd-controller, tracking annotation), then changes the cluster the way people do by hand,
and captures the result in gitops-check's snapshot format. The server fills in its defaults and managed
fields, so the snapshot is what a real cluster holds, not a hand-written imitation.

    python examples/make_snapshot.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from gitops_check.cluster.snapshot import build_snapshot  # noqa: E402
from gitops_check.discover.dispatch import DiscoverOptions, discover  # noqa: E402
from gitops_check.discover.project import load_project  # noqa: E402
from gitops_check.identity import KindScopes, assign_keys  # noqa: E402
from gitops_check.model.live import SecretHashing  # noqa: E402
from gitops_check.model.objects import GroupKind  # noqa: E402
from gitops_check.pipeline.rendering import render_tree  # noqa: E402
from gitops_check.project.config import RenderOptions  # noqa: E402
from gitops_check.render.base import ToolFinder  # noqa: E402
from gitops_check.sources.git import open_repo  # noqa: E402
from tests.helpers.cluster import TestCluster, cluster_binaries  # noqa: E402

RESOURCES = {
    ("apps", "Deployment"): ("/apis/apps/v1", "deployments"),
    ("", "Service"): ("/api/v1", "services"),
    ("", "ConfigMap"): ("/api/v1", "configmaps"),
    ("", "Secret"): ("/api/v1", "secrets"),
    ("autoscaling", "HorizontalPodAutoscaler"): ("/apis/autoscaling/v2", "horizontalpodautoscalers"),
}
NAMESPACES = ("shop", "payments")
# A fixed salt keeps the committed file stable between regenerations (real snapshots use a random one).
HASHING = SecretHashing("hmac-sha256", "5eed" * 8)


def _path(group: str, kind: str, namespace: str, name: str | None = None) -> str:
    prefix, plural = RESOURCES[(group, kind)]
    return f"{prefix}/namespaces/{namespace}/{plural}" + (f"/{name}" if name else "")


def render_example() -> list[tuple[str, Any, dict[str, Any]]]:
    repo = open_repo(HERE / "shop")
    with tempfile.TemporaryDirectory() as tmp:
        ws = repo.materialize(None, Path(tmp) / "tree")
        found = discover(ws, load_project(ws), DiscoverOptions())
        options = RenderOptions()
        rendered, _ = render_tree(found, ws, options, DiscoverOptions(), ToolFinder(options))
    out = []
    for r in rendered:
        assert r.output is not None, r.error
        for m in assign_keys(r.app, r.output.objects, KindScopes()).manifests:
            out.append((r.app.name, m.key, m.body))
    return out


def main() -> None:
    apiserver, etcd = cluster_binaries()
    with TestCluster(apiserver, etcd) as cluster:
        for ns in NAMESPACES:
            cluster.kubectl("create", "namespace", ns)
        for app, key, body in render_example():
            obj = json.loads(json.dumps(body))
            meta = obj.setdefault("metadata", {})
            meta["namespace"] = key.namespace
            meta.setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = (
                f"{app}:{key.group}/{key.kind}:{key.namespace}/{key.name}"
            )
            cluster.apply(
                _path(key.group, key.kind, key.namespace, key.name), obj, field_manager="argocd-controller"
            )
        # An object the storefront app deployed earlier and no longer has in Git: would be pruned.
        legacy = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "storefront-legacy",
                "namespace": "shop",
                "annotations": {
                    "argocd.argoproj.io/tracking-id": "storefront:/Service:shop/storefront-legacy"
                },
            },
            "spec": {"selector": {"app.kubernetes.io/name": "storefront"}, "ports": [{"port": 8080}]},
        }
        cluster.apply(
            _path("", "Service", "shop", "storefront-legacy"), legacy, field_manager="argocd-controller"
        )
        # Hand changes, the way people make them.
        k = cluster.kubectl
        k(
            "-n",
            "shop",
            "set",
            "image",
            "deployment/storefront",
            "web=ghcr.io/example/storefront:1.4.3-hotfix",
        )
        k("-n", "shop", "patch", "configmap", "redis-config", "--field-manager=kubectl-edit", "-p",
          '{"data":{"MAXMEMORY":"400mb"}}')  # fmt: skip
        k("-n", "shop", "label", "service", "redis", "debug=true")
        k("-n", "shop", "patch", "secret", "redis-auth", "--field-manager=kubectl-edit", "-p",
          '{"stringData":{"password":"rotated-by-hand-not-in-git"}}')  # fmt: skip
        # Scaled by its HorizontalPodAutoscaler: ignored by the app's ignoreDifferences rule.
        k("-n", "payments", "scale", "deployment/payments", "--replicas=4")

        objects = []
        for (group, kind), (prefix, plural) in RESOURCES.items():
            version = prefix.rsplit("/", 1)[-1]
            for ns in NAMESPACES:
                listing = cluster.request("GET", f"{prefix}/namespaces/{ns}/{plural}").json()
                for item in listing["items"]:
                    item["apiVersion"] = f"{group}/{version}" if group else version
                    item["kind"] = kind
                    objects.append(item)
        version = cluster.version()
        snapshot = build_snapshot(
            objects,
            kinds=[(GroupKind(g, k), True) for g, k in RESOURCES],
            namespaces=NAMESPACES,
            unreadable={},
            meta={
                "takenAt": "2026-11-26T09:00:00Z",
                "cluster": "example",
                "serverVersion": version["gitVersion"],
                "tool": "examples/make_snapshot.py",
            },
            hashing=HASHING,
        )
    target = HERE / "shop-cluster.json"
    target.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    print(f"wrote {target} ({len(objects)} objects)")


if __name__ == "__main__":
    main()
