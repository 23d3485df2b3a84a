"""sources.git against real repositories built in tmp_path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gitops_check.errors import SourceError
from gitops_check.sources.git import RepoHandle, display_path, open_repo
from tests.helpers.gitrepo import GitRepo

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


@pytest.fixture
def history(tmp_path: Path) -> tuple[GitRepo, list[str]]:
    """Three commits on main, a tag on the first, a branch at the second."""
    repo = GitRepo.init(tmp_path / "repo")
    shas = []
    for i in range(3):
        repo.write(
            {"apps/web/cm.yaml": CM.format(name=f"web-{i}"), f"apps/file{i}.yaml": CM.format(name=f"f{i}")}
        )
        shas.append(repo.commit(f"commit {i}"))
        if i == 0:
            repo.git("tag", "-a", "v1", "-m", "release 1")
        if i == 1:
            repo.git("branch", "feature")
    return repo, shas


def handle(repo: GitRepo) -> RepoHandle:
    return open_repo(repo.path, display="./repo")


def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match="not a git repository: "):
        open_repo(tmp_path / "plain")


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_repo(tmp_path / "nope")


@pytest.mark.parametrize(
    ("rev", "index"),
    [
        ("HEAD", 2),
        ("main", 2),
        ("HEAD~2", 0),
        ("HEAD^", 1),
        ("v1", 0),
        ("feature", 1),
        ("refs/heads/feature", 1),
    ],
)
def test_resolve_revision_kinds(history: tuple[GitRepo, list[str]], rev: str, index: int) -> None:
    repo, shas = history
    assert handle(repo).resolve(rev) == shas[index]


def test_resolve_sha_and_short_sha(history: tuple[GitRepo, list[str]]) -> None:
    repo, shas = history
    h = handle(repo)
    assert h.resolve(shas[1]) == shas[1]
    assert h.resolve(shas[1][:8]) == shas[1]


def test_resolve_remote_tracking_branch(history: tuple[GitRepo, list[str]], tmp_path: Path) -> None:
    origin, shas = history
    clone = GitRepo(tmp_path / "clone")
    GitRepo(tmp_path).git("clone", "-q", str(origin.path), str(clone.path))
    assert open_repo(clone.path).resolve("origin/main") == shas[2]
    assert open_repo(clone.path).resolve("origin/feature") == shas[1]


@pytest.mark.parametrize("rev", ["nope", "HEAD~10", "--all", "", "v1..main"])
def test_unknown_revision(history: tuple[GitRepo, list[str]], rev: str) -> None:
    repo, _ = history
    with pytest.raises(SourceError) as e:
        handle(repo).resolve(rev)
    if rev:
        assert str(e.value) == f"unknown revision {rev!r} in ./repo; fetch it or check the name"


def test_open_from_subfolder_uses_repository_root(history: tuple[GitRepo, list[str]]) -> None:
    repo, _ = history
    h = open_repo(repo.path / "apps")
    assert h.root == repo.path


def test_materialize_revision(history: tuple[GitRepo, list[str]], tmp_path: Path) -> None:
    repo, shas = history
    ws = handle(repo).materialize("HEAD~2", tmp_path / "ws")
    assert ws.revision == shas[0]
    assert ws.label == f"./repo@{shas[0][:7]}"
    assert ws.repo_path == repo.path
    assert sorted(p.relative_to(ws.root).as_posix() for p in ws.root.rglob("*") if p.is_file()) == [
        "apps/file0.yaml",
        "apps/web/cm.yaml",
    ]
    assert (ws.root / "apps/web/cm.yaml").read_text() == CM.format(name="web-0")


def test_materialize_leaves_checkout_index_and_stash_alone(
    history: tuple[GitRepo, list[str]], tmp_path: Path
) -> None:
    repo, _ = history
    # A dirty checkout: staged, unstaged and untracked changes, plus an ignored file.
    repo.write(
        {
            ".gitignore": "*.secret\n",
            "apps/web/cm.yaml": CM.format(name="edited"),
            "new.yaml": CM.format(name="n"),
        }
    )
    repo.git("add", ".gitignore")
    repo.write({"x.secret": "s"})
    before = (repo.status(), repo.stash_list(), repo.head(), (repo.path / ".git/index").read_bytes())
    h = handle(repo)
    h.materialize("HEAD~1", tmp_path / "ws1")
    h.materialize(None, tmp_path / "ws2")
    h.changed_paths("HEAD~2", None)
    h.changed_paths("HEAD~2", "HEAD")
    after = (repo.status(), repo.stash_list(), repo.head(), (repo.path / ".git/index").read_bytes())
    assert after == before
    assert after[1] == ""
    assert (repo.path / "apps/web/cm.yaml").read_text() == CM.format(name="edited")


def test_materialize_working_tree(history: tuple[GitRepo, list[str]], tmp_path: Path) -> None:
    repo, _ = history
    repo.write(
        {
            ".gitignore": "ignored/\n*.tmp\n",
            "apps/web/cm.yaml": CM.format(name="uncommitted"),
            "apps/new/untracked.yaml": CM.format(name="untracked"),
            "ignored/secret.yaml": "nope",
            "apps/scratch.tmp": "nope",
        }
    )
    repo.remove("apps/file1.yaml")
    ws = handle(repo).materialize(None, tmp_path / "ws")
    files = sorted(p.relative_to(ws.root).as_posix() for p in ws.root.rglob("*") if p.is_file())
    assert files == [
        ".gitignore",
        "apps/file0.yaml",
        "apps/file2.yaml",
        "apps/new/untracked.yaml",
        "apps/web/cm.yaml",
    ]
    assert (ws.root / "apps/web/cm.yaml").read_text() == CM.format(name="uncommitted")
    assert ws.revision is None
    assert ws.label == "./repo (working tree)"


@pytest.mark.parametrize("rev", ["HEAD", None])
def test_symlinks_and_executable_bits_are_preserved(tmp_path: Path, rev: str | None) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({"base/cm.yaml": CM.format(name="a"), "scripts/run.sh": "#!/bin/sh\necho hi\n"})
    repo.chmod("scripts/run.sh", 0o755)
    repo.symlink("apps/link.yaml", "../base/cm.yaml")
    repo.symlink("apps/dirlink", "../base")
    repo.symlink("apps/escape", "/etc/passwd")
    repo.commit()
    ws = handle(repo).materialize(rev, tmp_path / "ws")
    assert os.readlink(ws.root / "apps/link.yaml") == "../base/cm.yaml"
    assert os.readlink(ws.root / "apps/dirlink") == "../base"
    # Copied as a link, never followed: the renderers decide whether a link is acceptable.
    assert os.readlink(ws.root / "apps/escape") == "/etc/passwd"
    assert (ws.root / "apps/link.yaml").read_text() == CM.format(name="a")
    assert os.stat(ws.root / "scripts/run.sh").st_mode & stat.S_IXUSR
    assert not os.stat(ws.root / "base/cm.yaml").st_mode & stat.S_IXUSR


@pytest.mark.parametrize("rev", ["HEAD", None])
def test_submodules_are_skipped_with_a_warning(tmp_path: Path, rev: str | None) -> None:
    sub = GitRepo.init(tmp_path / "sub")
    sub.write({"x.yaml": CM.format(name="x")})
    sub.commit()
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({"a.yaml": CM.format(name="a")})
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendor/sub")
    repo.commit("add submodule")
    ws = handle(repo).materialize(rev, tmp_path / "ws")
    assert (ws.root / "a.yaml").exists()
    assert not (ws.root / "vendor/sub/x.yaml").exists()
    assert any("submodule vendor/sub skipped" in w for w in ws.warnings)


def test_materialize_refuses_non_empty_destination(
    history: tuple[GitRepo, list[str]], tmp_path: Path
) -> None:
    repo, _ = history
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "x").write_text("x")
    with pytest.raises(SourceError, match="not empty"):
        handle(repo).materialize("HEAD", tmp_path / "ws")


def test_binary_and_large_files_round_trip(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    blob = bytes(range(256)) * 40_000  # 10 MB, several read chunks
    repo.write({"big.bin": blob, "empty.yaml": "", "ünïcode name.yaml": CM.format(name="u")})
    repo.commit()
    ws = handle(repo).materialize("HEAD", tmp_path / "ws")
    assert (ws.root / "big.bin").read_bytes() == blob
    assert (ws.root / "empty.yaml").read_bytes() == b""
    assert (ws.root / "ünïcode name.yaml").exists()


def test_tree_ids(history: tuple[GitRepo, list[str]]) -> None:
    repo, shas = history
    h = handle(repo)
    ids = h.tree_ids("HEAD", ["apps/web", "apps/web/cm.yaml", "apps/missing", ".", ""])
    assert ids["apps/web"] == repo.git("rev-parse", "HEAD:apps/web").strip()
    assert ids["apps/web/cm.yaml"] == repo.git("rev-parse", "HEAD:apps/web/cm.yaml").strip()
    assert ids["apps/missing"] is None
    assert ids["."] == ids[""] == repo.git("rev-parse", "HEAD^{tree}").strip()
    # Unchanged folder, same id; changed folder, new id.
    repo.write({"other/x.yaml": CM.format(name="x")})
    repo.commit()
    assert h.tree_ids("HEAD", ["apps/web"]) == h.tree_ids(shas[2], ["apps/web"])
    assert h.tree_ids(shas[1], ["apps/web"]) != h.tree_ids(shas[2], ["apps/web"])


def test_changed_paths(history: tuple[GitRepo, list[str]]) -> None:
    repo, shas = history
    h = handle(repo)
    assert h.changed_paths(shas[0], shas[1]) == {"apps/web/cm.yaml", "apps/file1.yaml"}
    assert h.changed_paths("HEAD", "HEAD") == set()
    repo.git("mv", "apps/file0.yaml", "apps/renamed.yaml")
    repo.commit("rename")
    assert h.changed_paths("HEAD~1", "HEAD") == {"apps/file0.yaml", "apps/renamed.yaml"}


def test_changed_paths_against_working_tree(history: tuple[GitRepo, list[str]]) -> None:
    repo, _ = history
    repo.write(
        {
            ".gitignore": "*.tmp\n",
            "apps/web/cm.yaml": CM.format(name="edited"),
            "apps/u.yaml": "x",
            "a.tmp": "x",
        }
    )
    assert handle(repo).changed_paths("HEAD", None) == {".gitignore", "apps/web/cm.yaml", "apps/u.yaml"}


def test_merge_base(history: tuple[GitRepo, list[str]]) -> None:
    repo, shas = history
    repo.git("checkout", "-q", "feature")
    repo.write({"f.yaml": CM.format(name="f")})
    repo.commit("on feature")
    assert handle(repo).merge_base("main", "feature") == shas[1]


def test_display_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "k8s").mkdir()
    monkeypatch.chdir(tmp_path)
    assert display_path(Path("k8s")) == "./k8s"
    assert display_path(tmp_path / "k8s") == "./k8s"
    monkeypatch.chdir(tmp_path / "k8s")
    assert display_path(Path(".")) == "k8s"
    assert display_path(tmp_path) == str(tmp_path)


def test_subfolder_of_a_repository_is_the_gitops_root(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "mono")
    repo.write(
        {"src/main.py": "print()\n", "deploy/k8s/apps/web/cm.yaml": CM.format(name="a"), "deploy/README": "x"}
    )
    first = repo.commit("one")
    repo.write({"deploy/k8s/apps/web/cm.yaml": CM.format(name="b"), "src/main.py": "print(1)\n"})
    second = repo.commit("two")
    repo.write({"deploy/k8s/apps/new.yaml": CM.format(name="n")})  # untracked, working tree only
    handle = open_repo(tmp_path / "mono" / "deploy" / "k8s")
    ws = handle.materialize(first, tmp_path / "at-first")
    assert sorted(p.relative_to(ws.root).as_posix() for p in ws.root.rglob("*") if p.is_file()) == [
        "apps/web/cm.yaml"
    ]
    wt = handle.materialize(None, tmp_path / "worktree")
    assert sorted(p.relative_to(wt.root).as_posix() for p in wt.root.rglob("*") if p.is_file()) == [
        "apps/new.yaml",
        "apps/web/cm.yaml",
    ]
    assert handle.changed_paths(first, second) == {"apps/web/cm.yaml"}
    assert handle.changed_paths(second, None) == {"apps/new.yaml"}
    ids = handle.tree_ids(second, ["apps/web", "apps/missing"])
    assert ids["apps/web"] is not None and ids["apps/missing"] is None


def test_files_without_discovery_markers_are_known_from_the_write(tmp_path: Path) -> None:
    """Materializing a commit notes which files hold none of ``DISCOVERY_MARKERS`` (discovery skips reading them);
    files holding one, symlinks, files too large to be read whole, and workspaces not written from blobs are not
    noted; discovery finds the same with and without the note (Argo CD and Flux fixture trees)."""
    import dataclasses
    import shutil

    from gitops_check.discover import argocd, flux_objects
    from gitops_check.discover.dispatch import discover
    from gitops_check.model.rendered import DISCOVERY_MARKERS
    from gitops_check.sources import git as git_module

    assert set(argocd._SNIFF) | {flux_objects._SNIFF, flux_objects._SNIFF_GENERATOR} <= set(DISCOVERY_MARKERS)
    fixtures = Path(__file__).resolve().parent.parent / "fixtures"
    repo = GitRepo.init(tmp_path / "repo")
    shutil.copytree(fixtures / "argocd" / "platform", repo.path / "argo")
    shutil.copytree(fixtures / "flux" / "fleet", repo.path / "flux")
    repo.write({"plain/cm.yaml": CM.format(name="x"), "plain/app.yaml": "apiVersion: argoproj.io/v1alpha1\n",
                "plain/big.yaml": "# x\n" * (git_module._CHUNK // 4) + "kind: ConfigMap\n"})  # fmt: skip
    os.symlink("cm.yaml", repo.path / "plain" / "link.yaml")
    repo.commit("trees")
    ws = handle(repo).materialize("HEAD", tmp_path / "ws")
    assert ws.unmarked is not None
    files = {
        p.relative_to(ws.root).as_posix(): p for p in ws.root.rglob("*") if p.is_file() or p.is_symlink()
    }
    expected = {rel for rel, p in files.items() if not p.is_symlink() and p.stat().st_size < git_module._CHUNK
                and not any(m in p.read_bytes() for m in DISCOVERY_MARKERS)}  # fmt: skip
    assert ws.unmarked == expected
    assert (
        "plain/cm.yaml" in expected and not {"plain/app.yaml", "plain/big.yaml", "plain/link.yaml"} & expected
    )
    assert any(rel.startswith("argo/") for rel in expected) and any(
        rel.startswith("flux/") for rel in expected
    )

    def found(workspace: object) -> tuple[object, ...]:
        out = discover(workspace, None)  # type: ignore[arg-type]
        return (sorted(a.name for a in out.apps), sorted(map(str, out.errors)), sorted(out.notes))

    with_note = found(ws)
    assert with_note[0]  # the fixtures declare apps
    assert with_note == found(dataclasses.replace(ws, unmarked=None))
    assert handle(repo).materialize(None, tmp_path / "tree").unmarked is None
