"""``gitops-check apps``: every app discovered and where it came from, so users see why it is (not) checked.

Where from: the project file entry, the Application's ``file:line``, the ApplicationSet and generator (with the
parameters) that produced it, or the app whose render declared it (App of Apps). Apps declared by other apps
only exist once their parent is rendered, so the command renders by default (like ``diff``, without a cluster);
``--no-render`` lists only what the files declare. Exit 2 when something could not be discovered or rendered,
because the list may then be incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from gitops_check.cli.base import EXIT_IN_SYNC, EXIT_INCOMPLETE, SectionedCommand, from_kwargs, say
from gitops_check.cli.renderopts import (
    JobArgs,
    RenderArgs,
    build_job_options,
    build_render_options,
    job_options,
    render_options,
)
from gitops_check.cli.repoopts import RepoArgs, parse_repo_map, repo_options
from gitops_check.report.text import one_line


@dataclass(frozen=True)
class AppsArgs:
    """Everything ``gitops-check apps`` is given."""

    repo: RepoArgs
    rendering: RenderArgs
    job: JobArgs
    render: bool
    as_json: bool


@click.command("apps", cls=SectionedCommand)
@repo_options
@render_options
@job_options
@click.option("--render/--no-render", "render", default=True, show_default=True,
              help="Render apps to find the apps they declare (App of Apps).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def apps_command(**kw: Any) -> None:
    """List the apps found in the repository and where each was declared."""
    from gitops_check.model.app import App
    from gitops_check.model.result import AppError
    from gitops_check.pipeline.check import CheckRequest, render_repo
    from gitops_check.yamlio import dump_json

    args = from_kwargs(AppsArgs, kw)
    repo = args.repo
    request = CheckRequest(
        repo=Path(repo.repo),
        revision=repo.revision(),
        default_source=None,
        render=build_render_options(args.rendering),
        only_apps=tuple(repo.apps),
        repo_map=parse_repo_map(repo.repo_map),
        repo_urls=tuple(repo.repo_urls),
        honour_target_revision=repo.honour_target_revision,
        job=build_job_options(args.job),
    )
    apps: list[App]
    errors: list[AppError]
    if args.render:
        done = render_repo(request)
        apps = [r.app for r in done.rendered]
        errors = list(done.errors)
        errors += [AppError(r.app.name, f"not rendered, so the apps it declares (if any) are unknown: {r.error}",
                            stage="render") for r in done.rendered if r.error is not None]  # fmt: skip
        notes = [*done.warnings, *done.notes]
    else:
        found, notes = _discover_only(request)
        apps, errors = found.apps, found.errors
    if args.as_json:
        click.echo(
            dump_json(
                {"apps": [_row(a) for a in apps], "notes": notes, "errors": [_error(e) for e in errors]}
            )
        )
    else:
        for note in notes:
            say(note, err=False)
        for a in apps:
            tools = ", ".join(_source_text(s) for s in a.sources)
            ns = f" -> {a.destination.namespace}" if a.destination.namespace else ""
            click.echo(one_line(f"{a.name}: {tools}{ns}   [{a.origin}]"))
        for e in errors:
            where = f" ({e.file}{':' + str(e.line) if e.line else ''})" if e.file else ""
            say(f"error: {e.app}: {e.message}{where}")
    raise SystemExit(EXIT_INCOMPLETE if errors else EXIT_IN_SYNC)


def _discover_only(request: Any) -> tuple[Any, list[str]]:
    import tempfile

    from gitops_check import repourl
    from gitops_check.discover.dispatch import DiscoverOptions, discover
    from gitops_check.discover.project import Discovery, load_project
    from gitops_check.sources.folder import open_tree

    repo = open_tree(request.repo)
    with tempfile.TemporaryDirectory(prefix="gitops-check-") as tmp:
        ws = repo.materialize(request.revision, Path(tmp) / "tree")
        urls = {repourl.canonical(u) for u in (*repo.remote_urls(), *request.repo_urls)}
        found = discover(
            ws, load_project(ws), DiscoverOptions(this_repo_urls=frozenset(urls), job=request.job)
        )
    if request.only_apps:
        found = Discovery([a for a in found.apps if a.name in request.only_apps], found.notes, found.errors)
    return found, [*ws.warnings, *found.notes]


def _source_text(source: Any) -> str:
    where = f"chart {source.chart} from {source.repo}" if source.chart else source.path
    if source.repo and not source.chart:
        where = f"{source.repo}/{source.path}".rstrip("/.")
    return f"{where} ({source.tool.value})"


def _row(app: Any) -> dict[str, Any]:
    return {
        "name": app.name,
        "kind": app.kind,
        "origin": app.origin,
        "sources": [
            {"path": s.path, "tool": s.tool.value, "repo": s.repo, "chart": s.chart, "ref": s.ref}
            for s in app.sources
        ],
        "namespace": app.destination.namespace,
        "cluster": app.destination.name or app.destination.server,
    }


def _error(e: Any) -> dict[str, Any]:
    return {"app": e.app, "message": e.message, "file": e.file, "line": e.line, "stage": e.stage}


COMMANDS = [apps_command]
