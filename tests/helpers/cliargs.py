"""A command's typed option objects built from a command line, as the command builds them (click's parsing,
defaults and environment included), for tests of the helpers that take them."""

from __future__ import annotations

from typing import Any, TypeVar

import click

from gitops_check.cli.base import from_kwargs

T = TypeVar("T")


def parsed(cls: type[T], command: click.Command, argv: list[str], **fixed: Any) -> T:
    with command.make_context(command.name or "command", list(argv)) as ctx:
        return from_kwargs(cls, ctx.params, **fixed)
