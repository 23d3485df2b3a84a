"""Issue 14 item 9: the comment's hygiene findings after the table, collapsed and grouped by rule; file locations
as links to the file at the commit checked (GitHub and GitLab URLs from the CI environment), only for files of the
repository checked."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gitops_check.cli import main
from gitops_check.model.app import App
from gitops_check.model.result import AppResult, CheckedSource, CheckResult, Finding
from gitops_check.model.source import Source
from gitops_check.report.links import FileLinks, file_links
from gitops_check.report.markdown import render_markdown, render_markdown_parts
from tests.helpers.gitrepo import GitRepo
from tests.publish.repos import configmap, secret, write_snapshot

SHA = "a" * 40
GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "o/r"}
GITLAB = {"GITLAB_CI": "true", "CI_PROJECT_URL": "https://gitlab.example/group/sub/r"}
URLS = frozenset({"github.example/o/r", "gitlab.example/group/sub/r"})


def test_link_shapes_per_forge() -> None:
    source = CheckedSource(SHA, "deploy/prod", URLS)
    github = file_links(source, GITHUB)
    assert github is not None
    assert (
        github.url("apps/web/cm.yaml", 7)
        == f"https://github.example/o/r/blob/{SHA}/deploy/prod/apps/web/cm.yaml#L7"
    )
    gitlab = file_links(source, GITLAB)
    assert gitlab is not None
    assert (
        gitlab.url("apps/a b.yaml")
        == f"https://gitlab.example/group/sub/r/-/blob/{SHA}/deploy/prod/apps/a%20b.yaml"
    )


@pytest.mark.parametrize(
    ("source", "env"),
    [
        (CheckedSource(SHA, "", URLS), {}),  # not in CI
        (None, GITHUB),  # a working tree: no commit to link
        (CheckedSource(SHA, "", frozenset({"github.example/o/other"})), GITHUB),  # another repository
        (CheckedSource(SHA, "", URLS), {**GITHUB, "GITHUB_ACTIONS": ""}),
    ],
)
def test_no_links_where_they_would_point_elsewhere(source: CheckedSource | None, env: dict[str, str]) -> None:
    assert file_links(source, env) is None


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.yaml", "a/../../b", "", "."])
def test_paths_outside_the_repository_are_not_linked(path: str) -> None:
    assert FileLinks("https://github.example/o/r/blob/x/").url(path, 1) is None


def _many_findings(n: int) -> CheckResult:
    apps = [AppResult(App(f"app-{i:03}", (Source(f"apps/{i:03}"),))) for i in range(n)]
    remote = AppResult(App("remote", (Source("charts/x", repo="github.example/o/charts"),)))
    findings = [
        Finding(
            "plain-secret",
            f"app-{i:03}",
            f"Secret shop/s{i} has 1 value in plain text",
            f"apps/{i:03}/s.yaml",
            4,
        )
        for i in range(n)
    ]
    findings.append(
        Finding("plain-secret", "remote", "Secret shop/r has 1 value in plain text", "templates/s.yaml", 2)
    )
    findings.append(
        Finding("prune-in-production", "app-000", "app app-000 prunes in production", "apps/000.yaml", 3)
    )
    result = CheckResult(apps=[*apps, remote], target="t", against="a", findings=findings)
    result.source = CheckedSource(SHA, "", URLS)
    return result


def test_360_findings_stay_below_the_table_collapsed_and_grouped() -> None:
    result = _many_findings(360)
    links = file_links(result.source, GITHUB)
    for text in [
        render_markdown(result, links=links),
        *render_markdown_parts(result, limit=20000, links=links)[:1],
    ]:
        assert text.index("| App |") < text.index(
            "<details><summary><b>Hygiene</b>: 362 hygiene findings in 361 apps"
        )
        assert "**plain-secret** (361)" in text and "**prune-in-production** (1)" in text
        assert "- 341 more in the full report" in text  # 20 shown of 361
    text = render_markdown(result, links=links)
    assert f"([`apps/000/s.yaml:4`](https://github.example/o/r/blob/{SHA}/apps/000/s.yaml#L4))" in text


def test_files_of_other_repositories_are_not_linked() -> None:
    result = _many_findings(1)
    text = render_markdown(result, links=file_links(result.source, GITHUB))
    assert "- `remote`: Secret shop/r has 1 value in plain text (`templates/s.yaml:2`)" in text


def _repo(root: Path, remote: str) -> GitRepo:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
              "data": {"password": base64.b64encode(b"not-shown-anywhere").decode()}}  # fmt: skip
    repo = GitRepo.init(root)
    project = {"version": 1, "apps": [{"name": "web", "path": "apps/web", "namespace": "shop"}]}
    repo.write({
        "deploy/.gitops-check.yaml": json.dumps(project),
        "deploy/apps/web/cm.yaml": json.dumps(configmap("web-config", {"mode": "fast"})),
        "deploy/apps/web/secret.yaml": json.dumps(secret),
    })  # fmt: skip
    repo.commit("apps")
    repo.git("remote", "add", "origin", remote)
    return repo


@pytest.mark.parametrize(
    ("env", "remote", "blob"),
    [
        (GITHUB, "https://github.example/o/r.git", "https://github.example/o/r/blob/{sha}/deploy/"),
        (GITLAB, "https://gitlab-ci-token:xyz@gitlab.example/group/sub/r.git",
         "https://gitlab.example/group/sub/r/-/blob/{sha}/deploy/"),
    ],
)  # fmt: skip
def test_the_report_links_files_at_the_commit_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], remote: str, blob: str
) -> None:
    repo = _repo(tmp_path / "repo", remote)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    snapshot = write_snapshot(
        tmp_path / "s.json", [configmap("web-config", {"mode": "slow"}), secret("other")]
    )
    md = tmp_path / "r.md"
    args = ["diff", f"--repo={repo.path / 'deploy'}", f"--snapshot={snapshot}", f"--markdown-full={md}"]
    assert main(args) == 1
    base = blob.format(sha=repo.head())
    text = md.read_text()
    assert f"[`apps/web/cm.yaml:1`]({base}apps/web/cm.yaml#L1)" in text  # the drifted ConfigMap
    assert f"[`apps/web/secret.yaml:1`]({base}apps/web/secret.yaml#L1)" in text  # its plain-secret finding
    assert "not-shown-anywhere" not in text

    assert main([*args[:-1], "--working-tree", f"--markdown-full={md}"]) == 1
    assert "/blob/" not in md.read_text()  # a working tree has no commit to link
