"""Command line: parse options, call the core with keyword arguments, write reports, map the outcome to an exit code.

Exit codes (like diff(1) and kubectl diff): 0 everything checked and in sync, 1 drift, 2 something could not be
checked. 2 wins over 1, and every error path (bad option, unreadable input, internal bug) ends in 2, so an
incomplete check never looks green.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from gitops_check import __version__
from gitops_check.errors import GitopsCheckError, InputError

EXIT_IN_SYNC, EXIT_DRIFT, EXIT_INCOMPLETE = 0, 1, 2


class Failure(click.ClickException):
    exit_code = EXIT_INCOMPLETE


def _fail(message: str) -> NoReturn:
    raise Failure(message)


def _write(path: str, text: str, what: str) -> None:
    target = Path(path)
    try:
        if target.parent and not target.parent.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as e:
        raise InputError(f"cannot write the {what} report: {e.strerror}", file=path) from None


def _common_render_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--repo", "repo", default=".", show_default=True, type=click.Path(file_okay=False),
                     help="The GitOps repository (a git repository, or a plain folder)."),
        click.option("--rev", "rev", default=None, help="Revision to check: SHA, branch, tag, HEAD~2. Default: HEAD."),
        click.option("--working-tree", is_flag=True, help="Check the working tree, uncommitted changes included."),
        click.option("--app", "apps", multiple=True, help="Only these apps (repeatable)."),
        click.option("--helm", "helm_binary", envvar="GITOPS_CHECK_HELM", help="helm binary to use."),
        click.option("--kustomize", "kustomize_binary", envvar="GITOPS_CHECK_KUSTOMIZE", help="kustomize binary."),
        click.option("--kube-version", default=None, help="Kubernetes version Helm charts see (.Capabilities)."),
        click.option("--api-versions", multiple=True, help="Extra API versions for Helm's .Capabilities (repeatable)."),
        click.option("--allow-remote-bases", is_flag=True, help="Let Kustomize fetch remote bases (needs the network)."),
        click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
                     help="Apps rendered in parallel."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def _render_options(kw: dict[str, Any], project_render: dict[str, Any] | None = None) -> Any:
    from gitops_check.config import RenderOptions

    return RenderOptions(
        helm_binary=kw["helm_binary"],
        kustomize_binary=kw["kustomize_binary"],
        kube_version=kw["kube_version"],
        api_versions=tuple(kw["api_versions"]),
        allow_remote_bases=kw["allow_remote_bases"],
        workers=kw["workers"],
    )


def _revision(rev: str | None, working_tree: bool) -> str | None:
    if rev and working_tree:
        _fail("--rev and --working-tree exclude each other")
    if working_tree:
        return None
    return rev or "HEAD"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="gitops-check")
def cli() -> None:
    """Render a GitOps repository the way Argo CD and Flux would and compare it with the cluster.

    Exit codes: 0 in sync, 1 drift found, 2 something could not be checked.
    """


@cli.command("diff")
@_common_render_options
@click.option(
    "--snapshot", type=click.Path(), help="Compare with this snapshot file or folder (no cluster needed)."
)
@click.option("--assume-complete-snapshot", is_flag=True,
              help="Treat kinds absent from a foreign snapshot as captured (objects missing = drift, not 'not checked').")  # fmt: skip
@click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report here.")
@click.option(
    "--markdown", type=click.Path(dir_okay=False), help="Write a Markdown report (PR comment sized) here."
)
@click.option("--markdown-limit", type=click.IntRange(1000), default=65536, show_default=True,
              help="Maximum characters of the Markdown report.")  # fmt: skip
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the JSON report here.")
@click.option(
    "--color/--no-color", default=None, help="Colour the terminal diff (default: when stdout is a TTY)."
)
@click.option("-v", "--verbose", is_flag=True, help="Also list resources that are in sync.")
def diff_command(**kw: Any) -> None:
    """Compare a commit of the repository with a cluster snapshot (or the live cluster)."""
    from gitops_check.check import CheckRequest, run_check
    from gitops_check.cluster.snapshot import load_snapshot

    if not kw["snapshot"]:
        _fail("say what to compare with: --snapshot FILE")
    snapshot = kw["snapshot"]
    assume_complete = kw["assume_complete_snapshot"]

    def load_live() -> Any:
        return load_snapshot(snapshot, assume_complete=assume_complete)

    request = CheckRequest(
        repo=Path(kw["repo"]),
        revision=_revision(kw["rev"], kw["working_tree"]),
        load_live=load_live,
        render=_render_options(kw),
        only_apps=tuple(kw["apps"]),
    )
    result = run_check(request)
    _emit_reports(result, kw)
    raise SystemExit(result.exit_code())


def _emit_reports(result: Any, kw: dict[str, Any]) -> None:
    from gitops_check.report.terminal import render_terminal, should_color

    if kw.get("junit"):
        from gitops_check.report.junit import render_junit

        _write(kw["junit"], render_junit(result), "JUnit")
    if kw.get("markdown"):
        from gitops_check.report.markdown import render_markdown

        _write(kw["markdown"], render_markdown(result, limit=kw["markdown_limit"]), "Markdown")
    if kw.get("json_path"):
        from gitops_check.report.jsonout import render_json

        _write(kw["json_path"], render_json(result), "JSON")
    color = kw["color"] if kw.get("color") is not None else should_color(sys.stdout, os.environ)
    text = render_terminal(result, color=color, verbose=bool(kw.get("verbose")))
    click.echo(text, nl=not text.endswith("\n"))


@cli.command("apps")
@_common_render_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def apps_command(**kw: Any) -> None:
    """List the apps found in the repository and where each was declared."""
    import tempfile

    from gitops_check.discover.project import discover_apps, load_project
    from gitops_check.sources.git import open_repo
    from gitops_check.yamlio import dump_json

    repo = open_repo(Path(kw["repo"]))
    with tempfile.TemporaryDirectory(prefix="gitops-check-") as tmp:
        ws = repo.materialize(_revision(kw["rev"], kw["working_tree"]), Path(tmp) / "tree")
        found = discover_apps(ws, load_project(ws))
    if kw["as_json"]:
        rows = [
            {"name": a.name, "kind": a.kind, "origin": a.origin,
             "sources": [{"path": s.path, "tool": s.tool.value, "repo": s.repo} for s in a.sources],
             "namespace": a.destination.namespace}
            for a in found.apps
        ]  # fmt: skip
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
            click.echo(f"error: {e.app}: {e.message}", err=True)
    raise SystemExit(EXIT_INCOMPLETE if found.errors else EXIT_IN_SYNC)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: returns the exit code instead of raising."""
    try:
        cli.main(args=argv, prog_name="gitops-check", standalone_mode=False)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_INCOMPLETE
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_INCOMPLETE
    except click.ClickException as e:
        e.show()
        return EXIT_INCOMPLETE
    except GitopsCheckError as e:
        prefix = f"{e.app}: " if e.app else ""
        click.echo(f"error: {prefix}{e}", err=True)
        return EXIT_INCOMPLETE
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return EXIT_INCOMPLETE
    except Exception as e:  # a bug: say so, keep the exit code honest
        if os.environ.get("GITOPS_CHECK_DEBUG"):
            traceback.print_exc()
        # The message of an unexpected exception may quote data (even a Secret value): show only where it happened.
        frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
        click.echo(
            f"internal error: {type(e).__name__}{where}\n"
            "This is a bug in gitops-check; rerun with GITOPS_CHECK_DEBUG=1 for details and report it.",
            err=True,
        )
        return EXIT_INCOMPLETE
    return EXIT_IN_SYNC
