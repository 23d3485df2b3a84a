"""What the check before a sync found: which apps drifted, which resources, and whether it checked everything.

``diff --sync-on-drift`` has the CheckResult in hand; ``gitops-check sync --from-report`` reads the JSON report
an earlier ``diff --json`` wrote (schema version 1). Either way the sync gets the same summary: the drifted
resources per app (for ``--only-drifted``) and whether the check was incomplete (a sync is then refused unless
forced, because "what drifted" is not known for what was not checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_check import yamlio
from gitops_check.errors import InputError
from gitops_check.model.app import AGENT_KINDS
from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import CheckResult, Status
from gitops_check.sync.base import AgentObject


@dataclass(frozen=True)
class PreviousCheck:
    source: str  # "the check above" / "report check.json"
    incomplete: bool
    exit_code: int
    apps: frozenset[str] = frozenset()
    not_checked: tuple[str, ...] = ()  # apps that failed (render, cluster...) in that check
    # app -> resources a sync would create or change / would prune
    drifted: dict[str, tuple[ResourceKey, ...]] = field(default_factory=dict)
    removed: dict[str, tuple[ResourceKey, ...]] = field(default_factory=dict)
    # app -> its agent object, for the apps discovery found (Argo CD, Flux); project-file apps have none
    agents: dict[str, AgentObject] = field(default_factory=dict)

    def drifted_apps(self) -> list[str]:
        return sorted(set(self.drifted) | set(self.removed))

    def resources(self, app: str, *, prune: bool) -> tuple[ResourceKey, ...]:
        """What ``--only-drifted`` syncs for ``app``: created or changed ones, and with --prune also the pruned."""
        return self.drifted.get(app, ()) + (self.removed.get(app, ()) if prune else ())


def from_result(result: CheckResult, source: str = "the check above") -> PreviousCheck:
    drifted: dict[str, tuple[ResourceKey, ...]] = {}
    removed: dict[str, tuple[ResourceKey, ...]] = {}
    for app in result.apps:
        changed = tuple(d.key for d in app.diffs if d.status in (Status.ADDED, Status.CHANGED) and d.is_drift)
        gone = tuple(d.key for d in app.diffs if d.status is Status.REMOVED)
        if changed:
            drifted[app.app.name] = changed
        if gone:
            removed[app.app.name] = gone
    agents = {
        a.app.name: AgentObject(kind, a.app.agent_namespace, a.app.agent_name)
        for a in result.apps
        if (kind := a.app.agent_kind) is not None and a.app.agent_name
    }
    return PreviousCheck(
        source=source,
        incomplete=result.incomplete,
        exit_code=2 if result.incomplete else 1 if result.drifted else 0,
        apps=frozenset(a.app.name for a in result.apps),
        not_checked=tuple(sorted(a.app.name for a in result.apps if a.failed)),
        drifted=drifted,
        removed=removed,
        agents=agents,
    )


def _agent(app: dict[str, Any], where: str) -> AgentObject | None:
    """An app entry's ``agent`` (optional in reports; written since gitops-check knows agent objects)."""
    agent = app.get("agent")
    if agent is None:
        return None
    kinds = set(AGENT_KINDS.values())
    if (
        not isinstance(agent, dict)
        or agent.get("kind") not in kinds
        or not isinstance(agent.get("name"), str)
        or not isinstance(agent.get("namespace"), (str, type(None)))
    ):
        raise InputError(
            f"{where}: app {app['name']}: agent needs kind ({', '.join(sorted(kinds))}), namespace, name"
        )
    return AgentObject(agent["kind"], agent["namespace"], agent["name"])


def _key(resource: Any, where: str) -> ResourceKey:
    try:
        return ResourceKey(
            str(resource["group"]), str(resource["kind"]), resource.get("namespace"), str(resource["name"])
        )
    except (KeyError, TypeError, AttributeError):
        raise InputError(f"{where}: a resource entry lacks group, kind or name") from None


def from_report(path: str) -> PreviousCheck:
    """The summary of a JSON report written by ``gitops-check diff --json`` (schema version 1)."""
    where = f"report {path}"
    try:
        data = yamlio.load_json(Path(path).read_bytes(), path)
    except OSError as e:
        raise InputError(f"cannot read the {where}: {e.strerror}", file=path) from None
    if not isinstance(data, dict) or data.get("schemaVersion") != 1 or not isinstance(data.get("apps"), list):
        raise InputError("not a gitops-check JSON report (schemaVersion 1)", file=path)
    drifted: dict[str, tuple[ResourceKey, ...]] = {}
    removed: dict[str, tuple[ResourceKey, ...]] = {}
    names, failed = set(), []
    agents: dict[str, AgentObject] = {}
    for app in data["apps"]:
        if not isinstance(app, dict) or not isinstance(app.get("name"), str):
            raise InputError("an apps entry has no name", file=path)
        name = app["name"]
        names.add(name)
        agent = _agent(app, where)
        if agent is not None:
            agents[name] = agent
        if app.get("status") == "error":
            failed.append(name)
        resources = app.get("resources") or []
        changed = tuple(
            _key(r, where)
            for r in resources
            if r.get("status") in (Status.ADDED, Status.CHANGED) and not r.get("byHand")
        )
        gone = tuple(_key(r, where) for r in resources if r.get("status") == Status.REMOVED)
        if changed:
            drifted[name] = changed
        if gone:
            removed[name] = gone
    exit_code = data.get("exitCode")
    # A report of a run that also synced may carry exit code 2 for a sync; the check itself is judged by its parts.
    incomplete = bool(failed) or bool(data.get("errors")) or (exit_code == 2 and not data.get("syncs"))
    return PreviousCheck(
        source=where,
        incomplete=incomplete,
        exit_code=exit_code if isinstance(exit_code, int) else 2,
        apps=frozenset(names),
        not_checked=tuple(sorted(failed)),
        drifted=drifted,
        removed=removed,
        agents=agents,
    )
