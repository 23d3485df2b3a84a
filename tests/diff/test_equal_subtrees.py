"""The first pass of the walk stops at a subtree equal to the live one (``compare.Walk._node``, and before a
pair's path is even built: ``compare._identical``); differential
against the walk without that shortcut, on random object pairs where values differ in kind only (``True`` and
``1``, ``1`` and ``1.0``, ``0.0`` and ``-0.0``, a ``str`` and a subclass of it), in order only, or not at all."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gitops_check.diff import compare
from gitops_check.diff.compare import Walk
from gitops_check.diff.managed import Ownership
from gitops_check.kubeschema.bundled import schemas_for


class _Text(str):
    """A str subclass (as ``SecretText`` is): ``marshal`` refuses it, so ``_identical`` compares ``repr``s."""


_SCALARS: list[Any] = [True, False, 1, 0, 1.0, 0.0, -0.0, "1", "true", None, "", 2, "x", float("nan"), 2**70]


def _value(rng: random.Random, depth: int) -> Any:
    pick = rng.random()
    if depth > 3 or pick < 0.5:
        return rng.choice(_SCALARS)
    if pick < 0.75:
        return {rng.choice("abcdef"): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def _twin(rng: random.Random, value: Any) -> Any:
    """``value`` again, sometimes with a scalar swapped for one ``==`` holds equal, or keys reordered."""
    if isinstance(value, dict):
        items = [(k, _twin(rng, v)) for k, v in value.items()]
        if rng.random() < 0.2:
            items.reverse()
        return dict(items)
    if isinstance(value, list):
        return [_twin(rng, v) for v in value]
    if rng.random() < 0.15 and not isinstance(value, str) and value is not None:
        swapped: dict[Any, Any] = {True: 1, False: 0.0}  # True == 1 == 1.0 and False == 0 == 0.0 for ==
        return swapped.get(value, value) if type(value) is bool else (value is not True and bool(value))
    if isinstance(value, float):
        return value * 1.0  # another object, as a second parse gives (a NaN equals only itself)
    if isinstance(value, str) and rng.random() < 0.1:
        return _Text(value)
    return value


def _changes(desired: Any, live: Any, schema: Any) -> list[tuple[str, str, Any, Any]]:
    metadata = {"managedFields": []}
    walk = Walk(Ownership.of({"metadata": metadata}, frozenset(), frozenset()), metadata, schema=schema)
    walk.run(desired, live)
    return [(c.kind.value, c.path, repr(c.old), repr(c.new)) for c in walk.changes]


@pytest.mark.parametrize("seed", range(4))
def test_the_shortcut_changes_nothing_the_walk_reports(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    deployment = schemas_for(None).lookup("apps/v1", "Deployment")
    for _ in range(300):
        desired = {"spec": _value(rng, 0), "data": {"k": _value(rng, 1)}}
        live = _twin(rng, desired)
        if rng.random() < 0.3:
            live["extra"] = _value(rng, 1)
        schema = deployment if rng.random() < 0.3 else None
        with_shortcut = _changes(desired, live, schema)
        monkeypatch.setattr(compare, "_CONTAINERS", ())
        monkeypatch.setattr(compare, "_identical", lambda desired, live: False)  # the pairs' own shortcut too
        without = _changes(desired, live, schema)
        monkeypatch.undo()
        assert with_shortcut == without, (desired, live)
