"""Which apps a run asks the agent to sync, and which the guard rails refuse, decided before anything is sent.

Input: the names the user gave (or, after a check, the apps that drifted), the summary of the check before
(for ``--only-drifted`` and the "check was incomplete" rule), the project file's allow-list and whether the
pipeline serves a fork. Output: the targets to sync and a REFUSED outcome, with the reason and what to do, for
every app a guard rail stopped. Refusals never contact a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gitops_check.errors import ConfigError
from gitops_check.model.objects import ResourceKey
from gitops_check.model.sync import SyncOutcome, SyncState
from gitops_check.sync.base import AgentObject, SyncTarget
from gitops_check.sync.guard import not_allowed
from gitops_check.sync.previous import PreviousCheck

_MAX_NAMES = 10
_FLUX_KINDS = ("Kustomization", "HelmRelease")


@dataclass(frozen=True)
class Guards:
    allow: tuple[str, ...] | None = None  # sync.allow of the project file; None: no list
    allow_file: str = ".gitops-check.yaml"
    fork: str | None = None  # why this pipeline serves a fork; None: it does not
    allow_fork: bool = False
    force: bool = False  # sync although the check before was incomplete


@dataclass
class SyncPlan:
    targets: list[SyncTarget] = field(default_factory=list)
    refused: list[SyncOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_name(text: str) -> tuple[str | None, str]:
    """``payments`` -> (None, "payments"); ``argocd/payments`` -> ("argocd", "payments")."""
    namespace, sep, name = text.partition("/")
    if not sep:
        return None, text
    if not namespace or not name or "/" in name:
        raise ConfigError(f"cannot read app name {text!r} (NAME or NAMESPACE/NAME)")
    return namespace, name


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_NAMES])
    return shown + (f" and {len(items) - _MAX_NAMES} more" if len(items) > _MAX_NAMES else "")


def plan_syncs(
    names: Sequence[str],
    *,
    via: str,
    guards: Guards,
    previous: PreviousCheck | None = None,
    only_drifted: bool = False,
    prune: bool = False,
    kinds: dict[str, str] | None = None,
    agents: Mapping[str, AgentObject] | None = None,
    agent: str | None = None,
) -> SyncPlan:
    """Targets for ``names`` (NAME or NAMESPACE/NAME); ``kinds`` maps a name to its agent kind when known.

    ``agents``: the agent objects of apps discovery found, by app name (their namespace None: the path's
    default). ``agent`` (argocd | flux): apps found as the other agent's objects are left out with a note.
    """
    plan = SyncPlan()
    if only_drifted and previous is None:
        raise ConfigError(
            "--only-drifted needs the check before the sync: use diff --sync-on-drift, or sync --from-report"
        )
    parsed: list[tuple[str, str | None, str, str | None]] = []
    for text in dict.fromkeys(names):
        known = (agents or {}).get(text)
        if known is None:
            namespace, name = parse_name(text)
            parsed.append((text, namespace, name, (kinds or {}).get(name)))
            continue
        other = "Flux object" if known.kind in _FLUX_KINDS else "Argo CD Application"
        if agent is not None and (agent == "flux") != (known.kind in _FLUX_KINDS):
            flag = "--argocd" if agent == "flux" else "--flux"
            plan.notes.append(
                f"{text}: a {other} ({known.kind}), not synced by --{agent}; sync it with {flag}"
            )
            continue
        parsed.append((text, known.namespace, known.name, known.kind))

    def refuse(text: str, message: str) -> None:
        plan.refused.append(
            SyncOutcome(app=text, target=text, via=via, state=SyncState.REFUSED, message=message)
        )

    if guards.fork and not guards.allow_fork:
        for text, *_ in parsed:
            refuse(text, f"refused: this pipeline runs for a {guards.fork}; pass --allow-fork to sync anyway")
        return plan
    if previous is not None and previous.incomplete and not guards.force:
        missing = f" (not checked: {_names(list(previous.not_checked))})" if previous.not_checked else ""
        for text, *_ in parsed:
            refuse(
                text,
                f"refused: {previous.source} could not check everything{missing}, so what drifted is not "
                "known; fix the check, or pass --force to sync anyway",
            )
        return plan
    for text, namespace, name, kind in parsed:
        # The allow-list holds object names: shop for argocd/shop, apps for Kustomization/flux-system/apps.
        if not_allowed([name], guards.allow):
            allowed = _names(list(guards.allow or ()))
            refuse(text, f"refused: {name} is not on the sync.allow list of {guards.allow_file} ({allowed})")
            continue
        resources: tuple[ResourceKey, ...] = ()
        if previous is not None and not prune:
            app = text if text in previous.apps else name
            if previous.removed.get(app) and not previous.drifted.get(app):
                gone = _names([str(k) for k in previous.removed[app]])
                plan.notes.append(
                    f"{name}: only resources to prune drifted ({gone}); not synced: a sync without --prune "
                    "cannot change anything (pass --prune)"
                )
                continue
        if only_drifted and previous is not None:
            app = text if text in previous.apps else name
            resources = previous.resources(app, prune=prune)
            if not resources:
                plan.notes.append(f"{name}: nothing drifted in {previous.source}; not synced")
                continue
        plan.targets.append(
            SyncTarget(app=text, name=name, namespace=namespace, resources=resources, kind=kind)
        )
    return plan
