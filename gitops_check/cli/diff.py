"""``gitops-check diff``: a commit of the repository compared with a cluster snapshot or the live cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from gitops_check.cli.base import SectionedCommand, fail, from_kwargs, in_section
from gitops_check.cli.clusteropts import (
    ClusterArgs,
    build_diff_options,
    entry_source,
    live_options,
    live_source,
    named_sources,
    snapshot_options,
)
from gitops_check.cli.renderopts import (
    JobArgs,
    RenderArgs,
    build_job_options,
    build_render_options,
    job_options,
    render_options,
)
from gitops_check.cli.repoopts import RepoArgs, parse_repo_map, repo_options
from gitops_check.cli.reportopts import (
    ReportArgs,
    ShardArgs,
    clear_outputs,
    emit_reports,
    report_options,
    resolve_shard,
    shard_options,
    start_progress,
)
from gitops_check.cli.sync import check_sync_on_drift, sync_after_check, sync_on_drift_options
from gitops_check.cli.syncopts import SyncArgs
from gitops_check.model.live import LiveSource


@dataclass(frozen=True)
class DiffArgs:
    """Everything ``gitops-check diff`` is given."""

    repo: RepoArgs
    rendering: RenderArgs
    job: JobArgs
    cluster: ClusterArgs
    reports: ReportArgs
    sharding: ShardArgs
    strict: bool
    fail_on: tuple[str, ...]
    cache_dir: str | None
    cache_max_size: int
    sync_on_drift: bool
    sync: SyncArgs


@click.command("diff", cls=SectionedCommand)
@repo_options
@render_options
@job_options
@snapshot_options
@live_options
@report_options
@shard_options
@in_section(
    "Job policy",
    click.option(
        "--strict", is_flag=True, help="Hygiene findings (plain Secrets in Git...) fail the run: exit 1."
    ),
)
@in_section(
    "Job policy",
    click.option(
        "--fail-on",
        "fail_on",
        type=click.Choice(["manual"]),
        multiple=True,
        help="Also fail the run (exit 1) for this: manual = resources changed by hand in fields Git does not "
        "manage (reported apart, as 'changed by hand'; a sync would keep them).",
    ),
)
@in_section(
    "Rendering",
    click.option(
        "--cache-dir",
        type=click.Path(file_okay=False),
        default=None,
        metavar="DIR",
        envvar="GITOPS_CHECK_CACHE_DIR",
        help="Render cache folder (also $GITOPS_CHECK_CACHE_DIR; off when not given): an app whose inputs "
        "were rendered before is read from it. Shared with preview; keep it outside the checkout.",
    ),
)
@in_section(
    "Rendering",
    click.option("--cache-max-size", type=click.IntRange(1), default=512, show_default=True, metavar="MIB",
                 help="Least recently used renders are deleted beyond this size."),
)  # fmt: skip
@sync_on_drift_options
def diff_command(**kw: Any) -> None:
    """Compare a commit of the repository with a cluster snapshot or the live cluster."""
    run_diff(from_kwargs(DiffArgs, kw))


def run_diff(args: DiffArgs) -> None:
    from gitops_check.pipeline.check import CheckRequest, run_check

    cluster = args.cluster
    clear_outputs(args.reports)
    default = live_source(cluster)
    start_progress(args.reports)
    named = named_sources(cluster)
    if default is None and not named:
        fail("say what to compare with: --snapshot FILE or --live")
    check_sync_on_drift(args.sync_on_drift, args.sync, live=cluster.live)
    shard = resolve_shard(args.sharding)

    kube_servers = None
    if cluster.live:
        import os

        from gitops_check.cluster.kubeconfig import context_servers

        kube_servers = context_servers(cluster.kube.kubeconfig, cluster.kube.kube_context, os.environ)

    def make_request(source: LiveSource | None) -> CheckRequest:
        repo = args.repo
        return CheckRequest(
            repo=Path(repo.repo),
            revision=repo.revision(),
            default_source=source,
            source_factory=lambda entry: entry_source(entry, cluster),
            named_sources=named,
            render=build_render_options(args.rendering),
            only_apps=tuple(repo.apps),
            repo_map=parse_repo_map(repo.repo_map),
            repo_urls=tuple(repo.repo_urls),
            honour_target_revision=repo.honour_target_revision,
            strict=args.strict,
            job=build_job_options(args.job),
            diff=build_diff_options(cluster),
            shard=shard,
            fail_on_manual="manual" in args.fail_on,
            kube_servers=kube_servers,
            cache_dir=Path(args.cache_dir) if args.cache_dir else None,
            cache_max_bytes=args.cache_max_size * 1024 * 1024,
        )

    result = run_check(make_request(default))
    if args.sync_on_drift:  # the second check reads the cluster afresh
        result = sync_after_check(
            result, args.sync, kube=cluster.kube, repo=args.repo.repo, reports=args.reports,
            recheck=lambda: run_check(make_request(live_source(cluster))),
        )  # fmt: skip
    emit_reports(result, args.reports, repo=args.repo.repo, part_path=args.sharding.part_path, shard=shard)
    raise SystemExit(result.exit_code())


COMMANDS = [diff_command]
