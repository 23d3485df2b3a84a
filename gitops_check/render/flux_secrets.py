"""Keeping values read from Secrets (Flux substituteFrom/valuesFrom) out of anything a report could print.

A Secret's ``data``/``stringData`` are redacted by the diff; every other field is shown in diffs. So an object
rendered with Secret-derived values is rendered a second time with placeholders in their place: every field
that differs between the two depends on a Secret value. That is allowed only in a Secret's ``data``/
``stringData`` (and for SHA-1/SHA-256 checksums, which charts put in pod annotations); anywhere else the app is
"not checked" rather than risk printing the value. Comparing two renders catches transformed values too
(``${token^^}``, substrings, template functions), which searching for the value itself would miss.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

from gitops_check.errors import RenderError
from gitops_check.model.objects import SecretText

_CHECKSUM = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?\Z")


def placeholders(values: Mapping[str, str]) -> dict[str, str]:
    """The same mapping with every Secret-derived value replaced by a random placeholder."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, SecretText) and value:
            out[key] = "gcph" + secrets.token_hex(8)
        else:
            out[key] = value
    return out


def has_secrets(values: Mapping[str, Any]) -> bool:
    return any(isinstance(v, SecretText) and v for v in values.values())


def differing_paths(a: Any, b: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Paths (keys; list indexes as ``[i]``) where two parsed documents differ; a shape mismatch is its own path."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            yield (*path, "<keys>")
            return
        for key in a:
            yield from differing_paths(a[key], b[key], (*path, str(key)))
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield (*path, "<items>")
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from differing_paths(x, y, (*path, f"[{i}]"))
    elif a != b or type(a) is not type(b):
        yield path


def secret_data_from_secrets(real: Any, masked: Any) -> frozenset[str]:
    """``data.<key>`` / ``stringData.<key>`` of a Secret whose values differ between the render with Secret-derived
    values and the one with placeholders: values that came from a Secret, not from Git."""
    if not (is_secret(real) and is_secret(masked)):
        return frozenset()
    return frozenset(
        f"{path[0]}.{path[1]}"
        for path in differing_paths(real, masked)
        if len(path) == 2 and path[0] in ("data", "stringData") and path[1] != "<keys>"
    )


def is_secret(body: Any) -> bool:
    return isinstance(body, dict) and body.get("kind") == "Secret" and body.get("apiVersion") == "v1"


def check_only_secret_data(real: Any, masked: Any, what: str, names: str) -> None:
    """Raise unless every field where ``real`` and ``masked`` differ is Secret data or a checksum.

    ``what`` names the object (Kind/name), ``names`` the variables or values involved; neither holds a value.
    """
    for path in differing_paths(real, masked):
        if is_secret(real) and is_secret(masked) and len(path) == 2 and path[0] in ("data", "stringData"):
            continue
        if path and _is_checksum(_get(real, path)) and _is_checksum(_get(masked, path)):
            continue
        where = ".".join(path).replace(".[", "[") or "the whole document"
        raise RenderError(
            f"{what}: {names} from a Secret would end up in {where}, outside a Secret's data; gitops-check "
            "never shows Secret values, so this app is not checked (move the value into a Secret's stringData, "
            "or give a non-secret value under discovery.flux.objects in .gitops-check.yaml)"
        )


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    current = doc
    for part in path:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.startswith("[") and part.endswith("]"):
            index = int(part[1:-1])
            current = current[index] if index < len(current) else None
        else:
            return None
    return current


def _is_checksum(value: Any) -> bool:
    return isinstance(value, str) and bool(_CHECKSUM.match(value))
