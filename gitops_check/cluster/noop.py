"""Applies that provably change nothing, so their server-side dry-run can be skipped without losing exactness.

A server-side apply by manager M of object O changes nothing in the cluster when

1. the fields M owns on the live object (its ``Apply`` entry in ``managedFields``) are exactly the fields O
   sets: nothing M set before would be removed;
2. every value O sets equals the live value, exactly (no normalization: ``0.1`` vs ``100m`` is not equal here,
   the dry-run decides);
3. no admission webhook or admission policy exists in the cluster, so nothing can mutate or reject the
   unchanged object on its way through.

Then the dry-run would return the live object itself, and gitops-check uses it as the prediction. Every test
here is conservative: a kind or list whose structure it does not know, a ``null``, a Secret's ``stringData``
(stored as ``data``), another API version, or any doubt means "not provable" and the object is dry-run as
usual. ``--dry-run-all`` turns the shortcut off.
"""

from __future__ import annotations

import json
from typing import Any

from gitops_check.cluster.client import ApiError, Cluster
from gitops_check.cluster.discovery import ApiResources
from gitops_check.model.objects import JSON, GroupKind

# Merge keys of Kubernetes' associative lists (x-kubernetes-list-map-keys). A list missing here, or described
# wrongly, only makes the field sets differ from the server's, so the object is dry-run: never a wrong answer.
LIST_MAP_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",), "env": ("name",),
    "volumes": ("name",), "volumeMounts": ("mountPath",), "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",), "hostAliases": ("ip",), "resourceClaims": ("name",),
    "schedulingGates": ("name",), "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
}  # fmt: skip
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}
SET_LISTS = frozenset({"finalizers"})

# Fields whose value is atomic (+structType=atomic / +mapType=atomic): owned as a whole, compared whole.
ATOMIC_FIELDS = frozenset({"selector", "nodeSelector", "podSelector", "namespaceSelector", "labelSelector"})
ADMISSION_KINDS = (
    GroupKind("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    GroupKind("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    GroupKind("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    GroupKind("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
)


class _Unknown(Exception):
    """The structure is not known well enough to prove anything."""


def _key(item: Any, keys: tuple[str, ...]) -> str:
    if not isinstance(item, dict):
        raise _Unknown
    values = {k: item.get(k, KEY_DEFAULTS.get(k)) for k in keys}
    if any(v is None for v in values.values()):
        raise _Unknown
    return "k:" + json.dumps(values, sort_keys=True, separators=(",", ":"))


def applied_fields(obj: Any, name: str | None = None, top: bool = True) -> dict[str, Any]:
    """The fieldsV1 trie the API server records for an Apply of ``obj`` (raises _Unknown when unsure)."""
    if obj is None:
        raise _Unknown
    if isinstance(obj, dict):
        if name in ATOMIC_FIELDS:
            return {}
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if top and k in ("apiVersion", "kind"):
                continue
            if top and k == "metadata":
                meta = {f: v[f] for f in ("labels", "annotations") if isinstance(v, dict) and f in v}
                if meta:
                    out["f:metadata"] = applied_fields(meta, "metadata", False)
                continue
            out["f:" + str(k)] = applied_fields(v, str(k), False) if isinstance(v, (dict, list)) else _leaf(v)
        return out
    if isinstance(obj, list):
        if name in SET_LISTS:
            return {".": {}, **{"v:" + json.dumps(v, separators=(",", ":")): {} for v in obj}}
        keys = LIST_MAP_KEYS.get(name or "")
        if name == "ports" and obj and isinstance(obj[0], dict):
            keys = ("containerPort", "protocol") if "containerPort" in obj[0] else ("port", "protocol")
        if keys:
            return {_key(item, keys): {".": {}, **applied_fields(item, None, False)} for item in obj}
        return {}  # atomic list
    return {}


def _leaf(value: Any) -> dict[str, Any]:
    if value is None:
        raise _Unknown
    return {}


def _canonical(trie: Any) -> Any:
    if not isinstance(trie, dict):
        return trie
    out = {}
    for k, v in trie.items():
        if k.startswith("k:"):
            try:
                k = "k:" + json.dumps(json.loads(k[2:]), sort_keys=True, separators=(",", ":"))
            except ValueError:
                pass
        out[k] = _canonical(v)
    return out


def _equal(desired: Any, live: Any, name: str | None = None) -> bool:
    """Every value ``desired`` sets is in ``live`` and exactly equal (lists per their merge strategy)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        if name in ATOMIC_FIELDS:
            return desired == live
        return all(k in live and _equal(v, live[k], str(k)) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list):
            return False
        if name in SET_LISTS:
            return set(map(json.dumps, desired)) <= set(map(json.dumps, live))
        keys = LIST_MAP_KEYS.get(name or "")
        if name == "ports" and desired and isinstance(desired[0], dict):
            keys = ("containerPort", "protocol") if "containerPort" in desired[0] else ("port", "protocol")
        if not keys:
            return desired == live
        by_key = {_key(item, keys): item for item in live}
        return all(_key(d, keys) in by_key and _equal(d, by_key[_key(d, keys)]) for d in desired)
    if desired is None or type(desired) is not type(live):
        return False
    return bool(desired == live)


def is_noop(body: JSON, live: JSON, manager: str) -> bool:
    """Conditions 1 and 2 of the module docstring (the caller checks 3 and the API version)."""
    if body.get("apiVersion") != live.get("apiVersion"):
        return False
    owned = [
        e.get("fieldsV1")
        for e in (live.get("metadata") or {}).get("managedFields") or ()
        if isinstance(e, dict)
        and e.get("manager") == manager
        and e.get("operation") == "Apply"
        and not e.get("subresource")
    ]
    if len(owned) != 1:
        return False
    try:
        if _canonical(applied_fields(body)) != _canonical(owned[0]):
            return False
    except _Unknown:
        return False
    metadata = body.get("metadata") or {}
    desired = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata")}
    desired["metadata"] = {f: metadata[f] for f in ("labels", "annotations") if f in metadata}
    return _equal(desired, live)


def admission_free(cluster: Cluster, resources: ApiResources) -> bool:
    """True when the cluster has no admission webhook or policy at all (and we may list them)."""
    for gk in ADMISSION_KINDS:
        resource = resources.find(gk)
        if resource is None:
            continue
        try:
            found = cluster.request(
                "GET", resource.path(), what=f"list {resource.qualified}", query={"limit": 1}
            )
        except ApiError:
            return False
        if found.get("items"):
            return False
    return True
