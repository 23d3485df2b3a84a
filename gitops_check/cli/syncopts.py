"""The options of ``gitops-check sync`` (shared with ``diff --sync-on-drift``), and turning them into a sync.

Parsing stays here: which agent and how to reach it, what to ask, how long to wait, the guard-rail overrides;
``run_syncs`` then applies the guard rails and drives ``sync.run``. The token is only ever read from the
environment or a file; a ``--token`` value is refused without being echoed.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gitops_check.cli.base import apply_options, fail
from gitops_check.cli.clusteropts import KubeArgs
from gitops_check.model.sync import SyncOutcome

if TYPE_CHECKING:
    from gitops_check.sync.base import AgentObject, Backend, SyncSettings
    from gitops_check.sync.previous import PreviousCheck

DEFAULT_TIMEOUT = "5m"


@dataclass(frozen=True)
class SyncArgs:
    """The values of ``agent_option_list``; the kubeconfig context (``--kube``, ``--flux``) comes apart, from
    ``sync``'s own ``--kubeconfig``/``--context`` or ``diff``'s ``--live`` group."""

    agent: str | None
    server: str | None
    token_env: str
    token_file: str | None
    insecure: bool
    ca_file: str | None
    kube: bool
    namespace: str | None
    kind: str | None
    with_source: bool
    revision: str | None
    prune: bool
    only_drifted: bool
    dry_run: bool
    sync_options: tuple[str, ...]
    strategy: str
    wait: bool
    timeout: str
    poll_interval: str
    retry_limit: int | None
    retry_backoff: str | None
    retry_max: str | None
    force: bool
    allow_fork: bool
    plan_only: bool

    def through_api(self) -> bool:
        """Argo CD through its own API server (not through the Kubernetes API)."""
        return self.agent == "argocd" and not self.kube


def _reject_token(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None:
        raise click.UsageError(
            "--token is not accepted: a token on the command line lands in shell history and CI logs; "
            "put it in an environment variable (--token-env VAR, default ARGOCD_AUTH_TOKEN) or a file (--token-file)"
        )


def agent_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Which agent, how to reach it, what to ask, how long to wait, and the guard-rail overrides."""
    return apply_options(fn, [*agent_option_list(), *_kube_options()])


def _kube_options() -> list[Callable[..., Any]]:
    return [
        click.option(
            "--kubeconfig", type=click.Path(dir_okay=False), help="kubeconfig for --kube and --flux."
        ),
        click.option("--context", "kube_context", help="kubeconfig context for --kube and --flux."),
    ]


def agent_option_list() -> list[Callable[..., Any]]:
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
                     help="Namespace of the Applications (default: argocd with --kube) or Flux objects (flux-system). "
                          "Apps the check before found keep the namespace their name carries (docs/sync.md)."),
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
        click.option("--poll-interval", default="2s", show_default=True, help="Longest wait between two looks while waiting (the first comes after 0.1s, then doubling)."),
        click.option("--retry-limit", type=int, default=None,
                     help="Retries of a failed API request (default: the Application's retry policy, else 3)."),
        click.option("--retry-backoff", default=None, help="First retry delay, doubling (default 5s)."),
        click.option("--retry-max", default=None, help="Longest retry delay (default 3m)."),
        click.option("--force", is_flag=True, help="Sync even though the check before was incomplete."),
        click.option("--allow-fork", is_flag=True, help="Sync even in a pipeline for a pull request from a fork."),
        click.option("--plan", "plan_only", is_flag=True, help="Print what would be asked, send nothing."),
    ]  # fmt: skip


def sync_settings(args: SyncArgs) -> SyncSettings:
    from gitops_check.sync.base import SyncSettings
    from gitops_check.sync.policy import RetryPolicy, parse_duration

    retry = None
    if any(value is not None for value in (args.retry_limit, args.retry_backoff, args.retry_max)):
        default = RetryPolicy()
        retry = RetryPolicy(
            limit=args.retry_limit if args.retry_limit is not None else default.limit,
            backoff=parse_duration(args.retry_backoff, "--retry-backoff")
            if args.retry_backoff
            else default.backoff,
            max_backoff=parse_duration(args.retry_max, "--retry-max")
            if args.retry_max
            else default.max_backoff,
            source="--retry-* options",
        )
    return SyncSettings(
        revision=args.revision,
        prune=args.prune,
        dry_run=args.dry_run,
        sync_options=tuple(args.sync_options),
        strategy=args.strategy,
        wait=args.wait,
        timeout=parse_duration(args.timeout, "--timeout"),
        poll_interval=max(0.01, parse_duration(args.poll_interval, "--poll-interval")),
        retry=retry,
        with_source=args.with_source,
    )


def validate(args: SyncArgs) -> None:
    agent = args.agent
    if agent is None:
        fail("say which agent to ask: --argocd or --flux")
    # --server may come from $ARGOCD_SERVER, set for every job of a pipeline: only an explicit one counts.
    explicit_server = bool(args.server) and args.server != os.environ.get("ARGOCD_SERVER")
    if agent == "flux":
        argocd_only = (("--revision", args.revision), ("--prune", args.prune), ("--only-drifted", args.only_drifted),
                       ("--dry-run", args.dry_run), ("--kube", args.kube), ("--token-file", args.token_file),
                       ("--insecure", args.insecure))  # fmt: skip
        wrong = [flag for flag, given in argocd_only if given]
        if explicit_server:
            wrong.append("--server")
        if args.sync_options:
            wrong.append("--sync-option")
        if wrong:
            fail(f"{', '.join(wrong)}: Argo CD options; Flux reconciles what its source holds")
    else:
        if args.kind or args.with_source:
            fail("--kind and --with-source are Flux options")
        if args.kube and explicit_server:
            fail("--kube and --server exclude each other: through the Kubernetes API, or through Argo CD's")
        if not args.kube and not args.server:
            fail("say how to reach Argo CD: --server URL (or ARGOCD_SERVER) with a token, or --kube")


def via_text(args: SyncArgs, kube: KubeArgs) -> str:
    if args.through_api():
        from gitops_check.sync.argocd_api import server_url

        return f"Argo CD API {server_url(args.server or '')}"
    return "Kubernetes API" + (f" (context {kube.kube_context})" if kube.kube_context else "")


def make_backend(args: SyncArgs, kube: KubeArgs, say: Callable[[str], None]) -> Backend:
    if args.through_api():
        from gitops_check.sync.argocd_api import ArgoCDClient, read_token
        from gitops_check.sync.argocd_rest import ArgoRestBackend

        server = args.server or ""  # validate() made sure it is given
        token, source = read_token(env=args.token_env, file=args.token_file)
        verify: bool | str = False if args.insecure else args.ca_file or True
        if args.insecure:
            say(f"warning: --insecure: the TLS certificate of {server} is not verified")
        client = ArgoCDClient(server, token, token_source=source, verify=verify)
        return ArgoRestBackend(client, app_namespace=args.namespace)
    from gitops_check.cluster.agents import open_agents

    objects = open_agents(kube.kubeconfig, kube.kube_context)
    if args.agent == "argocd":
        from gitops_check.sync.argocd_kube import ArgoKubeBackend

        return ArgoKubeBackend(objects, namespace=args.namespace or "argocd", say=say)
    from gitops_check.sync.flux import FLUX_KINDS, FluxBackend

    kind = FLUX_KINDS[args.kind or "kustomization"]
    return FluxBackend(objects, kind=kind, namespace=args.namespace or "flux-system", say=say)


def _project_allow(repo: str) -> tuple[tuple[str, ...] | None, str]:
    """The sync.allow list of the project file in ``repo`` as it is on disk (the pipeline's checkout)."""
    from gitops_check.errors import InputError
    from gitops_check.project.config import PROJECT_FILE_ALIASES, parse_project
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


def agent_objects(args: SyncArgs, previous: PreviousCheck | None) -> dict[str, AgentObject] | None:
    """The agent objects discovery found for the apps of the check before (``previous``), by app name.

    Flux app names and Argo CD apps outside the control-plane namespace (``ns/name``) carry their namespace,
    which is used as if typed as NAMESPACE/NAME. For the other Argo CD apps the namespace is the control-plane
    namespace discovery assumed: ``-n`` overrides it, and through Argo CD's API the server's own default is used.
    """
    if previous is None or not previous.agents:
        return None
    out = {}
    for app, obj in previous.agents.items():
        if "/" not in app and (args.namespace or args.through_api()):
            obj = dataclasses.replace(obj, namespace=None)
        out[app] = obj
    return out


def run_syncs(
    names: Sequence[str],
    args: SyncArgs,
    *,
    kube: KubeArgs,
    repo: str,
    previous: PreviousCheck | None = None,
    say: Callable[[str], None] = click.echo,
) -> list[SyncOutcome]:
    """Guard rails, then the sync itself; every outcome (refused ones too) in the order of ``names``. ``repo``:
    the folder whose project file holds the sync.allow list."""
    from gitops_check.errors import GitopsCheckError
    from gitops_check.model.sync import SyncState
    from gitops_check.sync.guard import fork_pipeline
    from gitops_check.sync.plan import Guards, plan_syncs
    from gitops_check.sync.run import SyncRun

    validate(args)
    settings = sync_settings(args)
    allow, allow_file = _project_allow(repo or ".")
    if allow is None:
        say(f"note: {allow_file} has no sync.allow list, so any app may be synced")
    guards = Guards(allow, allow_file, fork_pipeline(os.environ), args.allow_fork, args.force)
    via = via_text(args, kube)
    plan = plan_syncs(
        names, via=via, guards=guards, previous=previous, only_drifted=args.only_drifted,
        prune=args.prune, agents=agent_objects(args, previous), agent=args.agent,
    )  # fmt: skip
    for outcome in plan.refused:
        say(f"{outcome.app}: {outcome.message}")
    for note in plan.notes:
        say(f"note: {note}")
    if not plan.targets:
        return plan.refused
    try:
        backend = make_backend(args, kube, say)
    except GitopsCheckError as e:
        failed = [
            SyncOutcome(t.app, t.name, via, SyncState.ERROR, f"cannot connect: {e}") for t in plan.targets
        ]
        for outcome in failed:
            say(f"{outcome.app}: not synced: {outcome.message}")
        return plan.refused + failed
    outcomes = SyncRun(backend, settings, say=say, sleep=time.sleep).run(
        plan.targets, plan_only=args.plan_only
    )
    return plan.refused + outcomes
