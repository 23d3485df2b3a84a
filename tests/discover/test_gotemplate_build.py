"""The goTemplate helper built on first use from the sources inside the package (a pip install has no checkout).

Each test gets an empty tool cache (GITOPS_CHECK_BIN_CACHE) and a PATH without the helper. The build test runs
the real ``go`` (GOTOOLCHAIN=local) with this machine's module and build caches: about half a second warm,
20-60 s with a cold build cache. A fake ``go`` stands in where the test is about a failing build.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from gitops_check.discover import gotemplate, gotemplate_build
from gitops_check.discover.dispatch import DiscoverOptions, discover
from gitops_check.discover.gotemplate import Syntax, Templater
from tests.helpers.binaries import missing
from tests.helpers.gitrepo import make_workspace


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin-cache"
    monkeypatch.setenv("GITOPS_CHECK_BIN_CACHE", str(folder))
    monkeypatch.delenv(gotemplate.HELPER_ENV, raising=False)
    return folder


def path_with(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    monkeypatch.setenv("PATH", os.pathsep.join(str(f) for f in folders))


def real_go(tmp_path: Path) -> Path:
    """A folder holding only ``go`` (the real one, through a script noting each ``go build`` in ``go-builds.log``
    beside the folder), so PATH finds go and nothing else of ours."""
    go = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if os.access(p, os.X_OK)), None
    )
    if go is None:
        missing("go not found: it builds gitops-check-gotemplate")
    folder = tmp_path / "go-bin"
    folder.mkdir()
    log = tmp_path / "go-builds.log"
    (folder / "go").write_text(f'#!/bin/sh\n[ "$1" = build ] && echo build >> {log}\nexec {go} "$@"\n')
    (folder / "go").chmod(0o755)
    return folder


def go_builds(tmp_path: Path) -> int:
    log = tmp_path / "go-builds.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def fake_go(tmp_path: Path, script: str) -> Path:
    folder = tmp_path / "fake-go"
    folder.mkdir()
    go = folder / "go"
    go.write_text("#!/bin/sh\n" + script)
    go.chmod(go.stat().st_mode | stat.S_IXUSR)
    return folder


def test_the_source_version_is_the_one_scripts_tools_builds(cache: Path) -> None:
    from tests.helpers.cluster import _tools as tools  # scripts/tools.py, as the test harness loads it

    assert tools.binary_path("gotemplate") == gotemplate_build.cached_path()
    assert gotemplate_build.cached_path().parent == cache
    assert {p.name for p in gotemplate_build.SOURCE_DIR.iterdir()} >= {"go.mod", "go.sum", "main.go"}


@pytest.mark.slow
def test_built_once_on_first_use_then_reused(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path_with(monkeypatch, real_go(tmp_path))
    results: list[Any] = []

    def render() -> None:  # several renders at once, as parallel ApplicationSets do
        results.append(
            Templater(Syntax(True)).render("{{ .path.basename | upper }}", {"path": {"basename": "web"}})
        )

    threads = [threading.Thread(target=render) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["WEB"] * 4
    assert go_builds(tmp_path) == 1
    built = gotemplate_build.cached_path()
    assert built.is_file() and built.name == f"gitops-check-gotemplate-{gotemplate_build.source_version()}"
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(".build")) == []  # no leftovers
    mtime = built.stat().st_mtime_ns
    assert Templater(Syntax(True)).render("{{ .n }}", {"n": 3}) == "3"
    assert go_builds(tmp_path) == 1 and built.stat().st_mtime_ns == mtime


def test_without_go_the_message_says_what_to_do(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path_with(monkeypatch, tmp_path)
    with pytest.raises(gotemplate.HelperMissing) as info:
        Templater(Syntax(True)).render("{{ .a }}", {"a": "1"})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "goTemplate needs gitops-check-gotemplate, which is built from gitops-check's Go sources"
    )
    assert "install Go 1.22+ and put `go` on PATH, or point GITOPS_CHECK_GOTEMPLATE at a build" in message


def test_a_failed_build_is_one_line_and_not_retried(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    path_with(
        monkeypatch,
        fake_go(tmp_path, f'echo run >> {calls}\necho "go: cannot find main module" >&2\nexit 1\n'),
    )
    for _ in range(2):
        with pytest.raises(gotemplate.HelperMissing) as info:
            Templater(Syntax(True)).render("{{ .a }}", {"a": "1"})
        message = str(info.value)
        assert "\n" not in message
        assert "with " in message and "failed: go: cannot find main module (full output: " in message
    assert calls.read_text() == "run\n"
    assert not gotemplate_build.cached_path().exists()


def test_applicationsets_needing_it_are_not_checked(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    appset = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: envs, namespace: argocd}
spec:
  goTemplate: true
  generators: [{list: {elements: [{env: dev}]}}]
  template:
    metadata: {name: 'web-{{ .env }}'}
    spec:
      project: default
      source: {repoURL: https://git.example.com/x.git, path: web, targetRevision: HEAD}
      destination: {server: https://kubernetes.default.svc, namespace: '{{ .env }}'}
"""
    ws = make_workspace(tmp_path / "repo", {"appsets/envs.yaml": appset})
    path_with(monkeypatch, tmp_path)  # no go, no helper
    found = discover(ws, None, DiscoverOptions(this_repo_urls=frozenset({"git.example.com/x"})))
    assert found.apps == []
    [error] = found.errors
    assert (error.app, error.file, error.stage) == ("envs", "appsets/envs.yaml", "discover")
    assert error.message.startswith("ApplicationSet not checked: goTemplate needs gitops-check-gotemplate")
