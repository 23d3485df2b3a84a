"""The ``gitops-check`` console script: the command line of ``cli`` plus ``gitops-check ci github|gitlab``.

The CI subcommand lives in ``ci`` (the top layer, above ``cli``), so the command group is completed here. The
GitHub Action and the GitLab template call the installed command itself: no shebang to parse (pip writes a
``#!/bin/sh`` launcher for long interpreter paths) and nothing taken from the checked-out workspace, which a
``python -m ...`` started there would put first on the import path.
"""

from __future__ import annotations

from gitops_check.ci.command import ci_command
from gitops_check.cli import cli
from gitops_check.cli import main as cli_main

cli.add_command(ci_command)


def main(argv: list[str] | None = None) -> int:
    return cli_main(argv)
