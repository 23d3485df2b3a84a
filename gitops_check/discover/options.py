"""What discovery is given for a run (``DiscoverOptions``) and what it learns during it (``DiscoveryState``).

Apart from ``dispatch`` (the entry point and its plug-in table), so that the plug-ins (Argo CD, Flux) import
this and ``dispatch`` imports them without a cycle: dispatch -> plugins -> argocd|flux -> options.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from gitops_check.model.app import Destination
from gitops_check.model.objects import JSON, ResourceKey
from gitops_check.model.rendered import Workspace
from gitops_check.project.config import JobOptions


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


def _workspace_key(ws: Workspace) -> tuple[str, str | None]:
    return str(ws.root), ws.revision
