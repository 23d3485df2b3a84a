"""``gitops-check preview`` from the command line: exit codes, reports, Markdown for review split into parts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops_check.cli import main
from tests.helpers.binaries import HELM, KUSTOMIZE, cached_binary
from tests.helpers.gitrepo import GitRepo
from tests.preview.repos import MIXED, make_repo

NO_CI = {"GITHUB_ACTIONS": "", "GITLAB_CI": "", "GITOPS_CHECK_CACHE_DIR": ""}


@dataclass
class Run:
    exit_code: int
    output: str


@pytest.fixture
def invoke(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    """``gitops-check preview --repo R ...`` through ``main`` (which maps errors to exit codes), outside any CI."""
    for name, value in NO_CI.items():
        monkeypatch.setenv(name, value)

    def run(repo: Path, tmp_path: Path, *args: str) -> Run:
        argv = ["preview", "--repo", str(repo), "--no-cache", "--work-dir", str(tmp_path / "work"), "--no-color",
                "--helm", str(cached_binary(HELM)), "--kustomize", str(cached_binary(KUSTOMIZE)), *args]  # fmt: skip
        capsys.readouterr()
        code = main(argv)
        out = capsys.readouterr()
        return Run(code, out.out + out.err)

    return run


def many_apps(tmp_path: Path, n: int = 14) -> GitRepo:
    """``n`` plain apps whose ConfigMap of 40 lines all change in the second commit."""
    apps = "".join(f"  - {{name: app-{i:02d}, path: apps/app-{i:02d}, namespace: n{i}}}\n" for i in range(n))

    def cm(i: int, value: str) -> str:
        data = "".join(f"  key{k:02d}: {value}-{k}\n" for k in range(40))
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n{data}"

    repo = make_repo(tmp_path / "many", {".gitops-check.yaml": "version: 1\napps:\n" + apps,
                                         **{f"apps/app-{i:02d}/cm.yaml": cm(i, "old") for i in range(n)}})  # fmt: skip
    repo.write({f"apps/app-{i:02d}/cm.yaml": cm(i, "new") for i in range(n)})
    repo.commit("change them all")
    return repo


def test_exit_codes(tmp_path: Path, invoke: Callable[..., Run]) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({"README.md": "more\n"})
    repo.commit("docs")
    assert invoke(repo.path, tmp_path, "--base", "HEAD~1").exit_code == 0
    repo.write({"values/web-a.yaml": "replicas: 3\n"})
    repo.commit("scale")
    assert invoke(repo.path, tmp_path, "--base", "HEAD~1").exit_code == 1
    repo.write({"charts/web/templates/broken.yaml": "{{ .Values.missing.deeper }}\n"})
    repo.commit("break the chart")
    broken = invoke(repo.path, tmp_path, "--base", "HEAD~1")
    assert broken.exit_code == 2, broken.output
    assert "web-a [not checked]" in broken.output and "nil pointer" in broken.output
    assert "Traceback" not in broken.output


def test_base_is_required_outside_ci(tmp_path: Path, invoke: Callable[..., Run]) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    result = invoke(repo.path, tmp_path)
    assert result.exit_code == 2 and "--base REV" in result.output


def test_markdown_for_review_and_numbered_parts(tmp_path: Path, invoke: Callable[..., Run]) -> None:
    repo = many_apps(tmp_path)
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "comment-9.md").write_text("left from an earlier run\n")

    result = invoke(repo.path, tmp_path, "--base", "HEAD~1", "--markdown-parts-dir", str(parts),
                    "--markdown-limit", "6000", "--markdown", str(tmp_path / "one.md"))  # fmt: skip

    assert result.exit_code == 1, result.output
    names = sorted(p.name for p in parts.iterdir())
    count = len(names) - 1
    assert count > 2 and names == sorted([*(f"comment-{n}.md" for n in range(1, count + 1)), "full.md"])
    full = (parts / "full.md").read_text()
    assert full.startswith("### gitops-check: changes in 14 of 14 apps\n\n"
                           "**14 apps changed: 0 added, 14 changed, 0 removed objects**\n")  # fmt: skip
    assert full.index("| App | Added | Changed | Removed |") < full.index("<details>")
    for n in range(1, count + 1):
        text = (parts / f"comment-{n}.md").read_text()
        assert len(text) <= 6000 and f"(part {n} of {count})" in text.splitlines()[0]
        assert text.count("<details>") + text.count("<details open>") == text.count("</details>")
        fences = [line for line in text.splitlines() if re.match(r"^ {0,3}```", line)]
        assert len(fences) % 2 == 0  # never cut inside a diff
    for i in range(14):
        assert f"<b>app-{i:02d}</b>" in full
        assert (
            sum(f"<b>app-{i:02d}</b>" in (parts / f"comment-{n}.md").read_text() for n in range(1, count + 1))
            == 1
        )
    assert len((tmp_path / "one.md").read_text()) <= 6000

    again = invoke(repo.path, tmp_path, "--base", "HEAD~1", "--markdown-parts-dir", str(parts))
    assert again.exit_code == 1
    assert sorted(p.name for p in parts.iterdir()) == ["comment-1.md", "full.md"]  # stale parts removed


def test_many_unchanged_apps_share_one_table_row(tmp_path: Path, invoke: Callable[..., Run]) -> None:
    repo = many_apps(tmp_path)
    repo.write({"apps/app-03/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-3\n"})
    repo.commit("one more")

    result = invoke(repo.path, tmp_path, "--base", "HEAD~1", "--markdown-full", str(tmp_path / "full.md"))

    full = (tmp_path / "full.md").read_text()
    assert "| app-03 | 0 | 1 | 0 | 0 | with changes |" in full
    assert "| _13 more apps_ | 0 | 0 | 0 | 0 | unchanged |" in full and result.exit_code == 1


def test_installed_console_script(tmp_path: Path) -> None:
    script = shutil.which("gitops-check", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the gitops-check console script is not installed in this environment")
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({"values/web-b.yaml": "replicas: 4\n"})
    repo.commit("scale web-b")
    env = {
        **os.environ,
        **NO_CI,
        "GITOPS_CHECK_CACHE_DIR": str(tmp_path / "cache"),
        "NO_COLOR": "1",
        "GITOPS_CHECK_HELM": str(cached_binary(HELM)),
        "GITOPS_CHECK_KUSTOMIZE": str(cached_binary(KUSTOMIZE)),
    }

    runs = [subprocess.run([script, "preview", "--base", "HEAD~1", "-v", "--json", str(tmp_path / "r.json")],
                           cwd=repo.path, env=env, capture_output=True, text=True, timeout=120) for _ in range(2)]  # fmt: skip

    for run in runs:
        assert run.returncode == 1, run.stdout + run.stderr
        assert "web-b [with changes]" in run.stdout and "spec.replicas: 2 -> 4" in run.stdout
        assert "1 app changed: 0 added, 1 changed, 0 removed objects" in run.stdout
    assert (
        "renders 2" in runs[0].stdout and "renders 0" in runs[1].stdout and "cache_hits 2" in runs[1].stdout
    )
    assert (tmp_path / "cache" / "salt").is_file()
