"""render.base: tool detection, path safety, dispatch, multi-source apps and ToolFinder."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gitops_check.errors import RenderError, ToolMissingError
from gitops_check.model.app import App
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.source import Source, Tool
from gitops_check.pipeline.rendering import render_stream
from gitops_check.project.config import RenderOptions
from gitops_check.remote.policy import NetworkPolicy
from gitops_check.render.app import render_app
from gitops_check.render.base import (
    RenderOutput,
    SharedWork,
    SourceContext,
    SymlinkGuard,
    ToolFinder,
    detect_tool,
    resolve_inside,
)
from gitops_check.render.table import BUILTIN_RENDERERS
from tests.helpers.gitrepo import make_workspace

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def app(path: str, **source: Any) -> App:
    return App(name="demo", sources=(Source(path=path, **source),))


# ----------------------------------------------------------------------------------------------- tool detection


@pytest.mark.parametrize(
    ("files", "tool"),
    [
        (["Chart.yaml", "values.yaml"], Tool.HELM),
        (["kustomization.yaml"], Tool.KUSTOMIZE),
        (["kustomization.yml"], Tool.KUSTOMIZE),
        (["Kustomization"], Tool.KUSTOMIZE),
        (["Chart.yaml", "kustomization.yaml"], Tool.KUSTOMIZE),  # kustomize wins
        (["Chart.yaml", "Kustomization"], Tool.KUSTOMIZE),
        (["cm.yaml", "README.md"], Tool.DIRECTORY),
        ([], Tool.DIRECTORY),
        (["myChart.yaml"], Tool.HELM),  # Argo CD matches the suffix
    ],
)
def test_detect_tool_like_argo_cd(tmp_path: Path, files: list[str], tool: Tool) -> None:
    for name in files:
        (tmp_path / name).write_text("x: 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Chart.yaml").write_text("x: 1\n")  # only the folder itself counts
    assert detect_tool(tmp_path) is tool


# ----------------------------------------------------------------------------------------------- path safety


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text(CM.format(name="secret"))
    return make_workspace(
        tmp_path,
        {"apps/web/cm.yaml": CM.format(name="web"), "base/cm.yaml": CM.format(name="base")},
    )


@pytest.mark.parametrize("rel", ["..", "../outside", "apps/../../outside", "apps/web/../../.."])
def test_resolve_inside_refuses_dotdot(ws: Workspace, rel: str) -> None:
    with pytest.raises(RenderError, match=r"points outside the repository \(\.\.\)"):
        resolve_inside(ws.root, rel, "path")


def test_resolve_inside_refuses_absolute(ws: Workspace) -> None:
    with pytest.raises(RenderError, match="path /etc is absolute"):
        resolve_inside(ws.root, "/etc", "path")


def test_resolve_inside_accepts_paths_inside(ws: Workspace) -> None:
    assert resolve_inside(ws.root, "apps/web", "path") == (ws.root / "apps/web").resolve()
    assert resolve_inside(ws.root, "apps/../base", "path") == (ws.root / "base").resolve()
    assert resolve_inside(ws.root, ".", "path") == ws.root.resolve()
    assert resolve_inside(ws.root, "apps/missing", "path") == (ws.root / "apps/missing").resolve()


def test_resolve_inside_refuses_symlink_escape(ws: Workspace, tmp_path: Path) -> None:
    (ws.root / "apps/link").symlink_to(tmp_path / "outside")
    with pytest.raises(
        RenderError, match=re.escape("value file apps/link/secret.yaml resolves outside the repository")
    ):
        resolve_inside(ws.root, "apps/link/secret.yaml", "value file")


def test_missing_app_path(ws: Workspace) -> None:
    with pytest.raises(RenderError) as e:
        render_app(app("apps/x"), ws, RenderOptions())
    assert e.value.message == f"path apps/x does not exist at {ws.label}"
    assert e.value.app == "demo"


def test_app_path_escaping_with_dotdot(ws: Workspace) -> None:
    with pytest.raises(RenderError, match=r"path \.\./outside points outside the repository"):
        render_app(app("../outside"), ws, RenderOptions())


@pytest.mark.parametrize(
    ("link", "target", "shown"),
    [
        ("apps/web/secret.yaml", "../../../outside/secret.yaml", "apps/web/secret.yaml"),  # file, relative
        ("apps/web/passwd.yaml", "/etc/passwd", "apps/web/passwd.yaml"),  # file, absolute
        ("apps/web/data", "../../../outside", "apps/web/data"),  # folder
    ],
)
def test_symlink_escapes_are_refused(tmp_path: Path, link: str, target: str, shown: str) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text(CM.format(name="secret"))
    ws = make_workspace(tmp_path, {"apps/web/cm.yaml": CM.format(name="web")}, symlinks={link: target})
    with pytest.raises(RenderError, match=f"symlink {shown} points"):
        render_app(app("apps/web", tool=Tool.DIRECTORY), ws, RenderOptions())


def test_escaping_symlink_elsewhere_fails_only_its_own_app_and_is_removed(tmp_path: Path) -> None:
    """Argo CD fails every app of the repository; gitops-check fails the app holding it, and nobody can follow it."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text(CM.format(name="secret"))
    ws = make_workspace(
        tmp_path, {"apps/web/cm.yaml": CM.format(name="web")}, symlinks={"elsewhere/link": "../../outside"}
    )
    guard = SymlinkGuard()  # one per run: it remembers what it removed
    out = render_app(app("apps/web", tool=Tool.DIRECTORY), ws, RenderOptions(), symlinks=guard)
    assert [o.body["metadata"]["name"] for o in out.objects] == ["web"]
    assert not (ws.root / "elsewhere" / "link").exists()
    with pytest.raises(RenderError, match="symlink elsewhere/link points outside"):
        render_app(app("elsewhere", tool=Tool.DIRECTORY), ws, RenderOptions(), symlinks=guard)
    # Every app of a run is told, whichever thread renders it (render_stream shares one guard).
    apps = [app("apps/web", tool=Tool.DIRECTORY), app("elsewhere", tool=Tool.DIRECTORY)]
    rendered = list(render_stream(apps, ws, RenderOptions(), symlinks=guard))
    assert rendered[0].error is None
    assert (
        rendered[1].error is not None and "symlink elsewhere/link points outside" in rendered[1].error.message
    )


def test_app_folder_that_is_an_escaping_symlink(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    ws = make_workspace(tmp_path, {"a.yaml": CM.format(name="a")}, symlinks={"apps": "../outside"})
    with pytest.raises(RenderError, match="symlink apps points outside the repository"):
        render_app(app("apps"), ws, RenderOptions())


def test_symlinks_inside_the_repository_are_fine(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path,
        {"base/cm.yaml": CM.format(name="base"), "apps/web/own.yaml": CM.format(name="own")},
        symlinks={"apps/web/shared.yaml": "../../base/cm.yaml", "apps/linked": "web"},
    )
    out = render_app(app("apps/linked"), ws, RenderOptions())
    assert sorted(o.body["metadata"]["name"] for o in out.objects) == ["base", "own"]


# ----------------------------------------------------------------------------------------------- sources


def test_source_from_unmapped_repository(ws: Workspace) -> None:
    with pytest.raises(RenderError) as e:
        render_app(app("apps/web", repo="https://git.example.com/other.git"), ws, RenderOptions())
    assert e.value.message == (
        "source repository https://git.example.com/other.git is not available; if https://git.example.com/other.git "
        "is the repository being checked, pass --repo-url https://git.example.com/other.git; otherwise map a local "
        "clone with --repo-map https://git.example.com/other.git=PATH"
    )


def test_source_from_mapped_repository(ws: Workspace, tmp_path: Path) -> None:
    other = make_workspace(tmp_path, {"shared/cm.yaml": CM.format(name="shared")}, name="other")
    url = "https://git.example.com/other.git"
    multi = App(name="demo", sources=(Source(path="apps/web"), Source(path="shared", repo=url)))
    out = render_app(multi, ws, RenderOptions(), repos={url: other})
    assert [(o.body["metadata"]["name"], o.origin.file) for o in out.objects] == [
        ("web", "apps/web/cm.yaml"),
        ("shared", "shared/cm.yaml"),
    ]


def test_ref_only_source_renders_nothing(ws: Workspace) -> None:
    multi = App(name="demo", sources=(Source(path="", ref="values"), Source(path="apps/web")))
    assert len(render_app(multi, ws, RenderOptions()).objects) == 1


def test_chart_from_helm_repository_offline_is_not_checked(ws: Workspace) -> None:
    remote = app("", chart="redis", repo="https://charts.example.com", tool=Tool.HELM)
    with pytest.raises(RenderError, match=r"not checked: https://charts.example.com/index.yaml: .*offline"):
        render_app(remote, ws, RenderOptions(network=NetworkPolicy(offline=True)))


def test_dispatch_table_is_handed_to_render_app(ws: Workspace) -> None:
    seen: list[SourceContext] = []

    def fake(ctx: SourceContext) -> RenderOutput:
        seen.append(ctx)
        return RenderOutput([RawObject({"kind": "X"}, Origin(ctx.app.name, ctx.path))], ["from fake"])

    out = render_app(
        app("apps/web/"), ws, RenderOptions(), renderers={**BUILTIN_RENDERERS, "directory": fake}
    )
    assert out.warnings == ["from fake"]
    assert seen[0].path == "apps/web"
    assert seen[0].folder == (ws.root / "apps/web").resolve()
    # The built-in table is untouched by that run, and cannot be changed for the process.
    assert BUILTIN_RENDERERS["directory"] is not fake
    with pytest.raises(TypeError):
        BUILTIN_RENDERERS["directory"] = fake  # type: ignore[index]
    with pytest.raises(RenderError, match="no renderer for tool 'directory' \\(known: helm\\)"):
        render_app(app("apps/web/"), ws, RenderOptions(), renderers={"helm": fake})


# ----------------------------------------------------------------------------------------------- ToolFinder


def test_tool_missing_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("GITOPS_CHECK_BIN_CACHE", str(tmp_path / "nothing"))
    monkeypatch.delenv("GITOPS_CHECK_HELM", raising=False)
    with pytest.raises(ToolMissingError) as e:
        ToolFinder().require("helm")
    assert (
        str(e.value)
        == "helm not found: install Helm 3 or 4, put it on PATH or pass --helm / GITOPS_CHECK_HELM"
    )


def test_tool_lookup_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fake_binary(folder: Path) -> Path:
        folder.mkdir()
        path = folder / "helm"
        path.write_text("#!/bin/sh\necho v3.99.1+gdeadbeef\n")
        path.chmod(0o755)
        return path

    on_path, cache, env, option = (fake_binary(tmp_path / n) for n in ("path", "cache", "env", "option"))
    monkeypatch.setenv("GITOPS_CHECK_BIN_CACHE", str(cache.parent))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("GITOPS_CHECK_HELM", raising=False)
    assert ToolFinder().require("helm").path == str(cache)
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert ToolFinder().require("helm").path == str(on_path)
    monkeypatch.setenv("GITOPS_CHECK_HELM", str(env))
    assert ToolFinder().require("helm").path == str(env)
    assert ToolFinder(RenderOptions(helm_binary=str(option))).require("helm").path == str(option)


def test_tool_versions_are_cached_and_thread_safe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    helm = tmp_path / "helm"
    helm.write_text("#!/bin/sh\necho v4.3.1+g1234\n")
    helm.chmod(0o755)
    calls: list[list[str]] = []

    def runner(argv: list[str], **kwargs: Any) -> str:
        calls.append(argv)
        return "v4.3.1+g1234\n"

    finder = ToolFinder(RenderOptions(helm_binary=str(helm)), runner=runner)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(finder.version("helm"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {"v4.3.1"}
    assert finder.major("helm") == 4
    assert 1 <= len(calls) <= 8  # threads may race on the first call, then it is cached
    before = len(calls)
    finder.version("helm")
    assert len(calls) == before


def test_real_tool_versions(helm_bin: Path, kustomize_bin: Path) -> None:
    finder = ToolFinder(RenderOptions(helm_binary=str(helm_bin), kustomize_binary=str(kustomize_bin)))
    assert finder.version("helm") == helm_bin.name.removeprefix("helm-")
    assert finder.version("kustomize") == "v5.8.1"


def test_shared_work_runs_once_per_key_and_forgets_failures() -> None:
    """A chart folder's dependencies: prepared by one of the run's threads, the others get its result; a failed
    attempt is not remembered, so the next app tries again."""
    shared = SharedWork()
    calls: list[str] = []
    started = threading.Barrier(4)

    def work(key: str) -> tuple[str, ...]:
        calls.append(key)
        time.sleep(0.05)  # the other threads arrive while it runs
        return (f"fetched for {key}",)

    def app(key: str) -> tuple[str, ...]:
        started.wait()
        return shared.once(("deps", key), lambda: work(key))

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(app, ["a", "a", "a", "b"]))
    assert results == [("fetched for a",)] * 3 + [("fetched for b",)]
    assert sorted(calls) == ["a", "b"]

    def failing() -> tuple[str, ...]:
        raise RenderError("no network")

    with pytest.raises(RenderError):
        shared.once(("deps", "c"), failing)
    assert shared.once(("deps", "c"), lambda: ("second try",)) == ("second try",)
    assert SharedWork().once(("deps", "a"), lambda: ("another run",)) == ("another run",)
