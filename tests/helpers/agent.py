"""What the Argo CD and Flux harnesses share: a work folder, the git server the agent reads, and the agent's
processes (started by each harness its own way), stopped in reverse order, their logs, and a check that none
died."""

from __future__ import annotations

import contextlib
from pathlib import Path

from tests.helpers.cluster import TestCluster, _Proc
from tests.helpers.gitserver import GitServer


class AgentProcesses:
    """Base of ``ArgoCD`` and ``Flux``; ``error`` is the harness's exception type."""

    error: type[Exception] = RuntimeError

    def __init__(self, workdir: Path, cluster: TestCluster) -> None:
        self.workdir = workdir
        self.cluster = cluster
        self.git_root = workdir / "git"
        self.git_root.mkdir(parents=True, exist_ok=True)
        self.git = GitServer(self.git_root)
        self._procs: dict[str, _Proc] = {}

    def start(self) -> AgentProcesses:
        raise NotImplementedError

    def stop(self) -> None:
        for proc in reversed(list(self._procs.values())):
            proc.stop()
        self._procs.clear()
        with contextlib.suppress(Exception):
            self.git.stop()

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {name} ({p.log}) ---\n{p.tail(lines)}" for name, p in self._procs.items())

    def _check_alive(self) -> None:
        for name, proc in self._procs.items():
            if not proc.alive():
                raise self.error(f"{name} exited:\n{proc.tail(40)}")
