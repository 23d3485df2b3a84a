"""Merging nested mappings the way Helm and Flux merge values (``MergeMaps``): shared by discovery and rendering."""

from __future__ import annotations

from typing import Any


def merge_maps(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``b`` wins; nested maps merge; other values are shared, not copied (as in Go)."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_maps(out[key], value)
        else:
            out[key] = value
    return out
