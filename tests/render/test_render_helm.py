"""render.helm with the real Helm 3 and Helm 4 binaries (every test runs against both)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from gitops_check.errors import RenderError
from gitops_check.model.app import App, Destination
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import HelmOptions, HelmParameter, Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.remote.policy import NetworkPolicy
from gitops_check.render.app import render_app
from gitops_check.render.base import RenderOutput, SharedWork
from gitops_check.render.helm import escape_set_value
from tests.helpers.gitrepo import GitRepo, make_workspace

CHART = "charts/app"

FILES = {
    f"{CHART}/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    f"{CHART}/values.yaml": "color: chart\nsize: default\nnum: 1\nlist: []\nfail: false\nnote: ''\n",
    f"{CHART}/templates/cm.yaml": """\
{{- if .Values.fail }}{{ fail "the chart refused: fail=true" }}{{ end }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-values
  namespace: {{ .Release.Namespace }}
data:
  color: {{ .Values.color | quote }}
  size: {{ .Values.size | quote }}
  numKind: {{ kindOf .Values.num | quote }}
  list: {{ .Values.list | toJson | quote }}
  note: {{ .Values.note | quote }}
""",
    f"{CHART}/templates/caps.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: caps
data:
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
  hasWidgets: {{ .Capabilities.APIVersions.Has "widgets.example.com/v1" | quote }}
""",
    f"{CHART}/templates/tests/test-pod.yaml": """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: {"helm.sh/hook": test}
spec:
  containers: [{name: t, image: busybox}]
""",
    f"{CHART}/crds/widget.yaml": """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
""",
    f"{CHART}/values-a.yaml": "color: a\nsize: from-a\n",
    f"{CHART}/values-b.yaml": "color: b\n",
    f"{CHART}/note.txt": "from a file",
    "env/prod/values.yaml": "color: env-prod\n",
}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path, FILES)


def render(
    ws: Workspace,
    helm_bin: Path,
    *,
    path: str = CHART,
    name: str = "web",
    dest_namespace: str | None = "team-a",
    options: RenderOptions | None = None,
    sources: tuple[Source, ...] = (),
    shared: SharedWork | None = None,
    **helm: Any,
) -> RenderOutput:
    opts = options or RenderOptions()
    opts = RenderOptions(
        helm_binary=str(helm_bin),
        kube_version=opts.kube_version,
        api_versions=opts.api_versions,
        timeout=120,
        network=opts.network,
    )
    source = Source(path=path, tool=Tool.AUTO, helm=HelmOptions(**helm))
    app = App(name=name, sources=(source, *sources), destination=Destination(namespace=dest_namespace))
    return render_app(app, ws, opts, shared=shared)


def find(out: RenderOutput, kind: str, name: str) -> dict[str, Any]:
    for o in out.objects:
        if o.body.get("kind") == kind and o.body["metadata"]["name"] == name:
            return o.body  # type: ignore[no-any-return]
    raise AssertionError(f"{kind}/{name} not rendered: {[o.body['metadata']['name'] for o in out.objects]}")


def values(out: RenderOutput, release: str = "web") -> dict[str, str]:
    return find(out, "ConfigMap", f"{release}-values")["data"]  # type: ignore[no-any-return]


def test_defaults_release_namespace_and_origins(ws: Workspace, helm_bin: Path) -> None:
    out = render(ws, helm_bin)
    cm = find(out, "ConfigMap", "web-values")
    assert cm["metadata"]["namespace"] == "team-a"
    assert cm["data"]["color"] == "chart"
    origins = {(o.body["kind"], o.body["metadata"]["name"]): o.origin for o in out.objects}
    assert origins[("ConfigMap", "web-values")].file == f"{CHART}/templates/cm.yaml"
    assert origins[("ConfigMap", "caps")].file == f"{CHART}/templates/caps.yaml"
    assert origins[("CustomResourceDefinition", "widgets.example.com")].file == f"{CHART}/crds/widget.yaml"
    assert origins[("Pod", "web-test")].file == f"{CHART}/templates/tests/test-pod.yaml"
    assert {o.origin.app for o in out.objects} == {"web"}
    assert {o.origin.line for o in out.objects} == {None}


def test_release_name_and_namespace_options(ws: Workspace, helm_bin: Path) -> None:
    out = render(ws, helm_bin, release_name="custom", dest_namespace="ignored", namespace="from-helm")
    assert find(out, "ConfigMap", "custom-values")["metadata"]["namespace"] == "from-helm"


def test_namespace_does_not_depend_on_kubeconfig(
    ws: Workspace, helm_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "contexts: [{name: c, context: {cluster: k, user: u, namespace: from-kubeconfig}}]\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("HELM_NAMESPACE", "from-env")
    out = render(ws, helm_bin, dest_namespace=None)
    assert find(out, "ConfigMap", "web-values")["metadata"]["namespace"] == "default"


def test_value_files_in_order_then_inline_values_then_parameters(ws: Workspace, helm_bin: Path) -> None:
    assert values(render(ws, helm_bin, value_files=("values-a.yaml", "values-b.yaml")))["color"] == "b"
    assert values(render(ws, helm_bin, value_files=("values-b.yaml", "values-a.yaml")))["color"] == "a"
    inline = render(ws, helm_bin, value_files=("values-a.yaml",), values=({"color": "inline"},))
    assert values(inline) == {**values(inline), "color": "inline", "size": "from-a"}
    two_inline = render(ws, helm_bin, values=({"color": "first", "size": "s1"}, {"color": "second"}))
    assert (values(two_inline)["color"], values(two_inline)["size"]) == ("second", "s1")
    typed = render(ws, helm_bin, values=({"note": "yes", "size": "2024-01-01", "num": "3"},))
    assert (values(typed)["note"], values(typed)["size"], values(typed)["numKind"]) == (
        "yes",
        "2024-01-01",
        "string",
    )
    param = render(
        ws,
        helm_bin,
        value_files=("values-a.yaml",),
        values=({"color": "inline"},),
        parameters=(HelmParameter("color", "param"),),
    )
    assert values(param)["color"] == "param"


def test_value_files_relative_to_repository_root_and_refs(ws: Workspace, helm_bin: Path) -> None:
    assert values(render(ws, helm_bin, value_files=("../../env/prod/values.yaml",)))["color"] == "env-prod"
    assert values(render(ws, helm_bin, value_files=("/env/prod/values.yaml",)))["color"] == "env-prod"
    ref_source = Source(path="", ref="cfg")
    out = render(ws, helm_bin, value_files=("$cfg/env/prod/values.yaml",), sources=(ref_source,))
    assert values(out)["color"] == "env-prod"


def test_value_file_globs_expand_in_lexical_order(ws: Workspace, helm_bin: Path) -> None:
    assert values(render(ws, helm_bin, value_files=("values-*.yaml",)))["color"] == "b"


def test_set_versus_set_string(ws: Workspace, helm_bin: Path) -> None:
    as_number = render(ws, helm_bin, parameters=(HelmParameter("num", "42"),))
    as_string = render(ws, helm_bin, parameters=(HelmParameter("num", "42", force_string=True),))
    assert values(as_number)["numKind"] in ("int64", "float64")
    assert values(as_string)["numKind"] == "string"


def test_set_values_with_commas_and_lists(ws: Workspace, helm_bin: Path) -> None:
    out = render(
        ws,
        helm_bin,
        parameters=(HelmParameter("color", "red,green"), HelmParameter("list", "{x,y}")),
    )
    assert values(out)["color"] == "red,green"
    assert values(out)["list"] == '["x","y"]'


def test_set_file(ws: Workspace, helm_bin: Path) -> None:
    out = render(ws, helm_bin, file_parameters=(("note", "note.txt"),))
    assert values(out)["note"] == "from a file"
    with pytest.raises(RenderError, match=re.escape("setFile path missing.txt")):
        render(ws, helm_bin, file_parameters=(("note", "missing.txt"),))
    with pytest.raises(RenderError, match="outside the repository"):
        render(ws, helm_bin, file_parameters=(("note", "../../../etc/hostname"),))


def test_crds_included_unless_skipped(ws: Workspace, helm_bin: Path) -> None:
    kinds = [o.body["kind"] for o in render(ws, helm_bin).objects]
    assert "CustomResourceDefinition" in kinds
    kinds = [o.body["kind"] for o in render(ws, helm_bin, skip_crds=True).objects]
    assert "CustomResourceDefinition" not in kinds


def test_skip_tests(ws: Workspace, helm_bin: Path) -> None:
    assert "Pod" in [o.body["kind"] for o in render(ws, helm_bin).objects]
    assert "Pod" not in [o.body["kind"] for o in render(ws, helm_bin, skip_tests=True).objects]


def test_kube_version_and_api_versions_reach_capabilities(ws: Workspace, helm_bin: Path) -> None:
    caps = find(render(ws, helm_bin), "ConfigMap", "caps")["data"]
    assert caps["hasWidgets"] == "false"
    defaults = RenderOptions(kube_version="1.29.3", api_versions=("widgets.example.com/v1",))
    caps = find(render(ws, helm_bin, options=defaults), "ConfigMap", "caps")["data"]
    assert caps == {"kubeVersion": "v1.29.3", "hasWidgets": "true"}
    # The app's own settings win over the run's defaults.
    caps = find(
        render(
            ws, helm_bin, options=defaults, kube_version="v1.31.0", api_versions=("other.example.com/v1",)
        ),
        "ConfigMap",
        "caps",
    )["data"]
    assert caps == {"kubeVersion": "v1.31.0", "hasWidgets": "false"}


def test_missing_value_file(ws: Workspace, helm_bin: Path) -> None:
    with pytest.raises(RenderError) as e:
        render(ws, helm_bin, value_files=("values-a.yaml", "values-missing.yaml"))
    assert "value file values-missing.yaml does not exist" in e.value.message
    assert "ignoreMissingValueFiles" in e.value.message
    out = render(
        ws, helm_bin, value_files=("values-missing.yaml", "values-a.yaml"), ignore_missing_value_files=True
    )
    assert values(out)["color"] == "a"
    assert out.warnings == ["value file values-missing.yaml not found, skipped (ignoreMissingValueFiles)"]


@pytest.mark.parametrize(
    "value_file", ["../../../outside.yaml", "/../outside.yaml", "/etc/../../outside.yaml"]
)
def test_value_file_outside_the_repository_is_refused(ws: Workspace, helm_bin: Path, value_file: str) -> None:
    (ws.root.parent / "outside.yaml").write_text("color: stolen\n")
    with pytest.raises(RenderError, match="outside the repository"):
        render(ws, helm_bin, value_files=(value_file,), ignore_missing_value_files=True)


def test_value_file_symlink_outside_is_refused(tmp_path: Path, helm_bin: Path) -> None:
    (tmp_path / "outside.yaml").write_text("color: stolen\n")
    ws = make_workspace(tmp_path, FILES, symlinks={f"{CHART}/values-link.yaml": "../../../outside.yaml"})
    with pytest.raises(RenderError, match=re.escape("symlink charts/app/values-link.yaml points outside")):
        render(ws, helm_bin, value_files=("values-link.yaml",))


def test_value_file_url_needs_the_network(ws: Workspace, helm_bin: Path) -> None:
    with pytest.raises(RenderError, match="is a URL: fetching it needs the network"):
        render(ws, helm_bin, value_files=("https://example.com/values.yaml",))


def test_template_failure_reports_helm_error(ws: Workspace, helm_bin: Path) -> None:
    with pytest.raises(RenderError) as e:
        render(ws, helm_bin, parameters=(HelmParameter("fail", "true"),))
    message = str(e.value)
    assert message.startswith(f"helm template for app web ({CHART}) failed: ")
    assert "the chart refused: fail=true" in message
    assert "level=" not in message and str(ws.root) not in message
    assert e.value.app == "web"


DEPENDENT_FILES = {
    "libs/common/Chart.yaml": "apiVersion: v2\nname: common\nversion: 0.2.0\n",
    "libs/common/templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-common\n"
        "data:\n  from: {{ .Values.from | quote }}\n"
    ),
    "libs/common/values.yaml": "from: library\n",
    "charts/top/Chart.yaml": (
        "apiVersion: v2\nname: top\nversion: 1.0.0\n"
        "dependencies:\n- name: common\n  version: 0.2.0\n  repository: file://../../libs/common\n"
    ),
    "charts/top/values.yaml": "common:\n  from: parent\n",
    "charts/top/templates/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n",
}


def test_local_file_dependency_is_built_in_the_workspace(tmp_path: Path, helm_bin: Path) -> None:
    ws = make_workspace(tmp_path, DEPENDENT_FILES)
    repo = GitRepo(tmp_path / "repo")
    before = repo.status()
    out = render(ws, helm_bin, path="charts/top", name="top")
    dep = find(out, "ConfigMap", "top-common")
    assert dep["data"] == {"from": "parent"}
    origin = next(o.origin for o in out.objects if o.body["metadata"]["name"] == "top-common")
    assert origin.file == "charts/top/charts/common/templates/cm.yaml"
    assert (ws.root / "charts/top/charts").is_dir()  # built in the workspace ...
    assert not (repo.path / "charts/top/charts").exists()  # ... never in the checkout
    assert repo.status() == before


def test_shared_chart_dependencies_are_built_once_under_concurrency(tmp_path: Path, helm_bin: Path) -> None:
    """Apps of one run rendering the same chart at once: its dependencies are prepared once (the run's
    SharedWork), never by two helm processes in the same folder (they would race on charts/tmpcharts-*)."""
    ws = make_workspace(tmp_path, DEPENDENT_FILES)
    shared = SharedWork()  # one per run, as pipeline/rendering.py hands it to every render
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            out = render(
                ws,
                helm_bin,
                path="charts/top",
                name=f"top{i}",
                values=({"common": {"from": f"v{i}"}},),
                shared=shared,
            )
            results[f"top{i}"] = find(out, "ConfigMap", f"top{i}-common")["data"]["from"]
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == {f"top{i}": f"v{i}" for i in range(4)}


def test_vendored_dependencies_are_used_as_they_are(tmp_path: Path, helm_bin: Path) -> None:
    files = dict(DEPENDENT_FILES)
    files["charts/top/Chart.yaml"] = files["charts/top/Chart.yaml"].replace(
        "file://../../libs/common", "https://charts.example.com"
    )
    for name, text in list(files.items()):
        if name.startswith("libs/common/"):
            files["charts/top/charts/common/" + name.removeprefix("libs/common/")] = text
    ws = make_workspace(tmp_path, files)
    out = render(ws, helm_bin, path="charts/top", name="top")
    assert find(out, "ConfigMap", "top-common")["data"] == {"from": "parent"}


def test_remote_dependency_offline_is_not_checked(tmp_path: Path, helm_bin: Path) -> None:
    files = dict(DEPENDENT_FILES)
    files["charts/top/Chart.yaml"] = files["charts/top/Chart.yaml"].replace(
        "file://../../libs/common", "https://charts.example.com"
    )
    ws = make_workspace(tmp_path, files)
    with pytest.raises(RenderError) as e:
        render(
            ws,
            helm_bin,
            path="charts/top",
            name="top",
            options=RenderOptions(network=NetworkPolicy(offline=True)),
        )
    assert e.value.message == (
        "not checked: dependency common of chart charts/top: https://charts.example.com/index.yaml: not fetched, "
        "the run is offline (--offline)"
    )


def test_file_dependency_outside_the_repository_is_refused(tmp_path: Path, helm_bin: Path) -> None:
    files = dict(DEPENDENT_FILES)
    files["charts/top/Chart.yaml"] = files["charts/top/Chart.yaml"].replace(
        "file://../../libs/common", "file://../../../elsewhere"
    )
    ws = make_workspace(tmp_path, files)
    with pytest.raises(RenderError, match="outside the repository"):
        render(ws, helm_bin, path="charts/top", name="top")


@pytest.mark.parametrize(
    ("value", "escaped"),
    [("a,b", "a\\,b"), ("a\\,b", "a\\,b"), ("{a,b}", "{a,b}"), ("plain", "plain"), ("", "")],
)
def test_escape_set_value_like_argo_cd(value: str, escaped: str) -> None:
    assert escape_set_value(value) == escaped
