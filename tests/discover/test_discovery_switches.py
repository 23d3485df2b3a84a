"""``discovery: {argocd: false}`` / ``{flux: false}`` turn a plug-in off entirely: scanner and expander.

The root app is a project-file app (a folder of YAML) that renders an Argo CD Application and a Flux
Kustomization, as an App of Apps root would. With a plug-in switched off, what the root renders stays plain
objects of the root: no app is derived from them, neither at the start nor after the render.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops_check.discover.dispatch import DiscoverOptions, disabled_plugins, discover, expand
from gitops_check.discover.project import load_project
from gitops_check.model.app import App
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject
from gitops_check.model.source import Source
from gitops_check.pipeline.check import CheckRequest, render_repo
from tests.helpers.gitrepo import GitRepo, make_workspace

URL = "https://git.example.com/fleet.git"

APPLICATION = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "child", "namespace": "argocd"},
    "spec": {
        "project": "default",
        "source": {"repoURL": URL, "path": "child", "targetRevision": "HEAD"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "child"},
    },
}
GIT_REPOSITORY = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "GitRepository",
    "metadata": {"name": "fleet", "namespace": "flux-system"},
    "spec": {"url": URL, "interval": "1m"},
}
KUSTOMIZATION = {
    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
    "kind": "Kustomization",
    "metadata": {"name": "apps", "namespace": "flux-system"},
    "spec": {"path": "./child", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "fleet"}},
}
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "b"}}


def project(discovery: dict[str, object]) -> str:
    root = {"name": "root", "path": "root", "tool": "directory", "namespace": "argocd"}
    return yaml.safe_dump({"version": 1, "apps": [root], "discovery": discovery})


def repo_with(tmp_path: Path, discovery: dict[str, object]) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        ".gitops-check.yaml": project(discovery),
        "root/application.yaml": yaml.safe_dump(APPLICATION),
        "root/flux.yaml": yaml.safe_dump_all([GIT_REPOSITORY, KUSTOMIZATION]),
        "child/cm.yaml": yaml.safe_dump(CONFIGMAP),
    })  # fmt: skip
    repo.commit("fleet")
    return repo


def found(repo: GitRepo) -> tuple[list[str], list[str]]:
    """Names of the apps rendered, and of the apps with discovery errors."""
    done = render_repo(CheckRequest(repo.path, "HEAD", None, repo_urls=(URL,)))
    return sorted(r.app.name for r in done.rendered), sorted(e.app for e in done.errors)


@pytest.mark.parametrize(
    ("discovery", "expected"),
    [
        ({}, ["Kustomization/flux-system/apps", "child", "root"]),
        ({"argocd": False}, ["Kustomization/flux-system/apps", "root"]),
        ({"flux": False}, ["child", "root"]),
        ({"argocd": False, "flux": False}, ["root"]),
    ],
)
def test_a_switched_off_plugin_derives_no_apps_from_renders(
    tmp_path: Path, discovery: dict[str, object], expected: list[str]
) -> None:
    apps, errors = found(repo_with(tmp_path, discovery))
    assert (apps, errors) == (expected, [])


def test_expand_honours_the_project_file_seen_by_discover(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {".gitops-check.yaml": project({"argocd": False})})
    options = DiscoverOptions(this_repo_urls=frozenset({"git.example.com/fleet"}))
    proj = load_project(ws)
    assert disabled_plugins(proj) == {"argocd"}
    discover(ws, proj, options)
    root = App("root", (Source("root"),))
    objects = [RawObject(APPLICATION, Origin("root", "root/application.yaml", 1))]
    assert expand(root, objects, ws, options).apps == []
    # The same objects on a workspace whose project file leaves Argo CD on.
    other = make_workspace(tmp_path / "other", {".gitops-check.yaml": project({})})
    discover(other, load_project(other), options)
    assert [a.name for a in expand(root, objects, other, options).apps] == ["child"]
    # What discover noted belongs to that run's options: another run starts with nothing turned off.
    assert [
        a.name for a in expand(root, objects, ws, DiscoverOptions(this_repo_urls=options.this_repo_urls)).apps
    ] == ["child"]
