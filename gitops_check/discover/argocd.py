"""Argo CD apps: Application and ApplicationSet objects in the repository, and those other apps render.

The scanner reads the workspace (or the folders ``discovery.argocd.paths`` names) for Application and
ApplicationSet objects. One that sits in a folder another scanned Application renders (an App of Apps root's
folder or its Kustomize bases) is left to the expander: it will come out of that root's render, with the
root's transformations applied, exactly as Argo CD sees it. Folders of Helm charts are not scanned (their
templates are not objects yet). The expander looks at every rendered app for Application and ApplicationSet
objects; ``check`` calls it level by level, with a depth limit.

Settings: the project file's ``discovery.argocd`` (paths, control-plane namespace, tracking method...), else
Argo CD's own ``argocd-cm`` ConfigMap when the repository has it, else Argo CD's defaults.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_check import repourl, yamlio
from gitops_check.discover.appset import expand_appset
from gitops_check.discover.appset_params import GenEnv, GeneratorError
from gitops_check.discover.argocd_config import ArgoConfig, parse_argocd_config, reads_of
from gitops_check.discover.argocd_spec import ArgoSettings, application_to_app, kustomize_settings
from gitops_check.discover.gotemplate import Syntax, TemplateError, Templater
from gitops_check.discover.options import DiscoverOptions, StateKey
from gitops_check.discover.project import Discovery
from gitops_check.errors import ConfigError, GitopsCheckError, InputError
from gitops_check.model.app import App, TrackingMethod
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.result import AppError
from gitops_check.project.config import ProjectConfig

KINDS = ("Application", "ApplicationSet")
_SNIFF = (b"argoproj.io", b"argocd-cm")
_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True, eq=False)
class Found:
    """An Application or ApplicationSet object and where it was declared."""

    kind: str
    doc: dict[str, Any]
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class _State:
    """Per workspace of a run: settings, and the apps already found (to tell a re-declared app from a copy)."""

    config: ArgoConfig
    settings: ArgoSettings
    seen: dict[str, tuple[str, str]] = field(default_factory=dict)  # app name -> (fingerprint, origin)
    lock: threading.Lock = field(default_factory=threading.Lock)  # for ``seen``: apps render in threads


# Kept in the run's DiscoveryState, per workspace: what scan learned, for expand.
_STATE = StateKey[_State]("argocd")


# ---------------------------------------------------------------------------------------------------------------
# Scanner


def scan(ws: Workspace, project: ProjectConfig | None, options: DiscoverOptions) -> Discovery:
    config = parse_argocd_config(project)
    found = list(_find(ws, config.paths))
    state = _new_state(ws, options, config, [f for f in found if f.kind == "ConfigMap"])
    options.state.put(_STATE, state, ws)
    out = Discovery()
    objects = [f for f in found if f.kind in KINDS]
    if not objects:
        return out
    children = _children(ws, objects, state.settings)
    for f in objects:
        if f in children:
            continue
        _add(out, f, state, options, ws, origin=f.where, context=f.where, namespace=None)
    if children:
        parents = sorted({p for ps in children.values() for p in ps})
        out.notes.append(
            f"{len(children)} Argo CD object(s) in folders that {', '.join(parents)} render(s): "
            "taken from that render (App of Apps)"
        )
    return out


def expand(app: App, objects: Sequence[RawObject], ws: Workspace, options: DiscoverOptions) -> Discovery:
    out = Discovery()
    argo = [o for o in objects if _argo_kind(o.body) in KINDS]
    if not argo:
        return out
    # A workspace scan did not see (another repository an Application points at): Argo CD's defaults.
    state = options.state.get(_STATE, lambda: _new_state(ws, options, ArgoConfig(), []), ws)
    for obj in argo:
        body = obj.body
        f = Found(str(body["kind"]), body, obj.origin.file or app.name, obj.origin.line or 0)
        file = obj.origin.file or "its output"
        ns = (body.get("metadata") or {}).get("namespace") or app.destination.namespace
        _add(
            out, f, state, options, ws,
            origin=f"rendered by app {app.name} ({file})", context=f"rendered by app {app.name}, {file}", namespace=ns,
        )  # fmt: skip
    return out


def _argo_kind(body: Any) -> str | None:
    if not isinstance(body, dict) or not str(body.get("apiVersion", "")).startswith("argoproj.io/"):
        return None
    kind = body.get("kind")
    return kind if isinstance(kind, str) else None


def _add(
    out: Discovery,
    f: Found,
    state: _State,
    options: DiscoverOptions,
    ws: Workspace,
    *,
    origin: str,  # where an Application came from, for App.origin
    context: str,  # the same for an ApplicationSet, inside "ApplicationSet name (...)"
    namespace: str | None,
) -> None:
    name = str((f.doc.get("metadata") or {}).get("name") or f"<unnamed at {f.where}>")
    if f.kind == "Application":
        try:
            app = application_to_app(f.doc, origin, state.settings, namespace)
        except GitopsCheckError as e:
            out.errors.append(AppError(name, f"not checked: {e.message}", f.file, f.line or None, "discover"))
            return
        _remember(out, app, f.doc, state)
        return
    ns = str((f.doc.get("metadata") or {}).get("namespace") or namespace or state.settings.control_namespace)
    try:
        result = expand_appset(f.doc, _gen_env(f.doc, state, options, ws), ns)
    except TemplateError as e:  # GeneratorError, or goTemplate without its helper
        out.errors.append(
            AppError(name, f"ApplicationSet not checked: {e.message}", f.file, f.line or None, "discover")
        )
        return
    for message in result.errors:
        out.errors.append(
            AppError(name, f"ApplicationSet: {message}; the Applications it would generate are not checked",
                     f.file, f.line or None, "discover")
        )  # fmt: skip
    limit = options.job.max_generated_apps
    so_far = options.generated.take(len(result.apps), limit)
    if so_far is not None:
        out.errors.append(
            AppError(name, f"ApplicationSet: its {len(result.apps)} Applications are not checked: with them this "
                     f"run would generate {so_far + len(result.apps)}, more than the {limit} allowed (the job may "
                     "raise the limit with --max-generated-apps)", f.file, f.line or None, "discover")
        )  # fmt: skip
        return
    label = f"ApplicationSet {name} ({context})"
    for generated in result.apps:
        app_origin = f"{label}, {generated.generator}" + (
            f" [{generated.params}]" if generated.params else ""
        )
        try:
            app = application_to_app(generated.doc, app_origin, state.settings, ns)
        except GitopsCheckError as e:
            app_name = str(generated.doc["metadata"].get("name"))
            out.errors.append(
                AppError(app_name, f"not checked: {e.message}", f.file, f.line or None, "discover")
            )
            continue
        _remember(out, app, generated.doc, state)


def _remember(out: Discovery, app: App, doc: Mapping[str, Any], state: _State) -> None:
    """Keep one app per name: an identical copy is noted, a different one is an error (Argo CD keeps one)."""
    fingerprint = hashlib.sha256(
        json.dumps(doc.get("spec"), sort_keys=True, default=str).encode()
    ).hexdigest()
    with state.lock:
        earlier = state.seen.get(app.name)
        if earlier is None:
            state.seen[app.name] = (fingerprint, app.origin)
    if earlier is None:
        out.apps.append(app)
    elif earlier[0] == fingerprint:
        out.notes.append(f"{app.name} is declared twice ({earlier[1]}; {app.origin}) with the same spec")
    else:
        out.apps = [a for a in out.apps if a.name != app.name]
        out.errors.append(
            AppError(app.name, f"two different Applications are named {app.name} ({earlier[1]}; {app.origin}); "
                     "Argo CD keeps only one of them, so neither is checked: rename one", stage="discover")
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# Settings and state


def _new_state(ws: Workspace, options: DiscoverOptions, config: ArgoConfig, cms: list[Found]) -> _State:
    cm_found = next((f for f in cms if (f.doc.get("metadata") or {}).get("name") == "argocd-cm"), None)
    cm = cm_found.doc if cm_found else None
    data = (cm or {}).get("data") or {}
    cm_ns = (cm or {}).get("metadata", {}).get("namespace")
    method_text = config.tracking_method or data.get("application.resourceTrackingMethod") or "annotation"
    try:
        method = TrackingMethod(str(method_text))
    except ValueError:
        raise ConfigError(
            f"unknown Argo CD tracking method {method_text!r} (annotation, label, annotation+label)"
        ) from None
    if config.in_cluster is None and str(data.get("cluster.inClusterEnabled", "true")).lower() == "false":
        config = ArgoConfig(**{**config.__dict__, "in_cluster": False})
    settings = ArgoSettings(
        control_namespace=config.namespace or cm_ns or "argocd",
        tracking_method=method,
        label_key=config.label_key
        or data.get("application.instanceLabelKey")
        or "app.kubernetes.io/instance",
        this_repo_urls=options.this_repo_urls,
        repo_key=lambda url, rev: _repo_key(url, rev, options),
        revision_of=lambda repo: _revision_of(repo, ws, options),
        kustomize=kustomize_settings(data, cm_found.where) if cm_found else None,
    )
    return _State(config, settings)


def _repo_key(url: str, revision: str | None, options: DiscoverOptions) -> str | None:
    canon = repourl.canonical(url)
    if canon not in options.this_repo_urls:
        return canon
    if not options.honour_target_revision or revision in (None, "", "HEAD"):
        return None
    key = f"{canon}@{revision}"
    if key in options.repo_map:
        return key
    if options.materialize is None:
        return None
    try:
        workspace = options.materialize(str(revision))
    except GitopsCheckError as e:
        raise ConfigError(
            f"targetRevision {revision} of this repository cannot be read: {e.message}"
        ) from None
    # One dict operation (atomic); two threads asking for one revision only materialize it twice.
    options.repo_map.setdefault(key, workspace)
    return key


def _revision_of(repo: str | None, ws: Workspace, options: DiscoverOptions) -> str:
    if repo is None:
        return ws.revision or ""
    mapped = options.repo_map.get(repo)
    return (mapped.revision or "") if mapped else ""


def _gen_env(doc: Mapping[str, Any], state: _State, options: DiscoverOptions, ws: Workspace) -> GenEnv:
    spec = doc.get("spec") or {}
    syntax = Syntax(bool(spec.get("goTemplate")), tuple(str(o) for o in spec.get("goTemplateOptions") or ()))

    def workspace_for(url: str, revision: str | None) -> Workspace:
        try:
            key = _repo_key(url, revision, options)
        except ConfigError as e:
            raise GeneratorError(e.message) from None
        if key is None:
            return ws
        mapped = options.repo_map.get(key)
        if mapped is None:
            raise GeneratorError(
                f"git generator repository {url} is not available; {repourl.not_available_hint(url)}"
            )
        return mapped

    return GenEnv(
        templater=Templater(syntax),
        workspace_for=workspace_for,
        clusters=state.config.clusters,
        in_cluster=state.config.in_cluster is not False,
        new_git_file_globbing=state.config.new_git_file_globbing,
        max_apps=options.job.max_appset_apps,
    )


# ---------------------------------------------------------------------------------------------------------------
# Finding objects and App of Apps children


def _find(ws: Workspace, paths: tuple[str, ...]) -> Iterator[Found]:
    root = Path(ws.root)
    top = os.fspath(root)
    below = top if top.endswith("/") else top + "/"
    for dirpath, dirnames, filenames in os.walk(top):
        # os.walk joins each folder to top: slicing gives what Path.relative_to gave, without parsing paths.
        rel_dir = dirpath[len(below) :] if dirpath != top else "."
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if "Chart.yaml" in filenames:
            dirnames[:] = []  # a chart's templates are not objects yet; its parent app renders them
            continue
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if not name.endswith(_SUFFIXES) or not _selected(rel, paths):
                continue
            if ws.unmarked is not None and rel in ws.unmarked:
                continue  # holds none of the markers, _SNIFF among them: seen while the files were written
            yield from _objects(root / rel, rel)


def _selected(rel: str, paths: tuple[str, ...]) -> bool:
    return not paths or any(rel == p or rel.startswith(p.rstrip("/") + "/") or p in ("", ".") for p in paths)


def _objects(path: Path, rel: str) -> Iterator[Found]:
    try:
        data = path.read_bytes()
    except OSError:
        return
    if not any(s in data for s in _SNIFF):
        return
    try:
        docs = list(yamlio.load_documents(data, rel))
    except InputError:
        return  # not an object file (a template of some other tool); rendering reports real problems
    for doc in docs:
        body = doc.data
        kind = _argo_kind(body)
        if kind in KINDS:
            yield Found(kind, body, rel, doc.line)
        elif (
            isinstance(body, dict)
            and body.get("kind") == "ConfigMap"
            and (body.get("metadata") or {}).get("name") == "argocd-cm"
        ):
            yield Found("ConfigMap", body, rel, doc.line)


def _children(ws: Workspace, objects: list[Found], settings: ArgoSettings) -> dict[Found, set[str]]:
    """Scanned objects that another scanned Application renders from this repository -> those Applications."""
    reads = {f: reads_of(ws, f.doc, settings) for f in objects if f.kind == "Application"}
    edges: dict[Found, set[Found]] = {f: set() for f in objects}
    for parent, (exact, recursive, files) in reads.items():
        for child in objects:
            if child is parent:
                continue
            folder = os.path.dirname(child.file) or "."
            if (
                child.file in files
                or folder in exact
                or any(folder == r or folder.startswith(r + "/") or r == "." for r in recursive)
            ):
                edges[parent].add(child)
    has_parent = {c for cs in edges.values() for c in cs}
    roots = [f for f in objects if f not in has_parent]
    reached = _reach(roots, edges)
    while len(reached) < len(objects):  # a cycle without a root: start from its first object
        first = min((f for f in objects if f not in reached), key=lambda f: (f.file, f.line))
        roots.append(first)
        reached = _reach(roots, edges)
    out: dict[Found, set[str]] = {}
    for parent, kids in edges.items():
        for kid in kids:
            if kid not in roots:
                name = str((parent.doc.get("metadata") or {}).get("name", parent.where))
                out.setdefault(kid, set()).add(name)
    return out


def _reach(roots: list[Found], edges: Mapping[Found, set[Found]]) -> set[Found]:
    seen: set[Found] = set()
    pending = list(roots)
    while pending:
        f = pending.pop()
        if f not in seen:
            seen.add(f)
            pending.extend(edges.get(f, ()))
    return seen
