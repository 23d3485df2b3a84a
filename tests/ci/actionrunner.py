"""Runs the steps of a composite action (action.yml) the way the GitHub runner does, for end-to-end tests.

What it implements of the runner, and nothing more: input defaults; `${{ }}` expressions of the forms
``inputs.x``, ``steps.id.outputs.y``, ``github.x`` and ``runner.x`` (one pass: a substituted value is never
evaluated again, like the runner); ``if:`` of the form ``inputs.x == 'v'`` / ``!=``; ``run:`` steps executed as
``bash --noprofile --norc -eo pipefail FILE`` with the step's ``env:`` on top of the job environment and a fresh
``GITHUB_OUTPUT`` file per step; ``GITHUB_PATH`` (its lines go first on PATH for later steps); stopping at the first failing step; the action's ``outputs:``. ``uses:`` steps
(setup-python, cache) are recorded and skipped: the machine running the tests already has Python.

Workflow commands printed on stdout are parsed like the runner does, including ``::stop-commands::``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
IF = re.compile(r"^inputs\.([\w-]+)\s*(==|!=)\s*'([^']*)'$")


@dataclass
class StepRun:
    name: str
    kind: str  # "run" | "uses" | "skipped"
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]
    exit_code: int  # of the first failing step, else 0
    added_paths: list[str] = field(default_factory=list)  # lines written to GITHUB_PATH, first added first

    @property
    def stdout(self) -> str:
        return "".join(s.stdout for s in self.steps)

    @property
    def stderr(self) -> str:
        return "".join(s.stderr for s in self.steps)

    def commands(self) -> list[tuple[str, str]]:
        """Workflow commands the runner would act on: (command with properties, message)."""
        return workflow_commands(self.stdout)


def workflow_commands(stdout: str) -> list[tuple[str, str]]:
    """The workflow commands the runner acts on in ``stdout``, honouring ``::stop-commands::``."""
    found: list[tuple[str, str]] = []
    stopped: str | None = None
    for line in stdout.splitlines():
        if stopped is not None:
            if line == f"::{stopped}::":
                stopped = None
            continue
        m = re.match(r"^::([^:]+)::(.*)$", line)
        if not m:
            continue
        if m.group(1) == "stop-commands":
            stopped = m.group(2)
            continue
        found.append((m.group(1), m.group(2)))
    return found


def parse_output_file(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value: list[str] = []
            i += 1
            while lines[i] != delimiter:
                value.append(lines[i])
                i += 1
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value_ = line.split("=", 1)
            out[name] = value_
        i += 1
    return out


class CompositeAction:
    def __init__(self, path: Path):
        self.path = path
        self.spec: dict[str, Any] = yaml.safe_load(path.read_text())

    def run(
        self,
        *,
        inputs: Mapping[str, str],
        env: Mapping[str, str],
        github: Mapping[str, str],
        runner: Mapping[str, str],
        workdir: Path,
    ) -> ActionRun:
        contexts: dict[str, Any] = {"github": dict(github), "runner": dict(runner), "steps": {}}
        declared = self.spec.get("inputs", {})
        unknown = set(inputs) - set(declared)
        if unknown:
            raise AssertionError(f"inputs not declared by the action: {sorted(unknown)}")
        values = {}
        for name, spec in declared.items():
            default = str(spec.get("default", ""))
            values[name] = inputs[name] if name in inputs else self._eval(default, contexts)
        contexts["inputs"] = values
        runs: list[StepRun] = []
        failed = 0
        added: list[str] = []  # GITHUB_PATH: prepended to PATH for the steps after the one that wrote them
        base_env = dict(env)
        for index, step in enumerate(self.spec["runs"]["steps"]):
            name = step.get("name") or step.get("id") or f"step {index}"
            condition = step.get("if")
            if condition is not None and not self._condition(str(condition), values):
                runs.append(StepRun(name, "skipped"))
                continue
            if "uses" in step:
                runs.append(StepRun(name, "uses"))
                continue
            path_file = workdir / f"github_path_{index}"
            path_file.write_text("")
            step_env = {**base_env, "GITHUB_PATH": str(path_file)}
            if added:
                step_env["PATH"] = os.pathsep.join([*reversed(added), base_env.get("PATH", "")])
            run = self._run_step(step, name, contexts, step_env, workdir)
            added += [line for line in path_file.read_text().splitlines() if line]
            runs.append(run)
            contexts["steps"][step.get("id") or f"__{index}"] = {"outputs": run.outputs}
            if run.exit_code != 0:
                failed = run.exit_code
                break
        # Step outputs are kept when a step fails, so the action's outputs are evaluated in any case.
        outputs = {
            name: self._eval(str(spec["value"]), contexts)
            for name, spec in self.spec.get("outputs", {}).items()
        }
        return ActionRun(runs, outputs, failed, added)

    def _run_step(
        self, step: dict[str, Any], name: str, contexts: dict[str, Any], env: Mapping[str, str], workdir: Path
    ) -> StepRun:
        assert step.get("shell") == "bash", f"{name}: every run step needs shell: bash"
        script = str(step["run"])
        assert "${{" not in script, f"{name}: expression inside run:"
        step_env = {k: self._eval(str(v), contexts) for k, v in (step.get("env") or {}).items()}
        index = len(list(workdir.glob("step_*.sh")))
        output = workdir / f"github_output_{index}"
        output.write_text("")
        script_file = workdir / f"step_{index}.sh"
        script_file.write_text(script)
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            env={**env, **step_env, "GITHUB_OUTPUT": str(output)},
            cwd=env.get("GITHUB_WORKSPACE"),
            capture_output=True,
            text=True,
            check=False,
        )
        return StepRun(
            name,
            "run",
            proc.returncode,
            proc.stdout,
            proc.stderr,
            parse_output_file(output.read_text()),
            step_env,
        )

    @staticmethod
    def _eval(text: str, contexts: Mapping[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            value: Any = contexts
            for part in match.group(1).split("."):
                if value is None:
                    return ""  # like the runner: a missing property is null, shown as ""
                if not isinstance(value, Mapping):
                    raise AssertionError(f"unsupported expression {match.group(0)}")
                value = value.get(part)
            return "" if value is None else str(value)

        return EXPR.sub(one, text)

    @staticmethod
    def _condition(condition: str, values: Mapping[str, str]) -> bool:
        """``inputs.x == 'v'`` / ``!=``, ``always()``, joined by ``&&``: what action.yml uses."""
        result = True
        for term in condition.split("&&"):
            if term.strip() == "always()":
                continue
            m = IF.match(term.strip())
            if not m:
                raise AssertionError(f"unsupported if: {condition}")
            equal = values.get(m.group(1), "") == m.group(3)
            result = result and (equal if m.group(2) == "==" else not equal)
        return result
