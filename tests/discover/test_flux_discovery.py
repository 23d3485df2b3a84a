"""discover.flux: which Flux objects are apps, their names, sources, overrides and owners."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_check import repourl
from gitops_check.discover.dispatch import DiscoverOptions, discover, expand
from gitops_check.discover.flux_apps import release_name
from gitops_check.discover.flux_objects import FluxObject
from gitops_check.discover.project import load_project
from gitops_check.model.app import App, IgnoreRule, SyncPolicy
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.source import Tool
from tests.helpers.gitrepo import make_workspace

URL = "ssh://git@github.com/example/fleet"
OPTIONS = DiscoverOptions(
    this_repo_urls=frozenset({repourl.canonical("https://github.com/example/fleet.git")})
)


def gotk_sync(env: str) -> str:
    return f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{url: "{URL}", interval: 1m}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: flux-system, namespace: flux-system}}
spec:
  path: ./clusters/{env}
  prune: true
  sourceRef: {{kind: GitRepository, name: flux-system}}
"""


def ks(name: str, path: str, **spec: str) -> str:
    extra = "".join(f"  {k}: {v}\n" for k, v in spec.items())
    return f"""\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: flux-system}}
spec:
  path: {path}
  sourceRef: {{kind: GitRepository, name: flux-system}}
{extra}"""


def cluster(env: str) -> dict[str, str]:
    return {
        f"clusters/{env}/flux-system/gotk-sync.yaml": gotk_sync(env),
        f"clusters/{env}/flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
        f"clusters/{env}/apps.yaml": ks("apps", f"./apps/{env}", prune="true", dependsOn="[{name: infra}]"),
    }


APPS = {
    "apps/base/release.yaml": """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: web}
spec:
  chart: {spec: {chart: ./charts/web, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}}
""",
    "apps/base/kustomization.yaml": "resources: [release.yaml]\n",
    "apps/prod/kustomization.yaml": "resources: [../base]\npatches: [{path: patch.yaml}]\n",
    "apps/prod/patch.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web}\n",
}


def workspace(tmp_path: Path, files: dict[str, str]) -> Workspace:
    return make_workspace(tmp_path, files)


def names(apps: list[App]) -> list[str]:
    return [a.name for a in apps]


def test_single_cluster_roots(tmp_path: Path) -> None:
    ws = workspace(tmp_path, {**cluster("prod"), **APPS})
    found = discover(ws, None, OPTIONS)
    assert names(found.apps) == [
        "Kustomization/flux-system/flux-system"
    ]  # apps.yaml is applied by flux-system
    assert found.errors == []
    root = found.apps[0]
    source = root.sources[0]
    assert (source.path, source.tool, source.repo) == ("clusters/prod", Tool.FLUX_KUSTOMIZE, None)
    assert root.destination.name is None and root.kind == "flux-kustomization"
    assert root.tracking.flux_owner == ("flux-system", "flux-system")
    assert root.appliers == ("kustomize-controller",)
    assert root.origin == (
        "clusters/prod/flux-system/gotk-sync.yaml:6 (clusters/prod of GitRepository flux-system/flux-system "
        "(this repository))"
    )
    assert root.sync_policy == SyncPolicy(automated=True, prune=True, self_heal=True)
    assert (
        found.notes[0]
        == "flux: 2 Kustomization(s) and 1 HelmRelease(s) in the repository; 1 applied by none of the others"
    )


def test_several_clusters_get_prefixes_and_destinations(tmp_path: Path) -> None:
    ws = workspace(tmp_path, {**cluster("prod"), **cluster("staging"), **APPS})
    found = discover(ws, None, OPTIONS)
    assert names(found.apps) == [
        "prod/Kustomization/flux-system/flux-system",
        "staging/Kustomization/flux-system/flux-system",
    ]
    assert [a.destination.name for a in found.apps] == ["prod", "staging"]


def test_expanding_a_render(tmp_path: Path) -> None:
    ws = workspace(tmp_path, {**cluster("prod"), **APPS})
    root = discover(ws, None, OPTIONS).apps[0]
    rendered = [
        RawObject(doc, root.origin)  # type: ignore[arg-type]
        for doc in (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vars", "namespace": "flux-system"},
             "data": {"env": "prod"}},
            {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
             "metadata": {"name": "flux-system", "namespace": "flux-system"}, "spec": {}},
            {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
             "metadata": {"name": "apps", "namespace": "flux-system"},
             "spec": {"path": "./apps/prod", "prune": False, "suspend": True, "dependsOn": [{"name": "infra"}],
                      "sourceRef": {"kind": "GitRepository", "name": "flux-system"}, "targetNamespace": "web",
                      "postBuild": {"substitute": {"b": "2"}, "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]},
                      "components": ["../missing"], "ignoreMissingComponents": True}},
        )
    ]  # fmt: skip
    children = expand(root, rendered, ws, OPTIONS)
    assert children.errors == []
    assert names(children.apps) == ["Kustomization/flux-system/apps"]  # flux-system itself is not found again
    child = children.apps[0]
    assert child.sources[0].substitute == {"env": "prod", "b": "2"}
    assert child.sources[0].kustomize.namespace == "web" and child.sources[0].kustomize.components == ()
    assert child.destination.namespace == "web"
    assert child.tracking.flux_owner is None  # prune: false, nothing would be pruned
    assert child.origin == (
        "rendered by Kustomization/flux-system/flux-system (apps/prod of GitRepository flux-system/flux-system "
        "(this repository); after flux-system/infra; suspended: Flux applies nothing until it is resumed)"
    )
    assert child.sync_policy == SyncPolicy(automated=False, prune=False, self_heal=False)


def test_drift_detection_ignore_rules(tmp_path: Path) -> None:
    release = APPS["apps/base/release.yaml"] + (
        "  driftDetection:\n    mode: enabled\n    ignore:\n"
        "    - paths: [/spec/replicas]\n      target: {kind: Deployment}\n"
        "    - paths: [/metadata/annotations]\n"
        "    - paths: [/data]\n      target: {kind: ConfigMap, labelSelector: 'a=b'}\n"
    )
    files = {"flux-system/sync.yaml": gotk_sync("x").split("---")[0], "apps/base/release.yaml": release}
    hr = discover(workspace(tmp_path, files), None, OPTIONS).apps[0]
    assert hr.ignore == (
        IgnoreRule(kind="Deployment", json_pointers=("/spec/replicas",)),
        IgnoreRule(json_pointers=("/metadata/annotations",)),
    )  # the rule with a label selector is left out: it would ignore more than helm-controller does


def test_helm_release_on_its_own(tmp_path: Path) -> None:
    ws = workspace(tmp_path, {"flux-system/sync.yaml": gotk_sync("x").split("---")[0], **APPS})
    found = discover(ws, None, OPTIONS)
    assert names(found.apps) == ["HelmRelease/web/web"]  # the patch in apps/prod is not an object of its own
    hr = found.apps[0]
    source = hr.sources[0]
    assert (source.path, source.tool, source.helm.release_name, source.helm.namespace) == (
        "charts/web",
        Tool.FLUX_HELM,
        "web",
        "web",
    )
    assert hr.tracking.helm_release == ("web", "web") and hr.appliers == ("helm-controller",)
    assert hr.sync_policy == SyncPolicy(automated=True, prune=False, self_heal=False)  # no driftDetection


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, "web"),
        ({"targetNamespace": "prod"}, "prod-web"),
        ({"targetNamespace": "prod", "releaseName": "custom"}, "custom"),
        # helm-controller's documented example (its hash; the docs show 42 characters before it, the code 40)
        (
            {"targetNamespace": "a-very-lengthy-target-namespace-with-a-nice-object", "name": "name"},
            "a-very-lengthy-target-namespace-with-a-n-97af5d7f41f3",
        ),
    ],
)
def test_release_names(spec: dict[str, str], expected: str) -> None:
    obj = FluxObject("HelmRelease", "apps", spec.pop("name", "web"), {"spec": spec})
    assert release_name(obj, spec) == expected


def test_sources_that_cannot_be_checked(tmp_path: Path) -> None:
    other = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: other, namespace: flux-system}
spec: {url: "https://user:t0ken@git.example.com/team/other.git"}
"""
    files = {
        "other.yaml": other,
        "a.yaml": ks("unmapped", "./x").replace("name: flux-system}", "name: other}"),
        "b.yaml": ks("oci", "./x").replace(
            "kind: GitRepository, name: flux-system", "kind: OCIRepository, name: o"
        ),
        "c.yaml": ks("unknown", "./x").replace("name: flux-system}", "name: nowhere}"),
        "d.yaml": ks("templated", "./apps/${env}"),
    }
    found = discover(workspace(tmp_path, files), None, OPTIONS)
    # another repository is fetched when rendering (tests/remote); its credentials are never shown
    [unmapped] = found.apps
    assert unmapped.name == "Kustomization/flux-system/unmapped"
    assert unmapped.sources[0].repo_url == "https://user:t0ken@git.example.com/team/other.git"
    assert unmapped.sources[0].target_revision == "refs/heads/master"
    assert "t0ken" not in unmapped.origin
    errors = {e.app: e.message for e in found.errors}
    assert "OCIRepository flux-system/o is not defined" in errors["Kustomization/flux-system/oci"]
    assert "GitRepository flux-system/nowhere is not defined" in errors["Kustomization/flux-system/unknown"]
    assert "a ${variable} the parent did not substitute" in errors["Kustomization/flux-system/templated"]


def test_mapped_repository(tmp_path: Path) -> None:
    mapped = make_workspace(tmp_path, {"deploy/cm.yaml": "kind: ConfigMap"}, name="other")
    url = "https://git.example.com/team/other.git"
    files = {
        "other.yaml": f"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: other, "
        f"namespace: flux-system}}\nspec: {{url: '{url}'}}\n",
        "a.yaml": ks("team", "./deploy").replace("name: flux-system}", "name: other}"),
    }
    options = DiscoverOptions(repo_map={repourl.canonical(url): mapped})
    found = discover(workspace(tmp_path, files), None, options)
    assert [(a.name, a.sources[0].repo) for a in found.apps] == [
        ("Kustomization/flux-system/team", "git.example.com/team/other")
    ]


def test_kustomizations_in_a_cycle_are_still_checked(tmp_path: Path) -> None:
    files = {
        "a/ks.yaml": ks("a", "./b"),
        "b/ks.yaml": ks("b", "./a"),
        "flux.yaml": gotk_sync("x").split("---")[0],
    }
    found = discover(workspace(tmp_path, files), None, OPTIONS)
    assert names(found.apps) == ["Kustomization/flux-system/a"]
    assert any("applied only from a cycle" in n for n in found.notes)


def test_discovery_can_be_turned_off(tmp_path: Path) -> None:
    ws = workspace(
        tmp_path, {**cluster("prod"), **APPS, ".gitops-check.yaml": "version: 1\ndiscovery: {flux: false}\n"}
    )
    found = discover(ws, load_project(ws), OPTIONS)
    assert not any(a.kind.startswith("flux") for a in found.apps)
