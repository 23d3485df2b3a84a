"""render.flux_helm: a HelmRelease's chart rendered as helm-controller installs it, with real Helm 3 and Helm 4."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops_check.diff.hooks import split_hooks
from gitops_check.errors import RenderError
from gitops_check.model.app import App, Destination
from gitops_check.model.objects import SecretText
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import HelmOptions, KustomizeOptions, Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.remote.policy import NetworkPolicy
from gitops_check.render.app import render_app
from gitops_check.render.base import RenderOutput
from tests.helpers.gitrepo import make_workspace

CHART = "charts/app"
FILES = {
    f"{CHART}/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    f"{CHART}/values.yaml": "image: app:1.0\nreplicas: 1\nmessage: from-chart\npassword: ''\nfromChartOnly: kept\n",
    f"{CHART}/values-prod.yaml": "replicas: 3\n",
    f"{CHART}/templates/deploy.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {release-namespace: {{ .Release.Namespace }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: a}}
  template:
    metadata:
      labels: {app: a}
      annotations:
        checksum/secret: {{ .Values.password | default "" | sha256sum }}
    spec:
      containers: [{name: a, image: {{ .Values.image | quote }}}]
""",
    f"{CHART}/templates/cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
  {{- if .Values.noDrift }}
  annotations: {helm.toolkit.fluxcd.io/driftDetection: disabled}
  {{- end }}
data:
  message: {{ .Values.message | quote }}
  fromChartOnly: {{ .Values.fromChartOnly | default "missing" | quote }}
  {{- if .Values.leak }}
  leak: {{ .Values.password | quote }}
  {{- end }}
  {{- if .Values.refuse }}{{ fail (printf "refusing password %s" .Values.password) }}{{ end }}
""",
    f"{CHART}/templates/secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-creds
stringData:
  password: {{ .Values.password | default "" | quote }}
data:
  encoded: {{ .Values.password | default "" | b64enc | quote }}
""",
    f"{CHART}/templates/hook.yaml": """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations: {"helm.sh/hook": pre-upgrade}
spec:
  template: {spec: {restartPolicy: Never, containers: [{name: m, image: migrate}]}}
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
    "values/prod.yaml": "message: from-values-file\n",
}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path, FILES)


def render(
    ws: Workspace,
    helm_bin: Path,
    kustomize: KustomizeOptions | None = None,
    **helm: Any,
) -> RenderOutput:
    options = HelmOptions(**{"release_name": "web", "namespace": "apps", **helm})
    source = Source(path=CHART, tool=Tool.FLUX_HELM, helm=options, kustomize=kustomize or KustomizeOptions())
    app = App(name="HelmRelease/apps/web", sources=(source,), destination=Destination(namespace="apps"))
    return render_app(app, ws, RenderOptions(helm_binary=str(helm_bin), kustomize_binary=_kustomize()))


def _kustomize() -> str | None:
    from gitops_check import proc

    path = proc.tool_cache_dir() / "kustomize-v5.8.1"
    return str(path) if path.exists() else None


def by_name(out: RenderOutput) -> dict[str, dict[str, Any]]:
    return {f"{o.body['kind']}/{o.body['metadata']['name']}": o.body for o in out.objects}


def test_values_release_and_hooks(ws: Workspace, helm_bin: Path) -> None:
    out = render(ws, helm_bin, values=({"replicas": 2, "message": "inline"},))
    # The pre-upgrade hook is not part of the release: the comparison sets it apart (and reports it).
    release, hooks = split_hooks(App(name="web", sources=(), kind="flux-helmrelease"), out.objects)
    assert [(h.kind, h.name, h.phases) for h in hooks] == [("Job", "web-migrate", ("pre-upgrade",))]
    out.objects = release
    objs = by_name(out)
    assert sorted(objs) == [
        "ConfigMap/web-settings",
        "CustomResourceDefinition/widgets.example.com",
        "Deployment/web",
        "Secret/web-creds",
    ]
    assert objs["Deployment/web"]["spec"]["replicas"] == 2
    assert objs["Deployment/web"]["metadata"]["labels"] == {"release-namespace": "apps"}
    assert objs["ConfigMap/web-settings"]["data"] == {"message": "inline", "fromChartOnly": "kept"}
    assert by_name(render(ws, helm_bin, skip_crds=True)).keys() == objs.keys() - {
        "CustomResourceDefinition/widgets.example.com"
    } | {"Job/web-migrate"}


def test_values_files_replace_the_charts_values(ws: Workspace, helm_bin: Path) -> None:
    """source-controller packages the chart with the merged valuesFiles as its values.yaml."""
    listed = render(ws, helm_bin, value_files=(f"/{CHART}/values.yaml", f"/{CHART}/values-prod.yaml"))
    assert by_name(listed)["Deployment/web"]["spec"]["replicas"] == 3
    assert by_name(listed)["ConfigMap/web-settings"]["data"]["fromChartOnly"] == "kept"
    alone = render(ws, helm_bin, value_files=("/values/prod.yaml",))
    data = by_name(alone)["ConfigMap/web-settings"]["data"]
    assert data == {
        "message": "from-values-file",
        "fromChartOnly": "missing",
    }  # the chart's defaults are gone
    assert not any(p.name.startswith(".app.gitops-check") for p in (ws.root / "charts").iterdir())
    with pytest.raises(RenderError, match=r"valuesFiles entry /values/missing\.yaml does not exist"):
        render(ws, helm_bin, value_files=("/values/missing.yaml",))
    skipped = render(ws, helm_bin, value_files=("/values/missing.yaml",), ignore_missing_value_files=True)
    assert by_name(skipped)["ConfigMap/web-settings"]["data"]["fromChartOnly"] == "missing"


def test_post_renderers_and_common_metadata(ws: Workspace, helm_bin: Path) -> None:
    if _kustomize() is None:
        pytest.skip("kustomize not in the tool cache")
    post = KustomizeOptions(
        patches=(
            {"patch": "- {op: replace, path: /spec/replicas, value: 5}", "target": {"kind": "Deployment"}},
        ),
        images=(json.dumps({"name": "app", "newName": "registry.example.com/app"}),),
        common_labels={"team": "web"},
    )
    objs = by_name(render(ws, helm_bin, kustomize=post))
    deploy = objs["Deployment/web"]
    assert deploy["spec"]["replicas"] == 5
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/app:1.0"
    assert deploy["metadata"]["labels"] == {"release-namespace": "apps", "team": "web"}
    assert objs["ConfigMap/web-settings"]["metadata"]["labels"] == {"team": "web"}


def test_secret_values_in_secrets_and_checksums(ws: Workspace, helm_bin: Path) -> None:
    out = render(ws, helm_bin, values=({"password": SecretText("hunter2-s3cret")},))
    creds = by_name(out)["Secret/web-creds"]
    assert creds["stringData"] == {"password": "hunter2-s3cret"}


def test_secret_values_elsewhere_are_not_checked(ws: Workspace, helm_bin: Path) -> None:
    with pytest.raises(RenderError) as caught:
        render(ws, helm_bin, values=({"password": SecretText("hunter2-s3cret"), "leak": True},))
    assert "ConfigMap/web-settings: values from a Secret would end up in data.leak" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_charts_from_helm_repositories_offline_are_not_checked(ws: Workspace, helm_bin: Path) -> None:
    source = Source(
        path=".", tool=Tool.FLUX_HELM, chart="podinfo", repo="https://stefanprodan.github.io/podinfo"
    )
    app = App(name="HelmRelease/apps/podinfo", sources=(source,))
    with pytest.raises(RenderError, match=r"not checked: .*the run is offline"):
        render_app(app, ws, RenderOptions(helm_binary=str(helm_bin), network=NetworkPolicy(offline=True)))


def test_chart_errors_never_quote_secret_values(ws: Workspace, helm_bin: Path) -> None:
    with pytest.raises(RenderError) as caught:
        render(ws, helm_bin, values=({"password": SecretText("hunter2-s3cret"), "refuse": True},))
    assert "refusing password *****" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_objects_without_drift_detection_are_not_compared(ws: Workspace, helm_bin: Path) -> None:
    annotations = by_name(render(ws, helm_bin, values=({"noDrift": True},)))["ConfigMap/web-settings"][
        "metadata"
    ]
    assert annotations["annotations"]["kustomize.toolkit.fluxcd.io/ssa"] == "Ignore"
