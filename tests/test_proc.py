from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gitops_check import proc
from gitops_check.errors import RenderError, ToolMissingError


def test_credentials_are_not_passed_to_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_should_not_leak")
    monkeypatch.setenv("GITOPS_CHECK_GITLAB_TOKEN", "glpat-should-not-leak")
    monkeypatch.setenv("HELM_CACHE_HOME", "/tmp/helm-cache")
    out = proc.run([sys.executable, "-c", "import os; print(sorted(os.environ))"], what="env")
    assert "GITHUB_TOKEN" not in out and "GITOPS_CHECK_GITLAB_TOKEN" not in out
    assert "HELM_CACHE_HOME" in out


def test_failure_carries_the_stderr_tail() -> None:
    with pytest.raises(RenderError, match="tool x failed: boom"):
        proc.run([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"], what="tool x")


def test_missing_program() -> None:
    with pytest.raises(ToolMissingError, match="not found"):
        proc.run(["/nonexistent/helm"], what="helm template")


GO_ENV = "import os; print(os.environ.get('GOGC'), os.environ.get('GOMEMLIMIT'))"


def test_go_programs_collect_less_often_unless_the_job_tunes_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    assert proc.run([sys.executable, "-c", GO_ENV], what="env").split() == ["400", "1GiB"]
    monkeypatch.setenv("GOGC", "50")  # the job's own setting wins, and no limit is added beside it
    assert proc.run([sys.executable, "-c", GO_ENV], what="env").split() == ["50", "None"]
    monkeypatch.delenv("GOGC")
    monkeypatch.setenv("GOMEMLIMIT", "300MiB")
    assert proc.run([sys.executable, "-c", GO_ENV], what="env").split() == ["None", "300MiB"]


def test_at_most_the_slots_run_at_once_and_waiting_is_counted_apart(tmp_path: Path) -> None:
    """``child_slots``: more threads than slots never run more programs at once; each thread knows how long it
    waited for a slot (left out of an app's render time)."""
    log = tmp_path / "log"
    script = (
        "import os, sys, time; f = open(sys.argv[1], 'a'); f.write(f'+ {time.monotonic()}\\n'); f.flush(); "
        "time.sleep(0.2); f.write(f'- {time.monotonic()}\\n')"
    )
    waits: list[float] = []

    def one(_: int) -> None:
        proc.run([sys.executable, "-c", script, str(log)], what="sleep")
        waits.append(proc.slot_wait())

    with proc.child_slots(2), ThreadPoolExecutor(max_workers=6) as pool:
        with proc.child_slots(5):  # a nested user shares the first limit
            list(pool.map(one, range(6)))
    events = sorted((float(t), sign) for sign, t in (line.split() for line in log.read_text().splitlines()))
    running = peak = 0
    for _, sign in events:
        running += 1 if sign == "+" else -1
        peak = max(peak, running)
    assert peak == 2 and running == 0
    assert max(waits) > 0.15  # some waited about a program's time (or two)
    assert proc.slot_wait() == 0.0  # this thread ran none


def test_without_slots_programs_are_not_held_back() -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        outs = list(pool.map(lambda i: proc.run([sys.executable, "-c", f"print({i})"], what="n"), range(3)))
    assert [o.strip() for o in outs] == ["0", "1", "2"]


def test_output_input_and_newlines_as_text_mode_gives_them() -> None:
    """Output is captured in memory files, not pipes: what comes back is what ``subprocess`` text mode gave
    (newlines translated), however large, and the input reaches the program whole."""
    big = "x" * 3_000_000  # far past a pipe's buffer and one read's chunk
    script = "import sys; data = sys.stdin.read(); sys.stdout.write('a\\r\\nb\\rc ' + str(len(data)) + ' ' + data[:3])"
    assert (
        proc.run([sys.executable, "-c", script], what="echo", input_text=big + "é") == "a\nb\nc 3000001 xxx"
    )
    out = proc.run([sys.executable, "-c", f"print('y' * {len(big)}, end='')"], what="big")
    assert out == "y" * len(big)


def test_a_program_that_outlives_the_timeout_is_ended() -> None:
    start = time.monotonic()
    with pytest.raises(RenderError, match="timed out after"):
        proc.run([sys.executable, "-c", "import time; time.sleep(30)"], what="sleeper", timeout=0.5)
    assert time.monotonic() - start < 10


def test_what_a_program_leaves_running_in_its_group_ends_with_it() -> None:
    """A background command (a plugin's ``sh -c '... &'``) does not outlive the program that started it; the run
    goes on when the program exits instead of waiting for the straggler."""
    start = time.monotonic()
    out = proc.run(["sh", "-c", "sleep 30 & echo $!"], what="plugin", timeout=20)
    assert time.monotonic() - start < 10
    straggler = int(out)
    for _ in range(100):
        try:
            state = Path(f"/proc/{straggler}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            break  # gone
        if state == "Z":
            break  # ended, waiting for its new parent to reap it
        time.sleep(0.05)
    else:
        raise AssertionError(f"sleep {straggler} still running")
