"""discover.project: the project file's apps, or auto-discovery of Kustomize, Helm and plain folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_check.discover.project import app_name, auto_discover, discover_apps, load_project
from gitops_check.errors import ConfigError
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import Tool
from tests.helpers.gitrepo import make_workspace


def cm(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


CHART = "apiVersion: v2\nname: {name}\nversion: 0.1.0\n"
TEMPLATE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"

REPO = {
    # Two overlays sharing a base, and a component: only the overlays are apps.
    "apps/web/base/kustomization.yaml": "resources: [deploy.yaml]\n",
    "apps/web/base/deploy.yaml": cm("web"),
    "apps/web/components/debug/kustomization.yaml": "kind: Component\n",
    "apps/web/overlays/prod/kustomization.yaml": "resources: [../../base]\ncomponents: [../../components/debug]\n",
    "apps/web/overlays/prod/patches/replicas.yaml": cm("patch-looks-like-a-manifest"),
    "apps/web/overlays/staging/kustomization.yml": "bases: [../../base]\n",
    # A chart with a vendored subchart and a file:// library: one app.
    "charts/api/Chart.yaml": CHART.format(name="api")
    + "dependencies:\n- {name: common, version: 0.1.0, repository: 'file://../../libs/common'}\n",
    "charts/api/templates/cm.yaml": TEMPLATE,
    "charts/api/charts/redis/Chart.yaml": CHART.format(name="redis"),
    "charts/api/charts/redis/templates/cm.yaml": TEMPLATE,
    "libs/common/Chart.yaml": CHART.format(name="common"),
    "libs/common/templates/cm.yaml": TEMPLATE,
    # Plain folders.
    "plain/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: plain\n",
    "plain/nested/cm.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}}',
    # Not apps.
    "docs/README.md": "apiVersion: v1\nkind: ConfigMap\n",
    "config/values.yaml": "replicas: 3\n",
    ".github/workflows/ci.yaml": "apiVersion: v1\nkind: ConfigMap\n",
    ".hidden/cm.yaml": cm("hidden"),
}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path, REPO)


def test_auto_discovery(ws: Workspace) -> None:
    found = discover_apps(ws, None)
    assert [(a.name, a.sources[0].path, a.sources[0].tool) for a in found.apps] == [
        ("apps-web-overlays-prod", "apps/web/overlays/prod", Tool.KUSTOMIZE),
        ("apps-web-overlays-staging", "apps/web/overlays/staging", Tool.KUSTOMIZE),
        ("charts-api", "charts/api", Tool.HELM),
        ("plain", "plain", Tool.DIRECTORY),
        ("plain-nested", "plain/nested", Tool.DIRECTORY),
    ]
    assert found.notes[0] == (
        "found 5 apps: apps/web/overlays/prod (kustomize), apps/web/overlays/staging (kustomize), "
        "charts/api (helm), plain (directory), plain/nested (directory)"
    )
    assert "not apps themselves (used by other apps): apps/web/base, apps/web/components/debug" in found.notes
    assert found.errors == []
    assert {a.kind for a in found.apps} == {"auto"}
    assert found.apps[0].origin == "auto-discovered: apps/web/overlays/prod (kustomize)"


def test_a_base_used_by_nobody_is_an_app(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: [cm.yaml]\n",
            "base/cm.yaml": cm("x"),
            "lonely/kustomization.yaml": "resources: [cm.yaml]\n",
            "lonely/cm.yaml": cm("y"),
            "overlay/kustomization.yaml": "resources: [../base, 'https://github.com/x/y//z?ref=v1']\n",
        },
    )
    assert [a.sources[0].path for a in auto_discover(ws).apps] == ["lonely", "overlay"]


def test_kustomization_beats_chart_in_the_same_folder(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path, {"x/Chart.yaml": CHART.format(name="x"), "x/kustomization.yaml": "resources: []\n"}
    )
    assert [(a.sources[0].path, a.sources[0].tool) for a in auto_discover(ws).apps] == [("x", Tool.KUSTOMIZE)]


def test_root_app_is_named_after_the_repository(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path, {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": cm("x")}, name="k8s-config"
    )
    found = auto_discover(ws)
    assert [(a.name, a.sources[0].path) for a in found.apps] == [("k8s-config", ".")]


def test_names_are_unique_and_dns_friendly(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path, {"a-b/c/cm.yaml": cm("1"), "a/b-c/cm.yaml": cm("2"), "Team_X/Prod/cm.yaml": cm("3")}
    )
    assert sorted(a.name for a in auto_discover(ws).apps) == ["a-b-c", "a-b-c-2", "team-x-prod"]


def test_empty_repository(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"README.md": "hello\n"})
    found = auto_discover(ws)
    assert found.apps == []
    assert found.notes == ["found 0 apps"]


def test_app_name() -> None:
    ws = Workspace(root=Path("/x"), label="x")
    assert app_name("apps/web/overlays/prod", ws) == "apps-web-overlays-prod"
    assert app_name(".", ws) == "root"


# ----------------------------------------------------------------------------------------------- project file

PROJECT = """\
version: 1
apps:
  - name: web
    path: apps/web/overlays/prod
    namespace: web
  - name: typo
    path: apps/web/overlays/prd
  - name: api
    path: charts/api
    tool: helm
  - name: escape
    path: ../elsewhere
"""


def test_project_file_apps(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {**REPO, ".gitops-check.yaml": PROJECT})
    project = load_project(ws)
    assert project is not None and project.path == ".gitops-check.yaml"
    found = discover_apps(ws, project)
    assert [a.name for a in found.apps] == ["web", "api"]
    assert [(e.app, e.message, e.file, e.stage) for e in found.errors] == [
        (
            "typo",
            f"path apps/web/overlays/prd does not exist at {ws.label}",
            ".gitops-check.yaml",
            "discover",
        ),
        ("escape", "path ../elsewhere is outside the repository", ".gitops-check.yaml", "discover"),
    ]
    assert found.notes == [".gitops-check.yaml: 4 apps, 2 with a path that does not exist"]
    assert found.apps[0].destination.namespace == "web"


def test_project_file_without_apps_falls_back_to_discovery(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {**REPO, ".gitops-check.yml": "version: 1\nignoreDifferences: []\n"})
    project = load_project(ws)
    assert project is not None
    found = discover_apps(ws, project)
    assert len(found.apps) == 5
    assert found.notes[0] == ".gitops-check.yml lists no apps: discovering them"


def test_no_project_file(ws: Workspace) -> None:
    assert load_project(ws) is None


def test_invalid_project_file(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {".gitops-check.yaml": "version: 1\napps:\n  - name: x\n    pathh: y\n"})
    with pytest.raises(ConfigError) as e:
        load_project(ws)
    assert e.value.file == ".gitops-check.yaml"
    assert "pathh" in str(e.value)


def test_two_project_files(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {".gitops-check.yaml": "version: 1\n", ".gitops-check.yml": "version: 1\n"})
    with pytest.raises(ConfigError, match="keep one"):
        load_project(ws)
