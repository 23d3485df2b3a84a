"""What rendering works on and produces: the commit's files (``Workspace``), each document as a renderer
produced it (``RawObject``), an app's keyed render (``RenderResult``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_check.model.app import App
from gitops_check.model.objects import Manifest, Origin


@dataclass(frozen=True)
class Workspace:
    """A repository's files at one revision, materialized in a folder renderers may read (never the user's checkout)."""

    root: Path
    label: str  # "./k8s-manifests@1a2b3c4" or "./k8s-manifests (working tree)"
    revision: str | None = None  # full commit SHA; None for the working tree
    repo_path: Path | None = None  # the repository the files came from
    warnings: tuple[str, ...] = ()  # what materializing skipped (submodules, nested repositories)
    # Files (paths relative to root) known to hold none of DISCOVERY_MARKERS, learned while writing them, so
    # discovery does not read them again; None when not known (a working tree, a copied workspace).
    unmarked: frozenset[str] | None = field(default=None, compare=False, repr=False)


# What discovery looks for in a file before parsing it (Argo CD's and Flux's API groups, Argo CD's settings
# ConfigMap): a file holding none of them declares nothing discovery reads.
DISCOVERY_MARKERS: tuple[bytes, ...] = (
    b"argoproj.io",
    b"argocd-cm",
    b"toolkit.fluxcd.io",
    b"extensions.fluxcd.io",
)


@dataclass(frozen=True)
class RawObject:
    """One document as a renderer produced it, before validation and identity (``identity.assign_keys``)."""

    body: Any
    origin: Origin
    # Secret values the renderer filled in from a Kubernetes Secret (Flux substituteFrom / valuesFrom), as
    # ``data.<key>`` / ``stringData.<key>``: Git holds a reference there, not the value (hygiene's plain-secret).
    secret_sourced: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RenderResult:
    app: App
    manifests: tuple[Manifest, ...]
    warnings: tuple[str, ...] = ()
