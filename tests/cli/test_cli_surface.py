"""The command line's surface, golden: every command's ``--help`` text and every option's declaration and resolved
default. A change to the CLI's code that is not meant to change what users type or see (a refactor) leaves these
files alone; one that is shows up here, in review.

Regenerate after an intended change: ``GITOPS_CHECK_REGENERATE_GOLDEN=1 pytest tests/cli/test_cli_surface.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from gitops_check.cli import cli

GOLDEN = Path(__file__).parent.parent / "fixtures" / "cli"
REGENERATE = bool(os.environ.get("GITOPS_CHECK_REGENERATE_GOLDEN"))
# What each command needs at the least for its options to be parsed.
MINIMAL_ARGS = {"merge": ["part.json"], "snapshot": ["--output", "snapshot.json"]}


@pytest.fixture(autouse=True)
def _no_job_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Options read environment variables: the goldens are the defaults of a bare environment."""
    for name in os.environ:
        if name.startswith(("GITOPS_CHECK_", "ARGOCD_", "CI_NODE_")) or name == "KUBECONFIG":
            monkeypatch.delenv(name)


def _commands() -> list[str]:
    return sorted(cli.commands)


def _check(path: Path, text: str) -> None:
    if REGENERATE:
        path.write_text(text)
    assert path.exists(), f"{path.name} missing: regenerate with GITOPS_CHECK_REGENERATE_GOLDEN=1"
    assert text == path.read_text(), f"{path.name} differs: the command line changed"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _declaration(param: click.Parameter) -> str:
    """One line per parameter: click's own description of it (its help is in the help golden), plus what click
    keeps apart: the metavar, whether it reaches the command, ``show_default`` and the ``--help`` section."""
    info = {key: value for key, value in param.to_info_dict().items() if key != "help"}
    info |= {"metavar": param.metavar, "expose_value": param.expose_value}
    if isinstance(param, click.Option):
        info |= {
            "show_default": param.show_default,
            "section": getattr(param, "gitops_check_help_section", None),
        }
    return json.dumps(_jsonable(info), sort_keys=True)


def test_every_command_is_covered() -> None:
    expected = {p.name.split(".")[0] for p in GOLDEN.glob("*.help.txt")}
    assert set(_commands()) == expected or REGENERATE


@pytest.mark.parametrize("name", _commands())
def test_help_text(name: str) -> None:
    # CliRunner formats for an 80-column terminal whatever the real one is: the view of a narrow terminal.
    result = CliRunner().invoke(cli, [name, "--help"], prog_name="gitops-check")
    assert result.exit_code == 0, result.output
    _check(GOLDEN / f"{name}.help.txt", result.output)


@pytest.mark.parametrize("name", _commands())
def test_option_declarations_and_defaults(name: str) -> None:
    command = cli.commands[name]
    with command.make_context(name, list(MINIMAL_ARGS.get(name, []))) as ctx:
        resolved = {key: _jsonable(value) for key, value in sorted(ctx.params.items())}
    lines = [_declaration(p) for p in command.params]
    lines.append(json.dumps({"resolved defaults": resolved}, sort_keys=True))
    _check(GOLDEN / f"{name}.params.jsonl", "\n".join(lines) + "\n")


def test_top_level_help() -> None:
    result = CliRunner().invoke(cli, ["--help"], prog_name="gitops-check")
    assert result.exit_code == 0, result.output
    _check(GOLDEN / "gitops-check.top.txt", result.output)


@pytest.mark.parametrize("name", _commands())
def test_no_two_options_share_a_name(name: str) -> None:
    """Two options under one parameter name reach the command as one value, the last one click processed:
    ``diff --fetch-cache-dir F`` once moved the render cache to F, and ``--ca-file`` (Argo CD's) became the CA
    of chart fetches. Flag pairs writing one name on purpose (``--argocd``/``--flux``) are declared here."""
    shared_on_purpose = {"agent", "platform"}
    names = [p.name for p in cli.commands[name].params if p.expose_value]
    assert sorted({n for n in names if names.count(n) > 1} - shared_on_purpose) == []
