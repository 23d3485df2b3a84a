"""The project file's ``render:`` section: defaults for rendering that command-line options override.

It is read from the checked commit (head, for a preview), so it is validated strictly, and it may only name
helm/kustomize builds, never a path or another program. The end-to-end tests render a real chart whose ConfigMap
shows what Helm was told: ``.Capabilities`` (kube version, API versions) and which Helm ran.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from gitops_check import proc
from gitops_check.cli import main
from gitops_check.cli.base import from_kwargs
from gitops_check.cli.renderopts import RenderArgs, build_render_options, render_options
from gitops_check.errors import ConfigError
from gitops_check.project.config import RenderOptions, parse_project, with_project_render
from tests.helpers.binaries import cached_binary
from tests.helpers.gitrepo import GitRepo

CHART = {
    "charts/caps/Chart.yaml": "apiVersion: v2\nname: caps\nversion: 0.1.0\n",
    "charts/caps/templates/cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata: {name: caps}
data:
  kube: "{{ .Capabilities.KubeVersion.Version }}"
  widgets: "{{ .Capabilities.APIVersions.Has "widgets.example.com/v1" }}"
  helm: "{{ regexFind "^v[0-9]+" .Capabilities.HelmVersion.Version }}"
""",
}
EMPTY_SNAPSHOT = '{"apiVersion": "v1", "kind": "List", "items": []}'


def project(render: dict[str, Any] | None = None, **extra: Any) -> str:
    app = {"name": "caps", "path": "charts/caps", "namespace": "caps"}
    doc: dict[str, Any] = {"version": 1, "apps": [app], **extra}
    if render is not None:
        doc["render"] = render
    return yaml.safe_dump(doc)


# ---------------------------------------------------------------------------------------------------------------
# Parsing and merging


def test_the_section_becomes_render_option_defaults() -> None:
    text = """\
version: 1
render:
  kubeVersion: "1.29.3"
  apiVersions: [widgets.example.com/v1, gadgets.example.com/v2]
  allowRemoteBases: true
  timeout: 1m30s
  workers: 8
  helm: helm-v3.22.0
  kustomize: kustomize
"""
    defaults = parse_project(text).render_defaults
    assert defaults == {
        "kube_version": "1.29.3",
        "api_versions": ("widgets.example.com/v1", "gadgets.example.com/v2"),
        "allow_remote_bases": True,
        "timeout": 90.0,
        "workers": 8,
        "helm_required": "helm-v3.22.0",  # a requirement on the job's binary, never a choice of one
        "kustomize_required": "kustomize",
    }
    assert parse_project("version: 1\nrender: {timeout: 45}\n").render_defaults == {"timeout": 45.0}
    assert parse_project("version: 1\n").render_defaults == {}


@pytest.mark.parametrize(
    ("render", "message"),
    [
        ("{kubeVersion: 1.30}", r"render.kubeVersion: write it as a string \('1.3'\)"),
        ("{apiVersions: [1]}", r"render.apiVersions\[0\]: write it as a string"),
        ("{workers: 0}", "render.workers: expected a whole number from 1 to 64, got 0"),
        ("{workers: many}", "render.workers: expected a whole number"),
        ("{timeout: 5 minutes}", "render.timeout: expected seconds or a duration such as 90s"),
        ("{timeout: 0s}", "render.timeout: must be more than 0"),
        ("{allowRemoteBases: sometimes}", "render.allowRemoteBases: expected true or false"),
        ("{helm: /usr/local/bin/helm}", "render.helm: '/usr/local/bin/helm' is not allowed here"),
        ("{helm: ./tools/helm}", "render.helm: './tools/helm' is not allowed here"),
        ("{helm: sh}", "render.helm: 'sh' is not allowed here: name the helm build this repository requires"),
        (
            "{kustomize: bash}",
            "render.kustomize: 'bash' is not allowed here.*the job chooses the binary with --kustomize",
        ),
        ("{kubeversion: '1.29'}", "render: unknown key 'kubeversion'"),
    ],
)
def test_bad_values_are_one_line_errors(render: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_project(f"version: 1\nrender: {render}\n")
    assert "\n" not in str(info.value)


def test_options_given_on_the_command_line_win() -> None:
    proj = parse_project("version: 1\nrender: {kubeVersion: '1.29.0', workers: 2, helm: helm4}\n")
    given = RenderOptions(kube_version="1.31.0", workers=4, explicit=frozenset({"kube_version"}))
    merged = with_project_render(given, proj)
    assert (merged.kube_version, merged.workers, merged.helm_required) == ("1.31.0", 2, "helm4")
    assert merged.helm_binary is None  # the project file never chooses the binary
    assert with_project_render(given, None) is given


def test_the_cli_knows_which_options_were_given(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[RenderOptions] = []

    @click.command()
    @render_options
    def command(**kw: Any) -> None:
        seen.append(build_render_options(from_kwargs(RenderArgs, kw)))

    runner = CliRunner()
    monkeypatch.delenv("GITOPS_CHECK_HELM", raising=False)
    monkeypatch.delenv("GITOPS_CHECK_KUSTOMIZE", raising=False)
    assert runner.invoke(command, []).exit_code == 0
    assert seen[-1].explicit == frozenset() and seen[-1].workers == 4
    args = ["--kube-version", "1.31.0", "--workers", "4", "--no-allow-remote-bases", "--api-versions", "a/v1"]
    assert runner.invoke(command, args).exit_code == 0
    assert seen[-1].explicit == {"kube_version", "workers", "allow_remote_bases", "api_versions"}
    assert runner.invoke(command, [], env={"GITOPS_CHECK_HELM": "helm4"}).exit_code == 0
    assert seen[-1].explicit == {"helm_binary"} and seen[-1].helm_binary == "helm4"


# ---------------------------------------------------------------------------------------------------------------
# End to end, with the real helm


@pytest.fixture
def helm_cache(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tool cache with both Helm builds (helm -> v3, helm4), and no other helm on PATH or in the environment."""
    cache = proc.tool_cache_dir()
    for name in ("helm", "helm4"):
        cached_binary(name, how="build them with `python scripts/tools.py ensure helm3 helm4`")
    monkeypatch.delenv("GITOPS_CHECK_HELM", raising=False)
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                               if not (Path(p) / "helm").exists()))  # fmt: skip
    return cache


def rendered_caps(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, repo: GitRepo, *args: str
) -> dict[str, str]:
    """The caps ConfigMap's data as ``gitops-check diff`` rendered it (against an empty snapshot)."""
    snapshot = tmp_path / "empty.json"
    snapshot.write_text(EMPTY_SNAPSHOT)
    report = tmp_path / "report.json"
    code = main(["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--assume-complete-snapshot",
                 "--json", str(report), "--no-color", *args])  # fmt: skip
    out = capsys.readouterr()
    assert code == 1, out.out + out.err
    [resource] = json.loads(report.read_text())["apps"][0]["resources"]
    lines = [line[1:].strip() for line in resource["diff"].splitlines() if line.startswith("+  ")]
    return dict(line.split(": ", 1) for line in lines if ": " in line)


@pytest.fixture
def chart_repo(tmp_path: Path) -> Callable[[str], GitRepo]:
    def make(project_text: str) -> GitRepo:
        repo = GitRepo.init(tmp_path / "repo")
        repo.write({**CHART, ".gitops-check.yaml": project_text})
        repo.commit("chart")
        return repo

    return make


def test_diff_renders_with_the_section_and_options_override_it(
    helm_cache: Path, chart_repo: Callable[[str], GitRepo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = chart_repo(
        project({"kubeVersion": "1.29.0", "apiVersions": ["widgets.example.com/v1"], "helm": "helm4"})
    )
    data = rendered_caps(capsys, tmp_path, repo, "--helm", "helm4")
    assert data == {"kube": "v1.29.0", "widgets": "'true'", "helm": "v4"}
    any_helm = chart_repo(project({"kubeVersion": "1.29.0", "apiVersions": ["widgets.example.com/v1"]}))
    data = rendered_caps(capsys, tmp_path, any_helm, "--kube-version", "1.31.2", "--helm", "helm")
    assert data == {"kube": "v1.31.2", "widgets": "'true'", "helm": "v3"}


def test_the_section_requires_a_build_it_cannot_choose(
    helm_cache: Path, chart_repo: Callable[[str], GitRepo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``render.helm: helm4`` while the job's helm is 3.x: that app is not checked, and says what to pass."""
    repo = chart_repo(project({"helm": "helm4"}))
    snapshot = tmp_path / "empty.json"
    snapshot.write_text(EMPTY_SNAPSHOT)
    code = main(["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--no-color"])
    out = capsys.readouterr().out
    assert code == 2
    assert "the project file requires helm build 'helm4' (render.helm), but this job's helm is v3" in out


def test_the_environment_variable_overrides_the_section(
    helm_cache: Path,
    chart_repo: Callable[[str], GitRepo],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = chart_repo(project({"helm": "helm4"}))
    monkeypatch.setenv("GITOPS_CHECK_HELM", str(helm_cache / "helm4"))
    assert rendered_caps(capsys, tmp_path, repo)["helm"] == "v4"


def test_a_bad_section_is_a_config_error_not_a_traceback(
    chart_repo: Callable[[str], GitRepo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = chart_repo(project({"helm": "/bin/sh"}))
    snapshot = tmp_path / "empty.json"
    snapshot.write_text(EMPTY_SNAPSHOT)
    code = main(["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--no-color"])
    out = capsys.readouterr()
    assert code == 2
    assert "render.helm: '/bin/sh' is not allowed here" in out.out + out.err
    assert "Traceback" not in out.out + out.err


def test_preview_renders_both_commits_with_the_head_commits_section(
    helm_cache: Path, chart_repo: Callable[[str], GitRepo], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The section describes the cluster gitops-check renders for (no agent reads it): changing it alone changes
    no app, and a real change is rendered on both sides with it."""
    repo = chart_repo(project())
    base = repo.git("rev-parse", "HEAD").strip()
    repo.write({".gitops-check.yaml": project({"kubeVersion": "1.29.0", "helm": "helm4"})})
    only_settings = repo.commit("render settings")
    argv = [
        "preview",
        "--repo",
        str(repo.path),
        "--base",
        base,
        "--no-cache",
        "--no-color",
        "--helm",
        "helm4",
    ]
    report = tmp_path / "preview.json"
    assert main([*argv, "--head", only_settings, "--json", str(report)]) == 0, capsys.readouterr().out
    assert json.loads(report.read_text())["summary"]["apps"]["drifted"] == 0

    repo.write(
        {"charts/caps/templates/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n"}
    )
    head = repo.commit("one more object")
    assert main([*argv, "--head", head, "--json", str(report)]) == 1
    [app] = json.loads(report.read_text())["apps"]
    changed = [(r["id"], r["status"]) for r in app["resources"] if r["status"] != "unchanged"]
    assert changed == [
        ("ConfigMap/caps/extra", "added")
    ]  # the caps ConfigMap: the same Capabilities on both sides
    capsys.readouterr()
