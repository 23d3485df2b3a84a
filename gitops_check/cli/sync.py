"""``gitops-check sync``: ask the agent in the cluster (Argo CD or Flux) to sync apps now, and wait for its verdict.

Pull-based GitOps stays intact: the agent applies, gitops-check only asks and watches. The options here are
shared with ``diff --sync-on-drift`` (``agent_options``, ``run_syncs``). Exit codes keep the check's meanings:
0 every sync finished well (or was only asked for / printed), 1 the agent reports a failed or degraded sync,
2 something could not be asked or confirmed (refused by a guard rail, credentials, API errors, timeout).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from gitops_check.cli.base import EXIT_IN_SYNC, apply_options, fail, write_file
from gitops_check.model import CheckResult, SyncOutcome

DEFAULT_TIMEOUT = "5m"


def _reject_token(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None:
        raise click.UsageError(
            "--token is not accepted: a token on the command line lands in shell history and CI logs; "
            "put it in an environment variable (--token-env VAR, default ARGOCD_AUTH_TOKEN) or a file (--token-file)"
        )


def agent_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Which agent, how to reach it, what to ask, how long to wait, and the guard-rail overrides."""
    return apply_options(fn, [*_agent_options(), *_kube_options()])


def _kube_options() -> list[Callable[..., Any]]:
    return [
        click.option(
            "--kubeconfig", type=click.Path(dir_okay=False), help="kubeconfig for --kube and --flux."
        ),
        click.option("--context", "kube_context", help="kubeconfig context for --kube and --flux."),
    ]


def sync_on_drift_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``diff --sync-on-drift`` and the agent options (the cluster is --live's kubeconfig and context)."""
    return apply_options(fn, [
        click.option("--sync-on-drift", is_flag=True,
                     help="After the check, ask the agent (--argocd/--flux) to sync what drifted, then check again."),
        *_agent_options(),
    ])  # fmt: skip


def _agent_options() -> list[Callable[..., Any]]:
    return [
        click.option("--argocd", "agent", flag_value="argocd", help="Sync Argo CD Applications."),
        click.option("--flux", "agent", flag_value="flux", help="Reconcile Flux Kustomizations / HelmReleases."),
        click.option("--server", envvar="ARGOCD_SERVER", metavar="URL",
                     help="Argo CD API server (env ARGOCD_SERVER); needs a token."),
        click.option("--token-env", metavar="VAR", default="ARGOCD_AUTH_TOKEN", show_default=True,
                     help="Environment variable holding the Argo CD token."),
        click.option("--token-file", type=click.Path(dir_okay=False), help="File holding the Argo CD token."),
        click.option("--token", expose_value=False, hidden=True, callback=_reject_token),
        click.option("--insecure", is_flag=True, help="Do not verify the Argo CD server's TLS certificate."),
        click.option("--ca-file", type=click.Path(dir_okay=False, exists=True),
                     help="CA bundle for the Argo CD server's certificate."),
        click.option("--kube", is_flag=True,
                     help="Argo CD through the Kubernetes API (set the Application's .operation); no Argo CD token."),
        click.option("-n", "--namespace", "--app-namespace", "namespace",
                     help="Namespace of the Applications (default: argocd with --kube) or Flux objects (flux-system)."),
        click.option("--kind", type=click.Choice(["kustomization", "helmrelease"]), default=None,
                     help="Flux object kind (default kustomization)."),
        click.option("--with-source", is_flag=True, help="Flux: reconcile the source first."),
        click.option("--revision", help="Argo CD: sync to this revision (commit SHA)."),
        click.option("--prune", is_flag=True, help="Argo CD: delete resources no longer in Git (off unless asked)."),
        click.option("--only-drifted", is_flag=True, help="Argo CD: sync only the resources the check found drifted."),
        click.option("--dry-run", is_flag=True, help="Argo CD: a dry-run sync (the agent applies nothing)."),
        click.option("--sync-option", "sync_options", multiple=True, metavar="OPT",
                     help="Argo CD sync option, e.g. ServerSideApply=true (repeatable)."),
        click.option("--strategy", type=click.Choice(["hook", "apply"]), default="hook", show_default=True,
                     help="Argo CD sync strategy."),
        click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for the agent's verdict."),
        click.option("--timeout", default=DEFAULT_TIMEOUT, show_default=True, help="How long to wait (e.g. 90s, 5m)."),
        click.option("--poll-interval", default="2s", show_default=True, help="How often to look while waiting."),
        click.option("--retry-limit", type=int, default=None,
                     help="Retries of a failed API request (default: the Application's retry policy, else 3)."),
        click.option("--retry-backoff", default=None, help="First retry delay, doubling (default 5s)."),
        click.option("--retry-max", default=None, help="Longest retry delay (default 3m)."),
        click.option("--force", is_flag=True, help="Sync even though the check before was incomplete."),
        click.option("--allow-fork", is_flag=True, help="Sync even in a pipeline for a pull request from a fork."),
        click.option("--plan", "plan_only", is_flag=True, help="Print what would be asked, send nothing."),
    ]  # fmt: skip


def _settings(kw: dict[str, Any]) -> Any:
    from gitops_check.sync.base import SyncSettings
    from gitops_check.sync.policy import RetryPolicy, parse_duration

    retry = None
    if any(kw.get(k) is not None for k in ("retry_limit", "retry_backoff", "retry_max")):
        default = RetryPolicy()
        retry = RetryPolicy(
            limit=kw["retry_limit"] if kw.get("retry_limit") is not None else default.limit,
            backoff=parse_duration(kw["retry_backoff"], "--retry-backoff")
            if kw.get("retry_backoff")
            else default.backoff,
            max_backoff=parse_duration(kw["retry_max"], "--retry-max")
            if kw.get("retry_max")
            else default.max_backoff,
            source="--retry-* options",
        )
    return SyncSettings(
        revision=kw.get("revision"),
        prune=kw["prune"],
        dry_run=kw["dry_run"],
        sync_options=tuple(kw["sync_options"]),
        strategy=kw["strategy"],
        wait=kw["wait"],
        timeout=parse_duration(kw["timeout"], "--timeout"),
        poll_interval=max(0.01, parse_duration(kw["poll_interval"], "--poll-interval")),
        retry=retry,
        with_source=kw["with_source"],
    )


def _validate(kw: dict[str, Any]) -> None:
    agent = kw.get("agent")
    if agent is None:
        fail("say which agent to ask: --argocd or --flux")
    # --server may come from $ARGOCD_SERVER, set for every job of a pipeline: only an explicit one counts.
    explicit_server = bool(kw.get("server")) and kw.get("server") != os.environ.get("ARGOCD_SERVER")
    if agent == "flux":
        wrong = [f"--{k.replace('_', '-')}" for k in ("revision", "prune", "only_drifted", "dry_run", "kube",
                                                     "token_file", "insecure") if kw.get(k)]  # fmt: skip
        if explicit_server:
            wrong.append("--server")
        if kw.get("sync_options"):
            wrong.append("--sync-option")
        if wrong:
            fail(f"{', '.join(wrong)}: Argo CD options; Flux reconciles what its source holds")
    else:
        if kw.get("kind") or kw.get("with_source"):
            fail("--kind and --with-source are Flux options")
        if kw.get("kube") and explicit_server:
            fail("--kube and --server exclude each other: through the Kubernetes API, or through Argo CD's")
        if not kw.get("kube") and not kw.get("server"):
            fail("say how to reach Argo CD: --server URL (or ARGOCD_SERVER) with a token, or --kube")


def via_text(kw: dict[str, Any]) -> str:
    if kw["agent"] == "argocd" and not kw.get("kube"):
        from gitops_check.sync.argocd_api import server_url

        return f"Argo CD API {server_url(kw['server'])}"
    return "Kubernetes API" + (f" (context {kw['kube_context']})" if kw.get("kube_context") else "")


def make_backend(kw: dict[str, Any], say: Callable[[str], None]) -> Any:
    if kw["agent"] == "argocd" and not kw.get("kube"):
        from gitops_check.sync.argocd_api import ArgoCDClient, read_token
        from gitops_check.sync.argocd_rest import ArgoRestBackend

        token, source = read_token(env=kw.get("token_env"), file=kw.get("token_file"))
        verify: bool | str = False if kw["insecure"] else kw.get("ca_file") or True
        if kw["insecure"]:
            say(f"warning: --insecure: the TLS certificate of {kw['server']} is not verified")
        client = ArgoCDClient(kw["server"], token, token_source=source, verify=verify)
        return ArgoRestBackend(client, app_namespace=kw.get("namespace"))
    from gitops_check.cluster.agents import open_agents

    objects = open_agents(kw.get("kubeconfig"), kw.get("kube_context"))
    if kw["agent"] == "argocd":
        from gitops_check.sync.argocd_kube import ArgoKubeBackend

        return ArgoKubeBackend(objects, namespace=kw.get("namespace") or "argocd", say=say)
    from gitops_check.sync.flux import FLUX_KINDS, FluxBackend

    kind = FLUX_KINDS[kw.get("kind") or "kustomization"]
    return FluxBackend(objects, kind=kind, namespace=kw.get("namespace") or "flux-system", say=say)


def _project_allow(repo: str) -> tuple[tuple[str, ...] | None, str]:
    """The sync.allow list of the project file in ``repo`` as it is on disk (the pipeline's checkout)."""
    from gitops_check.config import PROJECT_FILE_ALIASES, parse_project
    from gitops_check.errors import InputError
    from gitops_check.sync.guard import allow_list

    for name in PROJECT_FILE_ALIASES:
        path = Path(repo) / name
        if path.is_file():
            try:
                text = path.read_bytes()
            except OSError as e:
                raise InputError(f"cannot read the project file: {e.strerror}", file=str(path)) from None
            project = parse_project(text, str(path))
            return allow_list(project.sync, str(path)), str(path)
    return None, str(Path(repo) / PROJECT_FILE_ALIASES[0])


def run_syncs(
    names: Sequence[str],
    kw: dict[str, Any],
    *,
    previous: Any = None,
    kinds: dict[str, str] | None = None,
    say: Callable[[str], None] = click.echo,
) -> list[SyncOutcome]:
    """Guard rails, then the sync itself; every outcome (refused ones too) in the order of ``names``."""
    from gitops_check.errors import GitopsCheckError
    from gitops_check.model import SyncState
    from gitops_check.sync.guard import fork_pipeline
    from gitops_check.sync.plan import Guards, plan_syncs
    from gitops_check.sync.run import SyncRun

    _validate(kw)
    settings = _settings(kw)
    allow, allow_file = _project_allow(kw.get("repo") or ".")
    if allow is None:
        say(f"note: {allow_file} has no sync.allow list, so any app may be synced")
    guards = Guards(allow, allow_file, fork_pipeline(os.environ), kw["allow_fork"], kw["force"])
    plan = plan_syncs(
        names, via=via_text(kw), guards=guards, previous=previous, only_drifted=kw["only_drifted"],
        prune=kw["prune"], kinds=kinds,
    )  # fmt: skip
    for outcome in plan.refused:
        say(f"{outcome.app}: {outcome.message}")
    for note in plan.notes:
        say(f"note: {note}")
    if not plan.targets:
        return plan.refused
    try:
        backend = make_backend(kw, say)
    except GitopsCheckError as e:
        via = via_text(kw)
        failed = [
            SyncOutcome(t.app, t.name, via, SyncState.ERROR, f"cannot connect: {e}") for t in plan.targets
        ]
        for outcome in failed:
            say(f"{outcome.app}: not synced: {outcome.message}")
        return plan.refused + failed
    outcomes = SyncRun(backend, settings, say=say, sleep=time.sleep).run(
        plan.targets, plan_only=kw["plan_only"]
    )
    return plan.refused + outcomes


def write_sync_reports(result: CheckResult, kw: dict[str, Any]) -> None:
    if kw.get("json_path"):
        from gitops_check.report.jsonout import render_json

        write_file(kw["json_path"], render_json(result), "JSON")
    if kw.get("junit"):
        from gitops_check.report.junit import render_junit

        write_file(kw["junit"], render_junit(result), "JUnit")
    if kw.get("markdown"):
        from gitops_check.report.markdown import render_markdown_full

        write_file(kw["markdown"], render_markdown_full(result), "Markdown")


FLUX_APP_KINDS = {"flux-kustomization": "Kustomization", "flux-helmrelease": "HelmRelease"}


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
    _validate(kw)


def sync_after_check(
    result: CheckResult, kw: dict[str, Any], recheck: Callable[[], CheckResult]
) -> CheckResult:
    """``diff --sync-on-drift``: sync the apps that drifted, then check again.

    Returns the re-check (with the sync outcomes attached) when every sync finished well, else the first
    check with the outcomes: no re-check after a failed, refused, dry-run or unawaited sync, whose exit
    code then decides (or the drift, when the sync was only asked for).
    """
    from gitops_check.model import SyncState
    from gitops_check.sync.previous import from_result

    previous = from_result(result)
    names = previous.drifted_apps()
    if not names:
        return result
    _print_terminal(result, kw)
    click.echo(f"\n--sync-on-drift: {len(names)} drifted app(s): {', '.join(names)}")
    kinds = {a.app.name: FLUX_APP_KINDS[a.app.kind] for a in result.apps if a.app.kind in FLUX_APP_KINDS}
    outcomes = run_syncs(names, kw, previous=previous, kinds=kinds if kw["agent"] == "flux" else None)
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
    click.echo(f"exit code {code}: " + {0: "done", 1: "the agent reports a failed sync",
                                        2: "not everything could be asked or confirmed"}[code])  # fmt: skip
    raise SystemExit(code)


COMMANDS = [sync_command]
