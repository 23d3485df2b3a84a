"""Issue 10, item 12: an interrupted run leaves no stale report and no helm/kustomize process behind.

Reports are written atomically (a new file renamed into place, so a planted symlink is replaced, not written
through), the outputs a run is asked for are removed when it starts, and SIGINT/SIGTERM end the process group of
every program gitops-check started (helm's own children included) before it exits with 2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gitops_check.cli import main
from tests.helpers.gitrepo import GitRepo
from tests.publish.repos import configmap, drift_repo, drift_snapshot, write_snapshot

FAKE_HELM = """#!/bin/sh
# Stands for a helm that hangs (a slow chart, a plugin): records its pid and a grandchild's, then waits.
sleep 300 &
echo "$$ $!" >> "{pids}"
wait
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def helm_repo(root: Path) -> GitRepo:
    repo = GitRepo.init(root)
    apps = [{"name": f"chart{i}", "path": f"charts/c{i}", "namespace": "shop"} for i in range(2)]
    files = {".gitops-check.yaml": json.dumps({"version": 1, "apps": apps})}
    for i in range(2):
        files[f"charts/c{i}/Chart.yaml"] = f"apiVersion: v2\nname: c{i}\nversion: 0.1.0\n"
        files[f"charts/c{i}/templates/cm.yaml"] = json.dumps(configmap(f"cm{i}", {"a": "b"}))
    repo.write(files)
    repo.commit("charts")
    return repo


def test_sigterm_ends_helm_and_its_children_and_exits_2(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path / "repo")
    pids = tmp_path / "pids"
    helm = tmp_path / "helm"
    helm.write_text(FAKE_HELM.format(pids=pids))
    helm.chmod(0o755)
    snapshot = write_snapshot(tmp_path / "s.json", [])
    junit = tmp_path / "out" / "report.xml"
    junit.parent.mkdir()
    junit.write_text("<testsuites><!-- the previous run: all green --></testsuites>")
    command = [sys.executable, "-I", "-m", "gitops_check", "diff", f"--repo={repo.path}", f"--snapshot={snapshot}",
               f"--helm={helm}", f"--junit={junit}", "--no-color"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    check = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while (not pids.exists() or len(pids.read_text().split()) < 4) and time.monotonic() < deadline:
            assert check.poll() is None, check.communicate()
            time.sleep(0.05)
        started = [int(p) for p in pids.read_text().split()]
        assert len(started) == 4 and all(alive(p) for p in started)
        assert not junit.exists()  # the previous run's report is gone as soon as the run starts
        check.send_signal(signal.SIGTERM)
        _, err = check.communicate(timeout=30)
    finally:
        if check.poll() is None:
            check.kill()
    assert check.returncode == 2, err
    assert "terminated" in err
    deadline = time.monotonic() + 5
    while any(alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in started if alive(p)] == [], "helm (or what it started) outlived gitops-check"
    assert not junit.exists()


def test_reports_of_an_earlier_run_are_removed_even_when_this_one_fails_early(tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "repo", broken=False)
    outputs = {name: tmp_path / f"old.{name}" for name in ("xml", "md", "full.md", "json")}
    for path in outputs.values():
        path.write_text("from the previous run")
    code = main(["diff", f"--repo={repo.path}", f"--snapshot={tmp_path / 'missing.json'}", "--live",
                 f"--junit={outputs['xml']}", f"--markdown={outputs['md']}",
                 f"--markdown-full={outputs['full.md']}", f"--json={outputs['json']}"])  # fmt: skip
    assert code == 2
    assert [p for p in outputs.values() if p.exists()] == []


def test_a_planted_symlink_is_replaced_not_written_through(tmp_path: Path) -> None:
    repo = drift_repo(tmp_path / "repo", broken=False)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    report = tmp_path / "report.json"
    report.symlink_to(victim)
    assert main(["diff", f"--repo={repo.path}", f"--snapshot={drift_snapshot(tmp_path / 's.json')}",
                 f"--json={report}"]) == 1  # fmt: skip
    assert victim.read_text() == "precious"
    assert not report.is_symlink() and json.loads(report.read_text())["summary"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
