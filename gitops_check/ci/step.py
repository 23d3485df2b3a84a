"""One CI step, shared by the GitHub Action and the GitLab template: inputs in, ``gitops-check`` run, outputs out.

The YAML of both integrations only moves inputs into environment variables and calls ``gitops-check ci ...``.
Everything with logic lives here, where it is tested: which command and options follow from the inputs, where the
reports go, what the outputs say, and whether the step fails (the fail-on policy).

Inputs are data, never code: no value passes through a shell, options are given as ``--name=value`` so a value
starting with ``-`` cannot become an option, and extra arguments are split like a shell would split words
(``shlex``) without expanding anything.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_check.errors import ConfigError

MODES = ("preview", "snapshot", "live", "merge")
PART_GLOB = "part-*-of-*.json"
FAIL_ON = ("auto", "drift", "error", "never")


def default_fail_on(mode: str) -> str:
    """``auto``: a preview fails only when something could not be checked (a change is the point of a pull
    request); a comparison with the cluster fails on drift too. A merge joins parts of either: drift would fail
    a preview's merge, so it goes by errors unless fail-on says otherwise."""
    return "error" if mode in ("preview", "merge") else "drift"


PREFIX = "GITOPS_CHECK_"


def _flag(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off", ""):
        return False
    raise ConfigError(f"input {name} must be true or false, not {value[:40]!r}")


@dataclass(frozen=True)
class StepInputs:
    mode: str = "preview"
    repo: str = "."
    snapshot: str = ""
    base: str = ""
    head: str = ""
    fail_on: str = "error"
    comment: bool = True
    comment_key: str = ""
    args: tuple[str, ...] = ()
    report_dir: Path = Path("gitops-check-reports")
    summary: bool = True
    # One shard of a check split over several jobs (shard K of shards N); 0: the whole check in this job.
    shard: int = 0
    shards: int = 0
    parts_dir: Path | None = None  # mode merge: where the shards' part files are (default: report_dir)
    # The render cache in this folder (the action keeps it with actions/cache); None: gitops-check's default
    # (preview: ~/.cache/gitops-check/renders; diff: none).
    cache_dir: Path | None = None

    @property
    def sharded(self) -> bool:
        return self.shards > 1 and self.mode != "merge"

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, report_dir: Path) -> StepInputs:
        """Read ``GITOPS_CHECK_<NAME>`` variables; empty means "default"."""

        def get(name: str, default: str = "") -> str:
            return env.get(PREFIX + name, "").strip() or default

        mode = get("MODE", "preview").lower()
        if mode not in MODES:
            raise ConfigError(f"input mode must be one of {', '.join(MODES)}, not {mode[:40]!r}")
        fail_on = get("FAIL_ON", "auto").lower()
        if fail_on not in FAIL_ON:
            raise ConfigError(f"input fail-on must be one of {', '.join(FAIL_ON)}, not {fail_on[:40]!r}")
        if fail_on == "auto":
            fail_on = default_fail_on(mode)
        try:
            args = tuple(shlex.split(env.get(PREFIX + "ARGS", ""), comments=False, posix=True))
        except ValueError as e:
            raise ConfigError(f"input args cannot be split into words: {e}") from None
        shard, shards = _number(get("SHARD"), "shard"), _number(get("SHARDS"), "shards")
        if shards > 1 and mode != "merge" and not 1 <= shard <= shards:
            raise ConfigError(f"input shard must be between 1 and shards ({shards}), not {shard}")
        snapshot = get("SNAPSHOT")
        if mode == "snapshot" and not snapshot:
            raise ConfigError("mode snapshot needs the snapshot input (a snapshot file or folder)")
        return cls(
            mode=mode,
            repo=get("REPO", "."),
            snapshot=snapshot,
            base=get("BASE"),
            head=get("HEAD"),
            fail_on=fail_on,
            comment=_flag(env.get(PREFIX + "COMMENT", "true"), "comment"),
            comment_key=get("COMMENT_KEY"),
            args=args,
            report_dir=Path(get("REPORT_DIR")) if get("REPORT_DIR") else report_dir,
            summary=_flag(env.get(PREFIX + "SUMMARY", "true"), "summary"),
            shard=shard,
            shards=shards,
            parts_dir=Path(get("PARTS")) if get("PARTS") else None,
        )

    def with_render_cache(self, env: Mapping[str, str], folder: Path) -> StepInputs:
        """``render-cache`` on (the default): the render cache in ``folder``, which the CI keeps between runs."""
        on = _flag(env.get(PREFIX + "RENDER_CACHE", "true") or "true", "render-cache")
        return dataclasses.replace(self, cache_dir=folder) if on else self


def _number(value: str, name: str) -> int:
    if not value:
        return 0
    if not value.isdigit():
        raise ConfigError(f"input {name} must be a number, not {value[:40]!r}")
    return int(value)


@dataclass(frozen=True)
class Reports:
    junit: Path
    markdown: Path
    markdown_full: Path
    json: Path

    @classmethod
    def under(cls, folder: Path) -> Reports:
        return cls(
            folder / "gitops-check.xml",
            folder / "gitops-check.md",
            folder / "gitops-check-full.md",
            folder / "gitops-check.json",
        )


def build_command(
    inputs: StepInputs, reports: Reports, *, platform: str, python: str = sys.executable
) -> list[str]:
    """The gitops-check command line for these inputs (a list: no shell ever sees it).

    The step runs inside the checked-out pull request, so the interpreter runs isolated (``-I``): without it,
    ``-m`` would put the working folder first on the import path and a ``gitops_check/`` folder in the pull
    request would run instead of the installed tool, with the job's token in reach.
    """
    command = [python, "-I", "-m", "gitops_check"]
    parts: list[str] = []
    if inputs.mode == "merge":
        folder = inputs.parts_dir or inputs.report_dir
        parts = sorted(str(p) for p in folder.glob(PART_GLOB)) if folder.is_dir() else []
        command += ["merge", f"--repo={inputs.repo}"]
        if inputs.shards:
            command.append(f"--shards={inputs.shards}")  # a shard that sent nothing is then exit 2, named
        if not parts:
            raise ConfigError(f"mode merge found no part files ({PART_GLOB}) in {folder}")
    elif inputs.mode == "preview":
        command += ["preview", f"--repo={inputs.repo}"]
        if not inputs.base:
            raise ConfigError(
                "preview needs a base revision: run on a pull_request / merge_request event or set the base input"
            )
        command.append(f"--base={inputs.base}")
        if inputs.head:
            command.append(f"--head={inputs.head}")
        if inputs.snapshot:
            command.append(f"--snapshot={inputs.snapshot}")
    else:
        command += ["diff", f"--repo={inputs.repo}"]
        if inputs.head:
            command.append(f"--rev={inputs.head}")
        command.append(f"--snapshot={inputs.snapshot}" if inputs.mode == "snapshot" else "--live")
    if inputs.mode != "merge" and inputs.cache_dir is not None:
        command.append(f"--cache-dir={inputs.cache_dir}")
    command += [
        f"--junit={reports.junit}",
        f"--markdown={reports.markdown}",
        f"--markdown-full={reports.markdown_full}",
        f"--json={reports.json}",
        "--color",
    ]
    if inputs.sharded:
        # The merge job reports (comment, summary) for all shards; this one leaves its part for it.
        command += [f"--shard={inputs.shard}/{inputs.shards}", f"--part={part_path(inputs)}"]
        return command + list(inputs.args)
    if inputs.comment:
        command.append(f"--comment={platform}")
        if inputs.comment_key:
            command.append(f"--comment-key={inputs.comment_key}")
    if platform == "github" and inputs.summary:
        command.append("--github-summary")
    command += inputs.args
    return [*command, "--", *parts] if parts else command


def part_path(inputs: StepInputs) -> Path:
    return inputs.report_dir / f"part-{inputs.shard}-of-{inputs.shards}.json"


def own_files(inputs: StepInputs) -> tuple[str, ...]:
    """Files of the report folder this step writes besides the reports: a shard's part (a stale or committed one
    must not pass for this run's)."""
    return (part_path(inputs).name,) if inputs.sharded else ()


def refuse_committed_parts(inputs: StepInputs, checkout: Path) -> None:
    """Mode merge where the parts arrive in the checkout (GitLab's ``needs:`` artifacts): a part the checked commit
    itself contains would stand in for a shard that failed; refuse to merge then. Git says what it tracks."""
    folder = inputs.parts_dir or inputs.report_dir
    if inputs.mode != "merge" or not folder.resolve().is_relative_to(checkout.resolve()):
        return
    done = subprocess.run(
        ["git", "-c", f"safe.directory={checkout.resolve()}", "-C", str(checkout), "ls-files", "-z", "--",
         str(folder.resolve())],
        capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise ConfigError(
            f"mode merge: cannot tell whether the part files in {folder} come from the commit "
            f"(git ls-files: {done.stderr.decode(errors='replace').strip()[:200]})"
        )
    committed = sorted(n for n in done.stdout.decode(errors="replace").split("\0") if n and _is_part(n))
    if committed:
        raise ConfigError(
            "mode merge: the checked commit contains part files, which would stand in for the shards' results: "
            + ", ".join(committed[:5])
        )


def _is_part(name: str) -> bool:
    return Path(name).match(PART_GLOB)


@dataclass(frozen=True)
class StepResult:
    exit_code: int
    drift: bool
    errors: int  # apps not checked + errors outside any app; -1 when no report was written
    drifted_apps: int
    reports: Reports

    def outputs(self) -> dict[str, str]:
        written = self.errors >= 0
        return {
            "exit-code": str(self.exit_code),
            "drift": "true" if self.drift else "false",
            "errors": str(self.errors) if written else "1",
            "drifted-apps": str(self.drifted_apps),
            "junit": str(self.reports.junit) if self.reports.junit.exists() else "",
            "markdown": str(self.reports.markdown) if self.reports.markdown.exists() else "",
            "markdown-full": str(self.reports.markdown_full) if self.reports.markdown_full.exists() else "",
            "json": str(self.reports.json) if written else "",
        }


def prepare_report_dir(folder: Path, reports: Reports, extra: tuple[str, ...] = ()) -> None:
    """A fresh place for this run's reports. The folder may lie in the checkout (GitLab's artifacts must), where the
    pull request could have committed a report claiming success, or a symlink sending our writes elsewhere: a
    symlink or file in its place is removed, and so are reports of an earlier run, before gitops-check starts."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        folder.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    for path in [
        reports.junit,
        reports.markdown,
        reports.markdown_full,
        reports.json,
        *(folder / n for n in extra),
    ]:
        if path.is_symlink() or path.exists():
            if path.is_dir() and not path.is_symlink():
                raise ConfigError(f"{path} is a folder where a report file goes: remove it")
            path.unlink()


def read_result(exit_code: int, reports: Reports) -> StepResult:
    try:
        data: Any = json.loads(reports.json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return StepResult(exit_code, False, -1, 0, reports)
    summary = data.get("summary", {}) if isinstance(data, dict) else {}
    apps = summary.get("apps", {})
    resources = summary.get("resources", {})
    drift = any(int(resources.get(s, 0)) for s in ("added", "changed", "removed"))
    errors = int(apps.get("error", 0)) + len(data.get("errors") or [])
    return StepResult(exit_code, drift, errors, int(apps.get("drifted", 0)), reports)


def shard_exit(inputs: StepInputs) -> int:
    """A shard job passes when it left its part (the merge job decides on drift and errors), else fails."""
    return 0 if part_path(inputs).is_file() else 2


def step_exit(fail_on: str, exit_code: int) -> int:
    """The step's own exit code under the fail-on policy (2, could not check, fails unless fail-on is never)."""
    if fail_on == "never":
        return 0
    if fail_on == "error":
        return 2 if exit_code >= 2 else 0
    return exit_code


def run(command: list[str], *, cwd: str | None = None) -> int:
    """Run gitops-check with the job's stdout/stderr; its exit code."""
    sys.stdout.flush()
    return subprocess.run(command, cwd=cwd, check=False).returncode


def verdict_line(result: StepResult, fail_on: str, mode: str = "") -> str:
    meaning = {0: "in sync", 1: "drift found", 2: "not everything could be checked"}.get(
        result.exit_code, "failed"
    )
    if mode == "preview":
        meaning = {0: "no changes", 1: "the change alters rendered resources"}.get(result.exit_code, meaning)
    passes = step_exit(fail_on, result.exit_code) == 0
    return f"gitops-check exited {result.exit_code} ({meaning}); with fail-on {fail_on} the step " + (
        "passes" if passes else "fails"
    )
