"""Server-side mode: what the field summary lists, the unified diff shows (diff_predicted)."""

from __future__ import annotations

import copy
import json
from typing import Any

from gitops_check.diff.engine import DiffSettings, diff_predicted
from gitops_check.discover.flux_apps import KUSTOMIZE_CONTROLLER_TAKES_OVER
from gitops_check.kubeschema.bundled import schemas_for
from gitops_check.model.app import App
from gitops_check.model.objects import Manifest, Origin, ResourceKey
from gitops_check.model.result import ChangeKind, Status
from gitops_check.project.config import DEFAULT_APPLIERS, DEFAULT_MANUAL_MANAGERS

SETTINGS = DiffSettings(frozenset(DEFAULT_APPLIERS), frozenset(DEFAULT_MANUAL_MANAGERS))
KEY = ResourceKey("apps", "Deployment", "shop", "web")


def _deployment(env: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "env": env}]},
            },
        },
    }


def test_a_removal_only_the_last_applied_annotation_knows_is_in_the_views_too() -> None:
    applied = _deployment([{"name": "A", "value": "1"}, {"name": "OLD", "value": "x"}])
    live = copy.deepcopy(applied)
    live["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)
    }
    live["metadata"]["managedFields"] = [
        {"manager": "argocd-controller", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {
             "f:env": {'k:{"name":"A"}': {".": {}, "f:value": {}}, 'k:{"name":"OLD"}': {".": {}, "f:value": {}}}
         }}}}}}},
    ]  # fmt: skip
    desired = _deployment([{"name": "A", "value": "1"}])
    # Server-side apply keeps what another manager's Update owns: the dry-run result still has OLD.
    predicted = copy.deepcopy(live)
    result = diff_predicted(
        KEY, Manifest(KEY, desired, Origin("web", "d.yaml", 1)), predicted, live, App("web", ()), SETTINGS,
        schemas=schemas_for(None),
    )  # fmt: skip
    assert result.status is Status.CHANGED
    # Worded as the offline comparison words it (the annotation lists the entry's fields).
    assert [(c.kind, c.path) for c in result.changes] == [
        (ChangeKind.REMOVED, "spec.template.spec.containers[name=web].env[name=OLD].name"),
        (ChangeKind.REMOVED, "spec.template.spec.containers[name=web].env[name=OLD].value"),
    ]
    live_env = result.live["spec"]["template"]["spec"]["containers"][0]["env"]
    desired_env = result.desired["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "OLD", "value": "x"} in live_env
    assert all(e["name"] != "OLD" for e in desired_env)


def test_server_side_words_a_return_to_the_default_as_the_offline_modes_do() -> None:
    key = ResourceKey("batch", "CronJob", "shop", "report")
    spec = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
        "restartPolicy": "OnFailure", "containers": [{"name": "r", "image": "r:1"}]}}}}}  # fmt: skip
    desired = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "report", "namespace": "shop"},
               "spec": spec}  # fmt: skip
    live = copy.deepcopy(desired)
    live["spec"]["successfulJobsHistoryLimit"] = 5
    predicted = copy.deepcopy(desired)
    predicted["spec"]["successfulJobsHistoryLimit"] = (
        3  # the dry-run: Git left it out, the server defaulted it
    )
    result = diff_predicted(
        key, Manifest(key, desired, Origin("web", "d.yaml", 1)), predicted, live, App("web", ()), SETTINGS,
        schemas=schemas_for(None),
    )  # fmt: skip
    assert [(c.kind, c.path, c.old, c.new, c.server_default) for c in result.changes] == [
        (ChangeKind.VALUE, "spec.successfulJobsHistoryLimit", 5, 3, True)
    ]


def _labelled_by_hand() -> tuple[dict[str, Any], dict[str, Any]]:
    desired = _deployment([{"name": "A", "value": "1"}])
    live = copy.deepcopy(desired)
    live["metadata"]["labels"] = {"owner": "alice"}
    live["metadata"]["managedFields"] = [
        {"manager": "kustomize-controller", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {
             "f:image": {}, "f:env": {'k:{"name":"A"}': {".": {}, "f:value": {}}}}}}}}}},
        {"manager": "kubectl-label", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:labels": {"f:owner": {}}}}},
    ]  # fmt: skip
    return desired, live


def test_server_side_a_field_flux_takes_over_from_kubectl_is_removed() -> None:
    desired, live = _labelled_by_hand()
    # The dry-run keeps the label (kubectl-label owns it); kustomize-controller takes it over and removes it.
    predicted = copy.deepcopy(live)
    flux = App("web", (), kind="flux-kustomization", appliers=("kustomize-controller",),
               taken_over=KUSTOMIZE_CONTROLLER_TAKES_OVER)  # fmt: skip
    result = diff_predicted(
        KEY, Manifest(KEY, desired, Origin("web", "d.yaml", 1)), predicted, live, flux, SETTINGS,
        schemas=schemas_for(None),
    )  # fmt: skip
    assert [(c.kind, c.path, c.manager) for c in result.changes] == [
        (ChangeKind.REMOVED, "metadata.labels.owner", "kubectl-label")
    ]
    assert result.status is Status.CHANGED and not result.by_hand
    # The unified diff shows the removal too: the prediction was trimmed.
    assert "owner" not in ((result.desired.get("metadata") or {}).get("labels") or {})
    assert result.live["metadata"]["labels"]["owner"] == "alice"


def test_server_side_the_same_label_is_a_hand_change_for_other_apps() -> None:
    desired, live = _labelled_by_hand()
    result = diff_predicted(
        KEY, Manifest(KEY, desired, Origin("web", "d.yaml", 1)), copy.deepcopy(live), live, App("web", ()),
        SETTINGS, schemas=schemas_for(None),
    )  # fmt: skip
    assert [(c.kind, c.path) for c in result.changes] == [(ChangeKind.MANUAL, "metadata.labels.owner")]
    assert result.by_hand
