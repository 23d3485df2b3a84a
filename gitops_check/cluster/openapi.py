"""The cluster's own OpenAPI v3 for kinds the bundled schema does not describe (CRDs, aggregated APIs).

Built-in group-versions come from the bundled copy (it also holds the defaults the server's OpenAPI does not
state); the rest is read here, one document per group-version, and compacted (``kubeschema.compact``) so the
LiveState, and a snapshot taken from it, carry exactly what the comparison uses. A server without OpenAPI v3,
or a user not allowed to read it, only loses that precision: the comparison falls back to CRDs and field names.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from typing import Any

from gitops_check.cluster.apierrors import ApiError
from gitops_check.cluster.client import Cluster
from gitops_check.kubeschema.bundled import bundled_group_versions
from gitops_check.kubeschema.compact import from_openapi


def _document_path(group_version: str) -> str:
    return f"api/{group_version}" if "/" not in group_version else f"apis/{group_version}"


def read_schema(cluster: Cluster, group_versions: Iterable[str]) -> tuple[dict[str, Any] | None, list[str]]:
    """The compact schema of ``group_versions`` the bundle lacks, and warnings for what could not be read."""
    wanted = sorted(set(group_versions) - bundled_group_versions())
    if not wanted:
        return None, []
    try:
        index = cluster.request("GET", "/openapi/v3", what="read the OpenAPI v3 index")
    except ApiError as e:
        return None, [f"schema of {', '.join(wanted)} not read ({e}); list keys of those kinds are guessed"]
    paths = (index or {}).get("paths") or {}
    schemas: dict[str, Any] = {}
    warnings = []
    for group_version in wanted:
        entry = paths.get(_document_path(group_version))
        if not isinstance(entry, dict) or not isinstance(entry.get("serverRelativeURL"), str):
            continue
        url = urllib.parse.urlsplit(entry["serverRelativeURL"])
        try:
            doc = cluster.request(
                "GET",
                url.path,
                query=dict(urllib.parse.parse_qsl(url.query)),
                what=f"read the OpenAPI v3 schema of {group_version}",
            )
        except ApiError as e:
            warnings.append(f"schema of {group_version} not read ({e}); its list keys are guessed")
            continue
        schemas.update(((doc or {}).get("components") or {}).get("schemas") or {})
    return (from_openapi(schemas) if schemas else None), warnings
