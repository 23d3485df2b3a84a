"""Which apps a repository holds: the project file's list, or auto-discovery when there is none.

Auto-discovery looks for what Argo CD users point Applications at. Every folder with a kustomization or a
``Chart.yaml`` is a candidate, but one that another candidate *includes* is not an app of its own: a Kustomize
base listed in an overlay's ``resources``/``components`` (even by several overlays), a chart under another
chart (``charts/``, or a ``file://`` dependency). Folders that directly hold Kubernetes manifests become
directory apps unless they sit inside a Kustomize or Helm app (patch files, templates). Hidden folders are skipped.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_check import yamlio
from gitops_check.errors import ConfigError, InputError
from gitops_check.model.app import App
from gitops_check.model.rendered import Workspace
from gitops_check.model.result import AppError
from gitops_check.model.source import KUSTOMIZATION_FILES, Source, Tool
from gitops_check.project.config import PROJECT_FILE_ALIASES, ProjectConfig, parse_project

# The files objects are read from.
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_YAML_OBJECT = re.compile(rb"^apiVersion:.*^kind:|^kind:.*^apiVersion:", re.MULTILINE | re.DOTALL)
_JSON_OBJECT = re.compile(rb'"apiVersion"\s*:.*"kind"\s*:|"kind"\s*:.*"apiVersion"\s*:', re.DOTALL)
_SNIFF_BYTES = 256 * 1024


@dataclass
class Discovery:
    apps: list[App] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[AppError] = field(default_factory=list)


def load_project(ws: Workspace) -> ProjectConfig | None:
    """The project file at the workspace root, parsed and validated; None when there is none."""
    found = [name for name in PROJECT_FILE_ALIASES if (ws.root / name).is_file()]
    if not found:
        return None
    if len(found) > 1:
        raise ConfigError(f"both {found[0]} and {found[1]} exist at {ws.label}; keep one", file=found[0])
    return parse_project((ws.root / found[0]).read_bytes(), file=found[0])


def discover_apps(ws: Workspace, project: ProjectConfig | None) -> Discovery:
    if project is not None and project.apps:
        return _project_apps(ws, project)
    found = auto_discover(ws)
    if project is not None:
        found.notes.insert(0, f"{project.path} lists no apps: discovering them")
    return found


# ---------------------------------------------------------------------------------------------------------------
# Project file


def _project_apps(ws: Workspace, project: ProjectConfig) -> Discovery:
    out = Discovery()
    real_root = os.path.realpath(ws.root)  # once, not per app (hundreds of apps)
    for app in project.apps:
        problem = next((p for s in app.sources if (p := _source_problem(ws, s, real_root)) is not None), None)
        if problem:
            out.errors.append(AppError(app=app.name, message=problem, file=project.path, stage="discover"))
        else:
            out.apps.append(app)
    note = f"{project.path}: {len(project.apps)} app{'s' if len(project.apps) != 1 else ''}"
    if out.errors:
        note += f", {len(out.errors)} with a path that does not exist"
    out.notes.append(note)
    return out


def _source_problem(ws: Workspace, source: Source, real_root: str | None = None) -> str | None:
    if source.repo is not None or source.chart:
        return None  # another repository or a Helm repository: checked when rendering
    path = source.path.strip() or "."
    norm = posixpath.normpath(path)
    if path.startswith("/") or norm == ".." or norm.startswith("../"):
        return f"path {path} is outside the repository"
    target = ws.root / norm
    real_root = real_root or os.path.realpath(ws.root)
    real = os.path.realpath(target)
    if real != real_root and not real.startswith(real_root + os.sep):
        return f"path {path} resolves outside the repository through a symlink"
    if not target.is_dir():
        return f"path {norm} does not exist at {ws.label}"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Auto-discovery


@dataclass
class _Folder:
    rel: str  # posix, "." for the root
    files: list[str]


def auto_discover(ws: Workspace) -> Discovery:
    out = Discovery()
    folders = list(_walk(ws.root))
    kustomize = {f.rel for f in folders if any(n in KUSTOMIZATION_FILES for n in f.files)}
    helm = {f.rel for f in folders if "Chart.yaml" in f.files} - kustomize  # Argo CD: kustomize wins
    included: set[str] = set()
    for rel in sorted(kustomize):
        included |= _kustomize_references(ws, rel, out.notes)
    for rel in sorted(helm):
        included |= _chart_references(ws, rel, out.notes)
    # Everything below a chart belongs to it (templates, charts/, ci/ values...).
    for rel in helm:
        included |= {other for other in kustomize | helm if _is_below(other, rel)}
    tops = {rel: Tool.KUSTOMIZE for rel in kustomize - included} | {rel: Tool.HELM for rel in helm - included}
    owned = kustomize | helm
    for folder in folders:
        if folder.rel in owned or any(_is_below(folder.rel, o) for o in owned):
            continue
        if any(
            _holds_manifest(ws.root / folder.rel / name)
            for name in folder.files
            if name.endswith(_MANIFEST_SUFFIXES)
        ):
            tops[folder.rel] = Tool.DIRECTORY
    names: set[str] = set()
    for rel in sorted(tops):
        tool = tops[rel]
        name = _unique(app_name(rel, ws), names)
        out.apps.append(
            App(
                name=name,
                sources=(Source(path=rel, tool=tool),),
                origin=f"auto-discovered: {rel} ({tool.value})",
                kind="auto",
            )
        )
    summary = ", ".join(f"{a.sources[0].path} ({a.sources[0].tool.value})" for a in out.apps)
    count = len(out.apps)
    out.notes.insert(0, f"found {count} app{'s' if count != 1 else ''}" + (f": {summary}" if summary else ""))
    bases = sorted(included & kustomize)
    if bases:
        out.notes.append(f"not apps themselves (used by other apps): {', '.join(bases)}")
    return out


def app_name(rel: str, ws: Workspace) -> str:
    """``apps/web/overlays/prod`` -> ``apps-web-overlays-prod``: lowercase, DNS-label friendly (Helm release names)."""
    if rel == ".":
        base = ws.repo_path.name if ws.repo_path is not None else "root"
    else:
        base = rel
    name = re.sub(r"[^a-z0-9.]+", "-", base.lower()).strip("-.")
    return name or "root"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _walk(root: Path) -> Iterator[_Folder]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        yield _Folder(Path(dirpath).relative_to(root).as_posix(), sorted(filenames))


def _is_below(path: str, folder: str) -> bool:
    if folder == ".":
        return path != "."
    return path.startswith(folder + "/")


def _holds_manifest(path: Path) -> bool:
    """A cheap sniff: a top-level ``apiVersion`` and ``kind`` (YAML) or both keys (JSON). Rendering validates."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError:
        return False
    if path.suffix == ".json":
        return bool(_JSON_OBJECT.search(head))
    return bool(_YAML_OBJECT.search(head))


def _load(ws: Workspace, rel_file: str, notes: list[str]) -> dict[str, Any]:
    try:
        data = yamlio.load_one((ws.root / rel_file).read_bytes(), rel_file)
    except (InputError, OSError) as e:
        notes.append(f"could not read {rel_file} ({e}); treating its folder as an app")
        return {}
    return data if isinstance(data, dict) else {}


def _kustomize_references(ws: Workspace, rel: str, notes: list[str]) -> set[str]:
    """Local folders a kustomization pulls in (resources, bases, components)."""
    kfile = next(n for n in KUSTOMIZATION_FILES if (ws.root / rel / n).is_file())
    data = _load(ws, posixpath.join(rel, kfile) if rel != "." else kfile, notes)
    out: set[str] = set()
    for key in ("resources", "bases", "components"):
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, str) and "://" not in entry:
                target = posixpath.normpath(posixpath.join(rel, entry.strip()))
                if target != rel and not target.startswith("../") and (ws.root / target).is_dir():
                    out.add(target)
    return out


def _chart_references(ws: Workspace, rel: str, notes: list[str]) -> set[str]:
    """Charts a chart pulls in: everything under its folder, and ``file://`` dependencies."""
    data = _load(ws, posixpath.join(rel, "Chart.yaml") if rel != "." else "Chart.yaml", notes)
    out: set[str] = set()
    deps = data.get("dependencies")
    for dep in deps if isinstance(deps, list) else []:
        repository = dep.get("repository") if isinstance(dep, dict) else None
        if isinstance(repository, str) and repository.startswith("file://"):
            target = posixpath.normpath(posixpath.join(rel, repository.removeprefix("file://")))
            if not target.startswith("../") and not target.startswith("/"):
                out.add(target)
    return out
