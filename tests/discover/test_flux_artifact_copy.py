"""ArtifactGenerator copy operations: the cases of Flux source-watcher's own builder tests and spec, plus the
corners its code decides (Go's fs.Glob for ``from``, doublestar for ``exclude``)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from gitops_check import yamlio
from gitops_check.discover.flux_artifact_copy import CopyError, Staged, apply_copies


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def build(tmp_path: Path, sources: dict[str, dict[str, str]], copies: list[dict[str, Any]]) -> dict[str, str]:
    roots = {alias: tree(tmp_path / "src" / alias, files) for alias, files in sources.items()}
    out = tmp_path / "artifact"
    out.mkdir()
    staged = Staged(out)
    apply_copies(copies, roots, staged)
    found = {p.relative_to(out).as_posix(): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()}
    assert set(staged.origins) == set(found)
    return found


CONFIG = {"config/app.yaml": "app: config", "config/db.yaml": "db: config"}


@pytest.mark.parametrize(
    ("files", "copy", "expected"),
    [
        ({"config.yaml": "a: 1"}, {"from": "@source/config.yaml", "to": "@artifact/"}, {"config.yaml": "a: 1"}),
        ({"config.yaml": "a: 1"}, {"from": "@source/config.yaml", "to": "@artifact/dest/"}, {"dest/config.yaml": "a: 1"}),
        ({"config.yaml": "a: 1"}, {"from": "@source/config.yaml", "to": "@artifact/apps/app.yaml"}, {"apps/app.yaml": "a: 1"}),
        ({"d.yaml": "d", "s.yaml": "s", "r.md": "r"}, {"from": "@source/*.yaml", "to": "@artifact/manifests/"},
         {"manifests/d.yaml": "d", "manifests/s.yaml": "s"}),
        # A glob match keeps its whole path below the destination (only dir/** strips dir/).
        ({"configs/a.yaml": "a"}, {"from": "@source/configs/*.yaml", "to": "@artifact/apps/"}, {"apps/configs/a.yaml": "a"}),
        ({"root.yaml": "r", "subdir/nested.yaml": "n"}, {"from": "@source/", "to": "@artifact/"},
         {"root.yaml": "r", "subdir/nested.yaml": "n"}),
        ({"root.yaml": "r", "subdir/nested.yaml": "n"}, {"from": "@source/**", "to": "@artifact/"},
         {"root.yaml": "r", "subdir/nested.yaml": "n"}),
        # A folder without a glob is copied as a subfolder, with or without slashes.
        (CONFIG, {"from": "@source/config", "to": "@artifact/dest"}, {"dest/config/app.yaml": "app: config", "dest/config/db.yaml": "db: config"}),
        (CONFIG, {"from": "@source/config/", "to": "@artifact/dest/"}, {"dest/config/app.yaml": "app: config", "dest/config/db.yaml": "db: config"}),
        ({"config/app.yaml": "a", "config/subdir/db.yaml": "d"}, {"from": "@source/config/**", "to": "@artifact/dest/"},
         {"dest/app.yaml": "a", "dest/subdir/db.yaml": "d"}),
        # Go's fs.Glob: ** is one folder level, like *.
        ({"deploy/a.yaml": "0", "deploy/x/b.yaml": "1", "deploy/x/y/c.yaml": "2"}, {"from": "@source/deploy/**/*.yaml", "to": "@artifact/"},
         {"deploy/x/b.yaml": "1"}),
        # Hidden files are not special to Go's glob.
        ({"d/.env.yaml": "e"}, {"from": "@source/d/*", "to": "@artifact/"}, {"d/.env.yaml": "e"}),
        # Exclusions: by base name, by path below the selection, by path from the source's root.
        ({"c/a.yaml": "a", "c/README.md": "r", "c/testdata/t.yaml": "t", "c/sub/testdata/u.yaml": "u"},
         {"from": "@source/c/**", "to": "@artifact/", "exclude": ["*.md", "**/testdata/**"]}, {"a.yaml": "a"}),
        ({"c/a.yaml": "a", "c/b.yaml": "b"}, {"from": "@source/c/", "to": "@artifact/", "exclude": ["c/b.yaml"]}, {"c/a.yaml": "a"}),
        ({"c/a.yaml": "a", "c/b.yaml": "b"}, {"from": "@source/c/**", "to": "@artifact/", "exclude": ["{b,x}.yaml"]}, {"a.yaml": "a"}),
        ({"a.yaml": "a"}, {"from": "@source/missing.yaml", "to": "@artifact/", "optional": True}, {}),
        ({"a.yaml": "a"}, {"from": "@source/missing/*", "to": "@artifact/", "optional": True}, {}),
    ],
)  # fmt: skip
def test_copy(tmp_path: Path, files: dict[str, str], copy: dict[str, Any], expected: dict[str, str]) -> None:
    assert build(tmp_path, {"source": files}, [copy]) == expected


def test_later_operations_overwrite_earlier_ones(tmp_path: Path) -> None:
    found = build(
        tmp_path,
        {"source1": {"config/app.yaml": "source1: app", "config/database.yaml": "source1: db"},
         "source2": {"config/app.yaml": "source2: app", "config/network.yaml": "source2: net"}},
        [{"from": "@source1/**", "to": "@artifact/"}, {"from": "@source2/**", "to": "@artifact/"}],
    )  # fmt: skip
    assert found == {
        "config/app.yaml": "source2: app",
        "config/database.yaml": "source1: db",
        "config/network.yaml": "source2: net",
    }


def test_file_to_existing_folder_goes_inside_it(tmp_path: Path) -> None:
    found = build(
        tmp_path,
        {"source": {"file1.txt": "content1", "subdir/file2.txt": "content2"}},
        [
            {"from": "@source/subdir/", "to": "@artifact/"},
            {"from": "@source/file1.txt", "to": "@artifact/subdir"},
        ],
    )
    assert found == {"subdir/file1.txt": "content1", "subdir/file2.txt": "content2"}


def test_merge_strategy_merges_yaml_like_helm_values(tmp_path: Path) -> None:
    found = build(
        tmp_path,
        {"chart": {"podinfo/Chart.yaml": "name: podinfo\n", "podinfo/values.yaml": "replicas: 1\nimage: {repo: x, tag: '1'}\nports: [80, 443]\n"},
         "repo": {"values-prod.yaml": "image: {tag: '2'}\nports: [8080]\n---\nextra: true\n"}},
        [{"from": "@chart/", "to": "@artifact/"},
         {"from": "@repo/values-prod.yaml", "to": "@artifact/podinfo/values.yaml", "strategy": "Merge"}],
    )  # fmt: skip
    assert yamlio.load_one(found["podinfo/values.yaml"], "values") == {
        "replicas": 1,
        "image": {"repo": "x", "tag": "2"},
        "ports": [8080],
        "extra": True,
    }


def test_merge_into_a_missing_file_copies_it(tmp_path: Path) -> None:
    found = build(
        tmp_path,
        {"repo": {"v.yaml": "a: 1\n"}},
        [{"from": "@repo/v.yaml", "to": "@artifact/values.yaml", "strategy": "Merge"}],
    )
    assert found == {"values.yaml": "a: 1\n"}


def _tgz(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_extract_strategy_unpacks_tarballs_and_skips_other_files(tmp_path: Path) -> None:
    src = tmp_path / "src" / "oci"
    (src / "releases" / "v1").mkdir(parents=True)
    (src / "releases" / "v1" / "podinfo-6.7.0.tgz").write_bytes(
        _tgz({"podinfo/Chart.yaml": "name: podinfo\n"})
    )
    (src / "releases" / "notes.txt").write_text("not an archive")
    out = tmp_path / "artifact"
    out.mkdir()
    apply_copies(
        [{"from": "@oci/releases/**/*.tgz", "to": "@artifact/", "strategy": "Extract"}],
        {"oci": src},
        Staged(out),
    )
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "podinfo/Chart.yaml"
    ]


@pytest.mark.parametrize(
    ("copy", "message"),
    [
        ({"from": "@source/nothing/**", "to": "@artifact/"}, "no files match pattern 'nothing/**' in source 'source'"),
        ({"from": "@source/*.yaml", "to": "@artifact/", "exclude": ["*"]}, "all files matching pattern '*.yaml' in source 'source' were excluded"),
        ({"from": "@source/missing.yaml", "to": "@artifact/"}, "source 'missing.yaml' does not exist"),
        ({"from": "@other/a.yaml", "to": "@artifact/"}, "source alias 'other' is not one of the generator's sources"),
        ({"from": "@source/a.yaml", "to": "@artifact/../x"}, "the destination must stay within the artifact"),
        ({"from": "@source/a.yaml", "to": "x/"}, "to must start with '@artifact/'"),
        ({"from": "@source/a.yaml", "to": "@artifact/", "strategy": "Extract"}, "extract strategy requires a tarball"),
        ({"from": "@source/[a.yaml", "to": "@artifact/"}, "invalid pattern"),
        ({"from": "@source/link.yaml", "to": "@artifact/"}, "is a symlink leaving the source"),
    ],
)  # fmt: skip
def test_copy_errors(tmp_path: Path, copy: dict[str, Any], message: str) -> None:
    src = tree(tmp_path / "src", {"a.yaml": "a"})
    (tmp_path / "outside.yaml").write_text("secret")
    (src / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    out = tmp_path / "artifact"
    out.mkdir()
    with pytest.raises(CopyError) as caught:
        apply_copies([copy], {"source": src}, Staged(out))
    assert message in str(caught.value)
