"""A fleet's renders are held compressed until diffed, diffed one app at a time and dropped (issue 15 item 4).

``diff`` packs each render (``Rendered.pack``) once the apps it declares are found; the comparison unpacks one
app, runs hygiene on it, keys and diffs it, and releases it. The reports are exactly those of a comparison of
renders held as they are, CRDs rendered by one app still decide the scope of another's custom resources, and at
no point are two apps' objects unpacked at once.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from gitops_check import hygiene
from gitops_check.cluster.snapshot import SnapshotSource
from gitops_check.model.app import App, Destination
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject
from gitops_check.model.result import CheckResult
from gitops_check.pipeline import check, comparison
from gitops_check.pipeline import early as early_module
from gitops_check.pipeline.check import CheckRequest, render_repo, run_check
from gitops_check.pipeline.rendering import Rendered
from gitops_check.render.base import RenderOutput
from gitops_check.report.jsonout import render_json
from tests.helpers.gitrepo import GitRepo

APPS = 6
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget", "plural": "widgets"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object"}}}]},
}  # fmt: skip


def app_objects(i: int, value: str) -> list[dict[str, Any]]:
    ns = f"team-{i}"
    secret = base64.b64encode(f"s3cr3t-{i}-{value}".encode()).decode()
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}", "namespace": ns},
         "data": {"mode": value, "n": str(i)}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"db-{i}", "namespace": ns},
         "type": "Opaque", "data": {"password": secret}},
    ]  # fmt: skip


@pytest.fixture
def fleet(tmp_path: Path) -> tuple[Path, Path]:
    repo = GitRepo.init(tmp_path / "repo")
    apps = [{"name": f"app-{i}", "path": f"apps/app-{i}", "namespace": f"team-{i}"} for i in range(APPS)]
    files = {f"apps/app-{i}/all.yaml": "".join("---\n" + json.dumps(o) + "\n" for o in app_objects(i, "git"))
             for i in range(APPS)}  # fmt: skip
    files["apps/app-0/crd.yaml"] = json.dumps(CRD)  # app-1's Widget is cluster-scoped because of app-0's CRD
    files["apps/app-1/widget.yaml"] = json.dumps(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 2}}
    )
    repo.write({".gitops-check.yaml": json.dumps({"version": 1, "apps": apps}), **files})
    repo.commit("fleet")
    live = [o for i in range(APPS) for o in app_objects(i, "git" if i % 2 else "live")]
    live += [
        CRD,
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}},
    ]
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": live}))
    return repo.path, snapshot


def request(repo: Path, snapshot: Path) -> CheckRequest:
    return CheckRequest(repo=repo, revision="HEAD", default_source=SnapshotSource(str(snapshot)))


def comparable(result: CheckResult) -> dict[str, Any]:
    doc = json.loads(render_json(result))
    doc.pop("timings", None)
    doc["stats"].pop("fetch_requests", None)
    for app in doc["apps"]:
        app.pop("renderSeconds", None)
    return doc


def test_packed_renders_read_back_exactly() -> None:
    app = App(name="a", sources=(), destination=Destination(namespace="a"), kind="project")
    objects = [RawObject({"kind": "ConfigMap", "data": {"a": "b" * 500}, "n": [1, 2.5, None, True]},
                         Origin("a", "x.yaml", i), frozenset({"data.a"})) for i in range(50)]  # fmt: skip
    r = Rendered(
        app, RenderOutput([*objects, RawObject(CRD, Origin("a", "crd.yaml", 1))], ["w"], ["chart x"])
    )
    r.pack()
    assert r.output is not None and r.output.objects == [] and r.packed is not None
    assert r.crds == [CRD]
    assert r.objects()[:50] == objects and r.objects() is not r.objects()  # a fresh copy on each call
    assert len(r.packed) < len(json.dumps([o.body for o in objects])) / 10
    r.release()
    assert r.objects() == [] and r.output.warnings == ["w"]


def test_streamed_diff_equals_a_diff_of_renders_held_as_they_are(
    fleet: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, snapshot = fleet
    held = render_repo(request(repo, snapshot))  # not packed
    expected = CheckResult(apps=[], target=held.label, against="", errors=held.errors)
    expected.notes, expected.warnings = held.notes, held.warnings
    comparison.compare_rendered(
        request(repo, snapshot).diff, held.rendered, held.resolver, held.project, expected
    )
    expected.findings = hygiene.findings_for(((r.app, r.objects()) for r in held.rendered), held.project)

    seen: list[tuple[int, int]] = []
    packed_renders: list[Rendered] = []
    real_compare, real_diff = comparison.compare_rendered, comparison.diff_app

    def compare(*args: Any, **kw: Any) -> None:
        packed_renders.extend(args[1])
        assert all(r.packed is not None and r.output is not None and not r.output.objects for r in args[1])
        real_compare(*args, **kw)

    def diff_app(*args: Any, **kw: Any) -> Any:
        unpacked = sum(1 for r in packed_renders if r.output is not None and r.output.objects)
        waiting = sum(1 for r in packed_renders if r.packed is not None)
        seen.append((unpacked, waiting))
        return real_diff(*args, **kw)

    monkeypatch.setattr("gitops_check.pipeline.check.compare_rendered", compare)
    monkeypatch.setattr(comparison, "diff_app", diff_app)
    monkeypatch.setattr(check, "_early", lambda *args: None)  # the comparison after rendering alone
    result = run_check(request(repo, snapshot))

    assert comparable(result) == comparable(expected)
    assert result.exit_code() == 1 and not result.errors and not [a for a in result.apps if a.failed]
    assert {d.key.namespace for a in result.apps for d in a.diffs if d.key.kind == "Widget"} == {None}
    assert [a.app.name for a in result.apps if any(d.is_drift for d in a.diffs)] == [
        "app-0", "app-1", "app-2", "app-4"
    ]  # fmt: skip
    # One app at a time: nothing else unpacked, the apps not yet diffed still packed, the diffed ones dropped.
    assert seen == [(0, APPS - 1 - n) for n in range(APPS)]
    assert all(r.packed is None and r.output is not None and not r.output.objects for r in packed_renders)
    assert len(result.findings) == APPS  # hygiene saw every app's plain Secret while it was unpacked


@pytest.mark.parametrize("crd_in_cluster", [True, False])
@pytest.mark.parametrize("pruning", [True, False])
def test_apps_compared_while_others_render_give_the_reports_of_a_comparison_after_rendering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crd_in_cluster: bool, pruning: bool
) -> None:
    """``pipeline.early``: apps compared with the snapshot as their render is packed, without the rendered CRDs;
    an app whose kinds a rendered CRD defines (app-1's Widget, cluster-scoped only because of app-0's CRD when
    the cluster lacks it) is compared again at the end, so the reports equal those of the comparison after
    rendering, with pruning too."""
    repo, snapshot = fleet.__wrapped__(tmp_path)  # type: ignore[attr-defined]
    if not crd_in_cluster:
        doc = json.loads(snapshot.read_text())
        doc["items"] = [o for o in doc["items"] if o["kind"] != "CustomResourceDefinition"]
        snapshot.write_text(json.dumps(doc))
    req = dataclasses.replace(
        request(repo, snapshot),
        diff=dataclasses.replace(request(repo, snapshot).diff, detect_pruning=pruning),
    )
    early = run_check(req)
    monkeypatch.setattr(check, "_early", lambda *args: None)
    after = run_check(dataclasses.replace(req, default_source=SnapshotSource(str(snapshot))))

    assert early.stats.pop("compared_early") == APPS - 1  # all but app-1, whose Widget a rendered CRD defines
    assert "compared_early" not in after.stats
    assert comparable(early) == comparable(after)
    assert [f.message for f in early.findings] == [f.message for f in after.findings]
    widgets = {d.key.namespace for a in early.apps for d in a.diffs if d.key.kind == "Widget"}
    assert widgets == {None}


def test_an_app_the_early_comparison_failed_on_is_compared_after_rendering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure of the early thread loses nothing: that app is compared at the end, as if never offered."""
    repo, snapshot = fleet.__wrapped__(tmp_path)  # type: ignore[attr-defined]
    real = early_module.compare_app

    def flaky(r: Rendered, *args: Any, **kw: Any) -> Any:
        if r.app.name == "app-3":
            raise RuntimeError("boom")
        return real(r, *args, **kw)

    monkeypatch.setattr(early_module, "compare_app", flaky)
    result = run_check(request(repo, snapshot))
    assert result.stats["compared_early"] == APPS - 2
    monkeypatch.setattr(check, "_early", lambda *args: None)
    expected = run_check(request(repo, snapshot))
    result.stats.pop("compared_early")
    assert comparable(result) == comparable(expected)
