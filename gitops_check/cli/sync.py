"""``gitops-check sync``: ask the agent in the cluster (Argo CD or Flux) to sync apps now, and wait for its verdict.

Pull-based GitOps stays intact: the agent applies, gitops-check only asks and watches. The options and their
wiring live in ``cli.syncopts``, shared with ``diff --sync-on-drift`` (here too). Exit codes keep the check's meanings:
0 every sync finished well (or was only asked for / printed), 1 the agent reports a failed or degraded sync,
2 something could not be asked or confirmed (refused by a guard rail, credentials, API errors, timeout).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from gitops_check.cli.base import EXIT_IN_SYNC, apply_options, fail, from_kwargs, write_file
from gitops_check.cli.clusteropts import KubeArgs
from gitops_check.cli.reportopts import ReportArgs, terminal_text
from gitops_check.cli.syncopts import (
    SyncArgs,
    agent_option_list,
    agent_options,
    run_syncs,
    validate,
    via_text,
)
from gitops_check.model.result import CheckResult


@dataclass(frozen=True)
class SyncCommandArgs:
    """Everything ``gitops-check sync`` is given."""

    names: tuple[str, ...]
    sync: SyncArgs
    kube: KubeArgs
    from_report: str | None
    repo: str
    json_path: str | None
    junit: str | None
    markdown: str | None


def sync_on_drift_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``diff --sync-on-drift`` and the agent options (the cluster is --live's kubeconfig and context)."""
    return apply_options(fn, [
        click.option("--sync-on-drift", is_flag=True,
                     help="After the check, ask the agent (--argocd/--flux) to sync what drifted, then check again."),
        *agent_option_list(),
    ], "Sync")  # fmt: skip


def write_sync_reports(result: CheckResult, args: SyncCommandArgs) -> None:
    if args.json_path:
        from gitops_check.report.jsonout import render_json

        write_file(args.json_path, render_json(result), "JSON", json_document=True)
    if args.junit:
        from gitops_check.report.junit import render_junit

        write_file(args.junit, render_junit(result), "JUnit")
    if args.markdown:
        from gitops_check.report.markdown import render_markdown_full

        write_file(args.markdown, render_markdown_full(result), "Markdown")


def check_sync_on_drift(sync_on_drift: bool, sync: SyncArgs, *, live: bool) -> None:
    """Refuse --sync-on-drift where its re-check could not see the sync (before any work is done)."""
    if not sync_on_drift:
        if sync.agent:
            fail("--argocd / --flux without --sync-on-drift: nothing to sync (use gitops-check sync)")
        return
    if not live:
        fail(
            "--sync-on-drift checks again after the sync, so it needs the live cluster (--live), not a snapshot"
        )
    validate(sync)


def sync_after_check(
    result: CheckResult,
    sync: SyncArgs,
    *,
    kube: KubeArgs,
    repo: str,
    reports: ReportArgs,
    recheck: Callable[[], CheckResult],
) -> CheckResult:
    """``diff --sync-on-drift``: sync the apps that drifted, then check again.

    Returns the re-check (with the sync outcomes attached) when every sync finished well, else the first
    check with the outcomes: no re-check after a failed, refused, dry-run or unawaited sync, whose exit
    code then decides (or the drift, when the sync was only asked for).
    """
    from gitops_check.model.sync import SyncState
    from gitops_check.sync.previous import from_result

    previous = from_result(result)
    names = previous.drifted_apps()
    if not names:
        return result
    text = terminal_text(result, reports)
    click.echo(text, nl=not text.endswith("\n"))
    click.echo(f"\n--sync-on-drift: {len(names)} drifted app(s): {', '.join(names)}")
    # discovered apps: their agent object, kind, namespace
    outcomes = run_syncs(names, sync, kube=kube, repo=repo, previous=previous)
    if outcomes and all(o.state is SyncState.SUCCEEDED for o in outcomes) and not sync.dry_run:
        click.echo("\n--sync-on-drift: every sync succeeded; checking again\n")
        again = recheck()
        again.syncs = outcomes
        return again
    why = "dry run" if sync.dry_run else "not every sync finished well"
    click.echo(f"\n--sync-on-drift: no second check ({why}); the report below is the first check's\n")
    result.syncs = outcomes
    return result


@click.command("sync")
@click.argument("names", nargs=-1, metavar="[NAME|NAMESPACE/NAME]...")
@agent_options
@click.option("--from-report", type=click.Path(dir_okay=False, exists=True),
              help="JSON report of the check before (diff --json): its drift for --only-drifted, and "
                   "no sync when it was incomplete; without NAMEs, sync the apps it found drifted.")  # fmt: skip
@click.option("--repo", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder whose project file (.gitops-check.yaml) holds the sync.allow list.")  # fmt: skip
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the JSON report here.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report here.")
@click.option("--markdown", type=click.Path(dir_okay=False), help="Write a Markdown report here.")
def sync_command(**kw: Any) -> None:
    """Ask Argo CD or Flux to sync apps now and wait for the verdict.

    Exit codes: 0 synced (or only requested / printed), 1 the agent reports the sync failed or the app
    degraded, 2 not asked or not confirmed (refused by a guard rail, API or credential errors, timeout).
    """
    from gitops_check.report import syncs
    from gitops_check.sync.previous import from_report

    args = from_kwargs(SyncCommandArgs, kw)
    names = args.names
    previous = from_report(args.from_report) if args.from_report else None
    if not names:
        if previous is None:
            fail("name the apps to sync, or give --from-report to sync the apps it found drifted")
        names = tuple(previous.drifted_apps())
        if not names:
            click.echo(f"nothing drifted in {previous.source}; no sync requested")
            raise SystemExit(EXIT_IN_SYNC)
    outcomes = run_syncs(names, args.sync, kube=args.kube, repo=args.repo, previous=previous)
    via = via_text(args.sync, args.kube)
    result = CheckResult(apps=[], target=f"sync of {', '.join(names)}", against=via, mode="sync")
    result.syncs = outcomes
    write_sync_reports(result, args)
    code = result.exit_code()
    click.echo(syncs.summary(outcomes))
    click.echo(f"exit code {code}: " + {0: "done", 1: "the agent reports a failed sync",
                                        2: "not everything could be asked or confirmed"}[code])  # fmt: skip
    raise SystemExit(code)


COMMANDS = [sync_command]
