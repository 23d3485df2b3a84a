"""The machine-readable report: a versioned JSON document (docs/json-report.md, schema-v1.json beside this file).

Version 1 only grows by optional fields; renaming or removing a field, or changing its meaning, is version 2.
Apps are sorted by name and resources by kind, namespace, name and group, so two runs over the same state
produce the same document (timings aside). Only fields of CheckResult appear, and no object bodies: the diff
text is built from the already redacted views.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from importlib import resources
from typing import Any

from gitops_check import __version__
from gitops_check.model.objects import Origin
from gitops_check.model.result import AppError, AppResult, CheckResult, ResourceDiff, Status
from gitops_check.report import findings, syncs
from gitops_check.report.text import AppStatus, app_status, key_order, unified_diff
from gitops_check.yamlio import dump_json_lines, json_line, json_string

SCHEMA_VERSION = 1
SCHEMA_FILE = "schema-v1.json"
TOOL_NAME = "gitops-check"


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) the output of ``render_json`` follows."""
    text = resources.files("gitops_check.report").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


# An enum's ``.value`` is a descriptor call; a fleet's report reads it a few hundred thousand times.
_VALUE = {s: s.value for s in Status}


def _counts(diffs: list[ResourceDiff]) -> dict[str, int]:
    seen = Counter(d.status for d in diffs)
    return {value: seen[status] for status, value in _VALUE.items()}


def _error(error: AppError, *, with_app: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "message": error.message,
        "file": error.file,
        "line": error.line,
        "stage": error.stage,
    }
    if with_app:
        out = {"app": error.app or None, **out}
    return out


def _origin(origin: Origin | None) -> dict[str, Any] | None:
    if origin is None or not origin.file:
        return None
    return {"file": origin.file, "line": origin.line}


def _resource(diff: ResourceDiff, mode: str) -> dict[str, Any]:
    key, status = diff.key, diff.status
    out: dict[str, Any] = {
        "kind": key.kind,
        "group": key.group,
        "namespace": key.namespace,
        "name": key.name,
        "id": str(key),
        "status": _VALUE[status],
    }
    if status is Status.CHANGED and diff.by_hand:
        out["byHand"] = True
    out["origin"] = _origin(diff.origin)
    out["changes"] = [
        {"kind": c.kind.value, "path": c.path, "old": c.old, "new": c.new, "manager": c.manager}
        for c in diff.changes
    ]
    out["message"] = diff.message
    out["notes"] = list(diff.notes)
    out["diff"] = unified_diff(diff, mode=mode)
    return out


def _app(app: AppResult, status: AppStatus, mode: str) -> dict[str, Any]:
    head, tail = _app_fields(app, status)
    return {**head, "resources": [_resource(d, mode) for d in _sorted_diffs(app)], **tail}


def _app_line(app: AppResult, status: AppStatus, mode: str) -> str:
    """``json_line(_app(...))``, with each resource written by ``_resource_line``."""
    head, tail = _app_fields(app, status)
    resources = ", ".join([_resource_line(d, mode) for d in _sorted_diffs(app)])
    return f"{json_line(head)[:-1]}, {json_string('resources')}: [{resources}]" + (
        f", {json_line(tail)[1:]}" if tail else "}"
    )


def _sorted_diffs(app: AppResult) -> list[ResourceDiff]:
    return sorted(app.diffs, key=lambda d: key_order(d.key))


def _app_fields(app: AppResult, status: AppStatus) -> tuple[dict[str, Any], dict[str, Any]]:
    """An app's fields before its resources, and after them."""
    head: dict[str, Any] = {
        "name": app.app.name,
        "kind": app.app.kind,
        "origin": app.app.origin or None,
        "status": status.value,
        "counts": _counts(app.diffs),
        "errors": [_error(e, with_app=False) for e in app.errors],
        "warnings": list(app.warnings),
        "renderSeconds": round(app.render_seconds, 3),
        "cluster": app.cluster,
    }
    out: dict[str, Any] = {}
    if app.hooks:
        # Optional: hooks the agent runs at sync, never compared (diff/hooks.py).
        out["hooks"] = [
            {"kind": h.kind, "namespace": h.namespace, "name": h.name, "phases": list(h.phases),
             "file": h.origin.file}
            for h in app.hooks
        ]  # fmt: skip
    if app.resolved:
        out["resolved"] = list(app.resolved)  # optional: what was fetched from outside the repository
    if app.change:
        out["change"] = app.change  # preview: the whole app is new or gone
    if app.untouched:
        out["untouched"] = (
            app.untouched
        )  # preview: why it was not checked, though the change does not touch it
    kind = app.app.agent_kind
    if kind is not None:
        # Optional: the agent's own object, where ``gitops-check sync --from-report`` asks for a sync.
        out["agent"] = {"kind": kind, "namespace": app.app.agent_namespace, "name": app.app.agent_name}
    return head, out


def _resource_line(diff: ResourceDiff, mode: str) -> str:
    """``json_line(_resource(diff))``; an unchanged resource with nothing to say (most of a fleet) written from a
    template, which took a fifth of the time of building its dict and encoding that."""
    key, origin = diff.key, diff.origin
    if (
        diff.status is not Status.UNCHANGED
        or diff.changes
        or diff.notes
        or diff.message is not None
        or (origin is not None and origin.line is not None and type(origin.line) is not int)
    ):
        return json_line(_resource(diff, mode))
    namespace = "null" if key.namespace is None else json_string(key.namespace)
    where = "null"
    if origin is not None and origin.file:
        line = "null" if origin.line is None else str(origin.line)
        where = f'{{"file": {json_string(origin.file)}, "line": {line}}}'
    return (
        f'{{"kind": {json_string(key.kind)}, "group": {json_string(key.group)}, "namespace": {namespace}, '
        f'"name": {json_string(key.name)}, "id": {json_string(str(key))}, "status": "unchanged", '
        f'"origin": {where}, "changes": [], "message": null, "notes": [], "diff": ""}}'
    )


def report_dict(result: CheckResult) -> dict[str, Any]:
    """The report as plain data (what ``render_json`` serializes)."""
    return _report(result, _app)


def _report(result: CheckResult, app_entry: Callable[[AppResult, AppStatus, str], Any]) -> dict[str, Any]:
    apps = sorted(result.apps, key=lambda a: a.app.name)
    statuses = [app_status(app) for app in apps]
    by_status = {s.value: 0 for s in AppStatus}
    for status in statuses:
        by_status[status.value] += 1
    if not by_status[AppStatus.UNTOUCHED.value]:
        del by_status[AppStatus.UNTOUCHED.value]  # optional: only previews have such apps
    doc: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "mode": result.mode,
        "target": result.target,
        "against": result.against,
        "exitCode": result.exit_code(),
        "summary": {"apps": {"total": len(apps), **by_status}, "resources": _counts(result.diffs)},
        "apps": [app_entry(a, status, result.mode) for a, status in zip(apps, statuses, strict=True)],
        "errors": [_error(e, with_app=True) for e in result.errors],
        "warnings": list(result.warnings),
        "notes": list(result.notes),
        "timings": {k: round(v, 3) for k, v in sorted(result.timings.items())},
        "stats": dict(sorted(result.stats.items())),
    }
    if result.baseline is not None:
        # Preview with a cluster: the cluster against the base commit, for the apps the change touches.
        doc["baseline"] = report_dict(result.baseline)
    if result.findings:
        # Optional (schema v1 grows): hygiene findings, failures under --strict, else warnings.
        doc["findings"] = [findings.to_dict(f, result) for f in findings.sorted_findings(result.findings)]
    if result.syncs or result.mode == "sync":
        # Optional (schema v1 grows): what was asked of the agent after the check, and its verdict.
        doc["syncs"] = [syncs.to_dict(s) for s in syncs.sorted_syncs(result.syncs)]
    return doc


def render_json(result: CheckResult) -> str:
    """``report_dict`` as JSON; each app written by ``_app_line`` (equal: tests/report/test_report_json.py)."""
    return dump_json_lines(_report(result, _app_line), encoded={"apps"}) + "\n"
