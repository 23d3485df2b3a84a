"""Who set a field of a live object, from its ``managedFields`` and the last-applied annotation.

Only a field the cluster has and Git lacks needs this. Three answers matter:

* the GitOps applier set it earlier, so the next apply removes it: drift. For server-side apply (operation
  ``Apply``) the applier owns exactly the fields it sent. Client-side apply (``kubectl apply``, Argo CD's default)
  is an ``Update`` whose ownership also covers server defaults, so there the last-applied annotation decides,
  exactly as kubectl's three-way merge does;
* a person set it with kubectl (``kubectl-edit``, ``kubectl-label``, ...): reported as a manual change;
* anybody else (the API server's defaults, controllers, webhooks): not drift.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from gitops_check.diff.paths import MISSING, Field, Path, Segment

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class Owner(enum.Enum):
    APPLIER = "applier"
    MANUAL = "manual"
    OTHER = "other"


@dataclass
class _Cursor:
    applied: list[tuple[str, dict[str, Any]]]
    manual: list[tuple[str, dict[str, Any]]]
    last_applied: Any

    def child(self, seg: Segment) -> _Cursor:
        return _Cursor(_descend(self.applied, seg), _descend(self.manual, seg), _find(self.last_applied, seg))

    def empty(self) -> bool:
        return not self.applied and not self.manual and self.last_applied is MISSING


def _descend(nodes: list[tuple[str, dict[str, Any]]], seg: Segment) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for manager, node in nodes:
        if _owns_whole(node):
            out.append((manager, node))  # an atomic field owns everything below it
            continue
        child = node.get(seg.managed)
        if isinstance(child, dict):
            out.append((manager, child))
    return out


def _find(node: Any, seg: Segment) -> Any:
    return MISSING if node is MISSING else seg.find(node)


def _owns_whole(node: dict[str, Any]) -> bool:
    return not node or (len(node) == 1 and "." in node)


@dataclass
class Ownership:
    """Ownership lookups for one live object; cheap to create, lazy in its work."""

    applied: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    manual: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    last_applied: Any = MISSING
    appliers: frozenset[str] = frozenset()
    _cache: dict[Path, _Cursor] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        live: dict[str, Any],
        appliers: frozenset[str],
        manual_managers: frozenset[str],
        taken_over: tuple[tuple[str, str], ...] = (),
    ) -> Ownership:
        """``taken_over``: (name prefix, operation) of managers whose fields the applier makes its own before it
        applies (Flux), so what they set and Git lacks is removed: their fields count as the applier's."""
        metadata = live.get("metadata") or {}
        applied, manual = [], []
        for entry in metadata.get("managedFields") or ():
            if not isinstance(entry, dict) or entry.get("subresource") == "status":
                continue
            manager = str(entry.get("manager", ""))
            fields = entry.get("fieldsV1")
            if not isinstance(fields, dict):
                continue
            if manager in appliers and entry.get("operation") == "Apply":
                applied.append((manager, fields))
            elif not entry.get("subresource") and any(
                manager.startswith(prefix) and entry.get("operation") == operation
                for prefix, operation in taken_over
            ):
                applied.append((manager, fields))
            elif manager in manual_managers:
                manual.append((manager, fields))
        last_applied = MISSING
        raw = (metadata.get("annotations") or {}).get(LAST_APPLIED)
        if isinstance(raw, str):
            try:
                last_applied = json.loads(raw)
            except ValueError:
                last_applied = MISSING
        return cls(applied, manual, last_applied, appliers)

    @property
    def trivial(self) -> bool:
        """Nothing can claim a live-only field: every one of them is a default."""
        return not self.applied and not self.manual and self.last_applied is MISSING

    def _cursor(self, path: Path) -> _Cursor:
        if not path:
            return _Cursor(self.applied, self.manual, self.last_applied)
        cached = self._cache.get(path)
        if cached is None:
            cached = self._cursor(path[:-1]).child(path[-1])
            self._cache[path] = cached
        return cached

    def claim(self, path: Path) -> tuple[Owner, str | None, bool]:
        """Who claims the field at ``path``: (owner, manager, whole) — ``whole`` False means only parts below it.

        Callers recurse into the value when ``whole`` is False to find the claimed parts. A list element whose
        existence a manager owns (``.``) is claimed whole; a map is claimed field by field, so server defaults
        inside a map the applier once set are not reported.
        """
        cursor = self._cursor(path)
        if cursor.empty():
            return Owner.OTHER, None, True
        if cursor.last_applied is not MISSING and not isinstance(cursor.last_applied, (dict, list)):
            return Owner.APPLIER, "last-applied-configuration", True
        item = bool(path) and not isinstance(path[-1], Field)
        for manager, node in cursor.applied:
            if _owns_whole(node) or (item and "." in node):
                return Owner.APPLIER, manager, True
        if cursor.last_applied is not MISSING or cursor.applied:
            return Owner.APPLIER, _first(cursor.applied) or "last-applied-configuration", False
        for manager, node in cursor.manual:
            if _owns_whole(node) or (item and "." in node):
                return Owner.MANUAL, manager, True
        return Owner.MANUAL, _first(cursor.manual), False

    def value_managers(self, path: Path, live_metadata: dict[str, Any]) -> list[str]:
        """Managers other than the appliers owning a field: who changed a value behind the agent's back.

        Empty when only the applier owns it (Git changed since the last sync) or nobody does.
        """
        owners: list[str] = []
        for entry in live_metadata.get("managedFields") or ():
            if not isinstance(entry, dict) or not isinstance(entry.get("fieldsV1"), dict):
                continue
            nodes: list[tuple[str, dict[str, Any]]] = [(str(entry.get("manager", "")), entry["fieldsV1"])]
            for seg in path:
                nodes = _descend(nodes, seg)
                if not nodes:
                    break
            manager = nodes[0][0] if nodes else None
            # The applier writing the main resource is the agent; through a subresource (kubectl scale) it is not.
            agent = manager in self.appliers and not entry.get("subresource")
            if manager is not None and not agent and manager not in owners:
                owners.append(manager)
        return owners


class ExactOwnership(Ownership):
    """Every field only the "live" side has would be removed: for comparing two complete objects.

    Used when the desired side is itself complete — the result of a server-side apply dry-run, or the
    render of another commit — so no field can be a server default.

    ``reference`` (the live object's own ownership, when it has managedFields) only shapes the answers:
    a removed map is reported field by field and a changed value names who set it, exactly as the offline
    comparison of the same object does, so both modes word the same finding the same way.
    """

    def __init__(self, label: str = "apply", reference: Ownership | None = None) -> None:
        super().__init__()
        self.label = label
        self.reference = reference

    @property
    def trivial(self) -> bool:
        return False

    def claim(self, path: Path) -> tuple[Owner, str | None, bool]:
        if self.reference is not None:
            owner, manager, whole = self.reference.claim(path)
            if owner is not Owner.OTHER:
                return Owner.APPLIER, manager, whole
        return Owner.APPLIER, None, True

    def value_managers(self, path: Path, live_metadata: dict[str, Any]) -> list[str]:
        if self.reference is not None:
            return self.reference.value_managers(path, live_metadata)
        return []


def _first(nodes: list[tuple[str, dict[str, Any]]]) -> str | None:
    return nodes[0][0] if nodes else None
