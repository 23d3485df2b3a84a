"""Finding apps: the project file, GitOps objects (Argo CD, Flux) in the repository, folders as a last resort.

Plug-ins (``plugins.BUILTIN_PLUGINS``, by name; a caller may hand its own table) have two parts:

* a scanner reads the workspace at the start (Application files, Flux Kustomizations under ``clusters/``);
* an expander looks at what an app rendered and returns the apps declared in it (App of Apps: a root app whose
  chart renders Application objects). ``check`` feeds every render through them, level by level.

Folder auto-discovery runs only when neither the project file nor any scanner found an app: a repository
that declares its apps should not also have its folders checked as apps of their own.

``discovery: {argocd: false}`` (or ``flux: false``) in the project file turns a plug-in off entirely: its scanner
and its expander. ``discover`` notes per workspace which plug-ins are off in the run's ``DiscoveryState`` (part of
``DiscoverOptions``), so ``expand`` on the same workspace with the same options (``check``'s App of Apps loop,
preview) honours the setting without being handed the project file. Plug-ins keep what they learn for the rest
of the run there too (``StateKey``), never in their modules: two runs in one process share nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# DiscoverOptions is what discover() and expand() take: importable from here, defined with the plug-ins' view.
from gitops_check.discover.options import DiscoverOptions as DiscoverOptions
from gitops_check.discover.plugins import BUILTIN_PLUGINS, Plugin
from gitops_check.discover.project import Discovery, _project_apps, auto_discover
from gitops_check.model.app import App
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.result import AppError
from gitops_check.project.config import ProjectConfig


def _enabled(project: ProjectConfig | None, name: str) -> bool:
    if project is None:
        return True
    setting = project.discovery.get(name, True)
    return setting is not False


def disabled_plugins(
    project: ProjectConfig | None, plugins: Mapping[str, Plugin] = BUILTIN_PLUGINS
) -> frozenset[str]:
    """Names of the plug-ins (scanner and expander alike) the project file's ``discovery`` section turns off."""
    return frozenset(n for n in plugins if not _enabled(project, n))


def _merge(into: Discovery, part: Discovery) -> None:
    taken = {a.name for a in into.apps}
    for app in part.apps:
        if app.name in taken:
            into.errors.append(
                AppError(
                    app.name,
                    f"two apps are named {app.name!r} ({app.origin}); names must be unique",
                    stage="discover",
                )
            )
            continue
        taken.add(app.name)
        into.apps.append(app)
    into.notes.extend(part.notes)
    into.errors.extend(part.errors)


def discover(
    ws: Workspace,
    project: ProjectConfig | None,
    options: DiscoverOptions | None = None,
    plugins: Mapping[str, Plugin] = BUILTIN_PLUGINS,
) -> Discovery:
    options = options or DiscoverOptions()
    disabled = disabled_plugins(project, plugins)
    options.state.set_disabled(ws, disabled)
    found = Discovery()
    if project is not None and project.apps:
        _merge(found, _project_apps(ws, project))
    for name, plugin in plugins.items():
        if name not in disabled:
            _merge(found, plugin.scan(ws, project, options))
    if not found.apps and not found.errors:
        auto = auto_discover(ws)
        if project is not None:
            auto.notes.insert(0, f"{project.path} lists no apps: discovering them")
        _merge(found, auto)
    return found


def expand(
    app: App,
    objects: Sequence[RawObject],
    ws: Workspace,
    options: DiscoverOptions,
    plugins: Mapping[str, Plugin] = BUILTIN_PLUGINS,
) -> Discovery:
    """Apps declared by what ``app`` rendered (App of Apps); empty for ordinary apps.

    Expanders of plug-ins that the project file turned off (as seen by ``discover`` on ``ws`` with these
    options) do not run.
    """
    disabled = options.state.disabled(ws) or frozenset()
    found = Discovery()
    for name, plugin in plugins.items():
        if name in disabled:
            continue
        part = plugin.expand(app, objects, ws, options)
        found.apps.extend(part.apps)
        found.notes.extend(part.notes)
        found.errors.extend(part.errors)
    return found


def expand_new(
    app: App,
    objects: Sequence[RawObject],
    ws: Workspace,
    options: DiscoverOptions,
    seen: set[str],
    plugins: Mapping[str, Plugin] = BUILTIN_PLUGINS,
) -> Discovery:
    """``expand`` keeping only apps not yet in ``seen`` (which it extends): an app declared twice renders once."""
    found = expand(app, objects, ws, options, plugins)
    fresh = []
    for child in found.apps:
        if child.name in seen:
            found.notes.append(f"{child.name} (declared by {app.name}) was already found; rendered once")
            continue
        seen.add(child.name)
        fresh.append(child)
    found.apps = fresh
    return found
