"""Which chart a HelmRelease installs: from a HelmRepository, a GitRepository or OCIRepository, a HelmChart
object, or an ExternalArtifact an ArtifactGenerator builds; else a reason. Credentials in URLs are never shown.

Apart from ``flux_sources`` because an ExternalArtifact chart needs ``flux_artifacts``, which itself builds from
the sources ``flux_sources`` finds: charts -> artifacts -> sources, no cycle.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitops_check.discover.flux_artifacts import external_artifact
from gitops_check.discover.flux_objects import FluxObject, display_url, field_map, field_str, normalize_path
from gitops_check.discover.flux_sources import AppProblem, Where, git_source, oci_artifact
from gitops_check.model.source import HelmOptions, OCIArtifact


@dataclass(frozen=True)
class Chart:
    path: str
    repo: str | None
    helm: HelmOptions
    chart: str | None = None
    target_revision: str | None = None
    oci: OCIArtifact | None = None
    repo_url: str | None = None


def chart_source(obj: FluxObject, where: Where, tree: str | None = None) -> tuple[Chart, str]:
    spec = obj.spec
    chart_ref, chart = spec.get("chartRef"), field_map(spec, "chart")
    if isinstance(chart_ref, dict):
        kind, name = str(chart_ref.get("kind") or ""), str(chart_ref.get("name") or "")
        namespace = str(chart_ref.get("namespace") or obj.namespace)
        if kind == "ExternalArtifact" and name:
            return _artifact_chart(chart_ref, obj, where, tree)
        source = where.sources.get(kind, namespace, name)
        if kind == "HelmChart" and source is not None:
            return _chart_from_spec(source.spec, source, where)
        if kind == "OCIRepository" and source is not None:
            artifact = oci_artifact(source.spec)
            label = f"OCIRepository {namespace}/{name} ({display_url(artifact.url)})"
            return Chart(".", None, HelmOptions(), oci=artifact), label
        raise AppProblem(
            f"spec.chartRef {kind} {namespace}/{name} is not defined in the repository or unsupported"
        )
    if str(chart.get("kind") or "HelmChart") == "OCIRepository":
        artifact = oci_artifact(field_map(chart, "spec"))
        return Chart(".", None, HelmOptions(), oci=artifact), f"OCI chart {display_url(artifact.url)}"
    if not chart:
        raise AppProblem("HelmRelease has neither spec.chart nor spec.chartRef")
    return _chart_from_spec(field_map(chart, "spec"), obj, where)


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
        found = Chart(".", url, helm, chart=name, target_revision=field_str(chart, "version"))
        return found, f"chart {name} from {display_url(url)}"
    git = git_source(ref, owner, where)
    path = normalize_path(chart.get("chart"))
    if path is None:
        raise AppProblem(f"chart path {chart.get('chart')!r} is not a path inside {git.label}")
    found = Chart(path, git.repo, helm, repo_url=git.url, target_revision=git.revision)
    return found, f"chart {path} of {git.label}"


def _artifact_chart(
    ref: Mapping[str, Any], obj: FluxObject, where: Where, tree: str | None
) -> tuple[Chart, str]:
    """A chart composed by an ArtifactGenerator: at the artifact's root, or its one top folder (a packaged
    chart's layout, which helm-controller loads the same way)."""
    artifact = external_artifact(ref, obj, where, tree)
    root = artifact.ws.root
    if (root / "Chart.yaml").is_file():
        return Chart(".", artifact.key, HelmOptions()), f"chart of {artifact.label}"
    tops = [p for p in sorted(root.iterdir()) if p.is_dir() and (p / "Chart.yaml").is_file()]
    if len(tops) == 1 and len(list(root.iterdir())) == 1:
        return Chart(tops[0].name, artifact.key, HelmOptions()), f"chart {tops[0].name} of {artifact.label}"
    raise AppProblem(f"{artifact.label} holds no chart (no Chart.yaml at its root or in its one top folder)")
