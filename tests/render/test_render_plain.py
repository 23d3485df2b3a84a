"""render.plain: a folder of YAML/JSON read like Argo CD's directory source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gitops_check import identity, yamlio
from gitops_check.errors import InputError, RenderError
from gitops_check.model.app import App
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import DirectoryOptions, Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.render.app import render_app
from gitops_check.render.base import RenderOutput
from gitops_check.render.plain import glob_regex
from tests.helpers.gitrepo import make_workspace


def cm(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def render(ws: Workspace, path: str = "app", **directory: object) -> RenderOutput:
    source = Source(path=path, tool=Tool.DIRECTORY, directory=DirectoryOptions(**directory))  # type: ignore[arg-type]
    return render_app(App(name="demo", sources=(source,)), ws, RenderOptions())


def names(out: RenderOutput) -> list[str]:
    return [o.body["metadata"]["name"] for o in out.objects]


@pytest.fixture
def tree(tmp_path: Path) -> Workspace:
    return make_workspace(
        tmp_path,
        {
            "app/b.yaml": cm("b"),
            "app/a.yml": cm("a"),
            "app/c.json": json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            "app/README.md": "# not a manifest\n",
            "app/sub/d.yaml": cm("d"),
            "app/sub/deeper/e.yaml": cm("e"),
            "app/skip/f.yaml": cm("f"),
            "app/z.txt": cm("not-read"),
        },
    )


def test_top_folder_only_by_default(tree: Workspace) -> None:
    out = render(tree)
    assert names(out) == ["a", "b", "c"]
    assert out.warnings == []


def test_recurse_walks_depth_first_in_lexical_order(tree: Workspace) -> None:
    assert names(render(tree, recurse=True)) == ["a", "b", "c", "f", "d", "e"]


def test_origins_are_relative_to_the_repository_root(tree: Workspace) -> None:
    out = render(tree, recurse=True)
    assert [str(o.origin) for o in out.objects] == [
        "app/a.yml:1",
        "app/b.yaml:1",
        "app/c.json:1",
        "app/skip/f.yaml:1",
        "app/sub/d.yaml:1",
        "app/sub/deeper/e.yaml:1",
    ]
    assert {o.origin.app for o in out.objects} == {"demo"}


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (("*.yaml",), (), ["b", "f", "d", "e"]),  # * crosses folders, as in Argo CD
        ((), ("sub/*",), ["a", "b", "c", "f"]),
        (("*.yaml",), ("*.yaml",), []),  # exclude wins
        (("{a.yml,sub/*}",), (), ["a", "d", "e"]),
        (("*.{yml,json}",), (), ["a", "c"]),
        (("sub/d.yaml", "skip/*"), (), ["f", "d"]),  # several patterns: any matches
        ((), ("*/deeper/*", "skip/f.yaml"), ["a", "b", "c", "d"]),
    ],
)
def test_include_exclude(
    tree: Workspace, include: tuple[str, ...], exclude: tuple[str, ...], expected: list[str]
) -> None:
    assert names(render(tree, recurse=True, include=include, exclude=exclude)) == expected


def test_globs_only_see_the_top_folder_without_recurse(tree: Workspace) -> None:
    assert names(render(tree, include=("*.yaml",))) == ["b"]


def test_multi_document_line_numbers(tmp_path: Path) -> None:
    text = (
        "# leading comment\n" + cm("one") + "---\n---\n# between\n" + cm("two") + "...\n---\n" + cm("three")
    )
    ws = make_workspace(tmp_path, {"app/all.yaml": text})
    out = render(ws)
    assert names(out) == ["one", "two", "three"]
    assert [o.origin.line for o in out.objects] == [2, 9, 15]
    lines = text.splitlines()
    assert [lines[o.origin.line - 1] for o in out.objects] == ["apiVersion: v1"] * 3  # type: ignore[operator]


def test_list_documents_are_flattened_by_identity(tmp_path: Path) -> None:
    items = "".join(
        f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: item{i}\n" for i in range(3)
    )
    ws = make_workspace(
        tmp_path, {"app/list.yaml": cm("single") + "---\napiVersion: v1\nkind: List\nitems:\n" + items}
    )
    out = render(ws)
    assert len(out.objects) == 2  # documents, as written
    flat = list(identity.flatten_lists(out.objects))
    assert [o.body["metadata"]["name"] for o in flat] == ["single", "item0", "item1", "item2"]
    assert [str(o.origin) for o in flat] == [
        "app/list.yaml:1",
        "app/list.yaml:6",
        "app/list.yaml:6",
        "app/list.yaml:6",
    ]
    keyed = identity.assign_keys(App(name="demo", sources=()), out.objects, identity.KindScopes())
    assert len(keyed.manifests) == 4 and not keyed.problems


def test_json_file_and_json_list(tmp_path: Path) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [json.loads(yamlio.dump_json(yamlio.load_one(cm("j"), "x")))],
    }
    ws = make_workspace(tmp_path, {"app/list.json": json.dumps(doc, indent=2)})
    out = render(ws)
    assert out.objects[0].body["kind"] == "List"
    assert [o.body["metadata"]["name"] for o in identity.flatten_lists(out.objects)] == ["j"]


def test_invalid_json_is_an_error_with_a_line(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"app/bad.json": '{\n  "apiVersion": "v1",\n  "kind": \n}\n'})
    with pytest.raises(InputError) as e:
        render(ws)
    assert e.value.file == "app/bad.json"
    assert e.value.line == 4
    assert e.value.app == "demo"


def test_files_argo_cd_skips(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path,
        {
            "app/cm.yaml": cm("kept"),
            "app/values.yaml": "replicas: 3\nimage:\n  tag: v1\n",  # not a manifest: ignored
            "app/tool-config.yaml": "rules: [a, b\n",  # not even YAML, but does not look like a manifest
            "app/empty.yaml": "# nothing here\n",
            "app/lib.libsonnet": "{",  # only evaluated through imports
            "app/notes.txt": "apiVersion: v1",
        },
    )
    out = render(ws)
    assert names(out) == ["kept"]
    assert out.warnings == [
        "ignored app/tool-config.yaml: not a Kubernetes manifest (Argo CD ignores it too)",
        "ignored app/values.yaml: not a Kubernetes manifest (Argo CD ignores it too)",
    ]


def test_broken_manifest_is_an_error_with_file_and_line(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path, {"app/bad.yaml": cm("ok") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n"}
    )
    with pytest.raises(InputError) as e:
        render(ws)
    assert e.value.file == "app/bad.yaml"
    assert e.value.line is not None and e.value.line >= 9


def test_broken_first_document_that_looks_like_a_manifest(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path, {"app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {a\n"}
    )
    with pytest.raises(InputError, match="invalid YAML"):
        render(ws)


def test_non_object_document_after_an_object_reaches_identity(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"app/mixed.yaml": cm("ok") + "---\njust: data\n"})
    out = render(ws)
    keyed = identity.assign_keys(App(name="demo", sources=()), out.objects, identity.KindScopes())
    assert [str(p.origin) for p in keyed.problems] == ["app/mixed.yaml:6"]


def test_oversized_file(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"app/small.yaml": cm("small")})
    (ws.root / "app/huge.yaml").write_bytes(b"# padding\n" * (yamlio.MAX_FILE_BYTES // 10 + 1))
    with pytest.raises(InputError, match="byte limit") as e:
        render(ws)
    assert e.value.file == "app/huge.yaml"


def test_symlinked_file_inside_the_repository(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path,
        {"shared/cm.yaml": cm("shared")},
        symlinks={"app/shared.yaml": "../shared/cm.yaml", "app/gone.yaml": "../shared/missing.yaml"},
    )
    out = render(ws)
    assert names(out) == ["shared"]
    assert str(out.objects[0].origin) == "app/shared.yaml:1"
    assert out.warnings == ["skipped app/gone.yaml: the symlink's target is missing"]


def test_app_at_repository_root(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"cm.yaml": cm("root"), "sub/x.yaml": cm("sub")})
    out = render(ws, path=".")
    assert names(out) == ["root"]
    assert str(out.objects[0].origin) == "cm.yaml:1"


def test_path_that_is_a_file(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"app/cm.yaml": cm("x")})
    with pytest.raises(RenderError, match=re.escape("path app/cm.yaml is not a folder")):
        render(ws, path="app/cm.yaml")


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("*.yaml", "a.yaml", True),
        ("*.yaml", "sub/a.yaml", True),
        ("**/a.yaml", "x/y/a.yaml", True),
        ("sub/*", "sub/x/y.yaml", True),
        ("?.yaml", "ab.yaml", False),
        ("[ab].yaml", "b.yaml", True),
        ("[!ab].yaml", "b.yaml", False),
        ("{a,b/{c,d}}.yaml", "b/d.yaml", True),
        ("{a,b/{c,d}}.yaml", "b/e.yaml", False),
        ("a\\*.yaml", "a*.yaml", True),
        ("a\\*.yaml", "ab.yaml", False),
        ("app.yaml", "app.yamlx", False),
        ("prod.yaml", "sub/prod.yaml", False),
    ],
)
def test_glob(pattern: str, text: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).match(text)) is matches


def test_null_lists_are_dropped_like_argo_cd(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path, {"app/x.yaml": cm("a") + "---\napiVersion: v1\nkind: ConfigMapList\nitems: null\n"}
    )
    assert names(render(ws)) == ["a"]
