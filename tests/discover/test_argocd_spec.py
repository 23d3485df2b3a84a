"""Application objects mapped to Apps: every render-relevant field, substitution, tracking, what cannot be checked."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gitops_check.discover.argocd_spec import ArgoSettings, application_to_app, envsubst
from gitops_check.errors import ConfigError
from gitops_check.model.app import SyncPolicy, TrackingMethod
from gitops_check.model.source import HelmParameter, Tool

THIS = "git.example.com/org/gitops"
SETTINGS = ArgoSettings(
    this_repo_urls=frozenset({THIS}),
    repo_key=lambda url, rev: None if url.endswith(("org/gitops.git", "org/gitops")) else url,
    revision_of=lambda repo: "0123456789abcdef" if repo is None else "",
)


def app(spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", **meta}, "spec": spec}  # fmt: skip


DEST = {"server": "https://kubernetes.default.svc", "namespace": "shop"}


def test_helm_source_fields() -> None:
    source = {
        "repoURL": "git@git.example.com:org/gitops.git",
        "path": "charts/web",
        "targetRevision": "main",
        "helm": {
            "valueFiles": ["values.yaml", "values-$ARGOCD_APP_NAMESPACE.yaml"],
            "values": "replicas: 2\n",
            "valuesObject": {"replicas": 3},
            "parameters": [
                {"name": "image.tag", "value": "$ARGOCD_APP_REVISION_SHORT"},
                {"name": "price", "value": "$5 and $$5", "forceString": True},
            ],
            "fileParameters": [{"name": "config", "path": "files/$ARGOCD_APP_NAME.conf"}],
            "skipCrds": True,
            "ignoreMissingValueFiles": True,
            "kubeVersion": "1.30",
            "apiVersions": ["monitoring.coreos.com/v1"],
        },
    }
    a = application_to_app(app({"source": source, "destination": DEST}), "apps/web.yaml:1", SETTINGS, None)
    [s] = a.sources
    assert (s.path, s.tool, s.repo, s.target_revision) == ("charts/web", Tool.HELM, None, "main")
    h = s.helm
    assert h.release_name == "web"  # Argo CD: the Application's name
    assert h.value_files == ("values.yaml", "values-shop.yaml")
    assert h.values == ({"replicas": 3},)  # valuesObject wins over values
    assert h.parameters == (HelmParameter("image.tag", "0123456"), HelmParameter("price", " and $5", True))
    assert h.file_parameters == (("config", "files/web.conf"),)
    assert (h.skip_crds, h.ignore_missing_value_files, h.kube_version, h.api_versions) == (
        True, True, "1.30", ("monitoring.coreos.com/v1",))  # fmt: skip
    assert a.destination.namespace == "shop" and a.kind == "argocd" and a.origin == "apps/web.yaml:1"


def test_kustomize_directory_and_multiple_sources() -> None:
    spec = {
        "sources": [
            {"repoURL": "https://git.example.com/org/gitops.git", "path": "apps/web/overlays/prod",
             "kustomize": {"namePrefix": "p-", "nameSuffix": "-s", "images": ["web=web:$ARGOCD_APP_REVISION_SHORT_8"],
                           "commonLabels": {"team": "$ARGOCD_APP_PROJECT_NAME"}, "commonAnnotations": {"a": "$X"},
                           "namespace": "shop", "replicas": [{"name": "web", "count": "3"}],
                           "patches": [{"target": {"kind": "Deployment"}, "patch": "[]"}], "components": ["../c"]}},
            {"repoURL": "https://git.example.com/org/values.git", "ref": "values"},
            {"repoURL": "https://git.example.com/org/gitops.git", "path": "extra",
             "directory": {"recurse": True, "include": "{*.yaml,*.json}", "exclude": "secret.yaml"}},
        ],
        "project": "payments",
        "destination": DEST,
    }  # fmt: skip
    a = application_to_app(app(spec), "x.yaml:1", SETTINGS, None)
    k = a.sources[0].kustomize
    assert a.sources[0].tool is Tool.KUSTOMIZE
    assert (k.name_prefix, k.name_suffix, k.namespace) == ("p-", "-s", "shop")
    assert k.images == ("web=web:01234567",)
    assert k.common_labels == {"team": "payments"} and k.common_annotations == {
        "a": "$X"
    }  # no envsubst unless asked
    assert k.replicas == (("web", 3),) and k.components == ("../c",) and len(k.patches) == 1
    ref = a.sources[1]
    assert (ref.ref, ref.repo, ref.path) == ("values", "https://git.example.com/org/values.git", ".")
    d = a.sources[2].directory
    assert a.sources[2].tool is Tool.DIRECTORY
    assert (d.recurse, d.include, d.exclude) == (True, ("*.yaml", "*.json"), ("secret.yaml",))


def test_chart_from_a_helm_repository() -> None:
    source = {"repoURL": "https://charts.example.com", "chart": "redis", "targetRevision": "1.2.3"}
    a = application_to_app(app({"source": source, "destination": DEST}), "x:1", SETTINGS, None)
    s = a.sources[0]
    assert (s.chart, s.repo, s.tool, s.target_revision) == (
        "redis",
        "https://charts.example.com",
        Tool.HELM,
        "1.2.3",
    )


def test_apps_in_any_namespace_and_tracking() -> None:
    settings = ArgoSettings(tracking_method=TrackingMethod.LABEL, label_key="argocd.argoproj.io/instance")
    source = {"repoURL": "https://git.example.com/org/gitops.git", "path": "a"}
    a = application_to_app(
        app({"source": source, "destination": DEST}, namespace="team-a"), "x:1", settings, None
    )
    assert a.name == "team-a/web"
    assert a.tracking.app_instance == "team-a_web" and a.tracking.method is TrackingMethod.LABEL
    assert a.tracking.label_key == "argocd.argoproj.io/instance"
    assert a.sources[0].helm.release_name == "web"  # the name part only: Helm forbids '_'
    b = application_to_app(app({"source": source, "destination": DEST}), "x:1", settings, "argocd")
    assert (b.name, b.tracking.app_instance) == ("web", "web")


def test_sync_policy_labels_and_ignore_differences() -> None:
    spec = {
        "source": {"repoURL": "https://git.example.com/org/gitops.git", "path": "a"},
        "destination": DEST,
        "syncPolicy": {"automated": {"prune": True}},
        "ignoreDifferences": [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
    }
    meta = {"labels": {"env": "prod"}, "annotations": {"gitops-check/production": "true", "other": "x"}}
    a = application_to_app(app(spec, **meta), "x:1", SETTINGS, None)
    assert a.sync_policy == SyncPolicy(automated=True, prune=True, self_heal=False)
    assert a.labels == {"env": "prod", "gitops-check/production": "true"}
    assert a.ignore[0].json_pointers == ("/spec/replicas",)
    manual = application_to_app(
        app({**spec, "syncPolicy": {"automated": {"enabled": False}}}), "x:1", SETTINGS, None
    )
    assert manual.sync_policy == SyncPolicy()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"repoURL": "r", "path": "a", "plugin": {"env": [{"value": "x"}]}},
            r"plugin\.env\[0\]: each entry needs a name",
        ),
        ({"repoURL": "r", "path": "a", "helm": {}, "kustomize": {}}, "multiple application sources defined"),
        ({"repoURL": "r", "path": "a", "directory": {"jsonnet": {"tlas": [{"value": "a"}]}}}, "needs a name"),
        ({"repoURL": "r", "path": "a", "kustomize": {"labelWithoutSelector": True}}, "labelWithoutSelector"),
    ],
)
def test_what_cannot_be_checked_says_why(source: dict[str, Any], message: str) -> None:
    """Still an app, with the folder and repository it reads (a preview tells whether a change touches it)."""
    mapped = application_to_app(app({"source": source, "destination": DEST}), "x:1", SETTINGS, None)
    [src] = mapped.sources
    assert src.unsupported is not None and re.search(message, src.unsupported.reason)
    assert (src.path, src.repo) == ("a", "r")
    # The source as written is part of the app's settings: any change to it shows in the app's key.
    changed = application_to_app(
        app({"source": {**source, "targetRevision": "v2"}, "destination": DEST}), "x:1", SETTINGS, None
    )
    assert changed.sources[0].unsupported != src.unsupported


def test_no_source_or_name() -> None:
    with pytest.raises(ConfigError, match="has no source"):
        application_to_app(app({"destination": DEST}), "x:1", SETTINGS, None)
    with pytest.raises(ConfigError, match=r"no metadata\.name"):
        application_to_app({"metadata": {}, "spec": {}}, "x:1", SETTINGS, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A-${A}-$B", "a-a-"),
        ("$$A", "$A"),
        ("cost: $", "cost: $"),
        ("${}x", "x"),
        ("${A", "A"),
        ("$1x", "x"),
        ("a$-b", "ab"),
        ("plain", "plain"),
        ("$A_1.b", ".b"),
    ],
)
def test_envsubst_is_go_os_expand(text: str, expected: str) -> None:
    assert envsubst(text, {"A": "a"}) == expected
