"""Command line: parse options into typed option objects, call the core, write reports, map the outcome to an exit code.

Exit codes (like diff(1) and kubectl diff): 0 everything checked and in sync, 1 drift, 2 something could not be
checked. 2 wins over 1, and every error path (bad option, unreadable input, internal bug) ends in 2, so an
incomplete check never looks green. Each command lives in its own module of this package.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from gitops_check import __version__, proc, redact
from gitops_check.cli.base import EXIT_IN_SYNC, EXIT_INCOMPLETE, say
from gitops_check.errors import GitopsCheckError

COMMAND_MODULES = ("diff", "apps", "snapshot", "preview", "sync", "comment", "merge")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="gitops-check")
def cli() -> None:
    """Render a GitOps repository the way Argo CD and Flux would and compare it with the cluster.

    Exit codes: 0 in sync, 1 drift found, 2 something could not be checked.
    """


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        module = f"gitops_check.cli.{name}"
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                continue  # not written yet
            raise
        for command in getattr(mod, "COMMANDS", ()):
            cli.add_command(command)


_register_commands()


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job), handled like Ctrl-C."""


def _on_signal(signum: int, frame: object) -> None:
    # End helm/kustomize and whatever they started now, from the handler: the main thread may be waiting for
    # renders in worker threads, which return only once their children are gone.
    from gitops_check import proc

    proc.stop_children()
    _RECEIVED.append(signum)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


_RECEIVED: list[int] = []


def _stopped_by() -> str | None:
    """What stopped the run, for the last words (click turns a KeyboardInterrupt into ``Abort``)."""
    if not _RECEIVED:
        return None
    name = "terminated (SIGTERM)" if _RECEIVED[-1] == signal.SIGTERM else "interrupted"
    return f"{name}: stopped helm/kustomize and what they started; no report written"


def _handle_signals() -> dict[int, Any]:
    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, _on_signal)
        except ValueError:  # not the main thread (an embedding program): leave signals to it
            break
    return previous


# A run builds hundreds of thousands of objects that live to its end (renders, the snapshot, the result) and few
# cycles. With the default thresholds (700, 10, 10) the collector's passes walked that heap again and again:
# ~7 % of a 5,000-app cold run's CPU. Collections still run, a hundred times less often.
_GC_THRESHOLDS = (100_000, 50, 1_000)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: returns the exit code instead of raising.

    Everything printed (reports, errors, warnings) passes through gitops_check.redact: secret values known in
    the run are scrubbed at this last step, whichever path they took. Under GitHub Actions the whole run is
    fenced: no line it prints can be read as a workflow command. SIGINT/SIGTERM end helm/kustomize and what
    they started.
    """
    from gitops_check.publish import actions

    redact.reset()
    redact.add_all(value for name, value in os.environ.items() if proc.holds_credentials(name))
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = redact.ScrubbingStream(out), redact.ScrubbingStream(err)
    proc.end_run()
    _RECEIVED.clear()
    previous = _handle_signals()
    fence = actions.fence_run(os.environ, click.echo)
    thresholds = gc.get_threshold()
    gc.set_threshold(*_GC_THRESHOLDS)
    try:
        return _main(argv)
    finally:
        gc.set_threshold(*thresholds)
        from gitops_check import progress

        progress.install(None)
        proc.end_run()  # normally none are left; after an error in a worker thread there may be
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        actions.unfence_run(fence)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = out, err


def _main(argv: list[str] | None) -> int:
    try:
        cli.main(args=argv, prog_name="gitops-check", standalone_mode=False)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_INCOMPLETE
    except click.exceptions.Abort:
        click.echo(_stopped_by() or "aborted", err=True)
        return EXIT_INCOMPLETE
    except click.ClickException as e:
        e.show()
        return EXIT_INCOMPLETE
    except GitopsCheckError as e:
        prefix = f"{e.app}: " if e.app else ""
        say(f"error: {prefix}{e}")
        return EXIT_INCOMPLETE
    except KeyboardInterrupt:
        click.echo(_stopped_by() or "interrupted", err=True)
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
