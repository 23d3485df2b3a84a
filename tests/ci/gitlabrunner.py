"""Resolves and runs a job of the GitLab template (or of the component) the way GitLab would, for tests.

What it implements: ``spec: inputs`` defaults, types and ``options``, and ``$[[ inputs.x ]]`` interpolation in the
component's job document; ``include: local`` of a file of the same project; job merging (a later definition's keys
win, hashes merged deeply); ``extends``; variable expansion in ``variables:`` values (``$VAR`` / ``${VAR}``, from
predefined and earlier variables); project CI/CD variables overriding job variables; ``before_script`` and
``script`` run in one bash shell that stops at the first failing command.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

INPUT = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")
VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = deep_merge(base.get(k), v) if k in base else v
        return out
    return override


def interpolate(node: Any, inputs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        return {interpolate(k, inputs): interpolate(v, inputs) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, inputs) for v in node]
    if isinstance(node, str):
        whole = INPUT.fullmatch(node)
        if whole:
            return inputs[whole.group(1)]
        return INPUT.sub(
            lambda m: (
                str(inputs[m.group(1)]).lower()
                if isinstance(inputs[m.group(1)], bool)
                else str(inputs[m.group(1)])
            ),
            node,
        )
    return node


def load_template(path: Path) -> dict[str, Any]:
    docs = list(yaml.safe_load_all(path.read_text()))
    assert len(docs) == 1, f"{path}: a plain template is one YAML document"
    return dict(docs[0])


def load_component(path: Path, project: Path, given: Mapping[str, Any]) -> dict[str, Any]:
    header, body = yaml.safe_load_all(path.read_text())
    spec = header["spec"]["inputs"]
    unknown = set(given) - set(spec)
    assert not unknown, f"unknown inputs {sorted(unknown)}"
    inputs: dict[str, Any] = {}
    for name, decl in spec.items():
        value = given.get(name, decl.get("default"))
        assert value is not None, f"input {name} is required"
        if decl.get("type") == "boolean":
            assert isinstance(value, bool), f"input {name} must be a boolean"
        if "options" in decl:
            assert value in decl["options"], f"input {name}: {value!r} not in {decl['options']}"
        inputs[name] = value
    config: dict[str, Any] = {}
    for include in body.pop("include", []):
        local = include["local"]
        config = deep_merge(config, load_template(project / local.lstrip("/")))
    return deep_merge(config, interpolate(body, inputs))


def resolve_job(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    job = dict(config[name])
    parents = job.pop("extends", [])
    for parent in [parents] if isinstance(parents, str) else parents:
        job = deep_merge(resolve_job(config, parent), job)
    return job


def expand(value: str, env: Mapping[str, str]) -> str:
    return VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


@dataclass
class JobRun:
    exit_code: int
    stdout: str
    stderr: str
    variables: dict[str, str]


def run_job(
    job: Mapping[str, Any], *, predefined: Mapping[str, str], project_variables: Mapping[str, str], cwd: Path
) -> JobRun:
    env = dict(predefined)
    variables: dict[str, str] = {}
    for key, value in (job.get("variables") or {}).items():
        raw = value["value"] if isinstance(value, dict) else value
        assert isinstance(raw, str | int | float) and not isinstance(raw, bool), (
            f"variable {key}: {raw!r} is not a string"
        )
        text = str(raw)
        variables[key] = expand(text, {**env, **variables})
    env.update(variables)
    env.update(project_variables)  # project/group CI/CD variables win over the job's YAML
    lines = [*job.get("before_script", []), *job.get("script", [])]
    script = "set -eo pipefail\n" + "\n".join(str(line) for line in lines) + "\n"
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return JobRun(proc.returncode, proc.stdout, proc.stderr, variables)


def base_environment() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "GITOPS_CHECK_", "RUNNER_", "GITLAB_", "CI_")) and k != "CI"
    }
