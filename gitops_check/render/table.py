"""The dispatch table: which renderer runs for which tool.

Kept apart from ``base`` (the renderers' shared kit), so that ``base`` imports no renderer and the renderers
import ``base`` without a cycle. The table is immutable; a caller that wants other renderers (a test, an
embedding program) hands its own mapping to ``render_app``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gitops_check.model.source import Tool
from gitops_check.render import flux, flux_helm, helm, kustomize, plain, plugin
from gitops_check.render.base import Renderer

BUILTIN_RENDERERS: Mapping[str, Renderer] = MappingProxyType(
    {
        Tool.DIRECTORY.value: plain.render_directory,
        Tool.KUSTOMIZE.value: kustomize.render_kustomize,
        Tool.HELM.value: helm.render_helm,
        Tool.FLUX_KUSTOMIZE.value: flux.render_flux_kustomization,
        Tool.FLUX_HELM.value: flux_helm.render_helm_release,
        Tool.PLUGIN.value: plugin.render_plugin,
    }
)
