"""Flux apps: Kustomizations and HelmReleases, found the way the cluster would come to apply them.

The scanner (run at the start) returns the *roots*: Kustomizations that no other Kustomization of the
repository takes in (``clusters/<env>/flux-system`` after ``flux bootstrap``), and HelmReleases in files no
Kustomization takes in. The expander (run on each rendered app, level by level) returns the Kustomizations
and HelmReleases a Kustomization renders, after its substitution, with its rendered ConfigMaps and Secrets
available to their ``substituteFrom``/``valuesFrom``. A Kustomization that renders itself (``flux-system``) is
not found again.

When the repository holds several clusters (roots under ``clusters/<a>/`` and ``clusters/<b>/``), app names
start with the cluster (``prod/Kustomization/flux-system/apps``) and their destination is that cluster's name,
to map under ``clusters:`` in the project file; a single cluster is the one given on the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gitops_check import repourl
from gitops_check.discover import flux_objects
from gitops_check.discover.flux_apps import (
    OBJECT_LABEL,
    TREE_LABEL,
    Context,
    app_name,
    helmrelease_app,
    kustomization_app,
)
from gitops_check.discover.flux_artifacts import external_artifact, tree_of
from gitops_check.discover.flux_objects import FluxObject, SourceIndex
from gitops_check.discover.flux_sources import AppProblem, Where
from gitops_check.discover.flux_values import FluxSettings, ObjectSource, parse_settings
from gitops_check.discover.options import DiscoverOptions, StateKey
from gitops_check.discover.project import Discovery, load_project
from gitops_check.errors import GitopsCheckError
from gitops_check.model.app import App, Destination
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.result import AppError
from gitops_check.project.config import ProjectConfig


def scan(ws: Workspace, project: ProjectConfig | None, options: DiscoverOptions) -> Discovery:
    out = Discovery()
    found = _scanned(ws, options)
    out.notes.extend(found.notes)
    if not found.objects:
        return out  # no Flux object: no patch file to tell from one (patch_files reads every kustomization)
    patches = options.state.get(_PATCH_FILES, lambda: flux_objects.patch_files(ws), ws)
    objects = [o for o in found.objects if o.file not in patches]
    kustomizations = [o for o in objects if o.kind == "Kustomization"]
    releases = [o for o in objects if o.kind == "HelmRelease"]
    if not kustomizations and not releases:
        return out
    try:
        settings = parse_settings(project, dict(options.job.environment))
    except GitopsCheckError as e:
        out.errors.append(AppError("flux", e.message, e.file, e.line, "discover"))
        return out
    sources = SourceIndex(found.objects)
    kustomizations = _without_fragments(kustomizations, out.notes)
    included = _inclusions(ws, kustomizations, sources, options)
    roots = _roots(kustomizations, releases, included, out.notes)
    trees = {id(o): _tree_of(o) for o in roots}
    several = len({t for t in trees.values() if t}) >= 2
    for obj in roots:
        tree = trees[id(obj)] if several else None
        ctx = Context(
            ws, options, sources, _values(settings, options, tree), settings, tree=tree, cluster=tree
        )
        _add(out, obj, ctx)
    count = f"{len(kustomizations)} Kustomization(s) and {len(releases)} HelmRelease(s)"
    out.notes.insert(0, f"flux: {count} in the repository; {len(roots)} applied by none of the others")
    return out


def expand(app: App, objects: Sequence[RawObject], ws: Workspace, options: DiscoverOptions) -> Discovery:
    out = Discovery()
    if app.kind != "flux-kustomization":
        return out
    default_ns = app.destination.namespace or "default"
    rendered = flux_objects.from_rendered(objects, default_ns)
    children = [o for o in rendered if o.kind in ("Kustomization", "HelmRelease")]
    if not children:
        return out
    try:
        settings = options.state.get(
            _SETTINGS, lambda: parse_settings(load_project(ws), dict(options.job.environment)), ws
        )
    except GitopsCheckError as e:
        out.errors.append(AppError(app.name, e.message, e.file, e.line, "discover"))
        return out
    sources = SourceIndex(_scanned(ws, options).objects)
    sources.add(rendered)
    values = _values(settings, options, app.labels.get(TREE_LABEL))
    values.rendered = [o.body for o in objects]
    values.rendered_namespace = default_ns
    tree = app.labels.get(TREE_LABEL)
    ctx = Context(
        ws, options, sources, values, settings, tree=tree, cluster=app.destination.name, parent=app.name
    )
    for child in children:
        if child.id == app.labels.get(OBJECT_LABEL):
            continue  # a Kustomization that applies itself (flux bootstrap)
        _add(out, child, ctx)
    return out


def _add(out: Discovery, obj: FluxObject, ctx: Context) -> None:
    build: Callable[[FluxObject, Context], App] = (
        kustomization_app if obj.kind == "Kustomization" else helmrelease_app
    )
    try:
        out.apps.append(build(obj, ctx))
    except AppProblem as e:
        out.errors.append(
            AppError(app_name(obj, ctx.tree), f"not checked: {e}", obj.file, obj.line, "discover")
        )


def _values(settings: FluxSettings, options: DiscoverOptions, cluster: str | None) -> ObjectSource:
    """Values come from the cluster Flux runs in: the tree's cluster (a Kustomization's kubeConfig only changes
    where its objects go)."""
    where = f"cluster {cluster}" if cluster else "the cluster"
    return ObjectSource(
        settings=settings,
        cluster=options.cluster_lookup,
        cluster_name=f"{where} (snapshot or live)",
        destination=Destination(name=cluster),
    )


# What Flux discovery read from a workspace's files, kept per workspace for the rest of the run (expand reads
# the repository's objects and settings again for every rendered Kustomization).
_SCAN = StateKey[flux_objects.Scan]("flux objects")
_PATCH_FILES = StateKey[frozenset[str]]("flux patch files")
_PATCHED_PATHS = StateKey[dict[tuple[str, str], frozenset[str]]]("flux patched paths")
_SETTINGS = StateKey[FluxSettings]("flux project settings")


def _scanned(ws: Workspace, options: DiscoverOptions) -> flux_objects.Scan:
    return options.state.get(_SCAN, lambda: flux_objects.scan_workspace(ws), ws)


# ---------------------------------------------------------------------------------------------------------------
# Roots


def _without_fragments(kustomizations: Sequence[FluxObject], notes: list[str]) -> list[FluxObject]:
    """A Kustomization without a sourceRef is no object Flux accepts: a patch or a fragment left in a file that
    no kustomization names, not something a cluster applies."""
    out = []
    for obj in kustomizations:
        if isinstance(obj.spec.get("sourceRef"), dict):
            out.append(obj)
        else:
            notes.append(
                f"{obj.id} ({obj.where}) has no spec.sourceRef: taken for a patch fragment, not an app"
            )
    return out


def _inclusions(
    ws: Workspace, kustomizations: Sequence[FluxObject], sources: SourceIndex, options: DiscoverOptions
) -> dict[int, frozenset[str]]:
    """For each Kustomization built from this repository, the repository files its path takes in.

    The path is the one a cluster applies: for a Kustomization in a kustomize base, the paths its overlays
    patch in (flux_objects.patched_paths); a Kustomization without a path applies its source's root. For an
    ExternalArtifact source, the files of the built artifact its path takes in, traced back to this repository.
    """
    patched = options.state.get(
        _PATCHED_PATHS, lambda: flux_objects.patched_paths(ws, _scanned(ws, options).objects), ws
    )
    out: dict[int, frozenset[str]] = {}
    for obj in kustomizations:
        paths = patched.get((obj.file or "", obj.name)) or frozenset({str(obj.spec.get("path") or "")})
        normalized = [p for p in (flux_objects.normalize_path(p) for p in sorted(paths)) if p is not None]
        files: set[str] = set()
        ref = obj.spec.get("sourceRef")
        if isinstance(ref, dict) and ref.get("kind") == "ExternalArtifact":
            files.update(_artifact_inclusions(ws, obj, ref, normalized, sources, options))
        elif _from_this_repo(obj, sources, options):
            for path in normalized:
                files.update(flux_objects.included_files(ws.root, path))
        else:
            continue
        out[id(obj)] = frozenset(files)
    return out


def _artifact_inclusions(
    ws: Workspace,
    obj: FluxObject,
    ref: dict[str, object],
    paths: Sequence[str],
    sources: SourceIndex,
    options: DiscoverOptions,
) -> set[str]:
    try:
        artifact = external_artifact(ref, obj, Where(ws, options, sources), tree_of(obj.file))
    except (AppProblem, GitopsCheckError):
        return set()  # reported when the Kustomization itself becomes an app
    files: set[str] = set()
    for path in paths:
        for rel in flux_objects.included_files(artifact.ws.root, path):
            repo, origin = artifact.origins.get(rel, ("", ""))
            if repo is None:
                files.add(origin)
    return files


def _from_this_repo(obj: FluxObject, sources: SourceIndex, options: DiscoverOptions) -> bool:
    ref = obj.spec.get("sourceRef")
    if not isinstance(ref, dict) or ref.get("kind") != "GitRepository":
        return False
    namespace, name = str(ref.get("namespace") or obj.namespace), str(ref.get("name"))
    source = sources.get("GitRepository", namespace, name)
    if source is None:
        return (namespace, name) == ("flux-system", "flux-system")
    return repourl.canonical(str(source.spec.get("url") or "")) in options.this_repo_urls


def _roots(
    kustomizations: Sequence[FluxObject],
    releases: Sequence[FluxObject],
    included: dict[int, frozenset[str]],
    notes: list[str],
) -> list[FluxObject]:
    def taken_in_by(obj: FluxObject) -> list[FluxObject]:
        return [k for k in kustomizations if k is not obj and obj.file in included.get(id(k), frozenset())]

    reached: set[int] = set()

    def reach(start: FluxObject) -> None:
        pending = [start]
        while pending:
            current = pending.pop()
            if id(current) not in reached:
                reached.add(id(current))
                files = included.get(id(current), frozenset())
                pending.extend(k for k in kustomizations if k.file in files)

    roots = [k for k in kustomizations if not taken_in_by(k)]
    for root in roots:
        reach(root)
    # Kustomizations that only take each other in (a cycle) would never be reached: one of them becomes a root.
    for k in kustomizations:
        if id(k) not in reached:
            notes.append(
                f"{k.id} ({k.where}) is applied only from a cycle of Kustomizations; checked as a root"
            )
            roots.append(k)
            reach(k)
    roots.extend(r for r in releases if not taken_in_by(r))
    return roots


def _tree_of(obj: FluxObject) -> str | None:
    return tree_of(obj.file)
