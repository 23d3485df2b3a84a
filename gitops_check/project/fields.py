"""Validating settings read from YAML (the project file, Argo CD and Flux objects).

Every error names the file and the place inside it (``apps[2] (web).helm.valueFiles[0]: expected a string``),
because a setting silently ignored produces a wrong verdict.
"""

from __future__ import annotations

from typing import Any

from gitops_check.errors import ConfigError


class Ctx:
    def __init__(self, file: str, where: str = ""):
        self.file = file
        self.where = where

    def sub(self, part: str) -> Ctx:
        return Ctx(
            self.file,
            f"{self.where}.{part}" if self.where and not part.startswith("[") else self.where + part,
        )

    def error(self, message: str) -> ConfigError:
        place = f"{self.where}: " if self.where else ""
        return ConfigError(f"{place}{message}", file=self.file)


def mapping(value: Any, ctx: Ctx, allowed: set[str] | None = None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.error(f"expected a mapping, got {type(value).__name__}")
    if allowed is not None:
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise ctx.error(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return value


def sequence(value: Any, ctx: Ctx) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ctx.error(f"expected a list, got {type(value).__name__}")
    return value


def string(value: Any, ctx: Ctx, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ctx.error("is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ctx.error(f"expected a string, got {type(value).__name__}")
    return str(value)


def strings(value: Any, ctx: Ctx) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(
        string(v, ctx.sub(f"[{i}]"), required=True) or "" for i, v in enumerate(sequence(value, ctx))
    )


def boolean(value: Any, ctx: Ctx, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ctx.error(f"expected true or false, got {value!r}")


def str_map(value: Any, ctx: Ctx) -> dict[str, str]:
    return {str(k): str(v) for k, v in mapping(value, ctx).items()}
