"""``gitops-check comment``: publish Markdown reports that are already written as sticky PR/MR comments.

For pipelines that run the check in one step and comment in another (or publish ``preview``'s numbered part files):
one file is one comment; parts (``--part`` repeated, or the numbered ``*.md`` of ``--parts-dir`` in natural order) are one
comment each, numbered, and parts left over from an earlier, longer report are removed. ``diff`` and ``preview``
do the same behind ``--comment`` from the result itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gitops_check.cli.base import EXIT_IN_SYNC, fail, say
from gitops_check.errors import InputError

if TYPE_CHECKING:
    from gitops_check.publish.comment import Platform

_MAX_FILE = 8 * 1024 * 1024
_NUMBERED = re.compile(r"\d+$")


def _natural(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > _MAX_FILE:
            raise InputError("larger than 8 MiB: not a comment", file=str(path))
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=str(path)) from None
    if not text.strip():
        raise InputError("empty: nothing to publish", file=str(path))
    return text


def collect(file: str | None, parts: tuple[str, ...], parts_dir: str | None) -> list[Path]:
    given = [bool(file), bool(parts), bool(parts_dir)]
    if sum(given) != 1:
        fail("give exactly one of: FILE, --part FILE (repeatable), --parts-dir DIR")
    if file:
        return [Path(file)]
    if parts:
        return [Path(p) for p in parts]
    folder = Path(str(parts_dir))
    if not folder.is_dir():
        fail(f"--parts-dir {folder}: not a folder")
    # Numbered files only: preview writes comment-1.md.. and, beside them, full.md (the artifact, not a part).
    found = sorted((p for p in folder.glob("*.md") if _NUMBERED.search(p.stem) and p.is_file()), key=_natural)
    if not found:
        fail(f"--parts-dir {folder}: no numbered *.md files (comment-1.md, comment-2.md...) in it")
    return found


@click.command("comment")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--part",
    "parts",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A numbered part of a split report, in order (repeatable): one comment each.",
)
@click.option(
    "--parts-dir",
    type=click.Path(file_okay=False),
    help="A folder of part files (*.md, in natural order: comment-2.md before comment-10.md).",
)
@click.option("--github", "platform", flag_value="github", help="Comment on the GitHub pull request.")
@click.option("--gitlab", "platform", flag_value="gitlab", help="Add a note to the GitLab merge request.")
@click.option(
    "--auto",
    "platform",
    flag_value="auto",
    default=True,
    help="GitHub in GitHub Actions, GitLab in GitLab CI, else nothing (default).",
)
@click.option(
    "--key",
    default="default",
    show_default=True,
    help="Which sticky comment to update: one per key (e.g. preview, diff:deploy/prod).",
)
@click.option(
    "--pr",
    "number",
    type=click.IntRange(1),
    default=None,
    help="Pull request number / merge request IID (default: from the CI event).",
)
@click.option(
    "--token-env",
    metavar="VAR",
    default=None,
    help="Environment variable holding the token (default: GITHUB_TOKEN, GITOPS_CHECK_GITLAB_TOKEN).",
)
def comment_command(
    file: str | None,
    parts: tuple[str, ...],
    parts_dir: str | None,
    platform: Platform,
    key: str,
    number: int | None,
    token_env: str | None,
) -> None:
    """Post or update sticky PR/MR comment(s) from Markdown files (a report, or numbered parts).

    Exit codes: 0 posted, or nothing to do (not a pull/merge request, no GitLab token, a fork's read-only token:
    the report then goes to the job summary); 2 the comment could not be posted (token, permission, input).
    """
    from gitops_check.publish import actions
    from gitops_check.publish.comment import publish_comment

    paths = collect(file, parts, parts_dir)
    bodies = [_read(p) for p in paths]
    env = dict(os.environ)
    outcome = publish_comment(
        bodies,
        key=key,
        platform=platform,
        env=env,
        number=number,
        token_env=token_env,
        names=[str(p) for p in paths],
    )
    say(f"comment: {outcome.message}")
    for warning in outcome.warnings:
        say(f"warning: {warning}")
    summary = env.get("GITHUB_STEP_SUMMARY")
    if outcome.status == "fallback" and summary:
        text = actions.summary_of_parts(bodies, actions.summary_room(summary), [outcome.message])
        actions.append_summary(summary, text)
    raise SystemExit(EXIT_IN_SYNC)


COMMANDS = [comment_command]
