"""Kubernetes objects as every stage sees them: JSON bodies, their identity (``ResourceKey``, ``GroupKind``),
where they came from (``Origin``), rendered ones (``Manifest``), and strings that came from a Secret (``SecretText``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitops_check import redact

JSON = dict[str, Any]


class SecretText(str):
    """A string that came from a Kubernetes Secret (Flux substituteFrom/valuesFrom): ``repr`` never shows it.

    Renderers keep such values out of anything but Secret data, so no report can print them.
    """

    __slots__ = ()

    def __new__(cls, value: object = "") -> SecretText:
        made = super().__new__(cls, value)
        redact.add(made)  # every output of the run scrubs it, whatever path it takes there
        return made

    def __repr__(self) -> str:
        return "SecretText('*****')"


@dataclass(frozen=True, order=True, slots=True)
class ResourceKey:
    """Identity of a Kubernetes object. ``group`` is "" for the core group; ``namespace`` None when cluster-scoped."""

    group: str
    kind: str
    namespace: str | None
    name: str

    @property
    def group_kind(self) -> GroupKind:
        return GroupKind(self.group, self.kind)

    def __str__(self) -> str:
        """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped): the name users see everywhere."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    @property
    def qualified(self) -> str:
        """Like ``str()`` but with the API group, for places where two kinds could share a name."""
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"


@dataclass(frozen=True, order=True, slots=True)
class GroupKind:
    group: str
    kind: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ("apps", "v1"); ``v1`` -> ("", "v1")."""
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass(frozen=True)
class Origin:
    """Where an object or an app came from, for error messages and reports."""

    app: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if not self.file:
            return self.app
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Manifest:
    key: ResourceKey
    body: JSON
    origin: Origin
