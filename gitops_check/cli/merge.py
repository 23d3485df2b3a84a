"""``gitops-check merge``: the parts of one check run as shards (``--shard K/N --part FILE``) joined into the
reports a single run writes, with the exit code of the whole; a missing or damaged part is exit 2 naming it."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import click

from gitops_check.cli.base import from_kwargs
from gitops_check.cli.reportopts import ReportArgs, emit_reports, report_options


@click.command("merge")
@click.argument("parts", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--shards", type=click.IntRange(1), default=None, metavar="N",
              help="How many shards the check was split into (default: what the parts say); a missing one is "
                   "exit 2.")  # fmt: skip
@click.option(
    "--markdown-parts-dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Write the Markdown report split into comment-1.md.. and full.md, as `preview` does.",
)
@click.option(
    "--repo",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="The repository, for --comment (which pull/merge request).",
)
@report_options
def merge_command(
    parts: tuple[str, ...], shards: int | None, markdown_parts_dir: str | None, repo: str, **kw: Any
) -> None:
    """Join the part files of a check split into shards into one set of reports."""
    # Hundreds of thousands of objects read from the parts live until exit and form no cycles: the collector's
    # passes over them took a third of a merge.
    gc.disable()
    from gitops_check.cli.preview import write_parts
    from gitops_check.errors import GitopsCheckError
    from gitops_check.model.result import AppError
    from gitops_check.report.parts import MERGE_APP, Part, load_part, merge_parts

    reports = from_kwargs(ReportArgs, kw)
    loaded: list[Part] = []
    unreadable: list[AppError] = []
    for name in parts:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            unreadable.append(AppError(MERGE_APP, f"part {name} cannot be read: {getattr(e, 'strerror', None) or e}",
                                       stage="merge"))  # fmt: skip
            continue
        try:
            loaded.append(load_part(text, name))
        except GitopsCheckError as e:  # that shard counts as missing, named; the others are still merged
            unreadable.append(AppError(MERGE_APP, e.message, stage="merge"))
    result = merge_parts(loaded, shards)
    result.errors.extend(unreadable)
    if markdown_parts_dir:
        write_parts(Path(markdown_parts_dir), result, reports.markdown_limit)
    emit_reports(result, reports, repo=repo)
    raise SystemExit(result.exit_code())


COMMANDS = [merge_command]
