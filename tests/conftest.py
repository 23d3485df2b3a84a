"""Shared pytest setup: the real-cluster fixtures live in tests/helpers/cluster.py."""

from __future__ import annotations

pytest_plugins = ["tests.helpers.cluster"]
