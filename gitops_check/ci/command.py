"""``gitops-check ci github|gitlab``: the run step of the GitHub Action or of the GitLab job, as a subcommand."""

from __future__ import annotations

import os

import click

from gitops_check.ci import github, gitlab


@click.group("ci")
def ci_command() -> None:
    """The step the GitHub Action and the GitLab template run (inputs from GITOPS_CHECK_* variables, docs/ci.md)."""


@ci_command.command("github")
def ci_github() -> None:
    """The GitHub Action's check step: event defaults, the check, step outputs, fail-on."""
    raise SystemExit(github.main(dict(os.environ)))


@ci_command.command("gitlab")
def ci_gitlab() -> None:
    """The GitLab job's script: merge request defaults, the check, a dotenv report, fail-on."""
    raise SystemExit(gitlab.main(dict(os.environ)))
