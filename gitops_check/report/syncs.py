"""Sync outcomes (``diff --sync-on-drift``, ``gitops-check sync``) said the same way by every reporter.

A run that synced carries ``CheckResult.syncs``: one SyncOutcome per app asked (or refused). Reporters show
them after the apps; the exit line explains a code that came from a sync rather than from the check. A
``sync``-mode result (the ``sync`` command) has no apps at all, only syncs. Nothing here holds secrets: an
outcome carries the request gitops-check built and the agent's messages, never a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gitops_check.model.result import CheckResult
from gitops_check.model.sync import SyncOutcome, SyncState

ORDER = (
    SyncState.FAILED,
    SyncState.DEGRADED,
    SyncState.TIMEOUT,
    SyncState.ERROR,
    SyncState.REFUSED,
    SyncState.SUCCEEDED,
    SyncState.REQUESTED,
    SyncState.PLANNED,
)
_EXIT_MEANING = {
    0: "every sync asked for finished well",
    1: "the agent reports a failed sync or a degraded app",
    2: "a sync could not be asked for or confirmed (refused, unreachable, or no verdict in time)",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def sorted_syncs(syncs: Sequence[SyncOutcome]) -> list[SyncOutcome]:
    """Worst first, then by app name."""
    return sorted(syncs, key=lambda s: (ORDER.index(s.state), s.app))


def counts(syncs: Sequence[SyncOutcome]) -> dict[SyncState, int]:
    out = {s: 0 for s in ORDER}
    for sync in syncs:
        out[sync.state] += 1
    return out


def summary(syncs: Sequence[SyncOutcome]) -> str:
    """``2 syncs: 1 succeeded, 1 failed``."""
    found = counts(syncs)
    parts = [f"{n} {state.value}" for state, n in found.items() if n]
    return f"{_plural(len(syncs), 'sync')}: {', '.join(parts)}" if syncs else "no syncs"


def verdict(syncs: Sequence[SyncOutcome]) -> str:
    """For titles: ``sync failed for 1 of 2 apps`` / ``2 apps synced`` / ``sync refused for 1 app``."""
    n = len(syncs)
    bad = [s for s in syncs if s.exit_code]
    if not syncs:
        return "nothing to sync"
    if bad:
        worst = sorted_syncs(bad)[0].state
        word = {SyncState.REFUSED: "refused", SyncState.TIMEOUT: "not confirmed",
                SyncState.ERROR: "not asked"}.get(worst, "failed")  # fmt: skip
        return f"sync {word} for {len(bad)} of {_plural(n, 'app')}"
    done = counts(syncs)
    if done[SyncState.SUCCEEDED] == n:
        return f"{_plural(n, 'app')} synced"
    return f"sync of {_plural(n, 'app')} " + ("printed" if done[SyncState.PLANNED] == n else "requested")


def line(sync: SyncOutcome, state: str | None = None) -> str:
    """``shop: failed: sync failed: ... (Application argocd/shop, 12.3s)``, one line; ``state`` replaces the
    state word (a reporter's markup of it)."""
    facts = [sync.target]
    if sync.dry_run:
        facts.append("dry run")
    if sync.revision:
        facts.append(f"revision {sync.revision[:12]}")
    if sync.resources:
        facts.append(_plural(len(sync.resources), "resource"))
    status = " / ".join(
        v for v in (sync.sync_status, sync.health) if v and sync.state is not SyncState.REFUSED
    )
    if status:
        facts.append(status)
    if sync.seconds:
        facts.append(f"{sync.seconds:.1f}s")
    message = " ".join(sync.message.split())
    word = state if state is not None else sync.state.value
    return f"{sync.app}: {word}" + (f": {message}" if message else "") + f" ({', '.join(facts)})"


def check_code(result: CheckResult) -> int:
    return 2 if result.incomplete else 1 if result.drifted else 0


def exit_meaning(result: CheckResult) -> str | None:
    """What the syncs add to the meaning of the exit code: None when they did not reach it (the check's
    meaning alone holds); in ``sync`` mode always the syncs' meaning."""
    code = result.exit_code()
    if result.mode == "sync":
        return _EXIT_MEANING[code]
    if not result.syncs or code == 0 or max(s.exit_code for s in result.syncs) < code:
        return None
    return _EXIT_MEANING[code]


def to_dict(sync: SyncOutcome) -> dict[str, Any]:
    return {
        "app": sync.app,
        "target": sync.target,
        "via": sync.via,
        "state": sync.state.value,
        "message": sync.message,
        "revision": sync.revision,
        "dryRun": sync.dry_run,
        "resources": [
            {"group": k.group, "kind": k.kind, "namespace": k.namespace, "name": k.name, "id": str(k)}
            for k in sync.resources
        ],
        "syncStatus": sync.sync_status,
        "health": sync.health,
        "seconds": round(sync.seconds, 3),
        "request": sync.request,
        "exitCode": sync.exit_code,
    }
