"""The script of the GitLab job: defaults from the merge request pipeline, the check, a dotenv report, fail-on.

Results are also written as a dotenv file (``artifacts: reports: dotenv``) so later jobs can read
``GITOPS_CHECK_RESULT_EXIT_CODE``, ``..._DRIFT`` and ``..._ERRORS``.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from gitops_check.ci import step
from gitops_check.errors import GitopsCheckError

_ZERO = "0" * 40
DOTENV = "gitops-check.env"


def pipeline_revisions(env: Mapping[str, str]) -> tuple[str, str]:
    """(base, head): the merge request's diff base and head, or a push's before and after."""
    head = env.get("CI_COMMIT_SHA", "")
    base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA") or env.get("CI_COMMIT_BEFORE_SHA", "")
    return ("" if base == _ZERO else base), head


def write_dotenv(path: Path, outputs: Mapping[str, str]) -> None:
    lines = [
        f"GITOPS_CHECK_RESULT_{name.upper().replace('-', '_')}={' '.join(value.split())}"
        for name, value in outputs.items()
    ]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # replaces whatever is there (a planted symlink too) instead of writing through it


def _with_parallel(env: Mapping[str, str]) -> Mapping[str, str]:
    """A ``parallel:`` job is one shard: CI_NODE_INDEX of CI_NODE_TOTAL (unless the shard inputs say otherwise)."""
    if env.get("CI_NODE_TOTAL", "").strip() in ("", "1") or env.get(step.PREFIX + "SHARDS", "").strip():
        return env
    return {
        **env,
        step.PREFIX + "SHARD": env.get("CI_NODE_INDEX", ""),
        step.PREFIX + "SHARDS": env["CI_NODE_TOTAL"],
    }


def main(env: Mapping[str, str]) -> int:
    # The job's working folder: GitLab runs the script in CI_PROJECT_DIR and reads `artifacts:` paths relative to
    # it. Taken from the process, not the variable, which a runner emulator may set to a folder of its container
    # (gitlab-ci-local's shell mode keeps /builds/<group>/<project> for jobs that name an image).
    project = Path.cwd()
    try:
        inputs = step.StepInputs.from_env(_with_parallel(env), report_dir=project / "gitops-check-reports")
        if inputs.mode == "preview" and not (inputs.base and inputs.head):
            base, head = pipeline_revisions(env)
            inputs = dataclasses.replace(inputs, base=inputs.base or base, head=inputs.head or head)
        reports = step.Reports.under(inputs.report_dir)
        step.refuse_committed_parts(inputs, project)
        command = step.build_command(inputs, reports, platform="gitlab")
        step.prepare_report_dir(inputs.report_dir, reports, (DOTENV, *step.own_files(inputs)))
    except (GitopsCheckError, OSError) as e:
        print(f"gitops-check: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print("gitops-check: running " + shlex.join(command).replace("\n", "\\n"), flush=True)
    result = step.read_result(step.run(command), reports)
    if result.errors < 0:
        print(
            f"gitops-check: stopped before writing its report (exit code {result.exit_code})", file=sys.stderr
        )
    write_dotenv(inputs.report_dir / DOTENV, result.outputs())
    if inputs.sharded:
        code = step.shard_exit(inputs)
        print(f"gitops-check: shard {inputs.shard}/{inputs.shards} exited {result.exit_code}; "
              + ("its part is left for the merge job" if code == 0 else "it left no part: the merge will say so"))  # fmt: skip
        return code
    print("gitops-check: " + step.verdict_line(result, inputs.fail_on, inputs.mode))
    sys.stdout.flush()
    return step.step_exit(inputs.fail_on, result.exit_code)
