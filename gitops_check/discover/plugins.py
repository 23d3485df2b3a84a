"""The discovery plug-ins: each one's scanner and expander, by the name the project file's ``discovery``
section turns off.

Kept apart from ``dispatch`` (which runs them) so the plug-ins import ``options`` and this table imports them,
without a cycle. The table is immutable, and its order is the order they run in; a caller that wants others (a
test, an embedding program) hands its own mapping to ``discover``/``expand``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from gitops_check.discover import argocd, flux
from gitops_check.discover.options import DiscoverOptions
from gitops_check.discover.project import Discovery
from gitops_check.model.app import App
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.project.config import ProjectConfig

Scanner = Callable[[Workspace, ProjectConfig | None, DiscoverOptions], Discovery]
Expander = Callable[[App, Sequence[RawObject], Workspace, DiscoverOptions], Discovery]


@dataclass(frozen=True)
class Plugin:
    scan: Scanner  # reads the workspace at the start (Application files, Flux Kustomizations)
    expand: Expander  # the apps an app's render declares (App of Apps)


BUILTIN_PLUGINS: Mapping[str, Plugin] = MappingProxyType(
    {
        "argocd": Plugin(argocd.scan, argocd.expand),
        "flux": Plugin(flux.scan, flux.expand),
    }
)
