"""Issue 14, proof: actionlint (with shellcheck) over the GitHub Action's scripts and every workflow the README and
the docs show, with ``uses:`` of this action pointed at the local action.yml so inputs are checked against it.

actionlint is built into the tool cache by scripts/tools.py (Go module github.com/rhysd/actionlint v1.7.12);
shellcheck comes from Debian (scripts/test installs it when it can). Missing, either skips here with the reason
and fails under CI=true.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.binaries import missing
from tests.helpers.cluster import require_tool

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OUR_ACTION = re.compile(r"uses:\s*gitops-check/gitops-check@\S+")
BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.S | re.M)


def documented_workflows() -> dict[str, str]:
    """GitHub workflows shown in the docs (YAML blocks with ``on:`` and ``jobs:`` whose jobs have ``runs-on``)."""
    found: dict[str, str] = {}
    for doc in DOCS:
        for n, block in enumerate(BLOCK.findall(doc.read_text()), 1):
            try:
                data = yaml.safe_load(block)
            except yaml.YAMLError:
                continue
            if not isinstance(data, dict) or "jobs" not in data or (True not in data and "on" not in data):
                continue
            jobs = data.get("jobs") or {}
            if all(isinstance(j, dict) and "runs-on" in j for j in jobs.values()):
                found[f"{doc.stem}-{n}.yml"] = OUR_ACTION.sub("uses: ./", block)
    return found


def action_steps_workflow() -> str:
    """The action's run steps as one workflow job, so shellcheck sees exactly the scripts the runner executes."""
    action: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
    steps = []
    for step in action["runs"]["steps"]:
        if "run" not in step:
            continue
        env = {k: "value" for k in (step.get("env") or {})} or None
        steps.append({"name": step["name"], "id": step.get("id"), "shell": step["shell"], "env": env,
                      "run": step["run"]})  # fmt: skip
    steps = [{k: v for k, v in s.items() if v is not None} for s in steps]
    workflow = {
        "name": "action steps",
        "on": "push",
        "jobs": {"steps": {"runs-on": "ubuntu-latest", "steps": steps}},
    }
    return yaml.safe_dump(workflow, sort_keys=False)


def run_actionlint(tmp_path: Path, shellcheck: str | None) -> subprocess.CompletedProcess[str]:
    actionlint = require_tool("actionlint")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    files = {**documented_workflows(), "action-steps.yml": action_steps_workflow()}
    for name, text in files.items():
        (workflows / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    return subprocess.run(
        [str(actionlint), "-no-color", "-oneline", f"-shellcheck={shellcheck or ''}", "-pyflakes="],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_documented_workflows_exist() -> None:
    assert len(documented_workflows()) >= 3  # README's three copy-paste workflows at least


def test_actionlint_and_shellcheck_find_nothing(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        missing(
            "shellcheck is not installed (Debian: apt-get install shellcheck; scripts/test does it as root)"
        )
    proc = run_actionlint(tmp_path, shellcheck)
    assert proc.returncode == 0, proc.stdout + proc.stderr
