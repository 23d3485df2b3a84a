"""Apps that cannot be rendered decide a preview's verdict only when the change touches what they read.

The repository mixes apps gitops-check renders (plain, Helm, jsonnet) with apps it cannot render whatever features
land: an Argo CD plugin app without a plugin definition, a chart from a Helm repository nobody can reach, an app
whose folder leaves the repository, an App of Apps root whose chart is broken. A jsonnet app may import any file of
the repository, so every change touches it: broken, it is exit 2 whatever changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml

from gitops_check.cli import main
from gitops_check.cluster.snapshot import SnapshotSource
from gitops_check.model.result import CheckResult
from gitops_check.report.jsonout import schema
from tests.helpers.binaries import HELM, KUSTOMIZE, cached_binary
from tests.helpers.gitrepo import GitRepo
from tests.preview.conftest import Preview, by_name
from tests.preview.repos import CHART, REPO_URL, make_repo

UNREACHABLE = "http://127.0.0.1:9/charts"  # the discard port: nothing answers


def argo_app(name: str, source: str) -> str:
    body = "\n".join("    " + line for line in source.strip().splitlines())
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source:
{body}
  destination:
    server: https://kubernetes.default.svc
    namespace: {name}
"""


PLUGIN = argo_app("plugin-app", f"repoURL: {REPO_URL}\npath: plugins/thing\ntargetRevision: main\n"
                  "plugin:\n  name: thing\n  env:\n    - {name: LEVEL, value: '1'}")  # fmt: skip
JSONNET = argo_app("jsonnet-app", f"repoURL: {REPO_URL}\npath: jsonnet/app\ntargetRevision: main\n"
                   "directory:\n  jsonnet:\n    extVars: [{name: env, value: prod}]")  # fmt: skip
REMOTE = argo_app("remote-chart", f"repoURL: {UNREACHABLE}\nchart: nginx\ntargetRevision: 1.0.0\n"
                  "helm:\n  valuesObject: {replicaCount: 2}")  # fmt: skip

FILES = {
    ".gitops-check.yaml": "version: 1\napps:\n"
    "  - {name: tools, path: plain/tools, namespace: tools}\n"
    "  - {name: web, path: charts/web, namespace: web, helm: {valueFiles: [/values/web.yaml]}}\n",
    "plain/tools/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tools\ndata:\n  a: b\n",
    "values/web.yaml": "replicas: 2\n",
    **CHART,
    "apps/plugin.yaml": PLUGIN,
    "plugins/thing/config.txt": "level: 1\n",
    "apps/jsonnet.yaml": JSONNET,
    "jsonnet/app/main.jsonnet": "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'j', namespace: 'j'},"
    " data: {env: std.extVar('env')}}\n",
    "apps/remote.yaml": REMOTE,
    "README.md": "# deploy\n",
}
UNRENDERABLE = {"plugin-app", "remote-chart"}


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path / "repo", FILES)


def change(repo: GitRepo, files: dict[str, str]) -> None:
    repo.write(files)
    repo.commit("change")


def untouched(result: CheckResult) -> dict[str, str]:
    return {a.app.name: a.untouched for a in result.apps if a.untouched}


def failed(result: CheckResult) -> set[str]:
    return {a.app.name for a in result.apps if a.failed} | {e.app for e in result.errors}


def test_change_to_a_plain_app_leaves_the_unrenderable_ones_untouched(
    repo: GitRepo, preview: Preview
) -> None:
    change(repo, {"plain/tools/cm.yaml": FILES["plain/tools/cm.yaml"].replace("a: b", "a: c")})

    result = preview(repo.path, "HEAD~1")

    assert result.exit_code() == 1
    assert failed(result) == set() and not result.errors
    assert set(untouched(result)) == UNRENDERABLE
    assert "config management plugin" in untouched(result)["plugin-app"]
    assert by_name(result)["tools"].drifted


def test_no_change_but_the_same_unrenderable_apps_is_exit_0(repo: GitRepo, preview: Preview) -> None:
    change(repo, {"README.md": "# deploy, again\n"})
    assert preview(repo.path, "HEAD~1").exit_code() == 0
    same = preview(repo.path, "HEAD", "HEAD")  # base and head the very same commit
    assert same.exit_code() == 0 and set(untouched(same)) == UNRENDERABLE


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"plugins/thing/config.txt": "level: 2\n"}, id="inside-its-folder"),
        pytest.param({"plugins/thing/new.yaml": "a: 1\n"}, id="new-file-in-its-folder"),
        pytest.param(
            {"apps/plugin.yaml": PLUGIN.replace("value: '1'", "value: '2'")}, id="its-declaring-file"
        ),
    ],
)
def test_a_change_touching_the_plugin_app_is_exit_2(
    repo: GitRepo, preview: Preview, files: dict[str, str]
) -> None:
    change(repo, files)

    result = preview(repo.path, "HEAD~1")

    assert result.exit_code() == 2
    assert failed(result) == {"plugin-app"}
    assert set(untouched(result)) == UNRENDERABLE - {"plugin-app"}
    errors = by_name(result)["plugin-app"].errors
    assert errors and all("config management plugin" in e.message for e in errors)


def test_a_change_touching_the_remote_chart_or_the_jsonnet_app_is_exit_2(
    repo: GitRepo, preview: Preview
) -> None:
    change(repo, {"apps/remote.yaml": REMOTE.replace("replicaCount: 2", "replicaCount: 3")})
    assert failed(preview(repo.path, "HEAD~1")) == {"remote-chart"}
    change(repo, {"jsonnet/app/main.jsonnet": "{ broken: \n"})
    result = preview(repo.path, "HEAD~1")
    assert failed(result) == {"jsonnet-app"} and result.exit_code() == 2


def test_an_app_whose_inputs_cannot_be_told_stays_exit_2(tmp_path: Path, preview: Preview) -> None:
    """A folder leaving the repository: what the change touches is unknown, so it is never "untouched"."""
    outside = argo_app("outside", f"repoURL: {REPO_URL}\npath: ../elsewhere\ntargetRevision: main")
    repo = make_repo(tmp_path / "repo", {**FILES, "apps/outside.yaml": outside})
    change(repo, {"README.md": "# deploy, again\n"})

    result = preview(repo.path, "HEAD~1")

    assert failed(result) == {"outside"} and result.exit_code() == 2


ROOT_CHART = {
    "root/Chart.yaml": "apiVersion: v2\nname: root\nversion: 0.1.0\n",
    "root/values.yaml": "tag: '1.0'\n",
    # Both children come out of one template: the plugin child's spec does not depend on the changed value.
    "root/templates/apps.yaml": f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: child-web, namespace: argocd}}
spec:
  project: default
  source:
    repoURL: {REPO_URL}
    path: charts/web
    targetRevision: main
    helm:
      parameters: [{{name: image, value: "nginx:{{{{ .Values.tag }}}}"}}]
  destination: {{server: https://kubernetes.default.svc, namespace: child-web}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: child-plugin, namespace: argocd}}
spec:
  project: default
  source:
    repoURL: {REPO_URL}
    path: plugins/thing
    targetRevision: main
    plugin: {{name: thing}}
  destination: {{server: https://kubernetes.default.svc, namespace: child-plugin}}
""",
    "apps/root.yaml": argo_app("root", f"repoURL: {REPO_URL}\npath: root\ntargetRevision: main"),
}


def test_app_of_apps_child_with_identical_spec_and_inputs_is_untouched(
    tmp_path: Path, preview: Preview
) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, **ROOT_CHART})
    change(repo, {"root/values.yaml": "tag: '1.1'\n"})

    result = preview(repo.path, "HEAD~1")

    assert result.exit_code() == 1, [(a.app.name, a.errors) for a in result.apps if a.failed]
    assert {a.app.name for a in result.apps if a.drifted} == {"root", "child-web"}
    assert set(untouched(result)) == UNRENDERABLE | {"child-plugin"}

    # The same template, now changing the plugin child's spec: touched.
    change(repo, {"root/templates/apps.yaml": ROOT_CHART["root/templates/apps.yaml"].replace(
        "plugin: {name: thing}", "plugin: {name: thing, env: [{name: A, value: b}]}")})  # fmt: skip
    assert failed(preview(repo.path, "HEAD~1")) == {"child-plugin"}


def test_the_cluster_comparison_keeps_its_own_rule(repo: GitRepo, preview: Preview, tmp_path: Path) -> None:
    """Untouched apps are not compared with the cluster; what the snapshot lacks for them changes nothing."""
    change(repo, {"plain/tools/cm.yaml": FILES["plain/tools/cm.yaml"].replace("a: b", "a: c")})
    live = yaml.safe_load(FILES["plain/tools/cm.yaml"])
    live["metadata"]["namespace"] = "tools"
    live["data"]["a"] = "by-hand"
    snapshot = tmp_path / "cluster.yaml"
    snapshot.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [live]}))

    result = preview(repo.path, "HEAD~1", default_source=SnapshotSource(str(snapshot)))

    assert result.baseline is not None
    assert {a.app.name for a in result.baseline.apps} == {"tools"}
    assert result.exit_code() == 1 and set(untouched(result)) == UNRENDERABLE


# ---------------------------------------------------------------------------------------------------------------
# From the command line: the verdict, the reports, and ``diff`` unchanged


@pytest.fixture
def cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str]]:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "GITOPS_CHECK_CACHE_DIR"):
        monkeypatch.setenv(name, "")
    tools = ["--helm", str(cached_binary(HELM)), "--kustomize", str(cached_binary(KUSTOMIZE))]

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main([*argv[:1], *tools, "--no-color", *argv[1:]])
        out = capsys.readouterr()
        return code, out.out + out.err

    return run


def test_reports_list_untouched_apps_apart_from_errors(
    repo: GitRepo, tmp_path: Path, cli: Callable[..., tuple[int, str]]
) -> None:
    change(repo, {"plain/tools/cm.yaml": FILES["plain/tools/cm.yaml"].replace("a: b", "a: c")})
    md, junit, js = tmp_path / "r.md", tmp_path / "r.xml", tmp_path / "r.json"

    code, out = cli("preview", "--repo", str(repo.path), "--base", "HEAD~1", "--no-cache",
                    "--work-dir", str(tmp_path / "work"), "--markdown", str(md), "--junit", str(junit),
                    "--json", str(js))  # fmt: skip

    assert code == 1, out
    assert "error" not in out.lower().replace("errors", "")
    assert "not checked, untouched by this change" in out
    for name in UNRENDERABLE:
        assert name in out
    text = md.read_text()
    assert "<details><summary>2 apps not checked, untouched by this change</summary>" in text
    assert "`plugin-app`" in text
    xml = junit.read_text()
    assert xml.count("<skipped") == 2 and "<error" not in xml and "untouched by this change" in xml
    data = json.loads(js.read_text())
    listed = {a["name"]: a for a in data["apps"]}
    assert {n for n, a in listed.items() if a.get("untouched")} == UNRENDERABLE
    jsonschema.Draft202012Validator(schema()).validate(data)


def test_diff_still_exits_2_for_what_it_cannot_check(
    repo: GitRepo, tmp_path: Path, cli: Callable[..., tuple[int, str]]
) -> None:
    snapshot = tmp_path / "empty.yaml"
    snapshot.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    code, out = cli(
        "diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--assume-complete-snapshot"
    )
    assert code == 2
    for name in UNRENDERABLE:
        assert name in out
    assert "config management plugin" in out


def test_an_untouched_root_that_cannot_be_rendered_hides_its_children_so_stays_exit_2(
    tmp_path: Path, preview: Preview
) -> None:
    broken = {**ROOT_CHART, "root/templates/broken.yaml": "{{ .Values.missing.deeper }}\n"}
    repo = make_repo(tmp_path / "repo", {**FILES, **broken})
    change(repo, {"plain/tools/cm.yaml": FILES["plain/tools/cm.yaml"].replace("a: b", "a: c")})

    result = preview(repo.path, "HEAD~1")

    assert failed(result) == {"root"} and result.exit_code() == 2
    [error] = by_name(result)["root"].errors
    assert "declares apps the change may touch" in error.message
