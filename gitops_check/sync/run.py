"""Drive a sync for many apps: read and check them all, print exactly what will be sent, send, wait together.

Order matters for safety: every app is read and checked before anything is written, and the requests are
printed before the first one is sent, so a CI log always shows what gitops-check asked of the agent. Apps are
awaited together under one ``--timeout``; an app whose agent gives no verdict in time ends as TIMEOUT with
the last thing its agent said. Nothing here decides the exit code: each SyncOutcome carries its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gitops_check.errors import GitopsCheckError
from gitops_check.model.sync import SyncOutcome, SyncState
from gitops_check.sync.base import Backend, Prepared, Progress, SyncSettings, SyncTarget
from gitops_check.sync.policy import format_duration

FIRST_POLL = 0.1  # seconds before the first look at the agent's answer


@dataclass
class _Item:
    prepared: Prepared
    started: float
    last: Progress | None = None


class SyncRun:
    def __init__(
        self,
        backend: Backend,
        settings: SyncSettings,
        *,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.say = say
        self.clock = clock
        self.sleep = sleep

    def _outcome(
        self,
        target: SyncTarget,
        state: SyncState,
        message: str,
        *,
        kind_ns: str | None = None,
        prepared: Prepared | None = None,
        seconds: float = 0.0,
        progress: Progress | None = None,
    ) -> SyncOutcome:
        return SyncOutcome(
            app=target.app,
            target=prepared.display if prepared else kind_ns or target.name,
            via=self.backend.via,
            state=state,
            message=message,
            revision=self.settings.revision,
            resources=target.resources,
            request="\n".join(prepared.requests) if prepared else "",
            seconds=round(seconds, 3),
            sync_status=progress.sync_status if progress else None,
            health=progress.health if progress else None,
            dry_run=self.settings.dry_run,
        )

    def run(self, targets: Sequence[SyncTarget], *, plan_only: bool = False) -> list[SyncOutcome]:
        outcomes: dict[str, SyncOutcome] = {}
        ready: list[Prepared] = []
        for target in targets:
            try:
                ready.append(self.backend.prepare(target, self.settings))
            except GitopsCheckError as e:
                outcomes[target.app] = self._outcome(target, SyncState.ERROR, str(e))
                self.say(f"{target.app}: not synced: {e}")
        if ready:
            verb = "Would ask" if plan_only else "About to ask"
            self.say(f"{verb} {self.backend.via}:")
            for p in ready:
                for request in p.requests:
                    self.say(f"  {request}")
                for note in p.notes:
                    self.say(f"  note: {note}")
        if plan_only:
            for p in ready:
                outcomes[p.target.app] = self._outcome(
                    p.target, SyncState.PLANNED, "printed only (--plan): nothing was sent", prepared=p
                )
            return [outcomes[t.app] for t in targets]

        items: list[_Item] = []
        for p in ready:
            started = self.clock()
            try:
                self.backend.trigger(p, self.settings)
            except GitopsCheckError as e:
                outcomes[p.target.app] = self._outcome(p.target, SyncState.ERROR, str(e), prepared=p)
                self.say(f"{p.display}: sync not requested: {e}")
                continue
            self.say(f"{p.display}: sync requested")
            items.append(_Item(p, started))
        for item in self._wait(items):
            outcomes[item[0].prepared.target.app] = item[1]
        return [outcomes[t.app] for t in targets]

    def _wait(self, items: list[_Item]) -> list[tuple[_Item, SyncOutcome]]:
        done: list[tuple[_Item, SyncOutcome]] = []
        deadline = self.clock() + self.settings.timeout
        # The first looks come quickly (an Argo CD sync often ends in well under a second), then the wait
        # doubles up to --poll-interval, so a slow sync does not cost many requests.
        interval = min(FIRST_POLL, self.settings.poll_interval)
        for item in items:
            item.prepared.deadline = deadline
        pending = list(items)
        if not self.settings.wait:
            # Without --wait only multi-step requests (Flux --with-source) are followed, until all are sent.
            for item in [i for i in pending if i.prepared.pending_steps == 0]:
                done.append((item, self._finish(item, SyncState.REQUESTED, "requested; not waited for")))
                pending.remove(item)
        while pending:
            for item in list(pending):
                p = item.prepared
                try:
                    result = self.backend.poll(p, self.settings)
                except GitopsCheckError as e:
                    done.append((item, self._finish(item, SyncState.ERROR, f"while waiting: {e}")))
                    pending.remove(item)
                    continue
                if result.done:
                    assert result.state is not None
                    done.append((item, self._finish(item, result.state, result.message, result)))
                    pending.remove(item)
                elif not self.settings.wait and p.pending_steps == 0:
                    done.append((item, self._finish(item, SyncState.REQUESTED, "requested; not waited for")))
                    pending.remove(item)
                else:
                    if item.last is None or item.last.message != result.message:
                        self.say(f"{p.display}: {result.message}")
                    item.last = result
            if not pending:
                break
            left = deadline - self.clock()
            if left <= 0:
                for item in pending:
                    last = item.last.message if item.last else "no answer"
                    text = (
                        f"no verdict within --timeout {format_duration(self.settings.timeout)}; last: {last}"
                    )
                    done.append((item, self._finish(item, SyncState.TIMEOUT, text, item.last)))
                break
            self.sleep(min(interval, left))
            interval = min(interval * 2, self.settings.poll_interval)
        return done

    def _finish(
        self, item: _Item, state: SyncState, message: str, progress: Progress | None = None
    ) -> SyncOutcome:
        p = item.prepared
        outcome = self._outcome(
            p.target, state, message, prepared=p, seconds=self.clock() - item.started, progress=progress
        )
        self.say(f"{p.display}: {state.value}" + (f": {message}" if message else ""))
        return outcome
