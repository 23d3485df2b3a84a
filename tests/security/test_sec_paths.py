"""Issue 10 items 6 and 7 (its path part): nothing outside the repository is read, whatever the links or settings.

``x -> .`` plus a ``x/x/…/../../…`` chain stays inside the repository *on paper* (``..`` cancels the ``x``
written before it) but not for the kernel, where ``..`` after ``x`` goes to the parent of the link's target.
Helm's ``.Files.Get`` read a file outside that way. Every link's real path is resolved now, before any renderer
sees the tree. And a kustomization's ``../../outside`` stays refused when remote bases are allowed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.gitrepo import GitRepo
from tests.helpers.hostile import helm_bin, kustomize_bin, run_diff

SECRET = "TOP-SECRET-OUTSIDE-THE-REPOSITORY"


def outside_file(tmp_path: Path, text: str) -> Path:
    target = tmp_path / "outside" / "leak.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def chain(target: Path, depth: int = 12) -> str:
    """A link target that is ``target`` for the kernel but inside the repository lexically (with ``x -> .``).

    ``depth`` climbs from the materialized copy to ``/`` and stays under the kernel's 40-link limit.
    """
    return "x/" * depth + "../" * depth + str(target).lstrip("/")


@pytest.mark.parametrize("via", ["helm .Files.Get", "helm template file", "kustomize resource", "plain file"])
def test_a_symlink_chain_never_reads_outside(
    via: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cm = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: leak, namespace: ns}}\ndata: {{k: {SECRET}}}\n"
    leak = outside_file(tmp_path, cm)
    folder = {"helm .Files.Get": "chart", "helm template file": "chart", "kustomize resource": "kust",
              "plain file": "plain"}[via]  # fmt: skip
    repo = GitRepo.init(tmp_path / "repo")
    files = {
        "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        "chart/templates/cm.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: files, namespace: ns}\n"
            'data:\n  leak: {{ .Files.Get "files/leak.txt" | quote }}\n'
        ),
        "kust/kustomization.yaml": "resources: [leak.yaml]\n",
        ".gitops-check.yaml": json.dumps(
            {"version": 1, "apps": [{"name": "app", "path": folder, "namespace": "ns"}]}
        ),
    }
    repo.write(files)
    repo.symlink("lib/x", ".")  # outside the chart folder, so helm's own walk never loops on it
    link = {"helm .Files.Get": "chart/files/leak.txt", "helm template file": "chart/templates/leak.yaml",
            "kustomize resource": "kust/leak.yaml", "plain file": "plain/leak.yaml"}[via]  # fmt: skip
    repo.symlink(link, "../" * link.count("/") + "lib/" + chain(leak))
    repo.commit("chain")
    run = run_diff(
        capsys, tmp_path, repo.path, "--helm", str(helm_bin()), "--kustomize", str(kustomize_bin())
    )
    assert SECRET not in run.everything
    assert run.code == 2
    assert "resolves outside the repository" in run.messages("app")


def test_an_inside_chain_still_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Links that stay inside (even through ``x -> .``) are fine: only the real destination counts."""
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        "shared/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: ns}\ndata: {k: v}\n",
        "app/README.md": "a plain folder\n",
        ".gitops-check.yaml": json.dumps({"version": 1, "apps": [{"name": "app", "path": "app", "namespace": "ns"}]}),
    })  # fmt: skip
    repo.symlink("app/x", ".")
    repo.symlink(
        "app/cm.yaml", "x/x/../shared/cm.yaml"
    )  # lexically app/shared (missing), really shared/cm.yaml
    repo.commit("inside")
    run = run_diff(capsys, tmp_path, repo.path, "--kustomize", str(kustomize_bin()))
    assert run.code == 0, run.everything


@pytest.mark.parametrize("how", ["--allow-remote-bases", "project file"])
def test_outside_bases_stay_refused_when_remote_bases_are_allowed(
    how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    project: dict[str, object] = {"version": 1, "apps": [{"name": "app", "path": "app", "namespace": "ns"}]}
    if how == "project file":
        project["render"] = {"allowRemoteBases": True}
    repo.write({
        "app/kustomization.yaml": "resources: [../../outside, ../../../outside/leak.yaml]\n",
        ".gitops-check.yaml": json.dumps(project),
    })  # fmt: skip
    repo.commit("outside")
    # Whatever sits next to the materialized copy (gitops-check's temporary folder) or the checkout.
    outside_file(tmp_path, f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {SECRET.lower()}}}\n")
    extra = [how] if how.startswith("--") else []
    run = run_diff(capsys, tmp_path, repo.path, "--kustomize", str(kustomize_bin()), *extra)
    assert run.code == 2
    assert "outside the repository" in run.messages("app")
    assert SECRET.lower() not in run.everything
