"""``gitops-check diff``: a commit of the repository compared with a cluster snapshot or the live cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gitops_check.cli.base import (
    SectionedCommand,
    apply_options,
    build_diff_options,
    build_job_options,
    build_render_options,
    clear_outputs,
    emit_reports,
    entry_source,
    fail,
    in_section,
    job_options,
    live_options,
    live_source,
    named_sources,
    parse_repo_map,
    render_options,
    repo_options,
    report_options,
    resolve_shard,
    revision,
    shard_options,
    start_progress,
)
from gitops_check.cli.sync import check_sync_on_drift, sync_after_check, sync_on_drift_options


def cluster_options(fn: Any) -> Any:
    return apply_options(fn, [_snapshot_option(), _complete_option()], "Cluster")


def _complete_option() -> Any:
    return click.option(
        "--assume-complete-snapshot",
        is_flag=True,
        help="Treat kinds absent from a kubectl-made snapshot as captured (missing objects = drift, not 'not checked').",
    )


def _snapshot_option() -> Any:
    return click.option(
        "--snapshot",
        "snapshot",
        multiple=True,
        metavar="[NAME=]FILE",
        help="Compare with this snapshot file or folder; NAME=FILE for the cluster apps name NAME (repeatable: "
        "one per cluster). A plain FILE serves in-cluster apps and the cluster the snapshot says it was taken from.",
    )


@click.command("diff", cls=SectionedCommand)
@repo_options
@render_options
@job_options
@cluster_options
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
    from gitops_check.pipeline.check import CheckRequest, run_check

    clear_outputs(kw)
    default = live_source(kw)
    start_progress(kw)
    named = named_sources(kw)
    if default is None and not named:
        fail("say what to compare with: --snapshot FILE or --live")
    check_sync_on_drift(kw)
    kw["resolved_shard"] = shard = resolve_shard(kw)

    def from_entry(entry: Any) -> Any:
        return entry_source(entry, kw)

    kube_servers = None
    if kw.get("live"):
        import os

        from gitops_check.cluster.kubeconfig import context_servers

        kube_servers = context_servers(kw.get("kubeconfig"), kw.get("kube_context"), os.environ)

    def make_request(source: Any) -> CheckRequest:
        return CheckRequest(
            repo=Path(kw["repo"]),
            revision=revision(kw["rev"], kw["working_tree"]),
            default_source=source,
            source_factory=from_entry,
            named_sources=named,
            render=build_render_options(kw),
            only_apps=tuple(kw["apps"]),
            repo_map=parse_repo_map(kw["repo_map"]),
            repo_urls=tuple(kw["repo_urls"]),
            honour_target_revision=kw["honour_target_revision"],
            strict=kw["strict"],
            job=build_job_options(kw),
            diff=build_diff_options(kw),
            shard=shard,
            fail_on_manual="manual" in kw["fail_on"],
            kube_servers=kube_servers,
            cache_dir=Path(kw["cache_dir"]) if kw["cache_dir"] else None,
            cache_max_bytes=kw["cache_max_size"] * 1024 * 1024,
        )

    result = run_check(make_request(default))
    if kw["sync_on_drift"]:  # the second check reads the cluster afresh
        result = sync_after_check(result, kw, lambda: run_check(make_request(live_source(kw))))
    emit_reports(result, kw)
    raise SystemExit(result.exit_code())


COMMANDS = [diff_command]
