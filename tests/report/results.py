"""CheckResults built by hand, covering every status, change kind and error shape the reporters must show."""

from __future__ import annotations

import copy
from typing import Any

from gitops_check.model.app import App
from gitops_check.model.objects import Origin, ResourceKey
from gitops_check.model.result import (
    AppError,
    AppResult,
    Change,
    ChangeKind,
    CheckResult,
    ResourceDiff,
    Status,
)
from gitops_check.model.source import Source

REDACTED_OLD = "<redacted: sha256 1f2e3d4c>"
REDACTED_NEW = "<redacted: sha256 9a8b7c6d>"


def make_app(name: str, *, origin: str = "", kind: str = "argocd") -> App:
    return App(name=name, sources=(Source(path=f"apps/{name}"),), origin=origin, kind=kind)


def deployment(name: str, namespace: str, *, image: str = "nginx:1.27", replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "app", "image": image}]}},
        },
    }


def configmap(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def in_sync_app(name: str, n: int = 2) -> AppResult:
    diffs = []
    for i in range(n):
        body = configmap(f"{name}-cm{i}", name, {"k": "v"})
        key = ResourceKey("", "ConfigMap", name, f"{name}-cm{i}")
        diffs.append(ResourceDiff(key, name, Status.UNCHANGED, desired=body, live=body))
    return AppResult(make_app(name, origin=f"clusters/prod/{name}.yaml"), diffs=diffs, render_seconds=0.25)


def drifted_app() -> AppResult:
    """shop: a changed Deployment (value + by-hand field), an added ConfigMap, a pruned Service, a Secret."""
    live = deployment("web", "shop", image="nginx:1.25", replicas=3)
    live["metadata"]["labels"]["debug"] = "true"
    desired = deployment("web", "shop", image="nginx:1.27", replicas=3)
    web = ResourceDiff(
        ResourceKey("apps", "Deployment", "shop", "web"),
        "shop",
        Status.CHANGED,
        changes=(
            Change(
                ChangeKind.VALUE, "spec.template.spec.containers[name=app].image", "nginx:1.25", "nginx:1.27"
            ),
            Change(ChangeKind.MANUAL, "metadata.labels.debug", "true", None, manager="kubectl-edit"),
        ),
        desired=desired,
        live=live,
        origin=Origin("shop", "apps/shop/deployment.yaml", 1),
    )
    cm = ResourceDiff(
        ResourceKey("", "ConfigMap", "shop", "settings"),
        "shop",
        Status.ADDED,
        desired=configmap("settings", "shop", {"mode": "fast"}),
        origin=Origin("shop", "apps/shop/configmap.yaml", 3),
    )
    svc_body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "old", "namespace": "shop"}}
    svc = ResourceDiff(ResourceKey("", "Service", "shop", "old"), "shop", Status.REMOVED, live=svc_body)
    secret_live: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "data": {"password": REDACTED_OLD},
    }
    secret_desired = copy.deepcopy(secret_live)
    secret_desired["data"]["password"] = REDACTED_NEW
    secret = ResourceDiff(
        ResourceKey("", "Secret", "shop", "db"),
        "shop",
        Status.CHANGED,
        changes=(Change(ChangeKind.VALUE, "data.password", REDACTED_OLD, REDACTED_NEW),),
        desired=secret_desired,
        live=secret_live,
        notes=("Secret values are compared by hash and never shown",),
    )
    same = in_sync_app("shop", 1).diffs
    return AppResult(
        make_app("shop", origin="clusters/prod/shop.yaml"),
        diffs=[svc, *same, secret, cm, web],
        warnings=["chart version 1.2.3 is deprecated"],
        render_seconds=1.5,
    )


def failed_app() -> AppResult:
    """payments: helm failed (file:line)."""
    return AppResult(
        make_app("payments", kind="flux-helmrelease"),
        errors=[
            AppError(
                "payments",
                "helm template failed for app payments (charts/payments): template: payments/templates/x.yaml:3:\n"
                '  function "nope" not defined',
                file="charts/payments/values.yaml",
                line=12,
                stage="render",
            )
        ],
    )


def error_resource_app() -> AppResult:
    """ingress: one resource could not be checked, another in sync."""
    err = ResourceDiff(
        ResourceKey("networking.k8s.io", "Ingress", "edge", "public"),
        "ingress",
        Status.ERROR,
        message="kind Ingress.networking.k8s.io was not captured in the snapshot",
    )
    return AppResult(make_app("ingress"), diffs=[err, *in_sync_app("edge", 1).diffs])


def build_result(mode: str = "diff") -> CheckResult:
    return CheckResult(
        apps=[
            in_sync_app("alpha"),
            drifted_app(),
            failed_app(),
            error_resource_app(),
            in_sync_app("beta", 3),
        ],
        target="commit 1a2b3c4 of ./k8s",
        against="snapshot cluster.json (taken 2026-11-20T10:00:00Z from prod)",
        warnings=["kind Widget.example.com has unknown scope; assumed namespaced"],
        timings={"render": 1.75, "diff": 0.5},
        stats={"objects": 12},
        mode=mode,
    )


def huge_result(apps: int = 300, resources: int = 20, lines: int = 12) -> CheckResult:
    """Many drifted apps with sizeable diffs: far over any comment limit."""
    out = []
    for a in range(apps):
        name = f"app-{a:03d}"
        diffs = []
        # Vary the amount of drift so significance ordering matters.
        for r in range(resources - (a % 5)):
            key = ResourceKey("", "ConfigMap", name, f"cm-{r:02d}")
            old = {f"key{i}": f"old value {i} of {name}/{r}" for i in range(lines)}
            new = {f"key{i}": f"new value {i} of {name}/{r}" for i in range(lines)}
            diffs.append(
                ResourceDiff(
                    key,
                    name,
                    Status.CHANGED,
                    changes=tuple(
                        Change(ChangeKind.VALUE, f"data.key{i}", old[f"key{i}"], new[f"key{i}"])
                        for i in range(3)
                    ),
                    desired=configmap(key.name, name, new),
                    live=configmap(key.name, name, old),
                )
            )
        out.append(AppResult(make_app(name), diffs=diffs))
    out.append(in_sync_app("zz-quiet"))
    return CheckResult(apps=out, target="commit 1a2b3c4", against="live cluster")
