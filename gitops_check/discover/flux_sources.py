"""Which files a Flux object's source is: a GitRepository of this repository or a mapped clone, or an
OCIRepository (fetched when rendering, under the job's network policy); else a reason. Charts are
``flux_charts``'s (they may come from an ExternalArtifact, which ``flux_artifacts`` builds from the sources
named here). Credentials in URLs are never shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitops_check import repourl
from gitops_check.discover.flux_objects import FluxObject, SourceIndex, display_url, field_map, field_str
from gitops_check.discover.options import DiscoverOptions
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import OCIArtifact


class AppProblem(Exception):
    """The object cannot become a checkable app; the message says why and what to do."""


@dataclass(frozen=True)
class Where:
    """Where sources are looked up: the repository's (and the parent's) source objects, and the mapped clones."""

    ws: Workspace
    options: DiscoverOptions
    sources: SourceIndex


@dataclass(frozen=True)
class GitSource:
    repo: str | None  # Source.repo: None for this repository, else the canonical URL
    ws: Workspace | None  # its files when known at discovery (this repository, a mapped clone); None: fetched
    label: str
    url: str | None = None  # to fetch: the URL as written
    revision: str | None = None  # to fetch: remote.gitfetch.flux_revision of spec.ref


def git_source(ref: Any, obj: FluxObject, where: Where) -> GitSource:
    """Where a sourceRef that must be a GitRepository takes its files from."""
    if not isinstance(ref, dict) or not ref.get("name"):
        raise AppProblem("spec.sourceRef needs kind and name")
    kind, name = str(ref.get("kind") or ""), str(ref["name"])
    namespace = str(ref.get("namespace") or obj.namespace)
    if kind != "GitRepository":
        raise AppProblem(
            f"source {kind} {namespace}/{name} is not a Git repository or an OCIRepository, which gitops-check "
            "cannot fetch"
        )
    source = where.sources.get(kind, namespace, name)
    if source is None:
        if (namespace, name) == ("flux-system", "flux-system"):
            return GitSource(
                None, where.ws, "GitRepository flux-system/flux-system (taken to be this repository)"
            )
        raise AppProblem(
            f"GitRepository {namespace}/{name} is not defined in the repository or the parent's output, so "
            "gitops-check cannot tell which repository it is"
        )
    url = str(source.spec.get("url") or "")
    canonical = repourl.canonical(url)
    label = f"GitRepository {namespace}/{name}"
    if canonical in where.options.this_repo_urls:
        return GitSource(None, where.ws, f"{label} (this repository)")
    mapped = where.options.repo_map.get(canonical)
    if mapped is not None:
        return GitSource(canonical, mapped, f"{label} ({display_url(url)}, mapped)")
    if not url:
        raise AppProblem(f"{label} has no spec.url")
    from gitops_check.remote.gitfetch import flux_revision

    ref_spec = source.spec.get("ref")
    revision = flux_revision(ref_spec if isinstance(ref_spec, dict) else None)
    return GitSource(canonical, None, f"{label} ({display_url(url)})", url, revision)


def oci_source(ref: Any, obj: FluxObject, where: Where) -> tuple[OCIArtifact, str] | None:
    """The artifact of a sourceRef naming an OCIRepository (None for other kinds)."""
    if not isinstance(ref, dict) or str(ref.get("kind") or "") != "OCIRepository":
        return None
    name = str(ref.get("name") or "")
    namespace = str(ref.get("namespace") or obj.namespace)
    source = where.sources.get("OCIRepository", namespace, name)
    if source is None:
        raise AppProblem(
            f"OCIRepository {namespace}/{name} is not defined in the repository or the parent's output"
        )
    return oci_artifact(
        source.spec
    ), f"OCIRepository {namespace}/{name} ({display_url(str(source.spec.get('url') or ''))})"


def oci_artifact(spec: Mapping[str, Any], media_type: str | None = None) -> OCIArtifact:
    url = str(spec.get("url") or "")
    if not url.startswith("oci://"):
        raise AppProblem(f"OCIRepository url {display_url(url)!r} must start with oci://")
    ref = field_map(spec, "ref")
    selector = field_map(spec, "layerSelector")
    return OCIArtifact(
        url=url,
        tag=field_str(ref, "tag"),
        semver=field_str(ref, "semver"),
        semver_filter=field_str(ref, "semverFilter"),
        digest=field_str(ref, "digest"),
        media_type=field_str(selector, "mediaType") or media_type,
        operation=str(selector.get("operation") or "extract"),
        insecure=spec.get("insecure") is True,
    )
