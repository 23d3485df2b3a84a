from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gitops_check import __version__
from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import (
    AppError,
    AppResult,
    Change,
    ChangeKind,
    CheckResult,
    ResourceDiff,
    Status,
)
from gitops_check.report.jsonout import render_json, schema
from gitops_check.report.text import unified_diff
from tests.report.results import REDACTED_NEW, REDACTED_OLD, huge_result, in_sync_app, make_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "json-report.md"


def validate(doc: Any) -> None:
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())
    validator.validate(doc)


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


def test_output_validates_and_has_the_documented_content(result: CheckResult) -> None:
    text = render_json(result)
    doc = json.loads(text)
    validate(doc)
    assert doc["schemaVersion"] == 1
    assert doc["tool"] == {"name": "gitops-check", "version": __version__}
    assert (doc["mode"], doc["target"], doc["exitCode"]) == ("diff", "commit 1a2b3c4 of ./k8s", 2)
    assert doc["against"].startswith("snapshot cluster.json")
    assert doc["summary"] == {
        "apps": {"total": 5, "in-sync": 2, "drifted": 1, "error": 2},
        "resources": {"added": 1, "changed": 2, "removed": 1, "unchanged": 7, "error": 1},
    }
    assert [a["name"] for a in doc["apps"]] == ["alpha", "beta", "ingress", "payments", "shop"]
    apps = {a["name"]: a for a in doc["apps"]}
    assert apps["payments"]["status"] == "error"
    assert apps["payments"]["errors"] == [
        {
            "message": result.apps[2].errors[0].message,
            "file": "charts/payments/values.yaml",
            "line": 12,
            "stage": "render",
        }
    ]
    shop = apps["shop"]
    assert (shop["status"], shop["kind"], shop["origin"]) == ("drifted", "argocd", "clusters/prod/shop.yaml")
    assert shop["warnings"] == ["chart version 1.2.3 is deprecated"]
    assert shop["counts"] == {"added": 1, "changed": 2, "removed": 1, "unchanged": 1, "error": 0}
    resources = {r["id"]: r for r in shop["resources"]}
    web = resources["Deployment/shop/web"]
    assert (web["group"], web["kind"], web["namespace"], web["name"]) == ("apps", "Deployment", "shop", "web")
    assert web["origin"] == {"file": "apps/shop/deployment.yaml", "line": 1}
    assert web["changes"][1] == {
        "kind": "manual",
        "path": "metadata.labels.debug",
        "old": "true",
        "new": None,
        "manager": "kubectl-edit",
    }
    shop_result = next(a for a in result.apps if a.app.name == "shop")
    assert web["diff"] == unified_diff(next(d for d in shop_result.diffs if d.key.name == "web"))
    assert (
        resources["Service/shop/old"]["status"] == "removed"
        and resources["Service/shop/old"]["origin"] is None
    )
    assert resources["ConfigMap/shop/shop-cm0"]["diff"] == ""
    secret = resources["Secret/shop/db"]
    assert secret["changes"][0]["old"] == REDACTED_OLD and secret["changes"][0]["new"] == REDACTED_NEW
    assert secret["notes"] == ["Secret values are compared by hash and never shown"]
    ingress = {r["id"]: r for r in apps["ingress"]["resources"]}["Ingress/edge/public"]
    assert ingress["status"] == "error" and "not captured" in ingress["message"]
    assert doc["warnings"] == ["kind Widget.example.com has unknown scope; assumed namespaced"]
    assert doc["timings"] == {"diff": 0.5, "render": 1.75} and doc["stats"] == {"objects": 12}
    assert text.endswith("}\n")


def test_exit_codes_and_preview(clean_result: CheckResult, drift_only_result: CheckResult) -> None:
    assert json.loads(render_json(clean_result))["exitCode"] == 0
    assert json.loads(render_json(drift_only_result))["exitCode"] == 1
    drift_only_result.mode = "preview"
    doc = json.loads(render_json(drift_only_result))
    validate(doc)
    assert doc["mode"] == "preview"
    web = next(r for a in doc["apps"] for r in a["resources"] if r["id"] == "Deployment/shop/web")
    assert web["diff"].startswith("--- base: Deployment/shop/web\n+++ head: Deployment/shop/web\n")


def test_run_errors_cluster_scoped_and_odd_values() -> None:
    ns = ResourceDiff(
        ResourceKey("", "Namespace", None, "shop"),
        "a",
        Status.CHANGED,
        changes=(Change(ChangeKind.VALUE, "metadata.labels", {"a": [1, 2.5, None, True]}, object()),),
        desired={"kind": "Namespace", "metadata": {"name": "shop"}},
        live={"kind": "Namespace", "metadata": {"name": "shop", "labels": {"a": "b"}}},
    )
    result = CheckResult(
        apps=[AppResult(make_app("a"), diffs=[ns]), AppResult(make_app("b", origin=""))],
        target="t",
        against="a",
        errors=[
            AppError("", "cluster unreachable", stage="cluster"),
            AppError("c", "bad", "f.yaml", 2, "discover"),
        ],
    )
    doc = json.loads(render_json(result))
    validate(doc)
    assert doc["errors"] == [
        {"app": None, "message": "cluster unreachable", "file": None, "line": None, "stage": "cluster"},
        {"app": "c", "message": "bad", "file": "f.yaml", "line": 2, "stage": "discover"},
    ]
    res = doc["apps"][0]["resources"][0]
    assert res["namespace"] is None and res["id"] == "Namespace/shop"
    assert res["changes"][0]["old"] == {"a": [1, 2.5, None, True]}
    assert res["changes"][0]["new"].startswith("<object object")  # not JSON: shown as text, not a crash
    assert doc["apps"][1]["origin"] is None and doc["apps"][1]["resources"] == []


def test_output_is_deterministic() -> None:
    a = huge_result(20, 5)
    b = huge_result(20, 5)
    b.apps.reverse()
    for app in b.apps:
        app.diffs.reverse()
    assert render_json(a) == render_json(b)
    validate(json.loads(render_json(a)))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schemaVersion",), 2),
        (("exitCode",), 3),
        (("apps", 0, "status"), "fine"),
        (("apps", 0, "resources", 0, "body"), {"data": "secret"}),
        (("apps", 0, "resources", 0, "changes", 0, "kind"), "other"),
        (("summary", "resources", "added"), -1),
    ],
)
def test_schema_rejects_wrong_documents(
    drift_only_result: CheckResult, path: tuple[Any, ...], value: Any
) -> None:
    doc = json.loads(render_json(drift_only_result))
    doc["apps"] = [a for a in doc["apps"] if a["name"] == "shop"]
    doc["apps"][0]["resources"] = [r for r in doc["apps"][0]["resources"] if r["changes"]]
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def _properties(node: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(node, dict):
        out |= set(node.get("properties", {}))
        for value in node.values():
            out |= _properties(value)
    elif isinstance(node, list):
        for value in node:
            out |= _properties(value)
    return out


def test_every_schema_field_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Za-z-]+)`", text))
    assert _properties(schema()) - documented == set()


def test_in_sync_app_resources_listed() -> None:
    doc = json.loads(render_json(CheckResult(apps=[in_sync_app("a", 3)], target="t", against="a")))
    assert [r["status"] for r in doc["apps"][0]["resources"]] == ["unchanged"] * 3


def test_documented_example_validates() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = re.search(r"```json\n(.*?)\n```", text, flags=re.S)
    assert example is not None
    validate(json.loads(example.group(1)))
