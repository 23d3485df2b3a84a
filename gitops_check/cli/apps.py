"""``gitops-check apps``: what discovery found and where each app was declared, so users see why it is checked."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from gitops_check.cli.base import EXIT_IN_SYNC, EXIT_INCOMPLETE, repo_options, revision


@click.command("apps")
@repo_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def apps_command(**kw: Any) -> None:
    """List the apps found in the repository and where each was declared."""
    from gitops_check import repourl
    from gitops_check.discover.dispatch import DiscoverOptions, discover
    from gitops_check.discover.project import load_project
    from gitops_check.sources.git import open_repo
    from gitops_check.yamlio import dump_json

    repo = open_repo(Path(kw["repo"]))
    with tempfile.TemporaryDirectory(prefix="gitops-check-") as tmp:
        ws = repo.materialize(revision(kw["rev"], kw["working_tree"]), Path(tmp) / "tree")
        urls = {repourl.canonical(u) for u in (*repo.remote_urls(), *kw["repo_urls"])}
        found = discover(ws, load_project(ws), DiscoverOptions(this_repo_urls=frozenset(urls)))
    if kw["as_json"]:
        rows = [
            {
                "name": a.name,
                "kind": a.kind,
                "origin": a.origin,
                "sources": [{"path": s.path, "tool": s.tool.value, "repo": s.repo} for s in a.sources],
                "namespace": a.destination.namespace,
                "cluster": a.destination.name or a.destination.server,
            }
            for a in found.apps
        ]
        errors = [{"app": e.app, "message": e.message, "file": e.file, "line": e.line} for e in found.errors]
        click.echo(dump_json({"apps": rows, "notes": found.notes, "errors": errors}))
    else:
        for note in found.notes:
            click.echo(note)
        for a in found.apps:
            tools = ", ".join(f"{s.path} ({s.tool.value})" for s in a.sources)
            ns = f" -> {a.destination.namespace}" if a.destination.namespace else ""
            click.echo(f"{a.name}: {tools}{ns}   [{a.origin}]")
        for e in found.errors:
            where = f" ({e.file}{':' + str(e.line) if e.line else ''})" if e.file else ""
            click.echo(f"error: {e.app}: {e.message}{where}", err=True)
    raise SystemExit(EXIT_INCOMPLETE if found.errors else EXIT_IN_SYNC)


COMMANDS = [apps_command]
