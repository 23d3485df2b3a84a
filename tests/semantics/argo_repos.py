"""Argo CD repositories for the agent-semantics tests, laid out like argoproj/argocd-example-apps.

Applications point at ``URL``, which the tests pass as ``--repo-url`` so it means "this repository".
Snapshots are ``kind: List`` files of objects as the API server stores them after a sync (tracking annotation
included).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers.gitrepo import GitRepo

URL = "https://github.com/example/argocd-example-apps.git"


def application(name: str, path: str, namespace: str, **source: Any) -> str:
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": URL, "targetRevision": "HEAD", "path": path, **source},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        },
    }
    return json.dumps(app, indent=2) + "\n"


def tracked(app: str, body: dict[str, Any], namespace: str) -> dict[str, Any]:
    """``body`` as the cluster holds it after Argo CD applied it for ``app`` (annotation tracking)."""
    out = json.loads(json.dumps(body))
    meta = out.setdefault("metadata", {})
    meta.setdefault("namespace", namespace)
    group = out["apiVersion"].rpartition("/")[0]
    meta.setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = (
        f"{app}:{group}/{out['kind']}:{namespace}/{meta['name']}"
    )
    meta["uid"] = f"uid-{out['kind']}-{meta['name']}"
    meta["resourceVersion"] = "1"
    return out


def write_snapshot(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return path


def make_repo(path: Path, files: dict[str, str]) -> GitRepo:
    repo = GitRepo.init(path)
    repo.write(files)
    repo.commit("initial")
    return repo


def statuses(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    """app -> resource id -> status, from a JSON report."""
    return {a["name"]: {r["id"]: r["status"] for r in a["resources"]} for a in report["apps"]}
