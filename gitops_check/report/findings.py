"""Hygiene findings (``hygiene.py``: plain Secrets in Git, prune on production, missing selfHeal) said the same way
by every reporter.

A finding is not drift: Git itself needs fixing. Without ``--strict`` it is a warning (the run's exit code does
not change); with ``--strict`` a failure (exit 1, like drift; an incomplete check still exits 2). Each reporter
lists them apart from the resources (the terminal and JUnit per app, Markdown and JSON for the whole run) and
the exit line says when they decided the code. Messages never hold Secret values (hygiene.py promises it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gitops_check.model.result import CheckResult, Finding

FAILURE, WARNING = "failure", "warning"
EXIT_MEANING = "hygiene findings fail the run (--strict)"


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def sorted_findings(findings: Sequence[Finding]) -> list[Finding]:
    """By app, then rule, then where."""
    return sorted(findings, key=lambda f: (f.app, f.rule, f.file or "", f.line or 0, f.message))


def by_app(result: CheckResult) -> dict[str, list[Finding]]:
    """Each app's findings, sorted; built once per report (a search per app was quadratic in a fleet)."""
    out: dict[str, list[Finding]] = {}
    for finding in sorted_findings(result.findings):
        out.setdefault(finding.app, []).append(finding)
    return out


def failing(result: CheckResult) -> bool:
    """The findings count as a failure of the run (``--strict``)."""
    return result.strict and bool(result.findings)


def severity(result: CheckResult) -> str:
    return FAILURE if result.strict else WARNING


def label(result: CheckResult) -> str:
    """The word in front of each finding: ``hygiene`` or, under --strict, ``hygiene failure``."""
    return "hygiene failure" if result.strict else "hygiene"


def where(finding: Finding) -> str:
    if not finding.file:
        return ""
    return f"{finding.file}:{finding.line}" if finding.line else finding.file


def summary(result: CheckResult) -> str:
    """``3 hygiene findings in 2 apps (warnings; --strict makes them fail)``; "" without findings."""
    n = len(result.findings)
    if not n:
        return ""
    apps = len({f.app for f in result.findings})
    how = (
        "failing: --strict"
        if result.strict
        else f"{'warning' if n == 1 else 'warnings'}; --strict makes them fail"
    )
    return f"{_plural(n, 'hygiene finding')} in {_plural(apps, 'app')} ({how})"


def exit_meaning(result: CheckResult) -> str | None:
    """What the findings add to the meaning of the exit code: only when they reach it (--strict, exit 1)."""
    return EXIT_MEANING if failing(result) and result.exit_code() == 1 else None


def to_dict(finding: Finding, result: CheckResult) -> dict[str, Any]:
    return {
        "app": finding.app,
        "rule": finding.rule,
        "severity": severity(result),
        "message": finding.message,
        "file": finding.file,
        "line": finding.line,
    }
