"""Issue 14 item 9: a Kustomize object points at the file holding it (a base's file too), from kustomize's own
origin annotations, which never reach the compared object; where kustomize cannot say, the app folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_check.errors import RenderError
from gitops_check.model.app import App
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import KustomizeOptions, Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.render import kustomize
from gitops_check.render.app import render_app
from gitops_check.render.base import RenderOutput, ToolFinder
from tests.helpers.binaries import kustomize_without_build_metadata
from tests.helpers.gitrepo import make_workspace

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata: {{a: b}}\n"
FILES = {
    "base/kustomization.yaml": "resources: [one.yaml, more]\nconfigMapGenerator:\n- {name: gen, literals: [k=v]}\n",
    "base/one.yaml": CM.format(name="one"),
    "base/more/kustomization.yaml": "resources: [two.yaml]\n",
    "base/more/two.yaml": CM.format(name="two") + "---\n" + CM.format(name="three"),
    "overlay/kustomization.yaml": "resources: [../base, own.yaml]\nnamePrefix: p-\n",
    "overlay/own.yaml": CM.format(name="own"),
    "asked/kustomization.yaml": "resources: [../base]\nbuildMetadata: [originAnnotations]\n",
    "broken/kustomization.yaml": "resources: [missing.yaml]\n",
    # a field whose effect on names gitops-check does not compute: kustomize is asked for the origins
    "sorted/kustomization.yaml": "resources: [../overlay]\nsortOptions: {order: legacy}\n",
}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path, FILES)


def render(
    ws: Workspace, path: str, binary: Path, tools: ToolFinder | None = None, **overrides: object
) -> RenderOutput:
    """One render; ``tools``: the run's finder, which remembers a kustomize that cannot give origins."""
    source = Source(path=path, tool=Tool.AUTO, kustomize=KustomizeOptions(**overrides))  # type: ignore[arg-type]
    options = RenderOptions(kustomize_binary=str(binary))
    return render_app(App("app", (source,)), ws, options, tools=tools or ToolFinder(options))


def origins(out: RenderOutput) -> dict[str, str | None]:
    return {o.body["metadata"]["name"]: o.origin.file for o in out.objects}


def test_each_object_points_at_its_file(ws: Workspace, kustomize_bin: Path) -> None:
    out = render(ws, "overlay", kustomize_bin)
    found = origins(out)
    generated = next(name for name in found if name.startswith("p-gen-"))
    assert found == {
        "p-one": "base/one.yaml",
        "p-two": "base/more/two.yaml",
        "p-three": "base/more/two.yaml",
        "p-own": "overlay/own.yaml",
        generated: "overlay",  # made by a generator: no file holds it
    }
    assert not [o for o in out.objects if "config.kubernetes.io/origin" in str(o.body)]
    assert all(
        "annotations" not in o.body["metadata"] for o in out.objects
    )  # no empty annotations left behind


def test_objects_are_what_the_plain_build_gives(ws: Workspace, kustomize_bin: Path) -> None:
    traced = render(ws, "sorted", kustomize_bin)
    assert "base/one.yaml" in {o.origin.file for o in traced.objects}  # from kustomize's annotations
    tools = ToolFinder(RenderOptions(kustomize_binary=str(kustomize_bin)))
    tools.note_lacking(str(kustomize_bin), kustomize._ORIGINS_FEATURE)  # the plain build
    plain = render(ws, "sorted", kustomize_bin, tools)
    assert [o.body for o in traced.objects] == [o.body for o in plain.objects]
    assert {o.origin.file for o in plain.objects} == {"sorted"}


def test_an_edited_copy_stands_for_the_app_folder(ws: Workspace, kustomize_bin: Path) -> None:
    """Argo CD's kustomize overrides build an edited sibling copy: origins still name the repository's files."""
    out = render(ws, "overlay", kustomize_bin, name_prefix="q-")
    assert origins(out)["q-own"] == "overlay/own.yaml" and origins(out)["q-one"] == "base/one.yaml"


def test_a_kustomization_asking_for_origins_keeps_them(ws: Workspace, kustomize_bin: Path) -> None:
    out = render(ws, "asked", kustomize_bin)
    assert all("config.kubernetes.io/origin" in o.body["metadata"]["annotations"] for o in out.objects)
    assert {o.origin.file for o in out.objects} == {"asked"}


def test_a_broken_build_reports_the_plain_builds_error(ws: Workspace, kustomize_bin: Path) -> None:
    with pytest.raises(RenderError) as e:
        render(ws, "broken", kustomize_bin)
    assert "missing.yaml" in e.value.message and "gitops-check-origin" not in e.value.message


def test_a_kustomize_without_build_metadata_is_asked_once(
    ws: Workspace, kustomize_bin: Path, tmp_path: Path
) -> None:
    """An old kustomize refusing buildMetadata: the plain build is used, and the wrapper is not tried again (for
    a kustomization whose origins gitops-check does not compute itself)."""
    old, log = kustomize_without_build_metadata(tmp_path, kustomize_bin)
    tools = ToolFinder(RenderOptions(kustomize_binary=str(old)))  # one run
    for _ in range(3):
        assert {o.origin.file for o in render(ws, "sorted", old, tools).objects} == {"sorted"}
    assert len(log.read_text().splitlines()) == 4  # the wrapper once, then the plain build each time
    assert {o.origin.file for o in render(ws, "sorted", old).objects} == {"sorted"}  # another run asks again
    assert len(log.read_text().splitlines()) == 6
