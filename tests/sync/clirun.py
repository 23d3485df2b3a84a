"""Running ``gitops-check`` in-process for the sync tests: exit code and everything it printed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops_check.cli import main

FAST = ["--poll-interval", "20ms", "--retry-backoff", "10ms", "--retry-max", "50ms"]


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> Run:
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)
