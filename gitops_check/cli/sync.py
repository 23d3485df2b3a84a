"""``gitops-check sync``: ask the agent in the cluster (Argo CD or Flux) to sync apps now, and wait for its verdict.

Pull-based GitOps stays intact: the agent applies, gitops-check only asks and watches. The options and their
wiring live in ``cli.syncopts``, shared with ``diff --sync-on-drift`` (here too). Exit codes keep the check's meanings:
0 every sync finished well (or was only asked for / printed), 1 the agent reports a failed or degraded sync,
2 something could not be asked or confirmed (refused by a guard rail, credentials, API errors, timeout).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from gitops_check.cli.base import EXIT_IN_SYNC, apply_options, fail, write_file
from gitops_check.cli.syncopts import agent_option_list, agent_options, run_syncs, validate, via_text
from gitops_check.model.result import CheckResult


def sync_on_drift_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``diff --sync-on-drift`` and the agent options (the cluster is --live's kubeconfig and context)."""
    return apply_options(fn, [
        click.option("--sync-on-drift", is_flag=True,
                     help="After the check, ask the agent (--argocd/--flux) to sync what drifted, then check again."),
        *agent_option_list(),
    ], "Sync")  # fmt: skip


def write_sync_reports(result: CheckResult, kw: dict[str, Any]) -> None:
    if kw.get("json_path"):
        from gitops_check.report.jsonout import render_json

        write_file(kw["json_path"], render_json(result), "JSON", json_document=True)
    if kw.get("junit"):
        from gitops_check.report.junit import render_junit

        write_file(kw["junit"], render_junit(result), "JUnit")
    if kw.get("markdown"):
        from gitops_check.report.markdown import render_markdown_full

        write_file(kw["markdown"], render_markdown_full(result), "Markdown")


def _print_terminal(result: CheckResult, kw: dict[str, Any]) -> None:
    import sys

    from gitops_check.report.terminal import render_terminal, should_color

    color = kw["color"] if kw.get("color") is not None else should_color(sys.stdout, os.environ)
    text = render_terminal(result, color=color, verbose=bool(kw.get("verbose")))
    click.echo(text, nl=not text.endswith("\n"))


def check_sync_on_drift(kw: dict[str, Any]) -> None:
    """Refuse --sync-on-drift where its re-check could not see the sync (before any work is done)."""
    if not kw.get("sync_on_drift"):
        if kw.get("agent"):
            fail("--argocd / --flux without --sync-on-drift: nothing to sync (use gitops-check sync)")
        return
    if not kw.get("live"):
        fail(
            "--sync-on-drift checks again after the sync, so it needs the live cluster (--live), not a snapshot"
        )
    validate(kw)


def sync_after_check(
    result: CheckResult, kw: dict[str, Any], recheck: Callable[[], CheckResult]
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
    _print_terminal(result, kw)
    click.echo(f"\n--sync-on-drift: {len(names)} drifted app(s): {', '.join(names)}")
    outcomes = run_syncs(names, kw, previous=previous)  # discovered apps: their agent object, kind, namespace
    if outcomes and all(o.state is SyncState.SUCCEEDED for o in outcomes) and not kw["dry_run"]:
        click.echo("\n--sync-on-drift: every sync succeeded; checking again\n")
        again = recheck()
        again.syncs = outcomes
        return again
    why = "dry run" if kw["dry_run"] else "not every sync finished well"
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
def sync_command(names: tuple[str, ...], **kw: Any) -> None:
    """Ask Argo CD or Flux to sync apps now and wait for the verdict.

    Exit codes: 0 synced (or only requested / printed), 1 the agent reports the sync failed or the app
    degraded, 2 not asked or not confirmed (refused by a guard rail, API or credential errors, timeout).
    """
    from gitops_check.report import syncs
    from gitops_check.sync.previous import from_report

    previous = from_report(kw["from_report"]) if kw.get("from_report") else None
    if not names:
        if previous is None:
            fail("name the apps to sync, or give --from-report to sync the apps it found drifted")
        names = tuple(previous.drifted_apps())
        if not names:
            click.echo(f"nothing drifted in {previous.source}; no sync requested")
            raise SystemExit(EXIT_IN_SYNC)
    outcomes = run_syncs(names, kw, previous=previous)
    result = CheckResult(apps=[], target=f"sync of {', '.join(names)}", against=via_text(kw), mode="sync")
    result.syncs = outcomes
    write_sync_reports(result, kw)
    code = result.exit_code()
    click.echo(syncs.summary(outcomes))
    click.echo(f"exit code {code}: " + {0: "done", 1: "the agent reports a failed sync",
                                        2: "not everything could be asked or confirmed"}[code])  # fmt: skip
    raise SystemExit(code)


COMMANDS = [sync_command]
