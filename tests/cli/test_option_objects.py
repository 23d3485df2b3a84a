"""The typed option objects each command builds once from click's keyword arguments (``cli.base.from_kwargs``)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import pytest

from gitops_check.cli import cli
from gitops_check.cli.apps import AppsArgs
from gitops_check.cli.base import from_kwargs
from gitops_check.cli.diff import DiffArgs
from gitops_check.cli.preview import PreviewArgs
from gitops_check.cli.reportopts import ReportArgs
from gitops_check.cli.snapshot import CAPTURE_FIXED, CaptureArgs
from gitops_check.cli.sync import SyncCommandArgs
from tests.helpers.cliargs import parsed


@dataclass(frozen=True)
class Inner:
    workers: int
    helm_binary: str | None


@dataclass(frozen=True)
class Outer:
    repo: str
    inner: Inner


def test_a_group_is_built_from_the_same_arguments() -> None:
    built = from_kwargs(Outer, {"repo": ".", "workers": 4, "helm_binary": None})
    assert built == Outer(repo=".", inner=Inner(workers=4, helm_binary=None))
    assert from_kwargs(Outer, {"repo": "."}, workers=1, helm_binary="h").inner == Inner(1, "h")


def test_a_field_without_its_parameter_fails_loudly() -> None:
    with pytest.raises(TypeError, match=r"Inner\.helm_binary: the command has no such parameter"):
        from_kwargs(Outer, {"repo": ".", "workers": 4, "helm": None})


def test_a_parameter_no_field_takes_fails_loudly() -> None:
    with pytest.raises(TypeError, match="Outer has no field for kube_version"):
        from_kwargs(Outer, {"repo": ".", "workers": 4, "helm_binary": None, "kube_version": None})
    with pytest.raises(TypeError, match="Outer has no field for wokers"):
        from_kwargs(Outer, {"repo": ".", "workers": 4, "helm_binary": None}, wokers=1)


# Each command's option object (and what it fixes), or None: the callback names its few parameters itself.
OPTION_OBJECTS: dict[str, tuple[type, dict[str, Any]] | None] = {
    "diff": (DiffArgs, {}),
    "apps": (AppsArgs, {}),
    "preview": (PreviewArgs, {}),
    "snapshot": (CaptureArgs, CAPTURE_FIXED),
    "sync": (SyncCommandArgs, {}),
    "merge": None,
    "comment": None,
}
MINIMAL_ARGS = {"merge": ["part.json"], "snapshot": ["--output", "snapshot.json"]}


def test_every_command_is_listed() -> None:
    assert set(cli.commands) == set(OPTION_OBJECTS)


@pytest.mark.parametrize("name", sorted(OPTION_OBJECTS))
def test_each_command_takes_every_parameter_into_its_options(name: str) -> None:
    """Each option reaches a typed field (or a named parameter of the callback) and each field its option."""
    command = cli.commands[name]
    argv = MINIMAL_ARGS.get(name, [])
    entry = OPTION_OBJECTS[name]
    if entry is not None:
        cls, fixed = entry
        parsed(cls, command, argv, **fixed)
        return
    assert command.callback is not None
    signature = inspect.signature(command.callback).parameters
    named = {n for n, p in signature.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    exposed = {p.name for p in command.params if p.expose_value}
    assert named <= exposed
    rest = exposed - named
    if rest:  # merge: the report options
        with command.make_context(name, list(argv)) as ctx:
            from_kwargs(ReportArgs, {k: v for k, v in ctx.params.items() if k in rest})


def test_options_are_typed_values_not_strings_of_a_dict() -> None:
    args = parsed(
        DiffArgs, cli.commands["diff"], ["--live", "--context", "prod", "--workers", "3", "--app", "a"]
    )
    assert args.cluster.live and args.cluster.kube.kube_context == "prod"
    assert args.rendering.workers == 3 and args.repo.apps == ("a",)
