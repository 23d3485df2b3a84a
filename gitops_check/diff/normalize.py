"""Bring a desired and a live object to comparable form before the walk.

Drops what the server owns (status, uid, managedFields, ...) and what the GitOps agent adds at apply time
(tracking annotations and labels), folds a Secret's ``stringData`` into ``data``, and applies ignore rules
(Argo CD ``ignoreDifferences``: JSON pointers, jq path expressions, field managers). Inputs are never mutated:
copies are made only of the parts that change.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Iterable
from typing import Any

from gitops_check.diff.paths import MISSING, Field, Path, pointer_tokens
from gitops_check.errors import ConfigError
from gitops_check.model.app import IgnoreRule
from gitops_check.model.objects import ResourceKey

SERVER_METADATA = frozenset(
    {"managedFields", "uid", "resourceVersion", "generation", "creationTimestamp", "selfLink",
     "deletionTimestamp", "deletionGracePeriodSeconds", "name", "namespace"}
)  # fmt: skip
# Annotations and labels written by the server or by the agent when it applies, never by Git.
AGENT_ANNOTATIONS = frozenset(
    {"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision",
     "argocd.argoproj.io/tracking-id", "meta.helm.sh/release-name", "meta.helm.sh/release-namespace"}
)  # fmt: skip
AGENT_LABELS = frozenset(
    {"kustomize.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/namespace",
     "helm.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/namespace"}
)  # fmt: skip


def is_secret(key: ResourceKey) -> bool:
    return key.group == "" and key.kind == "Secret"


def strip(obj: dict[str, Any], *, tracking_labels: Iterable[str] = ()) -> dict[str, Any]:
    """A shallow-copied object without server-owned fields; nested parts are shared, not copied."""
    out = {k: v for k, v in obj.items() if k not in ("status", "apiVersion", "kind")}
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        meta = {k: v for k, v in metadata.items() if k not in SERVER_METADATA}
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            kept = {k: v for k, v in annotations.items() if k not in AGENT_ANNOTATIONS}
            if kept:
                meta["annotations"] = kept
            else:
                meta.pop("annotations")
        labels = meta.get("labels")
        if isinstance(labels, dict):
            drop = AGENT_LABELS.union(tracking_labels)
            kept = {k: v for k, v in labels.items() if k not in drop}
            if kept:
                meta["labels"] = kept
            else:
                meta.pop("labels")
        if meta:
            out["metadata"] = meta
        else:
            out.pop("metadata")
    return out


class SecretDataError(Exception):
    """A Secret in Git has a ``data`` value that is not base64 (the value itself is never included)."""


def secret_bytes(obj: dict[str, Any], *, desired: bool) -> dict[str, bytes | str]:
    """The Secret's values by key: decoded bytes, or the snapshot hash string when the value was hashed.

    For the desired side, ``stringData`` wins over ``data`` for the same key, as the API server does.
    """
    out: dict[str, bytes | str] = {}
    data = obj.get("data") or {}
    if isinstance(data, dict):
        for k, v in data.items():
            if v is None:
                v = ""
            text = str(v)
            if text.startswith("gitops-check-hash:"):
                out[str(k)] = text
                continue
            try:
                out[str(k)] = base64.b64decode("".join(text.split()), validate=True)
            except (binascii.Error, ValueError):
                side = "Git" if desired else "the cluster"
                raise SecretDataError(f"data.{k} in {side} is not valid base64") from None
    string_data = obj.get("stringData") or {}
    if desired and isinstance(string_data, dict):
        for k, v in string_data.items():
            out[str(k)] = ("" if v is None else str(v)).encode()
    return out


def without_secret_values(obj: dict[str, Any]) -> dict[str, Any]:
    """The Secret with ``data``/``stringData`` removed: the walk compares everything else; values are compared apart."""
    return {k: v for k, v in obj.items() if k not in ("data", "stringData")}


# ---------------------------------------------------------------------------------------------------------------
# Ignore rules


def _delete_pointer(obj: Any, tokens: list[str]) -> Any:
    """A copy of ``obj`` without the pointed-to value (copying only along the path); unchanged if absent."""
    if not tokens:
        return MISSING
    head, rest = tokens[0], tokens[1:]
    if isinstance(obj, dict):
        if head not in obj:
            return obj
        child = _delete_pointer(obj[head], rest)
        out = dict(obj)
        if child is MISSING:
            del out[head]
        else:
            out[head] = child
        return out
    if isinstance(obj, list) and head.isdigit() and int(head) < len(obj):
        idx = int(head)
        child = _delete_pointer(obj[idx], rest)
        out_list = list(obj)
        if child is MISSING:
            del out_list[idx]
        else:
            out_list[idx] = child
        return out_list
    return obj


# A constant cache: the compiled program of an expression (a pure function of its text), shared by runs.
_jq_lock = threading.Lock()
_jq_cache: dict[str, Any] = {}


def _jq_program(expression: str) -> Any:
    with _jq_lock:
        program = _jq_cache.get(expression)
        if program is None:
            import jq  # lazy: only needed when a jq rule exists

            try:
                program = jq.compile(f"del({expression})")
            except ValueError as e:
                raise ConfigError(f"invalid jqPathExpression {expression!r}: {e}") from None
            _jq_cache[expression] = program
        return program


def _delete_jq(obj: dict[str, Any], expression: str) -> dict[str, Any]:
    program = _jq_program(expression)
    try:
        result = program.input_value(obj).first()
    except (ValueError, StopIteration):
        return obj  # Argo CD ignores an expression that fails on an object
    return result if isinstance(result, dict) else obj


def _delete_owned(obj: Any, node: dict[str, Any]) -> Any:
    """Remove from ``obj`` the leaf fields of a fieldsV1 trie (fields a listed manager owns)."""
    if not isinstance(obj, dict):
        return obj
    out = dict(obj)
    for name, child in node.items():
        if not name.startswith("f:"):
            continue
        field = name[2:]
        if field not in out:
            continue
        if not child or set(child) == {"."}:
            del out[field]
        elif isinstance(out[field], dict):
            out[field] = _delete_owned(out[field], child)
        elif isinstance(out[field], list):
            out[field] = [_delete_owned_item(item, child) for item in out[field]]
    return out


def _delete_owned_item(item: Any, node: dict[str, Any]) -> Any:
    if not isinstance(item, dict):
        return item
    for name, child in node.items():
        if name.startswith("k:"):
            try:
                keys = json.loads(name[2:])
            except ValueError:
                continue
            if all(item.get(k) == v for k, v in keys.items()):
                return _delete_owned(item, child) if set(child) - {"."} else item
    return item


def apply_ignore_rules(
    key: ResourceKey,
    desired: dict[str, Any],
    live: dict[str, Any],
    rules: Iterable[IgnoreRule],
    live_metadata: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], list[Path]]:
    """Remove ignored fields from both sides. Returns the new sides and the top-level paths removed (for notes)."""
    removed: list[Path] = []
    for rule in rules:
        if not rule.matches(key):
            continue
        for pointer in rule.json_pointers:
            tokens = pointer_tokens(pointer)
            if not tokens:
                continue
            desired = _delete_pointer(desired, tokens)
            live = _delete_pointer(live, tokens)
            removed.append(tuple(Field(t) for t in tokens))
        for expression in rule.jq_path_expressions:
            desired = _delete_jq(desired, expression)
            live = _delete_jq(live, expression)
        if rule.managed_fields_managers:
            for entry in live_metadata.get("managedFields") or ():
                if isinstance(entry, dict) and entry.get("manager") in rule.managed_fields_managers:
                    fields = entry.get("fieldsV1")
                    if isinstance(fields, dict):
                        desired = _delete_owned(desired, fields)
                        live = _delete_owned(live, fields)
    return desired, live, removed
