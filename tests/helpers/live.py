"""Helpers for the live-comparison tests: apply objects the way a GitOps agent does, run gitops-check, read findings.

``agent_apply`` sends a server-side apply with the agent's field manager (``argocd-controller`` by default) and
Argo CD's tracking annotation, exactly what a sync leaves behind. ``run`` calls the CLI in-process (``main``) and
returns exit code, output and the JSON report; ``findings`` reduces a report to comparable tuples.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.cli import main
from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo

PLURALS = {
    ("", "ConfigMap"): "configmaps",
    ("", "Secret"): "secrets",
    ("", "Service"): "services",
    ("", "ServiceAccount"): "serviceaccounts",
    ("", "Namespace"): "namespaces",
    ("apps", "Deployment"): "deployments",
    ("apps", "StatefulSet"): "statefulsets",
    ("apps", "ReplicaSet"): "replicasets",
    ("", "Pod"): "pods",
    ("batch", "CronJob"): "cronjobs",
    ("apiextensions.k8s.io", "CustomResourceDefinition"): "customresourcedefinitions",
}


def object_path(obj: Mapping[str, Any], namespace: str | None) -> str:
    api_version = str(obj["apiVersion"])
    group = api_version.rpartition("/")[0]
    plural = PLURALS[(group, str(obj["kind"]))]
    base = f"/apis/{api_version}" if group else f"/api/{api_version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    return f"{base}/{plural}/{obj['metadata']['name']}"


def agent_apply(
    cluster: TestCluster,
    objects: Iterable[Mapping[str, Any]],
    *,
    namespace: str,
    app: str,
    manager: str = "argocd-controller",
) -> None:
    """Server-side apply as the GitOps agent would: its field manager, forced, with the tracking annotation."""
    for obj in objects:
        body = json.loads(json.dumps(obj))
        group = str(body["apiVersion"]).rpartition("/")[0]
        namespaced = body["kind"] not in ("Namespace", "CustomResourceDefinition")
        ns = body["metadata"].get("namespace", namespace) if namespaced else None
        if ns:
            body["metadata"]["namespace"] = ns
        tracking = f"{app}:{group}/{body['kind']}:{ns or ''}/{body['metadata']['name']}"
        body["metadata"].setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = tracking
        cluster.apply(object_path(body, ns), body, field_manager=manager)


@dataclass
class Run:
    code: int
    out: str
    err: str
    report: dict[str, Any]

    @property
    def text(self) -> str:
        return self.out + self.err


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> Run:
    """``gitops-check <args> --json <tmp>`` in-process; the JSON report is read back when written."""
    report = tmp_path / f"report-{len(list(tmp_path.glob('report-*.json')))}.json"
    argv = [*args]
    if argv and argv[0] == "diff":
        argv += ["--json", str(report), "--no-color"]
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    data = json.loads(report.read_text()) if report.exists() else {}
    return Run(code, captured.out, captured.err, data)


Finding = tuple[str, str, frozenset[tuple[str, str]]]


def findings(
    report: Mapping[str, Any], *, with_managers: bool = False
) -> dict[str, tuple[str, frozenset[Any]]]:
    """``{"Deployment/ns/web": ("changed", {("value", "spec.replicas"), ...})}`` for every resource."""
    out: dict[str, tuple[str, frozenset[Any]]] = {}
    for app in report.get("apps", ()):
        for res in app["resources"]:
            changes = frozenset(
                (c["kind"], c["path"], c.get("manager")) if with_managers else (c["kind"], c["path"])
                for c in res["changes"]
            )
            out[res["id"]] = (res["status"], changes)
    return out


def drifted(report: Mapping[str, Any]) -> dict[str, tuple[str, frozenset[Any]]]:
    return {k: v for k, v in findings(report).items() if v[0] != "unchanged"}


# ---------------------------------------------------------------------------------- the shop app scenario

APP = "shop"
CONTAINER = "spec.template.spec.containers[name=web]"


def manifests(*, with_resources: bool = True) -> list[dict]:
    container: dict = {
        "name": "web",
        "image": "nginx:1.27",
        "env": [{"name": "MODE", "value": "prod"}, {"name": "LOG", "value": "info"}],
        "ports": [{"containerPort": 8080}],
    }
    if with_resources:
        container["resources"] = {"requests": {"cpu": "100m", "memory": "64Mi"}}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"color": "blue"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "stringData": {"password": "s3cr3t-v4lue"},
        },
    ]


def write_app(repo: GitRepo, namespace: str, objects: list[dict]) -> str:
    repo.write(
        {
            ".gitops-check.yaml": yaml.safe_dump(
                {
                    "version": 1,
                    "apps": [{"name": APP, "path": "app", "tool": "directory", "namespace": namespace}],
                }
            ),
            "app/objects.yaml": yaml.safe_dump_all(objects),
        }
    )
    return repo.commit("app")
