"""``gitops-check preview``: what a pull request changes in the rendered manifests, and what already differs.

Exit codes: 0 the change renders no differences, 1 it changes rendered objects, 2 something could not be
rendered or compared (wins over 1). Differences already in the cluster (``--live``/``--snapshot``) are reported
apart and do not count towards 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from gitops_check.cli.base import SectionedCommand, apply_options, from_kwargs, write_file
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
from gitops_check.cli.repoopts import parse_repo_map
from gitops_check.cli.reportopts import (
    ReportArgs,
    ShardArgs,
    clear_outputs,
    emit_reports,
    file_links,
    report_options,
    resolve_shard,
    shard_options,
    start_progress,
)

PART_PREFIX = "comment-"
FULL_REPORT = "full.md"


@dataclass(frozen=True)
class PreviewArgs:
    """Everything ``gitops-check preview`` is given."""

    repo: str
    base: str | None
    head: str | None
    merge_base: bool
    apps: tuple[str, ...]
    repo_map: tuple[str, ...]
    repo_urls: tuple[str, ...]
    markdown_parts_dir: str | None
    cache_dir: str | None
    no_cache: bool
    cache_max_size: int
    work_dir: str | None
    rendering: RenderArgs
    job: JobArgs
    cluster: ClusterArgs
    reports: ReportArgs
    sharding: ShardArgs


def preview_options(fn: Any) -> Any:
    fn = apply_options(
        fn,
        [
            click.option(
                "--repo",
                "repo",
                default=".",
                show_default=True,
                type=click.Path(file_okay=False),
                help="The GitOps repository, or a folder inside one (its files only).",
            ),
            click.option(
                "--base",
                default=None,
                metavar="REV",
                help="The target branch or commit (default: from the pull/merge request in CI).",
            ),
            click.option(
                "--head", default=None, metavar="REV", help="The change (default: from CI, else HEAD)."
            ),
            click.option(
                "--merge-base/--no-merge-base",
                default=True,
                show_default=True,
                help="Compare head with the merge-base of base and head (what the change itself does).",
            ),
            click.option("--app", "apps", multiple=True, help="Only these apps (repeatable)."),
            click.option(
                "--repo-map",
                "repo_map",
                multiple=True,
                metavar="URL=PATH",
                help="A local clone of another repository Applications point at (repeatable).",
            ),
            click.option(
                "--repo-url",
                "repo_urls",
                multiple=True,
                metavar="URL",
                help="Another URL that means this repository (its remotes are known already).",
            ),
        ],
        "Repository",
    )
    fn = apply_options(
        fn,
        [
            click.option(
                "--markdown-parts-dir",
                type=click.Path(file_okay=False),
                metavar="DIR",
                help=f"Write the Markdown report split at app boundaries into {PART_PREFIX}1.md.. "
                f"(each under --markdown-limit) and the whole report into {FULL_REPORT}.",
            ),
        ],
        "Reports",
    )
    return apply_options(fn, [
        click.option("--cache-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
                     help="Render cache folder (default: $GITOPS_CHECK_CACHE_DIR or ~/.cache/gitops-check/renders)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the render cache."),
        click.option("--cache-max-size", type=click.IntRange(1), default=512, show_default=True, metavar="MIB",
                     help="Least recently used renders are deleted beyond this size."),
        click.option("--work-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
                     help="Where the two commits are written (default: memory-backed /dev/shm when it has room)."),
    ], "Rendering")  # fmt: skip


@click.command("preview", cls=SectionedCommand)
@preview_options
@render_options
@job_options
@snapshot_options
@live_options
@report_options
@shard_options
def preview_command(**kw: Any) -> None:
    """Show what a change (pull/merge request) does to the rendered manifests, app by app.

    Only apps whose inputs changed are rendered. With --live or --snapshot, what already differs in the
    cluster is shown apart, and objects the change touches that already differ are flagged.
    """
    run_preview_command(from_kwargs(PreviewArgs, kw))


def run_preview_command(args: PreviewArgs) -> None:
    from gitops_check.preview import PreviewRequest, run_preview
    from gitops_check.render.cache import default_cache_dir

    if args.no_cache and args.cache_dir:
        raise click.UsageError("--cache-dir and --no-cache exclude each other")
    clear_outputs(args.reports, parts_dir=args.markdown_parts_dir, ours=is_report_part)
    shard = resolve_shard(args.sharding)
    start_progress(args.reports)
    cache_dir = None if args.no_cache else Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    cluster = args.cluster
    request = PreviewRequest(
        repo=Path(args.repo),
        base=args.base,
        head=args.head,
        merge_base=args.merge_base,
        default_source=live_source(cluster),
        source_factory=lambda entry: entry_source(entry, cluster),
        named_sources=named_sources(cluster),
        render=build_render_options(args.rendering),
        only_apps=tuple(args.apps),
        repo_map=parse_repo_map(args.repo_map),
        repo_urls=tuple(args.repo_urls),
        job=build_job_options(args.job),
        diff=build_diff_options(cluster),
        cache_dir=cache_dir,
        cache_max_bytes=args.cache_max_size * 1024 * 1024,
        work_dir=Path(args.work_dir) if args.work_dir else None,
        shard=shard,
    )
    result = run_preview(request)
    if args.markdown_parts_dir:
        write_parts(Path(args.markdown_parts_dir), result, args.reports.markdown_limit)
    emit_reports(result, args.reports, repo=args.repo, part_path=args.sharding.part_path, shard=shard)
    raise SystemExit(result.exit_code())


def is_report_part(name: str) -> bool:
    """``comment-N.md`` and ``full.md``: what ``write_parts`` writes."""
    number = name.removeprefix(PART_PREFIX).removesuffix(".md")
    return name == FULL_REPORT or (name.startswith(PART_PREFIX) and name.endswith(".md") and number.isdigit())


def write_parts(folder: Path, result: Any, limit: int) -> list[Path]:
    """``comment-1.md``..``comment-N.md`` and ``full.md``; parts left from an earlier, longer report are removed."""
    from gitops_check.report.markdown import render_markdown_full, render_markdown_parts

    links = file_links(result)
    parts = render_markdown_parts(result, limit=limit, links=links)
    written = []
    for n, text in enumerate(parts, 1):
        path = folder / f"{PART_PREFIX}{n}.md"
        write_file(str(path), text, "Markdown part")
        written.append(path)
    if folder.is_dir():
        for stale in folder.glob(f"{PART_PREFIX}*.md"):
            number = stale.stem.removeprefix(PART_PREFIX)
            if number.isdigit() and int(number) > len(parts):
                stale.unlink()
    write_file(str(folder / FULL_REPORT), render_markdown_full(result, links=links), "Markdown")
    return written


COMMANDS = [preview_command]
