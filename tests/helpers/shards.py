"""Comparing a merged report of shards with a single run's (tests/cli/test_shards.py, bench/bench_fleet.py)."""

from __future__ import annotations

from typing import Any

# Counters of work each job did (renders, API requests): a sum over shards, not a single run's figure.
# Whether the run memo answered or kept the result (pipeline/memo.py) says how, not what, a run checked.
WORK_COUNTERS = frozenset({
    "renders", "cache_hits", "cache_writes", "cache_with_secrets", "api_requests", "live_objects", "memo_hit",
    "memo_stored", "compared_early",
})  # fmt: skip


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A JSON report (as loaded) without what differs between two runs of the same check, in place: timings,
    render times and work counters (the baseline's too)."""
    doc.pop("timings", None)
    doc["stats"] = {k: v for k, v in doc.get("stats", {}).items() if k not in WORK_COUNTERS}
    for app in doc["apps"]:
        app.pop("renderSeconds", None)
    if "baseline" in doc:
        comparable(doc["baseline"])
    return doc
