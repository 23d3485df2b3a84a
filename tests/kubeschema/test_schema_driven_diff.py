"""The diff engine driven by a schema: CRD list-map keys, atomic structs with defaults, the server's defaults."""

from __future__ import annotations

import copy
from typing import Any

from gitops_check.diff.engine import DiffSettings, diff_object
from gitops_check.kubeschema.bundled import schemas_for
from gitops_check.kubeschema.compact import from_crd, from_openapi
from gitops_check.model.app import App
from gitops_check.model.objects import Manifest, Origin, ResourceKey
from gitops_check.model.result import ChangeKind, Status
from gitops_check.project.config import DEFAULT_APPLIERS, DEFAULT_MANUAL_MANAGERS

SETTINGS = DiffSettings(frozenset(DEFAULT_APPLIERS), frozenset(DEFAULT_MANUAL_MANAGERS))
APP = App("web", ())

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "routes.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Route", "plural": "routes"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    # keyed by host+port, items have no "name"
                                    "rules": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["host", "port"],
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "host": {"type": "string"},
                                                "port": {"type": "integer"},
                                                "weight": {"type": "integer", "default": 1},
                                            },
                                        },
                                    },
                                    # items have distinct names, but the list is atomic: order matters
                                    "steps": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "atomic",
                                        "items": {
                                            "type": "object",
                                            "properties": {"name": {"type": "string"}},
                                        },
                                    },
                                    "target": {
                                        "type": "object",
                                        "x-kubernetes-map-type": "atomic",
                                        "properties": {
                                            "name": {"type": "string"},
                                            "apiVersion": {"type": "string", "default": "v1"},
                                        },
                                    },
                                    "retries": {"type": "integer", "default": 3},
                                    "timeout": {"type": "string", "x-kubernetes-int-or-string": True},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}
KEY = ResourceKey("example.com", "Route", "shop", "r")


def _ssa(fields: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"manager": "argocd-controller", "operation": "Apply", "apiVersion": "example.com/v1",
             "fieldsType": "FieldsV1", "fieldsV1": fields}]  # fmt: skip


def _route(spec: dict[str, Any], managed: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "example.com/v1", "kind": "Route",
                            "metadata": {"name": "r", "namespace": "shop"}, "spec": spec}  # fmt: skip
    if managed is not None:
        body["metadata"]["managedFields"] = _ssa(managed)
    return body


def _diff(desired: dict[str, Any], live: dict[str, Any], *, with_schema: bool = True) -> Any:
    schemas = schemas_for(None, [CRD]) if with_schema else None
    manifest = Manifest(KEY, desired, Origin("web", "route.yaml", 1))
    return diff_object(KEY, manifest, live, APP, SETTINGS, None, schemas)


def test_crd_list_map_keys_come_from_the_schema() -> None:
    desired = _route({"rules": [{"host": "a", "port": 80}, {"host": "a", "port": 443}]})
    live = _route(
        {"rules": [{"host": "a", "port": 443, "weight": 1}, {"host": "a", "port": 80, "weight": 1}]}
    )
    assert _diff(desired, live).status is Status.UNCHANGED
    # Without the schema the reordered list (no names to match by) reads as changed.
    assert _diff(desired, live, with_schema=False).status is Status.CHANGED


def test_atomic_lists_compare_in_order_even_with_names() -> None:
    desired = _route({"steps": [{"name": "a"}, {"name": "b"}]})
    live = _route({"steps": [{"name": "b"}, {"name": "a"}]})
    assert _diff(desired, live).status is Status.CHANGED
    assert _diff(desired, live, with_schema=False).status is Status.UNCHANGED  # the name-matching guess


def test_default_inside_an_atomic_struct_the_applier_owns_is_not_drift() -> None:
    desired = _route({"target": {"name": "svc"}})
    live = _route({"target": {"name": "svc", "apiVersion": "v1"}, "retries": 3},
                  {"f:spec": {"f:target": {}}})  # fmt: skip
    assert _diff(desired, live).status is Status.UNCHANGED
    # Without the schema the atomic struct's whole ownership claims the default: the old false positive.
    changes = _diff(desired, live, with_schema=False).changes
    assert [(c.kind, c.path) for c in changes] == [(ChangeKind.REMOVED, "spec.target.apiVersion")]


def test_a_field_removed_from_git_goes_back_to_the_server_default() -> None:
    desired = _route({"target": {"name": "svc"}})
    live = _route({"target": {"name": "svc"}, "retries": 5}, {"f:spec": {"f:target": {}, "f:retries": {}}})
    result = _diff(desired, live)
    assert [(c.kind, c.path, c.old, c.new, c.server_default) for c in result.changes] == [
        (ChangeKind.VALUE, "spec.retries", 5, 3, True)
    ]
    # The unified diff shows the same thing: 5 in the cluster, the default after a sync.
    assert result.live["spec"]["retries"] == 5 and result.desired["spec"]["retries"] == 3


def test_a_value_not_set_by_the_applier_that_differs_from_the_default_is_not_drift() -> None:
    desired = _route({"target": {"name": "svc"}})
    live = _route({"target": {"name": "svc"}, "retries": 5}, {"f:spec": {"f:target": {}}})
    assert _diff(desired, live).status is Status.UNCHANGED


def test_openapi_compaction_keeps_only_what_the_diff_uses() -> None:
    schemas = {
        "io.k8s.api.demo.v1.Thing": {
            "type": "object",
            "x-kubernetes-group-version-kind": [{"group": "demo", "version": "v1", "kind": "Thing"}],
            "properties": {
                "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.demo.v1.ThingSpec"}], "default": {}},
                "note": {"type": "string", "default": ""},
            },
        },
        "io.k8s.api.demo.v1.ThingSpec": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "x-kubernetes-patch-strategy": "merge",
                          "x-kubernetes-patch-merge-key": "id",
                          "items": {"$ref": "#/components/schemas/io.k8s.api.demo.v1.Item"}},
                "size": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"},
                "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
                "plain": {"type": "string"},
            },
        },
        "io.k8s.api.demo.v1.Item": {"type": "object", "properties": {"id": {"type": "string"}}},
        "io.k8s.api.demo.v1.Unused": {"type": "object", "x-kubernetes-map-type": "atomic"},
    }  # fmt: skip
    doc = from_openapi(schemas)
    assert doc["kinds"] == {"demo/v1/Thing": "io.k8s.api.demo.v1.Thing"}
    assert doc["types"] == {
        "io.k8s.api.demo.v1.Thing": {"p": {"spec": "io.k8s.api.demo.v1.ThingSpec"}},
        "io.k8s.api.demo.v1.ThingSpec": {
            "p": {"items": {"lt": "map", "lk": ["id"]}, "size": {"q": 1}, "labels": {"s": 1}}
        },
    }


def test_crd_schemas_compact_per_version() -> None:
    doc = from_crd(CRD)
    assert doc is not None and list(doc["kinds"]) == ["example.com/v1/Route"]
    crd_v2 = copy.deepcopy(CRD)
    crd_v2["spec"]["versions"][0]["name"] = "v2"
    schemas = schemas_for(None, [crd_v2])
    # Another version of the group's kind serves as a fallback (fields rarely differ between versions).
    assert schemas.lookup("example.com/v1", "Route") is schemas.lookup("example.com/v2", "Route")


def test_a_crd_in_git_cannot_redefine_a_built_in_kind() -> None:
    fake = copy.deepcopy(CRD)
    fake["spec"]["group"] = "apps"
    fake["spec"]["names"]["kind"] = "Deployment"
    fake["spec"]["versions"][0]["name"] = "v1"
    schemas = schemas_for(None, [fake])
    node = schemas.lookup("apps/v1", "Deployment")
    assert node is not None and "template" in node.props["spec"].props  # still the built-in schema
