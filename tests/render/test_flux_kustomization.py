"""render.flux: a Flux Kustomization built as kustomize-controller builds it, with the real kustomize binary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops_check.errors import RenderError
from gitops_check.model.app import App, Destination
from gitops_check.model.objects import SecretText
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import KustomizeOptions, Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.render.app import render_app
from gitops_check.render.base import RenderOutput
from gitops_check.render.flux import STRICT_LABEL, split_documents
from gitops_check.render.flux_kfile import generate_kustomization, is_local_relative
from tests.helpers.gitrepo import make_workspace

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.0"}
"""

FILES = {
    # A folder without a kustomization: Flux generates one listing every manifest below it.
    "plain/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n",
    "plain/sub/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: team\ndata: {env: '${env}'}\n",
    "plain/sub/notes.txt": "not yaml",
    "plain/.github/workflow.yaml": "on: push\n",
    "plain/sub/.gitlab-ci.yml": "stages: [x]\n",
    "plain/withk/kustomization.yaml": "resources: [svc.yaml]\n",
    "plain/withk/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: team\n",
    "plain/withk/ignored.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: not-listed\n",
    # An overlay with its own settings that Flux's fields replace or extend.
    "app/base/deploy.yaml": DEPLOY,
    "app/base/kustomization.yaml": "resources: [deploy.yaml]\n",
    "app/overlay/kustomization.yaml": """\
resources: [../base]
namePrefix: file-
namespace: file-ns
images:
- {name: nginx, newTag: "1.5"}
patches:
- path: ../../common/annotate.yaml
""",
    "common/annotate.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations: {common: 'yes'}\n",
    "app/components/debug/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations: {debug: 'on'}\n"
    ),
    "empty/README.md": "nothing to apply",
    "escape/kustomization.yaml": "resources: [cm.yaml]\npatches:\n- path: ../../outside.yaml\n",
    "escape/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path, FILES)


def render(
    ws: Workspace,
    path: str,
    kustomize_bin: Path,
    *,
    variables: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    **overrides: Any,
) -> RenderOutput:
    source = Source(
        path=path, tool=Tool.FLUX_KUSTOMIZE, kustomize=KustomizeOptions(**overrides), substitute=variables
    )
    app = App(name="ks", sources=(source,), destination=Destination(), labels=labels or {})
    return render_app(app, ws, RenderOptions(kustomize_binary=str(kustomize_bin)))


def by_name(out: RenderOutput) -> dict[str, dict[str, Any]]:
    return {f"{o.body['kind']}/{o.body['metadata']['name']}": o.body for o in out.objects}


def test_generated_kustomization_lists_what_flux_lists(ws: Workspace, kustomize_bin: Path) -> None:
    assert generate_kustomization(ws.root / "plain")["resources"] == ["./ns.yaml", "./sub/cm.yaml", "./withk"]
    out = render(ws, "plain", kustomize_bin, variables={"env": "prod"})
    assert sorted(by_name(out)) == ["ConfigMap/cm", "Namespace/team", "Service/svc"]
    assert by_name(out)["ConfigMap/cm"]["data"] == {"env": "prod"}
    assert not (ws.root / "plain" / "kustomization.yaml").exists()  # the workspace folder is left as it was


def test_empty_folder_builds_to_nothing(ws: Workspace, kustomize_bin: Path) -> None:
    assert render(ws, "empty", kustomize_bin).objects == []


def test_flux_fields_replace_or_extend_the_file(ws: Workspace, kustomize_bin: Path) -> None:
    """targetNamespace/namePrefix replace the file's, patches and components are added, an image entry of the
    same name is replaced wholesale (the file's newTag is lost), patches may load files from anywhere in the
    repository (LoadRestrictionsNone)."""
    out = render(
        ws,
        "app/overlay",
        kustomize_bin,
        namespace="flux-ns",
        name_prefix="flux-",
        images=(json.dumps({"name": "nginx", "newName": "registry.example.com/nginx"}),),
        patches=(
            {"patch": "- {op: replace, path: /spec/replicas, value: 3}", "target": {"kind": "Deployment"}},
        ),
        components=("../components/debug",),
    )
    deploy = by_name(out)["Deployment/flux-web"]
    assert deploy["metadata"]["namespace"] == "flux-ns"
    assert deploy["metadata"]["annotations"] == {"common": "yes", "debug": "on"}
    assert deploy["spec"]["replicas"] == 3
    # The file's entry (newTag 1.5) was replaced by Flux's (newName only): the manifest's own tag stays.
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/nginx:1.0"


def test_new_image_entries_are_appended(ws: Workspace, kustomize_bin: Path) -> None:
    out = render(ws, "app/overlay", kustomize_bin, images=(json.dumps({"name": "redis", "newTag": "7"}),))
    assert (
        by_name(out)["Deployment/file-web"]["spec"]["template"]["spec"]["containers"][0]["image"]
        == "nginx:1.5"
    )


def test_files_outside_the_repository_are_refused(ws: Workspace, kustomize_bin: Path) -> None:
    expected = r"patches entry \.\./\.\./outside.yaml in escape/kustomization.yaml is outside the repository"
    with pytest.raises(RenderError, match=expected):
        render(ws, "escape", kustomize_bin)


@pytest.mark.parametrize(
    ("component", "ok"),
    [
        ("../x", True),
        ("x", True),
        ("/abs", False),
        ("https://github.com/a/b", False),
        ("git@github.com:a/b", False),
    ],
)
def test_components_must_be_local(component: str, ok: bool) -> None:
    assert is_local_relative(component) is ok


# ---------------------------------------------------------------------------------------------------------------
# postBuild and commonMetadata


SUBST_FILES = {
    "vars/kustomization.yaml": "resources: [objects.yaml]\n",
    "vars/objects.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {env: "${env}"}
data:
  replicas: "${replicas}"
  region: ${region:=eu-west-1}
  script: echo $${HOME} $PATH
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec: {containers: [{name: a, image: "app:${tag:=latest}"}]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: raw
  labels: {kustomize.toolkit.fluxcd.io/substitute: disabled}
data: {template: "${env}"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: paused
  annotations: {kustomize.toolkit.fluxcd.io/reconcile: disabled}
data: {a: b}
""",
    "secrets/kustomization.yaml": "resources: [secret.yaml]\n",
    "secrets/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  token: ${token}\n  user: ${user}\n"
    ),
    "leak/kustomization.yaml": "resources: [cm.yaml]\n",
    "leak/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  shout: ${token^^}\n",
    "leak-label/kustomization.yaml": "resources: [secret.yaml]\n",
    "leak-label/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  labels: {t: '${token}'}\nstringData: {a: b}\n"
    ),
    "broken/kustomization.yaml": "resources: [cm.yaml]\n",
    "broken/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  a: ${a.b}\n",
    "sops/kustomization.yaml": "resources: [secret.yaml]\n",
    "sops/secret.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: enc\ndata:\n  k: ENC[AES256_GCM,data:abc]\nsops:\n  version: 3.9.0\n"
    ),
}


@pytest.fixture
def sws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path, SUBST_FILES)


def test_substitution_after_the_build(sws: Workspace, kustomize_bin: Path) -> None:
    out = render(
        sws,
        "vars",
        kustomize_bin,
        variables={"env": "prod", "replicas": "3"},
        common_labels={"team": "a"},
        common_annotations={"owner": "sre"},
    )
    objs = by_name(out)
    settings = objs["ConfigMap/settings"]
    # kustomize writes "${replicas}" without quotes, so "3" becomes a number: why Flux documents ${quote}${var}${quote}
    assert settings["data"] == {"replicas": 3, "region": "eu-west-1", "script": "echo ${HOME} $PATH"}
    assert settings["metadata"]["labels"] == {"env": "prod", "team": "a"}
    assert settings["metadata"]["annotations"] == {"owner": "sre"}
    deploy = objs["Deployment/app"]
    assert deploy["spec"]["replicas"] == 3  # substituted text is parsed again: a number, as with Flux
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "app:latest"
    assert deploy["spec"]["template"]["metadata"]["labels"] == {"app": "a"}  # commonMetadata: top level only
    assert objs["ConfigMap/raw"]["data"] == {"template": "${env}"}
    assert objs["ConfigMap/paused"]["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/ssa"] == "Ignore"


def test_no_variables_no_substitution(sws: Workspace, kustomize_bin: Path) -> None:
    """Flux substitutes only when at least one variable is defined: defaults are not applied either."""
    out = render(sws, "vars", kustomize_bin, variables={})
    assert by_name(out)["ConfigMap/settings"]["data"]["region"] == "${region:=eu-west-1}"


def test_strict_substitution(sws: Workspace, kustomize_bin: Path) -> None:
    with pytest.raises(
        RenderError, match=r"postBuild substitution failed for ConfigMap/settings: variable not set"
    ):
        render(sws, "vars", kustomize_bin, variables={"replicas": "1"}, labels={STRICT_LABEL: "true"})


def test_invalid_variable_names_and_syntax(sws: Workspace, kustomize_bin: Path) -> None:
    with pytest.raises(RenderError, match="postBuild variable 'my-var' is invalid"):
        render(sws, "vars", kustomize_bin, variables={"my-var": "x"})
    with pytest.raises(RenderError, match="ConfigMap/broken: missing closing brace"):
        render(sws, "broken", kustomize_bin, variables={"a": "x"})


def test_secret_values_may_fill_secret_data(sws: Workspace, kustomize_bin: Path) -> None:
    out = render(sws, "secrets", kustomize_bin, variables={"token": SecretText("s3cr3t"), "user": "bob"})
    assert by_name(out)["Secret/creds"]["stringData"] == {"token": "s3cr3t", "user": "bob"}


@pytest.mark.parametrize(("path", "where"), [("leak", "data.shout"), ("leak-label", "metadata.labels.t")])
def test_secret_values_elsewhere_are_not_checked(
    sws: Workspace, kustomize_bin: Path, path: str, where: str
) -> None:
    with pytest.raises(RenderError) as caught:
        render(sws, path, kustomize_bin, variables={"token": SecretText("s3cr3t-value")})
    message = str(caught.value)
    assert f"would end up in {where}, outside a Secret's data" in message
    assert "token" in message
    assert "s3cr3t" not in message.lower()


def test_sops_encrypted_secrets_are_not_compared(sws: Workspace, kustomize_bin: Path) -> None:
    out = render(sws, "sops", kustomize_bin)
    assert by_name(out)["Secret/enc"]["metadata"]["annotations"] == {
        "kustomize.toolkit.fluxcd.io/ssa": "Ignore"
    }
    assert out.warnings == [
        "Secret/enc is SOPS-encrypted: gitops-check cannot decrypt it, so it is not compared"
    ]


def test_split_documents_keeps_the_text_and_lines() -> None:
    text = "a: 1\n---\nb: 2\nc: 3\n---\n\n---\nd: 4\n"
    assert list(split_documents(text)) == [("a: 1\n", 1), ("b: 2\nc: 3\n", 3), ("d: 4\n", 8)]
