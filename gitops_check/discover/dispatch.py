"""Finding apps: the project file, GitOps objects (Argo CD, Flux) in the repository, folders as a last resort.

Two kinds of plug-ins, registered by name:

* scanners read the workspace at the start (Application files, Flux Kustomizations under ``clusters/``);
* expanders look at what an app rendered and return the apps declared in it (App of Apps: a root app whose
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

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from gitops_check.discover.project import Discovery, _project_apps, auto_discover
from gitops_check.model.app import App, Destination
from gitops_check.model.objects import JSON, ResourceKey
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.result import AppError
from gitops_check.project.config import JobOptions, ProjectConfig


@dataclass(frozen=True)
class DiscoverOptions:
    """How discovery maps what it finds onto this checkout."""

    # Canonical URLs (repourl.canonical) that mean "the repository being checked".
    this_repo_urls: frozenset[str] = frozenset()
    # Canonical URL -> workspace of another repository, from --repo-map.
    repo_map: dict[str, Workspace] = field(default_factory=dict)
    # Render sources of this repository at their own targetRevision instead of the checked commit.
    honour_target_revision: bool = False
    max_depth: int = 5
    # This repository at another revision (for honour_target_revision); raises GitopsCheckError. Discovery adds
    # what it materializes to repo_map under "<canonical url>@<revision>".
    materialize: Callable[[str], Workspace] | None = None
    # One object of the cluster a destination maps to (snapshot or live), read while discovering: Flux
    # substituteFrom/valuesFrom name ConfigMaps and Secrets that may exist only there. None: no cluster;
    # raises GitopsCheckError when the cluster cannot say (unmapped, unreadable, not captured).
    cluster_lookup: Callable[[Destination, ResourceKey], JSON | None] | None = None
    # What only the job decides: the environment variables ``fromEnv`` may read (nothing else of the job's
    # environment reaches discovery), the caps on generated Applications.
    job: JobOptions = field(default_factory=JobOptions)
    # Applications generated so far in this run (shared by the copies dataclasses.replace makes).
    generated: GeneratedCount = field(default_factory=lambda: GeneratedCount())
    # What discover() learned about each workspace, for expand() later in the same run (shared like
    # ``generated``; preview's two commits share one).
    state: DiscoveryState = field(default_factory=lambda: DiscoveryState())


class GeneratedCount:
    """A thread-safe running count of generated Applications, for the per-run cap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0

    def take(self, n: int, limit: int) -> int | None:
        """Count ``n`` more if the total stays within ``limit`` (None); else the total so far, and count nothing."""
        with self._lock:
            if self.total + n > limit:
                return self.total
            self.total += n
            return None


_T = TypeVar("_T")


class StateKey(Generic[_T]):
    """A plug-in's place in a run's ``DiscoveryState``, typed by what the plug-in keeps there (one per plug-in
    module, made at import: the key is a constant, the state lives in the run)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StateKey({self.name!r})"


class DiscoveryState:
    """What one run's discovery learned: per workspace (root, revision), the plug-ins its project file turned
    off; and what each plug-in keeps for the run (``get``/``put``), for the whole run or per workspace."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._disabled: dict[tuple[str, str | None], frozenset[str]] = {}
        self._kept: dict[tuple[StateKey[object], tuple[str, str | None] | None], object] = {}

    def get(self, key: StateKey[_T], make: Callable[[], _T], ws: Workspace | None = None) -> _T:
        """The plug-in's state for the run (``ws``: for that workspace in the run), made on first use (outside the
        lock: threads racing to make it all get the first one kept)."""
        slot = (cast(StateKey[object], key), None if ws is None else _workspace_key(ws))
        with self._lock:
            if slot in self._kept:
                return cast(_T, self._kept[slot])
        made = make()
        with self._lock:
            return cast(_T, self._kept.setdefault(slot, made))

    def put(self, key: StateKey[_T], value: _T, ws: Workspace | None = None) -> None:
        """Replace the plug-in's state (a scanner starting afresh on a workspace)."""
        with self._lock:
            self._kept[(cast(StateKey[object], key), None if ws is None else _workspace_key(ws))] = value

    def set_disabled(self, ws: Workspace, names: frozenset[str]) -> None:
        with self._lock:
            self._disabled[_workspace_key(ws)] = names

    def disabled(self, ws: Workspace) -> frozenset[str] | None:
        """None: ``discover`` did not look at ``ws`` in this run."""
        with self._lock:
            return self._disabled.get(_workspace_key(ws))


Scanner = Callable[[Workspace, ProjectConfig | None, DiscoverOptions], Discovery]
Expander = Callable[[App, Sequence[RawObject], Workspace, DiscoverOptions], Discovery]

SCANNERS: dict[str, Scanner] = {}
EXPANDERS: dict[str, Expander] = {}


def register_scanner(name: str, scanner: Scanner) -> None:
    SCANNERS[name] = scanner


def register_expander(name: str, expander: Expander) -> None:
    EXPANDERS[name] = expander


def _load_plugins() -> None:
    """Import the modules that register scanners and expanders (they register on import)."""
    import importlib

    for module in ("gitops_check.discover.argocd", "gitops_check.discover.flux"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise


def _enabled(project: ProjectConfig | None, name: str) -> bool:
    if project is None:
        return True
    setting = project.discovery.get(name, True)
    return setting is not False


def disabled_plugins(project: ProjectConfig | None) -> frozenset[str]:
    """Names of the plug-ins (scanner and expander alike) the project file's ``discovery`` section turns off."""
    _load_plugins()
    return frozenset(n for n in (*SCANNERS, *EXPANDERS) if not _enabled(project, n))


def _workspace_key(ws: Workspace) -> tuple[str, str | None]:
    return str(ws.root), ws.revision


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
    ws: Workspace, project: ProjectConfig | None, options: DiscoverOptions | None = None
) -> Discovery:
    options = options or DiscoverOptions()
    disabled = disabled_plugins(project)
    options.state.set_disabled(ws, disabled)
    found = Discovery()
    if project is not None and project.apps:
        _merge(found, _project_apps(ws, project))
    for name, scanner in SCANNERS.items():
        if name not in disabled:
            _merge(found, scanner(ws, project, options))
    if not found.apps and not found.errors:
        auto = auto_discover(ws)
        if project is not None:
            auto.notes.insert(0, f"{project.path} lists no apps: discovering them")
        _merge(found, auto)
    return found


def expand(app: App, objects: Sequence[RawObject], ws: Workspace, options: DiscoverOptions) -> Discovery:
    """Apps declared by what ``app`` rendered (App of Apps); empty for ordinary apps.

    Expanders of plug-ins that the project file turned off (as seen by ``discover`` on ``ws`` with these
    options) do not run.
    """
    _load_plugins()
    disabled = options.state.disabled(ws) or frozenset()
    found = Discovery()
    for name, expander in EXPANDERS.items():
        if name in disabled:
            continue
        part = expander(app, objects, ws, options)
        found.apps.extend(part.apps)
        found.notes.extend(part.notes)
        found.errors.extend(part.errors)
    return found


def expand_new(
    app: App, objects: Sequence[RawObject], ws: Workspace, options: DiscoverOptions, seen: set[str]
) -> Discovery:
    """``expand`` keeping only apps not yet in ``seen`` (which it extends): an app declared twice renders once."""
    found = expand(app, objects, ws, options)
    fresh = []
    for child in found.apps:
        if child.name in seen:
            found.notes.append(f"{child.name} (declared by {app.name}) was already found; rendered once")
            continue
        seen.add(child.name)
        fresh.append(child)
    found.apps = fresh
    return found
