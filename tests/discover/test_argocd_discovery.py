"""Argo CD discovery on real repositories: roots and App of Apps children, settings, duplicates, target revisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_check import yamlio
from gitops_check.discover.dispatch import DiscoverOptions, discover, expand
from gitops_check.discover.project import load_project
from gitops_check.errors import ConfigError, RenderError
from gitops_check.model.app import TrackingMethod
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.pipeline.check import CheckRequest, render_repo
from gitops_check.project.config import RenderOptions
from gitops_check.render.app import render_app
from gitops_check.sources.git import open_repo
from tests.helpers.gitrepo import GitRepo, make_workspace

URL = "https://git.example.com/org/gitops.git"
THIS = frozenset({"git.example.com/org/gitops"})


def application(
    name: str,
    path: str,
    *,
    namespace: str | None = None,
    dest: str | None = None,
    extra: str = "",
    **source: Any,
) -> str:
    meta = f"  namespace: {namespace}\n" if namespace else ""
    src = "".join(f"    {k}: {v}\n" for k, v in source.items())
    return (
        f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n{meta}spec:\n"
        f"  source:\n    repoURL: {URL}\n    path: {path}\n{src}"
        f"  destination:\n    server: https://kubernetes.default.svc\n    namespace: {dest or name}\n{extra}"
    )


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def found(ws: Workspace, **options: Any) -> tuple[dict[str, str], list[str], list[str]]:
    result = discover(ws, load_project(ws), DiscoverOptions(this_repo_urls=THIS, **options))
    return {a.name: a.origin for a in result.apps}, result.notes, [e.message for e in result.errors]


def test_children_of_a_kustomize_root_come_from_its_render(tmp_path: Path) -> None:
    """root renders apps/ (a kustomization including ../shared): both folders' Applications are its children."""
    ws = make_workspace(tmp_path, {
        "root.yaml": application("root", "apps"),
        "apps/kustomization.yaml": "resources: [web.yaml, ../shared]\nnamePrefix: team-\n",
        "apps/web.yaml": application("web", "web"),
        "shared/kustomization.yaml": "resources: [api.yaml]\n",
        "shared/api.yaml": application("api", "api"),
        "charts/x/Chart.yaml": "apiVersion: v2\nname: x\nversion: 1.0.0\n",
        "charts/x/templates/app.yaml": application("templated", "x"),
        "web/cm.yaml": CM.format(name="web"),
        "broken.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: [\n",
    })  # fmt: skip
    apps, notes, errors = found(ws)
    assert apps == {"root": "root.yaml:1"}
    assert errors == []
    assert notes == [
        "2 Argo CD object(s) in folders that root render(s): taken from that render (App of Apps)"
    ]


def test_rendered_children_carry_the_roots_transformations(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        "root.yaml": application("root", "apps"),
        "apps/kustomization.yaml": "resources: [web.yaml]\nnamePrefix: team-\n",
        "apps/web.yaml": application("web", "web", namespace="argocd"),
        "web/cm.yaml": CM.format(name="web"),
    })  # fmt: skip
    repo.commit("apps")
    done = render_repo(CheckRequest(repo=repo.path, revision="HEAD", default_source=None, repo_urls=(URL,)))
    assert {r.app.name: r.app.origin for r in done.rendered} == {
        "root": "root.yaml:1",
        "team-web": "rendered by app root (apps/web.yaml)",  # the file holding it
    }
    assert all(r.error is None for r in done.rendered)


def test_a_cycle_without_a_root_is_still_found(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"a/app.yaml": application("a", "b"), "b/app.yaml": application("b", "a")})
    apps, _, _ = found(ws)
    assert apps == {"a": "a/app.yaml:1"}  # b comes out of a's render


def test_argocd_cm_settings_and_project_overrides(tmp_path: Path) -> None:
    cm = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: gitops\ndata:\n"
        "  application.resourceTrackingMethod: label\n  application.instanceLabelKey: argocd.argoproj.io/instance\n"
    )
    files = {"argocd/cm.yaml": cm, "apps/web.yaml": application("web", "web", namespace="team-a"),
             "apps/api.yaml": application("api", "api")}  # fmt: skip
    ws = make_workspace(tmp_path, files)
    result = discover(ws, None, DiscoverOptions(this_repo_urls=THIS))
    by_name = {a.name: a for a in result.apps}
    assert sorted(by_name) == ["api", "team-a/web"]  # the control plane is argocd-cm's namespace, gitops
    web = by_name["team-a/web"]
    assert (web.tracking.method, web.tracking.label_key, web.tracking.app_instance) == (
        TrackingMethod.LABEL, "argocd.argoproj.io/instance", "team-a_web")  # fmt: skip
    project = yamlio.dump_yaml({"version": 1, "discovery": {"argocd": {"trackingMethod": "annotation+label",
                                "namespace": "team-a", "paths": ["apps/web.yaml"]}}})  # fmt: skip
    ws2 = make_workspace(tmp_path, {**files, ".gitops-check.yaml": project}, name="repo2")
    result = discover(ws2, load_project(ws2), DiscoverOptions(this_repo_urls=THIS))
    assert [(a.name, a.tracking.method) for a in result.apps] == [("web", TrackingMethod.ANNOTATION_LABEL)]


def test_bad_discovery_settings_are_config_errors(tmp_path: Path) -> None:
    project = "version: 1\ndiscovery:\n  argocd:\n    pathz: [x]\n"
    ws = make_workspace(tmp_path, {".gitops-check.yaml": project, "a.yaml": application("a", "a")})
    with pytest.raises(ConfigError, match="unknown key 'pathz'"):
        discover(ws, load_project(ws), DiscoverOptions(this_repo_urls=THIS))


def test_duplicate_names(tmp_path: Path) -> None:
    same = application("web", "web")
    ws = make_workspace(tmp_path, {"a/web.yaml": same, "b/web.yaml": same, "c/api.yaml": application("api", "x"),
                                   "d/api.yaml": application("api", "y")})  # fmt: skip
    apps, notes, errors = found(ws)
    assert sorted(apps) == ["web"]
    assert any("declared twice" in n for n in notes)
    assert len(errors) == 1 and "two different Applications are named api" in errors[0]


def test_unsupported_application_is_not_checked_with_the_reason(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"a.yaml": application("a", "a", plugin="{name: cmp}", helm="{}")})
    apps, _, errors = found(ws)
    assert list(apps) == ["a"] and errors == []  # an app that cannot be rendered: the render says why
    [app] = discover(ws, load_project(ws), DiscoverOptions(this_repo_urls=THIS)).apps
    with pytest.raises(RenderError) as failed:
        render_app(app, ws, RenderOptions())
    assert failed.value.message == (
        "not checked: spec.source: multiple application sources defined: helm, plugin"
    )
    assert failed.value.app == "a"


def test_applicationset_rendered_by_a_root(tmp_path: Path) -> None:
    appset = (
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: envs\nspec:\n  generators:\n"
        "  - list:\n      elements: [{env: dev}, {env: prod}]\n  template:\n    metadata:\n      name: 'web-{{env}}'\n"
        f"    spec:\n      source: {{repoURL: '{URL}', path: web}}\n"
        "      destination: {server: 'https://kubernetes.default.svc', namespace: '{{env}}'}\n"
    )
    repo = GitRepo.init(tmp_path / "repo")
    repo.write(
        {
            "root.yaml": application("root", "sets", dest="argocd"),
            "sets/envs.yaml": appset,
            "web/cm.yaml": CM.format(name="w"),
        }
    )
    repo.commit("sets")
    done = render_repo(CheckRequest(repo=repo.path, revision="HEAD", default_source=None, repo_urls=(URL,)))
    origins = {r.app.name: r.app.origin for r in done.rendered}
    assert origins["web-prod"] == (
        "ApplicationSet envs (rendered by app root, sets/envs.yaml), generators[0] list [env=prod]"
    )
    assert sorted(origins) == ["root", "web-dev", "web-prod"]


def test_honour_target_revision(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write(
        {"web/cm.yaml": CM.format(name="old"), "app.yaml": application("web", "web", targetRevision="v1")}
    )
    repo.commit("v1")
    repo.git("tag", "v1")
    repo.write({"web/cm.yaml": CM.format(name="new")})
    repo.commit("v2")

    def names(honour: bool) -> list[str]:
        request = CheckRequest(repo=repo.path, revision="HEAD", default_source=None, repo_urls=(URL,),
                               honour_target_revision=honour)  # fmt: skip
        [r] = render_repo(request).rendered
        assert r.output is not None
        return [o.body["metadata"]["name"] for o in r.output.objects]

    assert names(False) == ["new"]
    assert names(True) == ["old"]
    assert open_repo(repo.path).resolve("HEAD") == repo.head()  # the checkout was not touched


def test_what_discovery_learned_stays_in_its_run(tmp_path: Path) -> None:
    """argocd-cm's settings reach the apps a root renders in the same run (its DiscoveryState); another run in
    the same process that did not read the workspace starts from Argo CD's defaults."""
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\ndata:\n  application.resourceTrackingMethod: label\n"
    ws = make_workspace(tmp_path, {"argocd/cm.yaml": cm, "root.yaml": application("root", "apps")})
    run = DiscoverOptions(this_repo_urls=THIS)
    root = discover(ws, None, run).apps[0]
    child = yamlio.load_yaml_documents(application("child", "child"), "apps/child.yaml")
    rendered = [RawObject(d.data, Origin(root.name, "apps/child.yaml", 1)) for d in child]
    same_run = expand(root, rendered, ws, run).apps
    other_run = expand(root, rendered, ws, DiscoverOptions(this_repo_urls=THIS)).apps
    assert [a.tracking.method for a in same_run] == [TrackingMethod.LABEL]
    assert [a.tracking.method for a in other_run] == [TrackingMethod.ANNOTATION]
