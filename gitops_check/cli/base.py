"""Pieces shared by the commands: exit codes, messages, report files, ``--help`` sections, and the typed option
objects each command builds once from click's keyword arguments (``from_kwargs``).

The option groups live in their own modules (``repoopts``, ``renderopts``, ``clusteropts``, ``reportopts``,
``syncopts``), each with its click decorator, the frozen dataclass of its values and what turns them into the
core's requests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from gitops_check import redact
from gitops_check.errors import InputError

EXIT_IN_SYNC, EXIT_DRIFT, EXIT_INCOMPLETE = 0, 1, 2


class Failure(click.ClickException):
    exit_code = EXIT_INCOMPLETE


def say(text: str, *, err: bool = True) -> None:
    """A message that may quote repository strings, for the log: escaped, continuation lines indented."""
    from gitops_check.report.text import log_lines

    click.echo(log_lines(text), err=err)


def fail(message: str) -> NoReturn:
    raise Failure(message)


def write_file(path: str, text: str, what: str, *, json_document: bool = False) -> None:
    """Write a report atomically (a new file renamed over the old one): an interrupted run never leaves half a
    report, and a symlink planted where the report goes is replaced, not followed. A failure is a clear error
    (exit 2), not a traceback."""
    import tempfile

    target = Path(path)
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # The last step before it is written; JSON string by string, so it stays JSON.
            f.write(redact.scrub_json(text) if json_document else redact.scrub(text))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        tmp = None
    except OSError as e:
        raise InputError(f"cannot write the {what} report: {e.strerror}", file=path) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def apply_options(
    fn: Callable[..., Any], options: list[Callable[..., Any]], section: str | None = None
) -> Callable[..., Any]:
    """Apply click option decorators in the order written; ``section``: the heading they are listed under in
    ``--help`` (see ``SectionedCommand``)."""
    params = fn.params if isinstance(fn, click.Command) else getattr(fn, "__click_params__", [])
    before = len(params)
    for option in reversed(options):
        fn = option(fn)
    if section is not None:
        params = fn.params if isinstance(fn, click.Command) else getattr(fn, "__click_params__", [])
        for param in params[before:]:
            setattr(param, HELP_SECTION, section)
    return fn


HELP_SECTION = "gitops_check_help_section"
# Headings of --help, in this order; options of no section come last under "Other options".
SECTIONS = ("Repository", "Rendering", "Job policy", "Cluster", "Reports", "CI", "Sync")


def in_section(
    section: str, *options: Callable[..., Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator applying ``options`` under the ``--help`` heading ``section``."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        return apply_options(fn, list(options), section)

    return decorate


class SectionedCommand(click.Command):
    """A command whose ``--help`` lists its options by section (render, cluster, reports, sync, CI...) instead of
    one list of sixty, without a dependency for it."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        grouped: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                grouped.setdefault(getattr(param, HELP_SECTION, "Other options"), []).append(record)
        order = [*SECTIONS, *sorted(set(grouped) - {*SECTIONS, "Other options"}), "Other options"]
        for title in order:
            if grouped.get(title):
                with formatter.section(title):
                    formatter.write_dl(grouped[title])


T = TypeVar("T")


def from_kwargs(cls: type[T], kw: Mapping[str, Any], **fixed: Any) -> T:
    """``cls``, a frozen dataclass whose fields are named as click parameters, from a command's keyword arguments.

    A field whose type is such a dataclass (an option group) is built from the same arguments. ``fixed``: fields
    the command does not offer, with the value they take. Every argument must land in a field and every field
    find its argument, so a misspelt field, or an option no field takes, is a TypeError the first time the
    command runs in any test.
    """
    used: set[str] = set()
    built = _build(cls, kw, fixed, used)
    left = (set(kw) | set(fixed)) - used
    if left:
        raise TypeError(f"{cls.__name__} has no field for {', '.join(sorted(left))}")
    return built


def _build(cls: type[T], kw: Mapping[str, Any], fixed: Mapping[str, Any], used: set[str]) -> T:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]  # a dataclass, or fields() raises
        group = _group(cls, field)
        if group is not None:
            values[field.name] = _build(group, kw, fixed, used)
            continue
        source = fixed if field.name in fixed else kw
        if field.name not in source:
            raise TypeError(f"{cls.__name__}.{field.name}: the command has no such parameter")
        values[field.name] = source[field.name]
        used.add(field.name)
    return cls(**values)


def _group(cls: type, field: dataclasses.Field[Any]) -> type | None:
    """The option group a field holds: a dataclass its annotation names (looked up by name in the module of
    ``cls``, so the other annotations, some only imported for type checking, are never evaluated)."""
    hint = field.type
    if isinstance(hint, str):
        hint = vars(sys.modules[cls.__module__]).get(hint)
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None
