"""What a check concludes: per-object diffs (``ResourceDiff`` and its ``Change``s), per-app results, errors,
hooks and hygiene findings, and the ``CheckResult`` every reporter reads.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from gitops_check.model.app import App
from gitops_check.model.objects import JSON, Origin, ResourceKey
from gitops_check.model.sync import SyncOutcome


class Status(enum.StrEnum):
    ADDED = "added"  # in Git, not in the cluster: a sync would create it
    CHANGED = "changed"
    REMOVED = "removed"  # in the cluster, owned by the app, not in Git: a sync would prune it
    UNCHANGED = "unchanged"
    ERROR = "error"  # not checked


class ChangeKind(enum.StrEnum):
    VALUE = "value"  # Git and cluster disagree on a value Git sets
    ADDED = "added"  # Git sets it, the cluster lacks it
    REMOVED = "removed"  # the cluster has it, the applier set it earlier, Git no longer does
    MANUAL = "manual"  # the cluster has it, set by hand (kubectl edit/label/...); a sync would keep it


_status_of = attrgetter("status")
_DRIFT_STATUSES = frozenset({Status.ADDED, Status.CHANGED, Status.REMOVED})  # ResourceDiff.is_drift's


@dataclass(frozen=True)
class Change:
    """One differing field. ``path`` is display-ready (``spec.template.spec.containers[name=app].image``).

    ``old`` is the cluster's value, ``new`` Git's; for Secret data both are redaction markers, never values.
    """

    kind: ChangeKind
    path: str
    old: Any = None
    new: Any = None
    manager: str | None = None  # for MANUAL/REMOVED: which field manager set the live value
    # VALUE only: Git leaves the field out and ``new`` is what the server fills in (a sync resets it).
    server_default: bool = False


@dataclass(frozen=True)
class ResourceDiff:
    key: ResourceKey
    app: str
    status: Status
    changes: tuple[Change, ...] = ()
    # Normalized, redacted views used to print a diff: ``desired`` is what Git wants, ``live`` what the cluster has,
    # both reduced to the fields that matter. None when the object is absent on that side.
    desired: JSON | None = None
    live: JSON | None = None
    message: str | None = None  # for ERROR: why it was not checked; else an optional note
    origin: Origin | None = None
    notes: tuple[str, ...] = ()  # e.g. "also rendered by app foo", "kind scope unknown, assumed namespaced"

    @property
    def by_hand(self) -> bool:
        """Changed only by hand, in fields Git does not manage (a label added with kubectl): a sync would keep
        every one of them, so this is not drift; reported as its own category ("changed by hand")."""
        return (
            self.status is Status.CHANGED
            and bool(self.changes)
            and all(c.kind is ChangeKind.MANUAL for c in self.changes)
        )

    @property
    def is_drift(self) -> bool:
        return self.status in _DRIFT_STATUSES and not self.by_hand


@dataclass(frozen=True)
class AppError:
    """An app (or one of its parts) that could not be checked; it turns the exit code to 2."""

    app: str
    message: str
    file: str | None = None
    line: int | None = None
    stage: str = "render"  # discover | render | cluster | diff


SKIP_HOOK = "Skip"  # argocd.argoproj.io/hook: Skip: never applied


@dataclass(frozen=True)
class Hook:
    """A rendered hook: what it is, when the agent runs it, where it came from."""

    kind: str
    namespace: str | None
    name: str  # ``metadata.name``, or ``generateName`` followed by ``*``
    phases: tuple[str, ...]  # Argo CD phases (PreSync, PostSync, Skip...) or Helm hook events under Flux
    origin: Origin

    def __str__(self) -> str:
        where = f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"
        return f"{where} ({', '.join(self.phases) or 'never run'})"

    @property
    def skipped(self) -> bool:
        """Never applied: ``hook: Skip``, or a hook with no phase the agent runs (Argo CD ignores it)."""
        return self.phases in ((SKIP_HOOK,), ())


@dataclass
class AppResult:
    app: App
    diffs: list[ResourceDiff] = field(default_factory=list)
    errors: list[AppError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    render_seconds: float = 0.0
    # What was fetched from outside the repository: "podinfo 6.x -> 6.14.1 (sha256:…) from https://…".
    resolved: list[str] = field(default_factory=list)
    # Preview only: "added" / "removed" when the whole app appears or disappears with the change.
    change: str | None = None
    # Hooks the agent runs at sync (diff/hooks.py): reported apart, never compared or pruned.
    hooks: list[Hook] = field(default_factory=list)
    # The cluster the app was compared with (None: not compared with any).
    cluster: str | None = None
    # Preview only: why the app could not be rendered, when the change does not touch what it reads (the same
    # content key at both commits). Listed as "not checked, untouched by this change"; not an error.
    untouched: str | None = None

    # Reporters ask these of every app several times, and a fleet's apps hold ~50 objects each: the statuses are
    # gathered by C loops (map, set), and only an app with a drift status looks further.

    def count(self, status: Status) -> int:
        return list(map(_status_of, self.diffs)).count(status)

    @property
    def drifted(self) -> bool:
        if _DRIFT_STATUSES.isdisjoint(map(_status_of, self.diffs)):
            return False
        return any(d.is_drift for d in self.diffs)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or Status.ERROR in set(map(_status_of, self.diffs))

    @property
    def by_hand(self) -> int:
        """Resources changed only by hand (see ResourceDiff.by_hand)."""
        if Status.CHANGED not in set(map(_status_of, self.diffs)):
            return 0
        return sum(1 for d in self.diffs if d.by_hand)


@dataclass(frozen=True)
class Finding:
    """A GitOps hygiene problem in what Git declares (not drift): a warning, a failure under ``--strict``.

    Messages never quote Secret values.
    """

    rule: str  # plain-secret | prune-in-production | self-heal-required
    app: str
    message: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class CheckedSource:
    """The commit a result is about, so reports can link files at it: its full id, the GitOps root inside the
    repository ("" for the top), and the canonical URLs that name the repository (its remotes, --repo-url)."""

    revision: str
    root: str = ""
    urls: frozenset[str] = frozenset()


@dataclass
class CheckResult:
    """Everything a reporter needs; reporters read nothing else."""

    apps: list[AppResult]
    target: str  # "commit 1a2b3c4 of ./repo" / "working tree of ./repo"
    against: str  # LiveState.source
    errors: list[AppError] = field(default_factory=list)  # run-level (discovery, cluster) errors
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # informational: what discovery found, and how
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    mode: str = "diff"  # diff | preview
    # Syncs asked of the agent after the check (``diff --sync-on-drift``, ``sync``); empty otherwise.
    syncs: list[SyncOutcome] = field(default_factory=list)
    # Preview with a cluster: the cluster compared with the base commit's render of the apps the change touches
    # (what already differed before it), reported apart; None otherwise.
    baseline: CheckResult | None = None
    # Hygiene findings; with ``strict`` they make the run fail (exit 1, like drift) instead of only warning.
    findings: list[Finding] = field(default_factory=list)
    strict: bool = False
    # ``--fail-on manual``: resources changed only by hand make the run fail (exit 1) like drift.
    fail_on_manual: bool = False
    # The commit checked (preview: the head commit); None for a working tree.
    source: CheckedSource | None = None

    @property
    def diffs(self) -> list[ResourceDiff]:
        return [d for a in self.apps for d in a.diffs]

    @property
    def drifted(self) -> bool:
        return any(a.drifted for a in self.apps)

    @property
    def incomplete(self) -> bool:
        if self.baseline is not None and self.baseline.incomplete:
            return True
        return bool(self.errors) or any(a.failed for a in self.apps)

    def totals(self) -> dict[Status, int]:
        out = {s: 0 for s in Status}
        for d in self.diffs:
            out[d.status] += 1
        return out

    def exit_code(self) -> int:
        """0 in sync, 1 drift, 2 could not check everything (wins over 1).

        With syncs, a sync the agent failed counts as 1 and one that could not be asked or confirmed as 2.
        Under ``strict``, hygiene findings count as 1: everything was checked and Git needs fixing; with
        ``fail_on_manual``, so do resources changed by hand.
        """
        by_hand = self.fail_on_manual and any(a.by_hand for a in self.apps)
        failing = self.drifted or by_hand or (self.strict and bool(self.findings))
        code = 2 if self.incomplete else 1 if failing else 0
        return max([code, *(s.exit_code for s in self.syncs)])
