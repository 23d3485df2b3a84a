"""Structure of action.yml, .gitlab-ci-template.yml and the component: valid YAML, required keys, hardening rules,
and the job names, inputs and rules that docs/ci.md documents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from gitops_check.ci.gitlab import DOTENV
from gitops_check.ci.step import FAIL_ON, MODES, Reports

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "ci.md").read_text()


def action() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "action.yml").read_text()))


def template() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / ".gitlab-ci-template.yml").read_text()))


def component() -> tuple[dict[str, Any], dict[str, Any]]:
    header, body = yaml.safe_load_all((ROOT / "templates" / "gitops-check.yml").read_text())
    return header, body


def test_action_metadata() -> None:
    spec = action()
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(spec)
    assert spec["runs"]["using"] == "composite"
    for name, item in spec["inputs"].items():
        assert re.fullmatch(r"[a-z][a-z0-9-]*", name)
        assert item.get("description"), name
        assert "default" in item and item.get("required") is False, name
    assert spec["inputs"]["mode"]["default"] in MODES
    assert spec["inputs"]["fail-on"]["default"] in FAIL_ON
    assert spec["inputs"]["token"]["default"] == "${{ github.token }}"
    assert set(spec["outputs"]) == {
        "exit-code",
        "drift",
        "drifted-apps",
        "errors",
        "junit",
        "markdown",
        "markdown-full",
        "json",
        "command",
    }
    for name, item in spec["outputs"].items():
        step = "install" if name == "command" else "check"  # the installed gitops-check (mode install)
        assert item["value"] == f"${{{{ steps.{step}.outputs.{name} }}}}"


def test_action_steps_are_hardened() -> None:
    steps = action()["runs"]["steps"]
    for step in steps:
        assert ("uses" in step) != ("run" in step), step
        if "run" in step:
            assert step.get("shell") == "bash", step.get("name")
            assert "${{" not in step["run"], (
                f"{step.get('name')}: an expression inside run: is script injection"
            )
            assert "set -euo pipefail" in step["run"] or step["run"].count("\n") <= 1
        else:
            assert re.fullmatch(r"actions/[a-z-]+@v\d+", step["uses"]), step["uses"]
    check = next(s for s in steps if s.get("id") == "check")
    declared = set(action()["inputs"])
    used = {m for v in check["env"].values() for m in re.findall(r"inputs\.([\w-]+)", str(v))}
    assert used == declared - {"version", "python-version"}  # every check input reaches the step, via env
    assert check["env"]["GITHUB_TOKEN"] == "${{ inputs.token }}"
    assert check["run"] == '"$GITOPS_CHECK_COMMAND" ci github'


def test_gitlab_template_jobs_and_rules() -> None:
    config = template()
    assert not {"variables", "default", "stages", "workflow", "include"} & set(config), "no global keywords"
    hidden = config[".gitops-check"]
    ready = config["gitops-check"]
    assert ready["extends"] == ".gitops-check"
    assert ready["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    reports = Reports.under(Path("gitops-check-reports"))
    artifacts = hidden["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"] == str(reports.junit)
    assert artifacts["reports"]["dotenv"] == f"gitops-check-reports/{DOTENV}"
    assert "gitops-check-reports/" in artifacts["paths"]  # the Markdown reports, as an artifact
    assert artifacts["expose_as"]
    assert hidden["script"] == ['"$GITOPS_CHECK_COMMAND" ci gitlab']
    for line in hidden["before_script"] + hidden["script"]:
        assert "$[[" not in line
    variables = hidden["variables"]
    assert "GIT_DEPTH" not in variables  # a shallow clone is fine: preview fetches what it lacks
    assert all(isinstance(v, str) for v in variables.values())
    assert variables["GITOPS_CHECK_MODE"] in MODES and variables["GITOPS_CHECK_FAIL_ON"] in FAIL_ON


def test_component_maps_its_inputs_onto_the_template_job() -> None:
    header, body = component()
    inputs = header["spec"]["inputs"]
    assert body["include"] == [{"local": "/.gitlab-ci-template.yml"}]
    (job_name,) = [k for k in body if k != "include"]
    assert job_name in template(), "the component adjusts the template's job, it does not define another"
    job = body[job_name]
    assert set(job) <= {"stage", "variables", "image"}, "the job is defined once, in the template"
    text = yaml.safe_dump(job)
    assert set(re.findall(r"\$\[\[ inputs\.([\w-]+) \]\]", text)) == set(inputs)
    known = set(template()[".gitops-check"]["variables"])
    assert set(job["variables"]) <= known, "only variables the template job reads"
    assert inputs["mode"]["options"] == list(MODES) and inputs["fail-on"]["options"] == list(FAIL_ON)


def test_docs_name_the_jobs_inputs_and_rules() -> None:
    for name in action()["inputs"]:
        assert f"`{name}`" in DOCS, f"action input {name} is not documented in docs/ci.md"
    for name in action()["outputs"]:
        assert f"`{name}`" in DOCS, f"action output {name} is not documented"
    for name in template()[".gitops-check"]["variables"]:
        if name.startswith("GITOPS_CHECK_"):
            assert f"`{name}`" in DOCS, f"GitLab variable {name} is not documented"
    for text in ("`.gitops-check`", "`gitops-check`", '$CI_PIPELINE_SOURCE == "merge_request_event"',
                 "GITOPS_CHECK_GITLAB_TOKEN", "<!-- gitops-check:"):  # fmt: skip
        assert text in DOCS
    for name in component()[0]["spec"]["inputs"]:
        assert f"`{name}`" in DOCS
