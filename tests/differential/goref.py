"""Run a corpus through the Go originals (tools/goref, built into the tool cache by scripts/tools.py)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.helpers.cluster import require_tool


def run(mode: str, cases: list[Any]) -> list[dict[str, Any]]:
    """One result per case, from the Go program (skips, or fails under CI=true, when it is not built)."""
    binary = require_tool("goref")
    proc = subprocess.run(
        [str(binary)],
        input=json.dumps({"mode": mode, "cases": cases}),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    assert len(results) == len(cases)
    return results
