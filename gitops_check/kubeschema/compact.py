"""OpenAPI v3 schemas (the API server's, or a CRD's structural schema) to the compact form ``model`` reads.

Only what the comparison uses survives: list types and keys, atomic structs and maps, defaults, resource
quantities and string maps; a type or field that carries none of it (itself or below) is dropped, so the
bundled copy for every built-in kind stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_check.kubeschema.model import FORMAT_VERSION

QUANTITY_TYPE = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_REF_PREFIX = "#/components/schemas/"
LEARNED_DEFAULT = "x-gitops-check-default"
LEARNED_ADDED = "x-gitops-check-added"
_INFO_KEYS = ("lt", "lk", "at", "d", "q", "s", "ad")


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if ref is None:
        for part in schema.get("allOf") or ():
            if isinstance(part, dict) and "$ref" in part:
                ref = part["$ref"]
                break
    if isinstance(ref, str):
        return ref.removeprefix(_REF_PREFIX)
    return None


def _is_zero(value: Any) -> bool:
    return value in ("", 0, False, None) or value == {} or value == []


def _convert(schema: Mapping[str, Any], builtin: bool) -> Any:
    """One schema to a compact node (dict) or a type name (str) for a plain reference."""
    ref = _ref_name(schema)
    node: dict[str, Any] = {}
    default = schema.get("default", _MISSING)
    # Built-in types carry Go zero values as "defaults" (a required string's ""): not what the server fills in.
    if default is not _MISSING and not (builtin and _is_zero(default)):
        node["d"] = default
    if LEARNED_DEFAULT in schema:  # learned by scripts/gen_kube_schema.py from the API server's answers
        node["d"] = schema[LEARNED_DEFAULT]
    if LEARNED_ADDED in schema:
        node["ad"] = schema[LEARNED_ADDED]
    if ref == QUANTITY_TYPE:
        node["q"] = 1
        return node
    if ref is not None:
        if not node:
            return ref
        node["r"] = ref
        return node
    if schema.get("x-kubernetes-map-type") == "atomic":
        node["at"] = 1
    list_type = schema.get("x-kubernetes-list-type")
    keys = schema.get("x-kubernetes-list-map-keys")
    merge_key = schema.get("x-kubernetes-patch-merge-key")
    if list_type:
        node["lt"] = list_type
    elif merge_key and schema.get("x-kubernetes-patch-strategy", "").startswith("merge"):
        node["lt"] = "map"
    if list_type == "map" and keys:
        node["lk"] = list(keys)
    elif merge_key and node.get("lt") == "map":
        node["lk"] = [merge_key]
    props = schema.get("properties")
    if isinstance(props, dict):
        node["p"] = {name: _convert(sub, builtin) for name, sub in props.items() if isinstance(sub, dict)}
    items = schema.get("items")
    if isinstance(items, dict):
        node["i"] = _convert(items, builtin)
    values = schema.get("additionalProperties")
    if isinstance(values, dict):
        if values.get("type") == "string" and _ref_name(values) is None:
            node["s"] = 1
        else:
            node["a"] = _convert(values, builtin)
    return node


class _Missing:
    pass


_MISSING: Any = _Missing()


def _prune(node: Any, informative: Mapping[str, bool]) -> Any:
    """The node without uninformative parts; None when nothing is left."""
    if isinstance(node, str):
        return node if informative.get(node) else None
    out: dict[str, Any] = {k: node[k] for k in _INFO_KEYS if k in node}
    if "r" in node and informative.get(node["r"]):
        out["r"] = node["r"]
    props = {k: p for k, p in ((k, _prune(v, informative)) for k, v in (node.get("p") or {}).items()) if p}
    if props:
        out["p"] = props
    for key in ("i", "a"):
        if key in node:
            sub = _prune(node[key], informative)
            if sub:
                out[key] = sub
    if not out:
        return None
    if set(out) == {"r"}:
        return out["r"]
    return out


def _refs(node: Any) -> set[str]:
    if isinstance(node, str):
        return {node}
    found = {node["r"]} if "r" in node else set()
    for sub in (node.get("p") or {}).values():
        found |= _refs(sub)
    for key in ("i", "a"):
        if key in node:
            found |= _refs(node[key])
    return found


def _has_info(node: Any, informative: Mapping[str, bool]) -> bool:
    if isinstance(node, str):
        return bool(informative.get(node))
    if any(k in node for k in _INFO_KEYS) or informative.get(node.get("r", ""), False):
        return True
    subs = [*(node.get("p") or {}).values(), *(node[k] for k in ("i", "a") if k in node)]
    return any(_has_info(s, informative) for s in subs)


def from_types(types: Mapping[str, Any], kinds: Mapping[str, str]) -> dict[str, Any]:
    """Compact nodes by type name (already converted) to a compact document holding what ``kinds`` reach."""
    informative = {name: False for name in types}
    changed = True
    while changed:  # fixed point: a type is informative when anything it reaches is
        changed = False
        for name, node in types.items():
            if not informative[name] and _has_info(node, informative):
                informative[name] = changed = True
    pruned = {name: _prune(node, informative) for name, node in types.items() if informative[name]}
    reached: set[str] = set()
    todo = [name for name in kinds.values() if name in pruned]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        node = pruned[name]
        todo.extend(r for r in _refs(node) if r in pruned)
    return {
        "format": FORMAT_VERSION,
        "types": {name: pruned[name] for name in sorted(reached)},
        "kinds": {key: name for key, name in sorted(kinds.items()) if name in reached},
    }


def from_openapi(schemas: Mapping[str, Any]) -> dict[str, Any]:
    """``components.schemas`` of one or more OpenAPI v3 documents to a compact document."""
    types: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for name, schema in schemas.items():
        if not isinstance(schema, dict) or name == QUANTITY_TYPE:
            continue
        converted = _convert(schema, builtin=name.startswith("io.k8s."))
        types[name] = converted if isinstance(converted, dict) else {"r": converted}
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            if isinstance(gvk, dict) and gvk.get("kind"):
                kinds[f"{gvk.get('group', '')}/{gvk.get('version', '')}/{gvk['kind']}"] = name
    return from_types(types, kinds)


def from_crd(crd: Mapping[str, Any]) -> dict[str, Any] | None:
    """A CustomResourceDefinition's structural schemas (one per version) to a compact document."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return None
    group = spec.get("group")
    kind = (spec.get("names") or {}).get("kind")
    if not isinstance(group, str) or not isinstance(kind, str):
        return None
    types: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for version in spec.get("versions") or ():
        if not isinstance(version, dict) or not isinstance(version.get("name"), str):
            continue
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or spec.get("validation", {}).get(
            "openAPIV3Schema"
        )
        if not isinstance(schema, dict):
            continue
        key = f"{group}/{version['name']}/{kind}"
        node = _convert(schema, builtin=False)
        types[key] = node if isinstance(node, dict) else {"r": node}
        kinds[key] = key
    return from_types(types, kinds) if kinds else None
