"""Where a sync asks for a discovered app (pure): App.agent_* -> the check before -> the plan's targets.

Discovery records the agent's own object of every Argo CD and Flux app (namespace and name, not the
destination); ``diff --sync-on-drift`` and ``sync --from-report`` target exactly that object. ``-n`` still names
where Argo CD runs for Applications named plainly, and through Argo CD's API the server's default is kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cli.sync import SyncCommandArgs, sync_command
from gitops_check.cli.syncopts import SyncArgs, agent_objects
from gitops_check.discover.argocd_spec import ArgoSettings, application_to_app
from gitops_check.errors import InputError
from gitops_check.model.app import App
from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import AppResult, CheckResult, ResourceDiff, Status
from gitops_check.model.source import Source
from gitops_check.report.jsonout import render_json
from gitops_check.sync.base import AgentObject
from gitops_check.sync.plan import Guards, plan_syncs
from gitops_check.sync.previous import from_report, from_result
from tests.helpers.cliargs import parsed

CM = ResourceKey("", "ConfigMap", "shop", "settings")


def application(name: str, namespace: str | None) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    spec = {
        "source": {"repoURL": "https://git.example/x.git", "path": name},
        "destination": {"namespace": "shop"},
    }
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta, "spec": spec}


def test_argocd_apps_know_their_object() -> None:
    settings = ArgoSettings(control_namespace="gitops")
    plain = application_to_app(application("shop", None), "a.yaml:1", settings, None)
    assert (plain.name, plain.agent_kind, plain.agent_namespace, plain.agent_name) == (
        "shop",
        "Application",
        "gitops",
        "shop",
    )
    other = application_to_app(application("web", "team-a"), "b.yaml:1", settings, None)
    assert (other.name, other.agent_namespace, other.agent_name) == ("team-a/web", "team-a", "web")
    # App of Apps: an Application rendered without a namespace lands in its parent's destination namespace.
    child = application_to_app(application("cart", None), "rendered by app root", settings, "apps")
    assert (child.name, child.agent_namespace) == ("apps/cart", "apps")
    assert App("p", (Source("."),)).agent_kind is None  # project-file apps have no agent object


def drifted(app: App) -> AppResult:
    return AppResult(app, diffs=[ResourceDiff(CM, app.name, Status.CHANGED)])


def result() -> CheckResult:
    apps = [
        App("shop", (Source("."),), kind="argocd", agent_namespace="gitops", agent_name="shop"),
        App("team-a/web", (Source("."),), kind="argocd", agent_namespace="team-a", agent_name="web"),
        App("Kustomization/fleet/apps", (Source("."),), kind="flux-kustomization", agent_namespace="fleet",
            agent_name="apps"),
        App("plain", (Source("."),)),
    ]  # fmt: skip
    return CheckResult(apps=[drifted(a) for a in apps], target="t", against="a")


def test_the_report_carries_the_agent_objects_to_sync_from_report(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(render_json(result()))
    expected = {
        "shop": AgentObject("Application", "gitops", "shop"),
        "team-a/web": AgentObject("Application", "team-a", "web"),
        "Kustomization/fleet/apps": AgentObject("Kustomization", "fleet", "apps"),
    }
    assert from_result(result()).agents == expected
    assert from_report(str(report)).agents == expected
    doc = json.loads(report.read_text())
    doc["apps"][0]["agent"] = {"kind": "Deployment", "namespace": None, "name": "x"}
    report.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="agent needs kind"):
        from_report(str(report))


def sync_args(*argv: str) -> SyncArgs:
    return parsed(SyncCommandArgs, sync_command, list(argv)).sync


def targets(*argv: str) -> tuple[list[tuple[str, str, str | None, str | None]], list[str]]:
    args = sync_args(*argv)
    previous = from_result(result())
    plan = plan_syncs(previous.drifted_apps(), via="v", guards=Guards(), previous=previous,
                      agents=agent_objects(args, previous), agent=args.agent)  # fmt: skip
    return [(t.app, t.name, t.namespace, t.kind) for t in plan.targets], plan.notes


def test_argocd_through_the_kubernetes_api() -> None:
    found, notes = targets("--argocd", "--kube")
    assert found == [
        ("plain", "plain", None, None),  # not discovered: -n, else argocd
        ("shop", "shop", "gitops", "Application"),
        ("team-a/web", "web", "team-a", "Application"),
    ]
    assert notes == ["Kustomization/fleet/apps: a Flux object (Kustomization), not synced by --argocd; sync it "
                     "with --flux"]  # fmt: skip
    found, _ = targets("--argocd", "--kube", "-n", "argocd")
    assert found[1] == ("shop", "shop", None, "Application")  # -n wins for plainly named Applications
    assert found[2] == ("team-a/web", "web", "team-a", "Application")  # ... not over a namespace in the name


def test_argocd_through_its_api_keeps_the_servers_default() -> None:
    found, _ = targets("--argocd")
    assert found[1:] == [
        ("shop", "shop", None, "Application"),
        ("team-a/web", "web", "team-a", "Application"),
    ]


def test_flux() -> None:
    found, notes = targets("--flux", "-n", "flux-system")
    assert found == [
        ("Kustomization/fleet/apps", "apps", "fleet", "Kustomization"),  # its name carries the namespace
        ("plain", "plain", None, None),
    ]
    assert [n.split(":")[0] for n in notes] == ["shop", "team-a/web"]


def test_only_drifted_uses_the_apps_name() -> None:
    previous = from_result(result())
    plan = plan_syncs(["team-a/web"], via="v", guards=Guards(allow=("web",)), previous=previous,
                      only_drifted=True, agents=agent_objects(sync_args("--argocd", "--kube"), previous),
                      agent="argocd")  # fmt: skip
    [target] = plan.targets
    assert target.resources == (CM,)
