"""The folder walks discovery makes over every file of a commit (``flux_objects._manifest_files``, Argo CD's
``_find``) list what ``os.walk`` plus ``os.path.islink`` listed, in the same order, on an odd tree: symlinks to
files, folders and nowhere, hidden folders, folders named like manifests, a chart folder, non-UTF-8 names."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_check.discover import argocd, flux_objects
from gitops_check.model.rendered import Workspace

_SUFFIXES = (".yaml", ".yml", ".json")


def walked(root: Path) -> Iterator[str]:
    """The walk as first written: os.walk, sorted, hidden folders skipped, symlinked files left out."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for name in sorted(filenames):
            if name.endswith(_SUFFIXES) and not os.path.islink(os.path.join(dirpath, name)):
                yield name if rel_dir == "." else f"{rel_dir}/{name}"


def odd_tree(root: Path) -> None:
    for rel in (
        "a.yaml", "b.yml", "c.json", "d.txt", "Z.yaml", "_.yaml", "apps/x.yaml", "apps/y/z.yaml",
        "apps/y/w.YAML", "apps/.hidden/h.yaml", ".github/w.yaml", "dir.yaml/inner.yaml", "apps/Y/upper.yaml",
        "chart/Chart.yaml", "chart/templates/t.yaml", "deep/1/2/3/4/5/leaf.json", "sp ace/é.yaml",
        "apps/y/.dot.yaml", "apps/a-b/x.yaml", "apps/a/x.yaml", "apps/a.b/x.yaml",
    ):  # fmt: skip
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x}\n")
    (root / "link-file.yaml").symlink_to(root / "a.yaml")
    (root / "link-dir").symlink_to(root / "apps")
    (root / "link-dir.yaml").symlink_to(root / "apps")
    (root / "broken.yaml").symlink_to(root / "nowhere.yaml")
    (root / "apps" / "y" / "loop").symlink_to(root / "apps")
    (root / "empty").mkdir()
    if os.uname().sysname == "Linux":
        (root / os.fsdecode(b"bad-\xff.yaml")).write_text("x: 1\n")


def test_the_flux_walk_lists_what_os_walk_listed(tmp_path: Path) -> None:
    odd_tree(tmp_path)
    expected = list(walked(tmp_path))
    assert "dir.yaml/inner.yaml" in expected and "link-file.yaml" not in expected  # the tree means something
    assert list(flux_objects._manifest_files(tmp_path)) == expected
    assert list(flux_objects._manifest_files(tmp_path / "apps")) == list(walked(tmp_path / "apps"))
    assert list(flux_objects._manifest_files(tmp_path / "missing")) == []


@pytest.mark.parametrize("relative", [False, True])
def test_argocd_finds_the_same_files_from_any_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool
) -> None:
    odd_tree(tmp_path)
    read: list[str] = []
    monkeypatch.setattr(argocd, "_objects", lambda path, rel: read.append(rel) or iter(()))
    root = tmp_path
    if relative:
        monkeypatch.chdir(tmp_path.parent)
        root = Path(tmp_path.name)
    list(argocd._find(Workspace(root=root, label="t"), ()))
    assert "chart/Chart.yaml" not in read and "apps/y/z.yaml" in read and "link-file.yaml" in read
    assert read == list(argocd_walked(root))


def argocd_walked(root: Path) -> Iterator[str]:
    """Argo CD's walk as first written (Path.relative_to per folder)."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if "Chart.yaml" in filenames:
            dirnames[:] = []
            continue
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml", ".json")):
                yield name if rel_dir == "." else f"{rel_dir}/{name}"
