"""The bundled schema of Kubernetes' built-in kinds and the set of schemas one cluster's comparison uses.

``data/kube-schema.json`` is generated from the test kube-apiserver by scripts/gen_kube_schema.py (never edited
by hand). Built-in kinds change their list keys and defaults rarely, so it serves clusters of other versions
too; what a cluster or a snapshot supplies (its own OpenAPI, CRDs) takes precedence for the kinds it covers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from gitops_check.kubeschema.compact import from_crd
from gitops_check.kubeschema.model import Schemas

CRD_KIND = "CustomResourceDefinition"
CRD_GROUP = "apiextensions.k8s.io"


@functools.cache  # a constant: the package's own data file
def bundled_document() -> Mapping[str, Any]:
    text = resources.files("gitops_check").joinpath("data", "kube-schema.json").read_text(encoding="utf-8")
    doc: Mapping[str, Any] = json.loads(text)
    return doc


def bundled_group_versions() -> frozenset[str]:
    """The apiVersion (``apps/v1``, ``v1``) of every kind the bundled copy describes."""
    return frozenset(key.rpartition("/")[0].lstrip("/") for key in bundled_document().get("kinds") or ())


def schemas_for(
    cluster_schema: Mapping[str, Any] | None, objects: Iterable[Mapping[str, Any]] = ()
) -> Schemas:
    """Bundled built-ins, then the cluster's own schema (live or from a snapshot), then CRDs among ``objects``
    (rendered or live).

    The cluster's schema wins over the bundled one for a kind both describe; a CRD only adds kinds nobody
    described yet, so a CRD in the checked commit (untrusted) cannot redefine a built-in kind or one the
    cluster serves, and cannot widen what counts as a default there.
    """
    schemas = Schemas([bundled_document()])
    if cluster_schema:
        schemas.add(cluster_schema)
    for obj in objects:
        if obj.get("kind") == CRD_KIND and str(obj.get("apiVersion", "")).startswith(CRD_GROUP + "/"):
            doc = from_crd(obj)
            if doc is not None:
                schemas.add(doc, replace=False)
    return schemas
