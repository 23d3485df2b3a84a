"""``gitops-check diff``: a commit of the repository compared with a cluster snapshot or the live cluster."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gitops_check import redact
from gitops_check.cli.base import SectionedCommand, fail, from_kwargs, in_section, say
from gitops_check.cli.clusteropts import (
    ClusterArgs,
    build_diff_options,
    entry_source,
    live_options,
    live_source,
    named_sources,
    snapshot_options,
    snapshot_paths,
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
from gitops_check.errors import GitopsCheckError
from gitops_check.model.live import LiveSource
from gitops_check.model.result import CheckResult

if TYPE_CHECKING:
    from gitops_check.cluster.select import ClusterEntry
    from gitops_check.pipeline.check import CheckRequest
    from gitops_check.pipeline.memo import RunMemo
    from gitops_check.pipeline.shards import Shard


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
    no_cache: bool
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
        "were rendered before is read from it, and a run against snapshots whose inputs all equal an earlier "
        "run's reports that run's result again (the run memo). Shared with preview; keep it outside the checkout.",
    ),
)
@in_section(
    "Rendering",
    click.option("--cache-max-size", type=click.IntRange(1), default=512, show_default=True, metavar="MIB",
                 help="Least recently used renders are deleted beyond this size."),
)  # fmt: skip
@in_section(
    "Rendering",
    click.option("--no-cache", is_flag=True,
                 help="Neither read nor write the render cache and the run memo (wins over $GITOPS_CHECK_CACHE_DIR)."),
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

    # Clusters of the project file's ``clusters:`` read by the run: their snapshots are not in the memo's key.
    made: list[str] = []

    def project_cluster(entry: ClusterEntry) -> LiveSource:
        made.append(entry.name)
        return entry_source(entry, cluster)

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
            source_factory=project_cluster,
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
            cache_dir=Path(args.cache_dir) if args.cache_dir and not args.no_cache else None,
            cache_max_bytes=args.cache_max_size * 1024 * 1024,
        )

    request = make_request(default)
    start = time.perf_counter()
    # Offline runs only: a live cluster changes without anything the key could see.
    memo = None if cluster.live else open_run_memo(request, cluster)
    result = reused_result(memo, start, args.reports.verbose) if memo else None
    part: str | None = None  # the result's part text, once written for the memo: --part writes the same
    if result is None:
        result = run_check(request)
        # What the check leaves (a fleet's result alone is ~200,000 objects) lives until exit, and writing the part
        # and the reports allocates enough to start the collector's full passes over all of it: frozen, it is left
        # out of them (~10 % of the reports' CPU); what is made from here on is still collected.
        gc.freeze()
        if memo:
            part = record_result(memo, result, shard, made, args.reports.verbose)
    if args.sync_on_drift:  # the second check reads the cluster afresh
        part = None
        result = sync_after_check(
            result, args.sync, kube=cluster.kube, repo=args.repo.repo, reports=args.reports,
            recheck=lambda: run_check(make_request(live_source(cluster))),
        )  # fmt: skip
    emit_reports(
        result, args.reports, repo=args.repo.repo, part_path=args.sharding.part_path, shard=shard, part=part
    )
    raise SystemExit(result.exit_code())


def open_run_memo(request: CheckRequest, cluster: ClusterArgs) -> RunMemo | None:
    """The run memo beside the render cache (``pipeline/memo.py``), keyed by this run's inputs."""
    from gitops_check.pipeline.memo import open_memo

    plain, named = snapshot_paths(cluster)
    snapshots = {**({"": plain[0]} if plain else {}), **named}
    # The request holds the sources, not how they were asked for (--assume-complete-snapshot...): all of it is keyed.
    return open_memo(request, snapshots, [], command=cluster)


def reused_result(memo: RunMemo, start: float, verbose: bool) -> CheckResult | None:
    """The result of an earlier run with byte-identical inputs, read back as ``merge`` reads a part; None: none.
    ``start``: when the key began to be made (its time is the run's)."""
    hit = memo.get()
    if hit is None:
        if verbose and memo.key.why_not:
            say(f"run memo not used: {memo.key.why_not}")
        return None
    from gitops_check.report.parts import load_part

    # As in merge: the result's objects live until exit and form no cycles; the collector's passes over a fleet's
    # (hundreds of thousands of objects) cost more than the decoding itself.
    gc.disable()
    try:
        result = load_part(hit.part, "run memo entry").result
    except GitopsCheckError:
        gc.enable()  # the check runs after all
        memo.forget()  # damaged or from another format: checked anew, and written again
        return None
    result.timings = {"memo": time.perf_counter() - start}
    # Work counters describe the run that did the work; this one rendered nothing. Whether that run's result was
    # stored (``record_result`` writes the entry as the result stands once stored) is not this run's to say.
    result.stats = {k: 0 if k in _WORK_COUNTERS else v for k, v in result.stats.items() if k != "memo_stored"}
    result.stats["memo_hit"] = 1
    inputs = "; ".join(f"{name} {value}" for name, value in hit.shown)
    say(f"run memo: every input is byte-identical to an earlier run's, whose result is reported again without "
        f"checking anew (memo {hit.key[:12]}: {inputs}); --no-cache checks anew")  # fmt: skip
    return result


_WORK_COUNTERS = frozenset(
    {"cache_hits", "cache_writes", "cache_with_secrets", "fetch_requests", "compared_early"}
)


def record_result(
    memo: RunMemo, result: CheckResult, shard: Shard | None, other_clusters: list[str], verbose: bool
) -> str | None:
    """Keep a complete offline run's result for identical re-runs (``RunMemo.why_not_kept`` says which); returns
    the part text stored, which is ``dump_part(result, shard)`` of the result as it now stands (None: none)."""
    from gitops_check.report.parts import dump_part

    result.stats["memo_hit"] = 0
    why_not = memo.why_not_kept(result, other_clusters=other_clusters)
    if why_not is None:
        # Written as the result stands once stored, so a --part file is this same text, not a second encoding of
        # a fleet's result; a run reusing it drops ``memo_stored`` (``reused_result``).
        result.stats["memo_stored"] = 1
        part = dump_part(result, shard)
        # A part never holds a Secret value; if a value the run knows as secret shows anyway, nothing is kept.
        if redact.present(part):
            why_not = "the result quotes a value known to be secret"
        elif memo.put(part):
            return part
    result.stats["memo_stored"] = 0
    if verbose and why_not:
        say(f"run memo: this run's result is not kept: {why_not}")
    return None


COMMANDS = [diff_command]
