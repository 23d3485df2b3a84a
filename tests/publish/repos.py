"""Small GitOps repositories and snapshots for the publishing tests: drift, a Secret, and an app that fails."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.helpers.gitrepo import GitRepo

GIT_SECRET = "hunter2-in-git-never-shown"
LIVE_SECRET = "live-secret-never-shown"
SECRETS = (
    GIT_SECRET,
    LIVE_SECRET,
    base64.b64encode(GIT_SECRET.encode()).decode(),
    base64.b64encode(LIVE_SECRET.encode()).decode(),
)


def configmap(name: str, data: dict[str, str], namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


def secret(value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "type": "Opaque",
        "data": {"password": base64.b64encode(value.encode()).decode()},
    }


def write_snapshot(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return path


def drift_repo(root: Path, *, broken: bool = True) -> GitRepo:
    """``web`` (a ConfigMap and a Secret) drifts from the snapshot; ``broken`` has invalid YAML on line 4."""
    repo = GitRepo.init(root)
    apps = [{"name": "web", "path": "apps/web", "namespace": "shop"}]
    files = {
        "apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "fast"})),
        "apps/web/secret.yaml": json.dumps(secret(GIT_SECRET)),
    }
    if broken:
        apps.append({"name": "broken", "path": "apps/broken", "namespace": "shop"})
        files["apps/broken/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n  name: x\n"
    repo.write({".gitops-check.yaml": json.dumps({"version": 1, "apps": apps}), **files})
    repo.commit("apps")
    return repo


def drift_snapshot(path: Path) -> Path:
    return write_snapshot(path, [configmap("web-config", {"mode": "slow"}), secret(LIVE_SECRET)])


def fix_drift(repo: GitRepo) -> None:
    """Make Git agree with ``drift_snapshot`` and drop the broken app: the next check is all in sync."""
    repo.write({
        ".gitops-check.yaml": json.dumps({"version": 1, "apps": [{"name": "web", "path": "apps/web", "namespace": "shop"}]}),
        "apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "slow"})),
        "apps/web/secret.yaml": json.dumps(secret(LIVE_SECRET)),
    })  # fmt: skip
    repo.git("rm", "-q", "-r", "apps/broken")
    repo.commit("fix drift")


def big_repo(root: Path, apps: int, keys: int) -> tuple[GitRepo, list[dict[str, Any]]]:
    """``apps`` apps whose ConfigMaps of ``keys`` long values all differ from the returned live objects."""
    repo = GitRepo.init(root)
    files: dict[str, str] = {}
    live = []
    entries = []
    for a in range(apps):
        name = f"app{a:02d}"
        entries.append({"name": name, "path": f"apps/{name}", "namespace": "shop"})
        files[f"apps/{name}/cm.yaml"] = json.dumps(
            configmap(name, {f"k{k:03d}": f"git-{k}-" + "x" * 60 for k in range(keys)})
        )
        live.append(configmap(name, {f"k{k:03d}": f"live-{k}-" + "y" * 60 for k in range(keys)}))
    repo.write({".gitops-check.yaml": json.dumps({"version": 1, "apps": entries}), **files})
    repo.commit("many apps")
    return repo, live
