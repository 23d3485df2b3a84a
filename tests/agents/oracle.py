"""Comparing an agent's answers with gitops-check's: objects keyed the same way, shown as a readable difference;
gitops-check's drift reports in each mode the drift oracles (Argo CD's and Flux's) compare."""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.cli import main
from gitops_check.identity import KindScopes, assign_keys, flatten_lists
from gitops_check.model.objects import ResourceKey
from gitops_check.model.rendered import RawObject
from gitops_check.pipeline.check import CheckRequest, render_repo
from gitops_check.project.config import RenderOptions
from tests.helpers.argocd import ArgoCD
from tests.helpers.cluster import find_tool

Objects = dict[ResourceKey, dict[str, Any]]

# How the drift oracles run gitops-check: against the live cluster in both modes, and against a snapshot of it.
MODES = ("client-side", "server-side", "snapshot")

# What Argo CD itself adds to what the tools generated (resource tracking): not part of the render.
TRACKING_ANNOTATIONS = ("argocd.argoproj.io/tracking-id",)
TRACKING_LABELS = ("app.kubernetes.io/instance",)


def _clean(body: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(body))
    meta = out.get("metadata") or {}
    for field, keys in (("annotations", TRACKING_ANNOTATIONS), ("labels", TRACKING_LABELS)):
        values = meta.get(field)
        if isinstance(values, dict):
            for key in keys:
                values.pop(key, None)
            if not values:
                meta.pop(field)
    return out


def key_objects(bodies: Iterable[Mapping[str, Any]], namespace: str | None) -> Objects:
    """Key objects as gitops-check keys a render: the destination namespace for namespaced kinds without one."""
    from gitops_check.identity import key_for

    scopes = KindScopes()
    out: Objects = {}
    for obj in flatten_lists(RawObject(dict(b), None) for b in bodies):  # type: ignore[arg-type]
        body = _clean(obj.body)
        key, _ = key_for(body, namespace, scopes)
        out[key] = body
    return out


def argocd_manifests(argo: ArgoCD, app: str, namespace: str) -> Objects:
    """What Argo CD generates for the app (the API server's manifests endpoint, i.e. the repo-server)."""
    answer = argo.rest("GET", f"/api/v1/applications/{app}/manifests")
    return key_objects((json.loads(m) for m in answer.get("manifests") or []), namespace)


def gitops_check_render(repo: Path, url: str) -> tuple[dict[str, Objects], dict[str, str]]:
    """gitops-check's render of every app of the repository: objects by app, and errors by app."""
    options = RenderOptions(helm_binary=str(find_tool("helm4")), kustomize_binary=str(find_tool("kustomize")))
    done = render_repo(
        CheckRequest(repo=repo, revision="HEAD", default_source=None, render=options, repo_urls=(url,))
    )
    objects: dict[str, Objects] = {}
    errors = {e.app: e.message for e in done.errors if e.app}
    for rendered in done.rendered:
        if rendered.error is not None:
            errors[rendered.app.name] = str(rendered.error)
            continue
        assert rendered.output is not None
        keyed = assign_keys(rendered.app, rendered.output.objects, KindScopes())
        objects[rendered.app.name] = {m.key: _clean(m.body) for m in keyed.manifests}
    return objects, errors


def describe_difference(expected: Objects, actual: Objects) -> str:
    """Empty when equal; else which keys are on one side only and a YAML diff of the objects that differ."""
    lines = []
    for key in sorted(set(expected) - set(actual), key=str):
        lines.append(f"only Argo CD generates {key}")
    for key in sorted(set(actual) - set(expected), key=str):
        lines.append(f"only gitops-check renders {key}")
    for key in sorted(set(expected) & set(actual), key=str):
        if expected[key] != actual[key]:
            a = yaml.safe_dump(expected[key], sort_keys=True).splitlines()
            b = yaml.safe_dump(actual[key], sort_keys=True).splitlines()
            diff = difflib.unified_diff(a, b, "argocd", "gitops-check", lineterm="", n=2)
            lines.append(f"{key} differs:\n" + "\n".join(diff))
    return "\n".join(lines)


def drift_reports(
    work: Path,
    kubeconfig: str,
    common: Sequence[str],
    env: Mapping[str, str],
    snapshot_only: Sequence[str] = (),
) -> dict[str, dict[str, Any]]:
    """``gitops-check`` + ``common`` (``diff --repo ...``) in every mode (``MODES``), with ``env`` set: the JSON
    report of each. ``snapshot``: of a snapshot of the live cluster taken first, checking ``snapshot_only``
    (``--app`` options) where the live modes check everything."""
    reports: dict[str, dict[str, Any]] = {}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        for mode in MODES:
            out = work / f"report-{mode}.json"
            if mode == "snapshot":
                snap = work / "snapshot.json"
                code = main(["snapshot", "--live", "--kubeconfig", kubeconfig, "--output", str(snap)])
                assert code == 0, f"snapshot exited {code}"
                args = [*common, "--snapshot", str(snap), *snapshot_only]
            else:
                args = [*common, "--live", "--kubeconfig", kubeconfig, f"--{mode}"]
            code = main([*args, "--json", str(out)])
            reports[mode] = json.loads(out.read_text())
            assert code in (0, 1), f"gitops-check diff ({mode}) exited {code}: {reports[mode].get('errors')}"
    return reports
