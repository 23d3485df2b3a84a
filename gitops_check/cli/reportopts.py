"""The report option groups: which report files a run writes, how the terminal report looks, where it is posted
in CI (``report_options``), and the shard a run checks with the part file it writes (``shard_options``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gitops_check.cli.base import apply_options, say, write_file
from gitops_check.errors import GitopsCheckError, InputError
from gitops_check.model.result import CheckResult

if TYPE_CHECKING:
    from gitops_check.pipeline.shards import Shard
    from gitops_check.publish.comment import Platform
    from gitops_check.publish.result import ResultPublisher
    from gitops_check.report.links import FileLinks


@dataclass(frozen=True)
class ReportArgs:
    """The values of ``report_options``."""

    junit: str | None
    markdown: str | None
    markdown_full: str | None
    markdown_limit: int
    json_path: str | None
    color: bool | None
    verbose: bool
    progress: bool | None
    comment: Platform | None
    comment_key: str | None
    github_summary: bool

    def files(self) -> list[str]:
        """The report files asked for."""
        return [path for path in (self.junit, self.markdown, self.markdown_full, self.json_path) if path]


@dataclass(frozen=True)
class ShardArgs:
    """The values of ``shard_options``."""

    shard: str | None
    part_path: str | None


def report_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Where reports go, and where they are posted in CI."""
    fn = apply_options(fn, [
        click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report here."),
        click.option("--markdown", type=click.Path(dir_okay=False),
                     help="Write a Markdown report (PR comment sized, see --markdown-limit) here."),
        click.option("--markdown-full", type=click.Path(dir_okay=False),
                     help="Write the complete Markdown report, without a size limit, here."),
        click.option("--markdown-limit", type=click.IntRange(1000), default=65536, show_default=True,
                     help="Maximum characters of the --markdown report."),
        click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the JSON report here."),
        click.option("--color/--no-color", default=None, help="Colour the terminal diff (default: when stdout is a TTY)."),
        click.option("-v", "--verbose", is_flag=True,
                     help="Also list resources that are in sync, and print each stage's time to stderr."),
        click.option("--progress/--no-progress", "progress", default=None,
                     help="Show progress on stderr (default: on a terminal outside CI; in CI logs, with -v)."),
    ], "Reports")  # fmt: skip
    return apply_options(fn, [
        click.option("--comment", type=click.Choice(["github", "gitlab", "auto"]), default=None,
                     help="Post the report as sticky pull/merge request comment(s), updated on every run (docs/ci.md)."),
        click.option("--comment-key", metavar="KEY",
                     help="Which sticky comment to update (default: the command, plus the folder when not the root)."),
        click.option("--github-summary", is_flag=True,
                     help="In GitHub Actions: write the job summary and annotate what could not be checked."),
    ], "CI")  # fmt: skip


def shard_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """One check spread over several CI jobs, joined by ``gitops-check merge``."""
    return apply_options(fn, [
        click.option("--shard", metavar="K/N",
                     help="Check only the apps of shard K of N (default: $CI_NODE_INDEX/$CI_NODE_TOTAL in GitLab "
                          "parallel jobs); join the parts with `gitops-check merge`."),
        click.option("--part", "part_path", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Write this run's result for `gitops-check merge` here."),
    ], section="CI")  # fmt: skip


def resolve_shard(args: ShardArgs) -> Shard | None:
    """``--shard`` wins; else GitLab's parallel job variables; None: the whole check."""
    from gitops_check.pipeline.shards import parse_shard, shard_from_env

    try:
        shard = parse_shard(args.shard) if args.shard else shard_from_env(os.environ)
    except GitopsCheckError as e:
        raise click.BadParameter(e.message, param_hint="--shard") from None
    return shard if shard is None or shard.total > 1 else None


def clear_outputs(
    reports: ReportArgs, *, parts_dir: str | None = None, ours: Callable[[str], bool] = lambda name: False
) -> None:
    """Remove the report files this run is asked to write, before it starts: a run that stops half way must not
    leave the previous run's reports behind to be read as its result."""
    paths = [Path(name) for name in reports.files()]
    if parts_dir:
        folder = Path(parts_dir)
        if folder.is_dir() and not folder.is_symlink():
            paths += [p for p in folder.iterdir() if ours(p.name)]
    for path in paths:
        try:
            if path.is_symlink() or path.is_file():
                path.unlink()
        except OSError as e:
            raise InputError(f"cannot remove the previous report: {e.strerror}", file=str(path)) from None


def start_progress(reports: ReportArgs) -> None:
    """Progress on stderr for this run, as ``--progress``/``-v``, the terminal and the CI environment decide."""
    from gitops_check import progress

    ci = os.environ.get("CI", "").lower() in ("true", "1") or bool(os.environ.get("GITHUB_ACTIONS"))
    mode = progress.wanted(reports.progress, verbose=reports.verbose, tty=_is_tty(sys.stderr), ci=ci)
    progress.install(None if mode == "off" else progress.Reporter(sys.stderr, live=mode == "live"))


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def terminal_text(result: CheckResult, reports: ReportArgs) -> str:
    """The terminal report, coloured as ``--color`` says or, by default, when stdout is a terminal."""
    from gitops_check.report.terminal import render_terminal, should_color

    color = reports.color if reports.color is not None else should_color(sys.stdout, os.environ)
    return render_terminal(result, color=color, verbose=reports.verbose)


def emit_reports(
    result: CheckResult,
    reports: ReportArgs,
    *,
    repo: str,
    part_path: str | None = None,
    shard: Shard | None = None,
    part: str | None = None,
) -> None:
    """Write the report files asked for (and the shard's part file), then print the terminal report; ``repo``:
    the repository whose pull/merge request ``--comment`` posts to; ``part``: the part's text when the caller has
    it already (``dump_part(result, shard)``, written for the run memo)."""
    from gitops_check import progress

    progress.install(None)  # its line is erased before the report
    if part_path:
        if part is None:
            from gitops_check.report.parts import dump_part

            part = dump_part(result, shard)
        write_file(part_path, part, "part")

    if reports.junit:
        from gitops_check.report.junit import render_junit

        write_file(reports.junit, render_junit(result), "JUnit")
    if reports.markdown or reports.markdown_full:
        from gitops_check.report.markdown import render_markdown, render_markdown_full

        links = file_links(result)
        if reports.markdown:
            text = render_markdown(result, limit=reports.markdown_limit, links=links)
            write_file(reports.markdown, text, "Markdown")
        if reports.markdown_full:
            write_file(reports.markdown_full, render_markdown_full(result, links=links), "Markdown")
    if reports.json_path:
        from gitops_check.report.jsonout import render_json

        write_file(reports.json_path, render_json(result), "JSON", json_document=True)
    text = terminal_text(result, reports)
    publisher = ci_publisher(result, reports, repo=repo)
    if publisher:
        publisher.before_report()
    click.echo(text, nl=not text.endswith("\n"))
    if publisher:
        publisher.after_report()


def file_links(result: CheckResult) -> FileLinks | None:
    """Links to files at the commit checked, when the job runs in GitHub Actions or GitLab CI for that repository."""
    from gitops_check.report.links import file_links as links_in

    return links_in(result.source, os.environ)


def ci_publisher(result: CheckResult, reports: ReportArgs, *, repo: str) -> ResultPublisher | None:
    """``--comment`` / ``--github-summary``: a ResultPublisher wrapped around the terminal report, or None."""
    if not reports.comment and not reports.github_summary:
        return None
    from gitops_check.publish.result import ResultPublisher
    from gitops_check.report.markdown import render_markdown, render_markdown_parts

    links = file_links(result)
    return ResultPublisher(
        result,
        repo=Path(repo or "."),
        parts=lambda limit, url: render_markdown_parts(result, limit=limit, details_url=url, links=links),
        fitted=lambda limit, url: render_markdown(result, limit=limit, details_url=url, links=links),
        whole=lambda limit: render_markdown(result, limit=limit, unit="bytes", links=links),
        comment=reports.comment,
        key=reports.comment_key,
        github_summary=reports.github_summary,
        env=dict(os.environ),
        out=click.echo,
        err=say,
    )
