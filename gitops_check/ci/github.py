"""The run step of the GitHub Action: defaults from the event, the check, step outputs, the fail-on policy.

Step outputs go to ``GITHUB_OUTPUT`` in the ``name<<DELIMITER`` form with a random delimiter, so no value can
add an output line of its own. Messages that quote an input are printed as escaped annotations or behind a
prefix, never at the start of a line where the runner would read a workflow command.
"""

from __future__ import annotations

import dataclasses
import secrets
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from gitops_check.ci import step
from gitops_check.errors import GitopsCheckError
from gitops_check.publish import actions
from gitops_check.publish.actions import escape_data
from gitops_check.publish.github import read_event

_ZERO = "0" * 40


def event_revisions(env: Mapping[str, str]) -> tuple[str, str]:
    """(base, head) of a pull request event (its base and head commits) or a push (before and after)."""
    event = read_event(env)
    pr = event.get("pull_request")
    if isinstance(pr, dict):
        return str((pr.get("base") or {}).get("sha") or ""), str((pr.get("head") or {}).get("sha") or "")
    before, after = str(event.get("before") or ""), str(event.get("after") or env.get("GITHUB_SHA") or "")
    return ("" if before == _ZERO else before), after


def write_outputs(path: str, outputs: Mapping[str, str]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
            f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def shown(command: list[str]) -> str:
    """The command for the log, on one line whatever the inputs hold."""
    return shlex.join(command).replace("\r", "\\r").replace("\n", "\\n")


def _command(line: str) -> None:
    """A workflow command of our own, printed with the run's fence (if any) lifted for it."""
    actions.emit_commands([line], lambda text: print(text, flush=True))


def main(env: Mapping[str, str]) -> int:
    report_dir = Path(env.get("RUNNER_TEMP") or ".") / "gitops-check"
    try:
        inputs = step.StepInputs.from_env(env, report_dir=report_dir)
        if env.get("RUNNER_TEMP"):  # kept between runs and shards by the action's actions/cache step
            inputs = inputs.with_render_cache(env, Path(env["RUNNER_TEMP"]) / "gitops-check-renders")
        if inputs.mode == "preview" and not (inputs.base and inputs.head):
            base, head = event_revisions(env)
            inputs = dataclasses.replace(inputs, base=inputs.base or base, head=inputs.head or head)
        reports = step.Reports.under(inputs.report_dir)
        command = step.build_command(inputs, reports, platform="github")
        step.prepare_report_dir(inputs.report_dir, reports, step.own_files(inputs))
    except (GitopsCheckError, OSError) as e:
        _command(f"::error title=gitops-check::{escape_data(str(e))}")
        return 2
    print(f"gitops-check: running {shown(command)}", flush=True)
    with actions.lifted():  # the check fences its own output and prints its own annotations
        code = step.run(command)
    result = step.read_result(code, reports)
    if result.errors < 0:
        _command(
            "::error title=gitops-check::gitops-check stopped before writing its report "
            f"(exit code {result.exit_code}); see the log above"
        )
    outputs = result.outputs()
    if env.get("GITHUB_OUTPUT"):
        write_outputs(env["GITHUB_OUTPUT"], outputs)
    if inputs.sharded:
        code = step.shard_exit(inputs)
        print(f"gitops-check: shard {inputs.shard}/{inputs.shards} exited {result.exit_code}; "
              + ("its part is left for the merge job" if code == 0 else "it left no part: the merge will say so"))  # fmt: skip
        return code
    print("gitops-check: " + step.verdict_line(result, inputs.fail_on, inputs.mode))
    sys.stdout.flush()
    return step.step_exit(inputs.fail_on, result.exit_code)
