"""GitHub Actions' side channels: the job summary, error annotations, and keeping repository text inert.

The job summary is Markdown appended to the file in ``GITHUB_STEP_SUMMARY``; GitHub drops a step's summary whole
when it exceeds 1 MiB, so what is written is sized to the room left in the file. Annotations are workflow commands
(``::error file=F,line=L,title=T::message``) printed on stdout; GitHub shows ten per step, so the tenth says how many
more there are.

The terminal report quotes repository content (file names, helm error output). A pull request could plant a line
such as ``::set-output name=drift::false`` in a chart error to tamper with the step, so that text is printed
between ``::stop-commands::<random token>`` and ``::<token>::``, where the runner ignores workflow commands.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_check import redact
from gitops_check.errors import PublishError
from gitops_check.model.result import CheckResult

SUMMARY_LIMIT = 1024 * 1024
MAX_ANNOTATIONS = 10
# Below this a report would be only its heading: a short note says where the report is instead.
_MIN_ROOM = 2048


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Without control characters (ANSI escapes from tool output), which have no place in a log line or Markdown."""
    return _CONTROL.sub("", text)


def _more(n: int, what: str) -> str:
    return f"{n} more {what}" + ("" if n == 1 else "s")


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class Annotation:
    title: str
    message: str
    file: str | None = None
    line: int | None = None

    def command(self, level: str = "error") -> str:
        props = []
        if self.file:
            props.append(f"file={escape_property(self.file)}")
            if self.line:
                props.append(f"line={self.line}")
        props.append(f"title={escape_property(self.title)}")
        return f"::{level} {','.join(props)}::{escape_data(self.message)}"


def repo_prefix(repo: Path, workspace: str | None) -> str | None:
    """The GitOps root relative to the workspace GitHub resolves annotation paths against; None when outside it."""
    base = Path(workspace) if workspace else Path.cwd()
    try:
        rel = os.path.relpath(repo.resolve(), base.resolve())
    except ValueError:  # another drive
        return None
    if rel == ".":
        return ""
    if rel.startswith(".."):
        return None
    return rel.replace(os.sep, "/") + "/"


def error_annotations(result: CheckResult, prefix: str | None) -> list[Annotation]:
    """One annotation per distinct error (render, discovery, cluster, run-level), naming every app it concerns (the
    same "cluster could not be read" for twelve apps is one annotation, not twelve), at most ten."""
    found: list[Annotation] = []
    errors = [*result.errors, *(e for a in result.apps for e in a.errors)]
    grouped: dict[tuple[str, str | None, int | None], list[str]] = {}
    for error in errors:
        apps = grouped.setdefault((error.message, error.file, error.line), [])
        if error.app and error.app != "*" and error.app not in apps:
            apps.append(error.app)
    for (text, error_file, error_line), apps in grouped.items():
        file = None
        if error_file and prefix is not None and not os.path.isabs(error_file):
            file = prefix + clean(error_file)
        names = ", ".join(clean(a) for a in apps[:5]) + (
            f" and {len(apps) - 5} more" if len(apps) > 5 else ""
        )
        title = (
            f"gitops-check: {names} could not be checked" if apps else "gitops-check: the check is incomplete"
        )
        message = clean(text).strip()
        if len(message) > 2000:
            message = message[:2000] + " [...]"
        found.append(Annotation(title, message, file, error_line if file else None))
    if len(found) > MAX_ANNOTATIONS:
        more = len(found) - (MAX_ANNOTATIONS - 1)
        found = found[: MAX_ANNOTATIONS - 1]
        found.append(Annotation("gitops-check", f"{_more(more, 'error')}: see the job summary and the log"))
    return found


def stop_token() -> str:
    return secrets.token_hex(16)


class CommandFence:
    """``::stop-commands::<token>`` ... ``::<token>::`` around a whole run: the runner acts on no workflow command
    printed in between (on stdout or stderr), whatever repository text the output quotes. gitops-check's own
    annotations are printed through ``emit`` with the fence lifted for exactly those lines."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.token: str | None = None

    def start(self) -> CommandFence:
        if self.token is None:
            self.token = stop_token()  # a fresh token each time: one seen in the log cannot be replayed
            self.out(f"::stop-commands::{self.token}")
        return self

    def end(self) -> None:
        if self.token is not None:
            self.out(f"::{self.token}::")
            self.token = None

    def emit(self, commands: Iterable[str]) -> None:
        lines = list(commands)
        if not lines:
            return
        fenced = self.token is not None
        self.end()
        for line in lines:
            self.out(line)
        if fenced:
            self.start()


# Process-wide on purpose: the fence guards the process's stdout, which every run of the process shares.
_ACTIVE: list[CommandFence] = []


def fence_run(env: Mapping[str, str], out: Callable[[str], None]) -> CommandFence | None:
    """Start fencing the rest of the run when running under GitHub Actions; None elsewhere."""
    if env.get("GITHUB_ACTIONS") != "true":
        return None
    fence = CommandFence(out).start()
    _ACTIVE.append(fence)
    return fence


def unfence_run(fence: CommandFence | None) -> None:
    if fence is None:
        return
    fence.end()
    if fence in _ACTIVE:
        _ACTIVE.remove(fence)


def emit_commands(commands: Iterable[str], out: Callable[[str], None]) -> None:
    """Print workflow commands of our own, lifting the run's fence (if any) for them."""
    if _ACTIVE:
        _ACTIVE[-1].emit(commands)
    else:
        for line in commands:
            out(line)


def fenced() -> bool:
    return bool(_ACTIVE)


@contextlib.contextmanager
def lifted() -> Iterator[None]:
    """The run's fence lifted for a while: a child gitops-check fences its own output (it cannot lift ours)."""
    fence = _ACTIVE[-1] if _ACTIVE else None
    if fence is None or fence.token is None:
        yield
        return
    fence.end()
    try:
        yield
    finally:
        fence.start()


def summary_room(path: str) -> int:
    """Bytes the step may still add to its summary."""
    try:
        used = Path(path).stat().st_size
    except FileNotFoundError:
        used = 0
    except OSError as e:
        raise PublishError(f"cannot read the job summary file {path}: {e.strerror}") from None
    return SUMMARY_LIMIT - used


def append_summary(path: str, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as f:
            text = redact.scrub(text)
            f.write(text if text.endswith("\n") else text + "\n")
    except OSError as e:
        raise PublishError(f"cannot write the job summary file {path}: {e.strerror}") from None


def summary_of_result(render: Callable[[int], str], room: int, notes: Iterable[str] = ()) -> str:
    """``render(limit)``'s Markdown sized for ``room`` bytes, with notes (comment status) quoted above it."""
    head = "".join(f"> {clean(n)}\n\n" for n in notes)
    size = len(head.encode("utf-8"))
    if room - size < _MIN_ROOM:
        return (
            head
            + "_The gitops-check report did not fit in the job summary; see the log and the report files._\n"
        )
    return head + render(room - size - 1)


def summary_of_parts(parts: list[str], room: int, notes: Iterable[str] = ()) -> str:
    """Markdown parts (already rendered) joined for the summary; parts that do not fit are named, not cut."""
    head = "".join(f"> {clean(n)}\n\n" for n in notes)
    out = head
    for n, part in enumerate(parts, 1):
        text = part.rstrip() + "\n\n"
        left = len(parts) - n + 1
        tail = (
            f"_{_more(left, 'part')} of the report did not fit in the job summary; see the report files._\n"
        )
        if len((out + text).encode("utf-8")) + len(tail.encode("utf-8")) > room:
            return out + tail
        out += text
    return out
