"""The kustomization tree an app reaches, walked once and replayed for every check before the build
(render.kustomize.Kustomizations): the same kustomizations in the same order, the same error first, every
reachable kustomization checked and its generated secrets registered."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest

from gitops_check import redact
from gitops_check.errors import InputError, RenderError
from gitops_check.model.app import App
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import KustomizeBuild, Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.remote.policy import NetworkPolicy
from gitops_check.render.app import render_app
from gitops_check.render.base import SharedWork, SourceContext, SymlinkGuard, ToolFinder, within
from gitops_check.render.kustomize import (
    Kustomizations,
    check_helm_charts,
    check_remote_bases,
    find_kustomization,
    register_generated_secrets,
)
from tests.helpers.gitrepo import make_workspace

SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  ports: [{{port: 80}}]\n"
REMOTE = "https://github.com/example/manifests//base?ref=v1.0.0"

# overlay -> a, b; both -> base (a diamond: base is reached twice).
DIAMOND = {
    "overlay/kustomization.yaml": "resources: [../a, ../b]\n",
    "a/kustomization.yaml": "resources: [../base]\nnamePrefix: a-\n",
    "b/kustomization.yaml": "resources: [../base]\nnamePrefix: b-\n",
    "base/kustomization.yaml": "resources: [svc.yaml]\n",
    "base/svc.yaml": SERVICE.format(name="web"),
}


def context(ws: Workspace, path: str) -> SourceContext:
    source = Source(path=path, tool=Tool.KUSTOMIZE)
    return SourceContext(
        app=App("web", (source,)), source=source, ws=ws, path=path, folder=Path(ws.root) / path,
        options=RenderOptions(), tools=ToolFinder(), symlinks=SymlinkGuard(), shared=SharedWork(),
    )  # fmt: skip


def tree_of(ws: Workspace, path: str) -> Kustomizations:
    ctx = context(ws, path)
    kfile = find_kustomization(ctx.folder)
    assert kfile is not None
    return Kustomizations(ctx, kfile)


def render(ws: Workspace, path: str, kustomize: Path | None = None) -> None:
    options = RenderOptions(kustomize_binary=str(kustomize) if kustomize else None)
    render_app(App("web", (Source(path=path, tool=Tool.AUTO),)), ws, options, tools=ToolFinder(options))


def test_each_kustomization_once_depth_first_and_the_replay_reads_nothing_again(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, DIAMOND)
    tree = tree_of(ws, "overlay")
    first = [(shown, data) for _, shown, data in tree]
    # The stack takes the last reference first, as the walk always did.
    assert [shown for shown, _ in first] == [
        "overlay/kustomization.yaml", "b/kustomization.yaml", "base/kustomization.yaml", "a/kustomization.yaml",
    ]  # fmt: skip
    (Path(ws.root) / "base/kustomization.yaml").write_text("resources: [\n")  # not read again
    assert [(shown, data) for _, shown, data in tree] == first


def test_the_walk_goes_only_as_far_as_the_first_check_asked(tmp_path: Path) -> None:
    """A refused reference stops the walk before a later kustomization is read: the refusal, not that file's
    error, is what the user sees (the broken file's own error: the next test)."""
    ws = make_workspace(tmp_path, {
        "broken/kustomization.yaml": "resources: [\n",
        "overlay/kustomization.yaml": f"resources: [../broken, '{REMOTE}']\n",
    })  # fmt: skip
    refusal = f"remote kustomize base {REMOTE} in overlay/kustomization.yaml: needs the network; allow with "
    with pytest.raises(RenderError) as e:
        render(ws, "overlay")
    assert e.value.message == refusal + "--allow-remote-bases"
    tree = tree_of(ws, "overlay")
    for _ in range(2):
        with pytest.raises(RenderError) as e:
            check_remote_bases(tree)
        assert e.value.message == refusal + "--allow-remote-bases"


def test_an_error_of_the_walk_is_raised_again_at_the_same_place(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {
        "overlay/kustomization.yaml": "resources: [../broken]\n", "broken/kustomization.yaml": "resources: [\n",
    })  # fmt: skip
    tree = tree_of(ws, "overlay")
    for _ in range(2):
        seen: list[str] = []
        with pytest.raises(InputError) as e:
            seen.extend(shown for _, shown, _ in tree)
        assert seen == ["overlay/kustomization.yaml"]
        assert e.value.file == "broken/kustomization.yaml"


def test_a_base_reached_twice_is_still_checked(tmp_path: Path) -> None:
    files = dict(DIAMOND)
    files["base/kustomization.yaml"] = "resources: [svc.yaml, ../../../elsewhere]\n"
    ws = make_workspace(tmp_path, files)
    with pytest.raises(RenderError) as e:
        render(ws, "overlay")
    assert e.value.message == (
        "resources entry ../../../elsewhere in base/kustomization.yaml is outside the repository; refusing it"
    )


def diamond_with_secrets(tmp_path: Path) -> tuple[Workspace, dict[str, str]]:
    """The diamond with a secretGenerator literal of its own in every kustomization (values by folder)."""
    values = {name: secrets.token_hex(12) for name in ("overlay", "a", "b", "base")}
    files = dict(DIAMOND)
    for name, value in values.items():
        generator = f"secretGenerator:\n- name: s-{name}\n  literals: [key={value}]\n"
        files[f"{name}/kustomization.yaml"] = files[f"{name}/kustomization.yaml"] + generator
    return make_workspace(tmp_path, files), values


def test_generated_secrets_are_registered_from_every_reachable_kustomization(
    tmp_path: Path, kustomize_bin: Path
) -> None:
    ws, values = diamond_with_secrets(tmp_path)
    render(ws, "overlay", kustomize_bin)
    for value in values.values():
        assert redact.scrub(f"x {value} y") != f"x {value} y"


def test_registering_after_the_check_replays_the_whole_walk(tmp_path: Path) -> None:
    ws, values = diamond_with_secrets(tmp_path)
    tree = tree_of(ws, "overlay")
    check_remote_bases(tree)
    register_generated_secrets(tree)
    for value in values.values():
        assert value not in redact.scrub(f"x {value} y")


@pytest.mark.parametrize(
    ("root", "path", "inside"),
    [
        ("/ws", "/ws", True),
        ("/ws", "/ws/a/b", True),
        ("/ws", "/wsx", False),
        ("/ws", "/", False),
        ("/", "/anything", True),
        ("/", "/", True),
    ],
)
def test_within_compares_real_paths_by_their_parts(root: str, path: str, inside: bool) -> None:
    assert within(root, path) is inside
    assert within(root, path) is (Path(path) == Path(root) or Path(root) in Path(path).parents)


def test_after_a_chart_is_fetched_the_walk_goes_on_from_the_folders_as_they_are(tmp_path: Path) -> None:
    """A chart fetched for helmCharts lands in the workspace, where a reference the walk had found no folder for
    may now lead: the helmCharts check walks on from there as it finds the folders then (its own walk always
    did), so the fetched chart's kustomization is checked too."""
    from tests.helpers.chartrepo import FileServer, index, make_chart, package

    chart = make_chart(tmp_path / "src", "demo", "1.0.0")
    (chart / "kustomization.yaml").write_text(
        "helmCharts:\n- name: inner\n  releaseName: --post-renderer=x\n"
    )
    package(chart, tmp_path / "site")
    with FileServer(tmp_path / "site").running() as server:
        index(tmp_path / "site", server.url)
        ws = make_workspace(tmp_path, {
            "app/kustomization.yaml": (
                "resources: [charts/demo-1.0.0/demo]\n"
                f"helmCharts:\n- name: demo\n  repo: {server.url}\n  version: 1.0.0\n"
            ),
        })  # fmt: skip
        ctx = context(ws, "app")
        ctx = replace(ctx, options=RenderOptions(
            network=NetworkPolicy(allow_hosts=("127.0.0.1",), cache_dir=str(tmp_path / "cache"))
        ))  # fmt: skip
        tree = Kustomizations(ctx, ctx.folder / "kustomization.yaml")
        check_remote_bases(tree)
        assert len(list(tree)) == 1  # no folder there yet
        resolved: list[str] = []
        with pytest.raises(
            RenderError, match="release name '--post-renderer=x' is not a valid Helm release name"
        ):
            check_helm_charts(tree, KustomizeBuild(enable_helm=True), resolved)
    assert (Path(ws.root) / "app/charts/demo-1.0.0/demo/kustomization.yaml").is_file()
    assert len(resolved) == 1
