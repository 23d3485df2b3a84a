"""Which files a Flux object's source is: a GitRepository of this repository or a mapped clone, else a reason.

Only Git sources can be checked: an OCIRepository, a Bucket, or a chart from a HelmRepository or an OCI
registry needs the network, which gitops-check does not use. Credentials in URLs are never shown.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitops_check import repourl
from gitops_check.discover.dispatch import DiscoverOptions
from gitops_check.discover.flux_objects import FluxObject, SourceIndex, display_url, normalize_path
from gitops_check.model import HelmOptions, Workspace


class AppProblem(Exception):
    """The object cannot become a checkable app; the message says why and what to do."""


@dataclass(frozen=True)
class Where:
    """Where sources are looked up: the repository's (and the parent's) source objects, and the mapped clones."""

    ws: Workspace
    options: DiscoverOptions
    sources: SourceIndex


def git_source(ref: Any, obj: FluxObject, where: Where) -> tuple[str | None, Workspace, str]:
    """(Source.repo, the workspace with its files, a label) for a sourceRef that must be a GitRepository."""
    if not isinstance(ref, dict) or not ref.get("name"):
        raise AppProblem("spec.sourceRef needs kind and name")
    kind, name = str(ref.get("kind") or ""), str(ref["name"])
    namespace = str(ref.get("namespace") or obj.namespace)
    if kind != "GitRepository":
        raise AppProblem(
            f"source {kind} {namespace}/{name} is not a Git repository: fetching it needs the network, which "
            "gitops-check does not use"
        )
    source = where.sources.get(kind, namespace, name)
    if source is None:
        if (namespace, name) == ("flux-system", "flux-system"):
            return None, where.ws, "GitRepository flux-system/flux-system (taken to be this repository)"
        raise AppProblem(
            f"GitRepository {namespace}/{name} is not defined in the repository or the parent's output, so "
            "gitops-check cannot tell which repository it is"
        )
    url = str(source.spec.get("url") or "")
    canonical = repourl.canonical(url)
    label = f"GitRepository {namespace}/{name}"
    if canonical in where.options.this_repo_urls:
        return None, where.ws, f"{label} (this repository)"
    mapped = where.options.repo_map.get(canonical)
    if mapped is not None:
        return canonical, mapped, f"{label} ({display_url(url)}, mapped)"
    raise AppProblem(
        f"{label} points at {display_url(url)}, which is neither this repository nor mapped: pass "
        f"--repo-map {display_url(url)}=PATH (or --repo-url if it is this repository)"
    )


@dataclass(frozen=True)
class Chart:
    path: str
    repo: str | None
    helm: HelmOptions
    chart: str | None = None
    target_revision: str | None = None


def chart_source(obj: FluxObject, where: Where) -> tuple[Chart, str]:
    spec = obj.spec
    chart_ref, chart = spec.get("chartRef"), _map(spec, "chart")
    if isinstance(chart_ref, dict):
        kind, name = str(chart_ref.get("kind") or ""), str(chart_ref.get("name") or "")
        namespace = str(chart_ref.get("namespace") or obj.namespace)
        source = where.sources.get(kind, namespace, name)
        if kind == "HelmChart" and source is not None:
            return _chart_from_spec(source.spec, source, where)
        if kind == "OCIRepository" and source is not None:
            url = str(source.spec.get("url") or "")
            return Chart(".", url, HelmOptions(), chart=url), f"OCIRepository {namespace}/{name}"
        raise AppProblem(
            f"spec.chartRef {kind} {namespace}/{name} is not defined in the repository or unsupported"
        )
    if str(chart.get("kind") or "HelmChart") == "OCIRepository":
        url = str(_map(chart, "spec").get("url") or "")
        return Chart(".", url, HelmOptions(), chart=url), f"OCI chart {url}"
    if not chart:
        raise AppProblem("HelmRelease has neither spec.chart nor spec.chartRef")
    return _chart_from_spec(_map(chart, "spec"), obj, where)


def _chart_from_spec(chart: Mapping[str, Any], owner: FluxObject, where: Where) -> tuple[Chart, str]:
    ref = chart.get("sourceRef")
    if not isinstance(ref, dict):
        raise AppProblem("chart.spec.sourceRef is missing")
    kind = str(ref.get("kind") or "")
    namespace = str(ref.get("namespace") or owner.namespace)
    values_files = tuple(
        "/" + posixpath.normpath(str(f)).lstrip("/") for f in chart.get("valuesFiles") or [] if f
    )
    helm = HelmOptions(
        value_files=values_files, ignore_missing_value_files=chart.get("ignoreMissingValuesFiles") is True
    )
    if kind == "HelmRepository":
        repo = where.sources.get(kind, namespace, str(ref.get("name")))
        url = str(repo.spec.get("url") or "") if repo else f"HelmRepository {namespace}/{ref.get('name')}"
        name = str(chart.get("chart") or "")
        found = Chart(".", url, helm, chart=name, target_revision=_opt_str(chart, "version"))
        return found, f"chart {name} from {display_url(url)}"
    repo_key, _, label = git_source(ref, owner, where)
    path = normalize_path(chart.get("chart"))
    if path is None:
        raise AppProblem(f"chart path {chart.get('chart')!r} is not a path inside {label}")
    return Chart(path, repo_key, helm), f"chart {path} of {label}"


def _map(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)
