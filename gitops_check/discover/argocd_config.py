"""The project file's ``discovery.argocd`` settings, and which folders an Application reads (App of Apps roots).

```yaml
discovery:
  argocd:
    paths: [bootstrap/]          # where Application/ApplicationSet files are (default: the whole repository)
    namespace: argocd            # Argo CD's control-plane namespace (default: argocd-cm's, else argocd)
    trackingMethod: annotation   # default: argocd-cm's application.resourceTrackingMethod, else annotation
    instanceLabelKey: app.kubernetes.io/instance
    inClusterEnabled: true       # the clusters generator lists the local cluster (argocd-cm cluster.inClusterEnabled)
    newGitFileGlobbing: false    # the git files generator's doublestar globbing (an applicationset-controller flag)
```

``discovery: {argocd: false}`` turns Argo CD discovery off.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitops_check import repourl, yamlio
from gitops_check.discover.appset_params import ClusterInfo
from gitops_check.discover.argocd_spec import ArgoSettings
from gitops_check.errors import ConfigError, InputError
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import KUSTOMIZATION_FILES
from gitops_check.project.config import ProjectConfig

KEYS = {"paths", "namespace", "trackingMethod", "instanceLabelKey", "inClusterEnabled", "newGitFileGlobbing"}


@dataclass(frozen=True)
class ArgoConfig:
    paths: tuple[str, ...] = ()
    namespace: str | None = None
    tracking_method: str | None = None
    label_key: str | None = None
    in_cluster: bool | None = None
    new_git_file_globbing: bool = False
    clusters: tuple[ClusterInfo, ...] = ()


def parse_argocd_config(project: ProjectConfig | None) -> ArgoConfig:
    if project is None:
        return ArgoConfig()
    file = project.path or ".gitops-check.yaml"
    raw = project.discovery.get("argocd")
    raw = raw if isinstance(raw, dict) else {}
    unknown = sorted(str(k) for k in raw if k not in KEYS)
    if unknown:
        raise ConfigError(
            f"discovery.argocd: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(KEYS))})", file=file
        )
    paths = raw.get("paths") or ()
    if isinstance(paths, str):
        paths = (paths,)
    if not isinstance(paths, (list, tuple)):
        raise ConfigError("discovery.argocd.paths: expected a list of folders or files", file=file)
    for key in ("inClusterEnabled", "newGitFileGlobbing"):
        if key in raw and not isinstance(raw[key], bool):
            raise ConfigError(f"discovery.argocd.{key}: expected true or false", file=file)
    return ArgoConfig(
        paths=tuple(posixpath.normpath(str(p).strip().strip("/") or ".") for p in paths),
        namespace=_opt(raw.get("namespace")),
        tracking_method=_opt(raw.get("trackingMethod")),
        label_key=_opt(raw.get("instanceLabelKey")),
        in_cluster=raw.get("inClusterEnabled"),
        new_git_file_globbing=bool(raw.get("newGitFileGlobbing")),
        clusters=_clusters(project.clusters, file),
    )


def _opt(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _clusters(raw: Any, file: str) -> tuple[ClusterInfo, ...]:
    """The project file's ``clusters:`` as the clusters generator sees them (cluster.select validates the rest)."""
    out = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict) or not item.get("name"):
            continue
        for key in ("labels", "annotations"):
            if item.get(key) is not None and not isinstance(item[key], dict):
                raise ConfigError(f"clusters[{i}].{key}: expected a mapping of strings", file=file)
        out.append(
            ClusterInfo(
                name=str(item["name"]),
                server=str(item.get("server") or ""),
                labels={str(k): str(v) for k, v in (item.get("labels") or {}).items()},
                annotations={str(k): str(v) for k, v in (item.get("annotations") or {}).items()},
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------------
# What an Application reads from this repository


def reads_of(
    ws: Workspace, doc: Mapping[str, Any], settings: ArgoSettings
) -> tuple[set[str], set[str], set[str]]:
    """(folders read, folders read with everything below them, single files) of this repository's sources."""
    exact: set[str] = set()
    recursive: set[str] = set()
    files: set[str] = set()
    spec = doc.get("spec") or {}
    sources = spec.get("sources") or ([spec["source"]] if spec.get("source") else [])
    for source in sources if isinstance(sources, list) else []:
        if not isinstance(source, dict) or source.get("chart") or source.get("path") is None:
            continue
        if repourl.canonical(str(source.get("repoURL") or "")) not in settings.this_repo_urls:
            continue
        folder = posixpath.normpath(str(source["path"]).strip().strip("/") or ".")
        if folder.startswith("../") or not (ws.root / folder).is_dir():
            continue
        directory = source.get("directory") or {}
        if _kustomization(ws, folder):
            _kustomize_reads(ws, folder, exact, files, set())
        elif isinstance(directory, dict) and directory.get("recurse"):
            recursive.add(folder)
        else:
            exact.add(folder)
    return exact, recursive, files


def _kustomization(ws: Workspace, folder: str) -> str | None:
    return next((n for n in KUSTOMIZATION_FILES if (ws.root / folder / n).is_file()), None)


def _kustomize_reads(ws: Workspace, folder: str, exact: set[str], files: set[str], seen: set[str]) -> None:
    if folder in seen:
        return
    seen.add(folder)
    exact.add(folder)
    name = _kustomization(ws, folder)
    if name is None:
        return
    try:
        data = yamlio.load_one((ws.root / folder / name).read_bytes(), posixpath.join(folder, name))
    except (InputError, OSError):
        return
    if not isinstance(data, dict):
        return
    for key in ("resources", "bases", "components"):
        for entry in data.get(key) or []:
            if not isinstance(entry, str) or "://" in entry:
                continue
            target = posixpath.normpath(posixpath.join(folder, entry.strip()))
            if target.startswith("../"):
                continue
            if os.path.isdir(ws.root / target):
                _kustomize_reads(ws, target, exact, files, seen)
            else:
                files.add(target)
