"""Issue 14 item 10: progress on a terminal (stderr), quiet in CI logs unless asked, per-stage timings with -v."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gitops_check import progress
from gitops_check.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _uninstalled() -> object:
    yield None
    progress.install(None)


def test_a_terminal_line_is_rewritten_in_place_and_erased() -> None:
    out, clock = io.StringIO(), Clock()
    progress.install(progress.Reporter(out, live=True, clock=clock))
    with progress.stage("rendering", total=2):
        clock.now += 1
        progress.advance()
        progress.add_total(1)  # an App of Apps declared one more
        clock.now += 1
        progress.advance()
    text = out.getvalue()
    assert text.startswith("\r\x1b[Kgitops-check: rendering 0/2 apps, 0s")
    assert "\r\x1b[Kgitops-check: rendering 2/3 apps, 2s" in text
    assert text.endswith("\r\x1b[K")  # erased before the report is printed
    assert "\n" not in text


def test_a_log_gets_one_line_per_stage_and_a_heartbeat_for_long_ones() -> None:
    out, clock = io.StringIO(), Clock()
    progress.install(progress.Reporter(out, live=False, clock=clock))
    with progress.stage("reading the commit"):
        clock.now += 0.25
    with progress.stage("rendering", total=400):
        for _ in range(150):
            clock.now += 0.25
            progress.advance()
        progress.advance(250)
    with progress.stage("reading the cluster", total=1, unit="cluster"):
        progress.advance()
    assert out.getvalue().splitlines() == [
        "gitops-check: reading the commit in 0.25s",
        "gitops-check: rendering 120/400 apps so far, 30s",
        "gitops-check: rendering: 400 apps in 37.50s",
        "gitops-check: reading the cluster: 1 cluster in 0.00s",
    ]


def test_advances_from_worker_threads_are_all_counted() -> None:
    out = io.StringIO()
    progress.install(progress.Reporter(out, live=False))
    with progress.stage("rendering", total=800):
        workers = [
            threading.Thread(target=lambda: [progress.advance() for _ in range(100)]) for _ in range(8)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert out.getvalue().startswith("gitops-check: rendering: 800 apps in ")


@pytest.mark.parametrize(
    ("asked", "verbose", "tty", "ci", "mode"),
    [
        (None, False, True, False, "live"),  # a terminal
        (None, False, False, False, "off"),  # piped
        (None, False, True, True, "off"),  # a CI log, even with a pseudo-terminal
        (None, True, False, True, "lines"),  # -v in CI: stage times
        (True, False, False, True, "lines"),  # --progress in CI
        (False, True, True, False, "off"),  # --no-progress wins
    ],
)
def test_when_progress_shows(asked: bool | None, verbose: bool, tty: bool, ci: bool, mode: str) -> None:
    assert progress.wanted(asked, verbose=verbose, tty=tty, ci=ci) == mode


def test_nothing_without_a_reporter() -> None:
    with progress.stage("rendering", total=3):
        progress.advance()  # no output anywhere, no error


def _diff(*extra: str) -> list[str]:
    return [
        "diff",
        f"--repo={EXAMPLES / 'shop'}",
        f"--snapshot={EXAMPLES / 'shop-cluster.json'}",
        "--no-color",
        *extra,
    ]


def test_quiet_in_a_ci_log_unless_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    assert main(_diff()) == 1
    out, err = capsys.readouterr()
    assert "gitops-check:" not in err
    assert main(_diff("-v")) == 1
    out, err = capsys.readouterr()
    stages = [
        line.split(" in ")[0].split(":")[1].strip()
        for line in err.splitlines()
        if line.startswith("gitops-check:")
    ]
    assert stages == [
        "reading the commit",
        "discovering apps",
        "rendering",
        "reading the cluster",
        "comparing",
    ]
    assert "gitops-check: rendering: 3 apps in " in err
    timings = next(line for line in out.splitlines() if line.startswith("timings: "))
    assert [part.split()[0] for part in timings.removeprefix("timings: ").split(", ")] == [
        "materialize", "discover", "render", "live", "diff", "total"
    ]  # fmt: skip
    assert main(_diff("--progress")) == 1
    assert "gitops-check: comparing: 3 apps in " in capsys.readouterr().err


def test_a_terminal_shows_progress_and_the_report_stays_clean(tmp_path: Path) -> None:
    """The real command with stderr on a pseudo-terminal and stdout on a pipe, as a developer runs it."""
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "GITLAB_CI")}
    proc = subprocess.Popen([sys.executable, "-m", "gitops_check", *_diff()], stdout=subprocess.PIPE,
                            stderr=secondary, env=env)  # fmt: skip
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = proc.communicate(timeout=120)
    os.close(primary)
    assert proc.returncode == 1
    text = seen.decode()
    assert "gitops-check: rendering 3/3 apps" in text and text.endswith("\x1b[K")
    assert b"\x1b[K" not in stdout and b"rendering" not in stdout
    assert b"Exit code 1: drift found" in stdout
