"""The repository option group (``--repo``, ``--rev``, ``--app``...): which repository, which revision, which apps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from gitops_check.cli.base import apply_options, fail


@dataclass(frozen=True)
class RepoArgs:
    """The values of ``repo_options``."""

    repo: str
    rev: str | None
    working_tree: bool
    apps: tuple[str, ...]
    repo_map: tuple[str, ...]
    repo_urls: tuple[str, ...]
    honour_target_revision: bool

    def revision(self) -> str | None:
        """The revision to check; None: the working tree."""
        return revision(self.rev, self.working_tree)


def repo_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Which repository and revision, and which apps."""
    return apply_options(fn, [
        click.option("--repo", "repo", default=".", show_default=True, type=click.Path(file_okay=False),
                     help="The GitOps repository, or a folder inside one (its files only)."),
        click.option("--rev", "rev", default=None, help="Revision to check: SHA, branch, tag, HEAD~2. Default: HEAD."),
        click.option("--working-tree", is_flag=True, help="Check the working tree, uncommitted changes included."),
        click.option("--app", "apps", multiple=True, help="Only these apps (repeatable)."),
        click.option("--repo-map", "repo_map", multiple=True, metavar="URL=PATH",
                     help="A local clone of another repository Applications point at (repeatable)."),
        click.option("--repo-url", "repo_urls", multiple=True, metavar="URL",
                     help="Another URL that means this repository (its remotes are known already)."),
        click.option("--honour-target-revision", is_flag=True,
                     help="Render Applications that point at this repository at their own targetRevision "
                          "instead of the checked commit."),
    ], "Repository")  # fmt: skip


def revision(rev: str | None, working_tree: bool) -> str | None:
    if rev and working_tree:
        fail("--rev and --working-tree exclude each other")
    if working_tree:
        return None
    return rev or "HEAD"


def parse_repo_map(values: tuple[str, ...]) -> dict[str, Path]:
    out = {}
    for value in values:
        url, sep, path = value.partition("=")
        if not sep or not url or not path:
            fail(f"--repo-map expects URL=PATH, got {value!r}")
        out[url] = Path(path)
    return out
