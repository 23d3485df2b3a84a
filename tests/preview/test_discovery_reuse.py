"""The head commit takes the base commit's discovery over only when discovering it again would find the same apps.

Each case counts how often discovery ran (1: taken over, 2: head discovered on its own) and checks the result is
what discovering both commits gives: a change that discovery could see is never hidden by the reuse.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gitops_check.discover import dispatch, reads
from gitops_check.preview import commits
from tests.preview.conftest import Preview, by_name, changed_apps
from tests.preview.repos import CHART, MIXED, REPO_URL, application, make_repo


@pytest.fixture
def discoveries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The workspace folder names (base, head) discovery ran on, in order."""
    ran: list[str] = []
    real = commits.discover

    def counting(ws: Any, *args: Any, **kw: Any) -> Any:
        ran.append(Path(ws.root).name)
        return real(ws, *args, **kw)

    monkeypatch.setattr(commits, "discover", counting)
    return ran


def test_value_file_change_discovers_once(tmp_path: Path, preview: Preview, discoveries: list[str]) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({"values/web-a.yaml": "replicas: 5\n"})
    repo.commit("scale web-a")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base"]
    assert changed_apps(result) == {"web-a"} and result.stats["renders"] == 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"plain/tools/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}, {"tools"}),
        ({"k8s/overlays/dev/kustomization.yaml": "resources:\n- ../../base\nnamespace: dev2\n"}, {"dev"}),
        (
            {".gitops-check.yaml": MIXED[".gitops-check.yaml"].replace("namespace: tools", "namespace: t2")},
            {"tools"},
        ),
    ],
    ids=["file-added", "kustomization-read-by-discovery", "project-file"],
)
def test_changes_discovery_may_see_discover_again(
    tmp_path: Path, preview: Preview, discoveries: list[str], change: dict[str, str], expected: set[str]
) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write(change)
    repo.commit("change")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base", "head"]
    assert changed_apps(result) == expected


def test_application_appearing_in_a_plain_file_is_found(
    tmp_path: Path, preview: Preview, discoveries: list[str]
) -> None:
    """A file base discovery only searched for markers (no argoproj.io in it) that holds an Application at head."""
    files = {**CHART, "apps/notes.yaml": "# nothing here yet\nkind: ConfigMap\n"}
    repo = make_repo(tmp_path / "repo", {**files, "apps/shop.yaml": application("shop", "charts/web")})
    repo.write({"apps/notes.yaml": application("payments", "charts/web")})
    repo.commit("payments")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base", "head"]
    assert changed_apps(result) == {"payments"} and by_name(result)["payments"].change == "added"


def test_changed_file_still_without_markers_discovers_once(
    tmp_path: Path, preview: Preview, discoveries: list[str]
) -> None:
    repo = make_repo(tmp_path / "repo", {**CHART, "apps/shop.yaml": application("shop", "charts/web")})
    repo.write(
        {"charts/web/values.yaml": CHART["charts/web/values.yaml"].replace("replicas: 1", "replicas: 3")}
    )
    repo.commit("three replicas")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base"]
    assert changed_apps(result) == {"shop"}


def test_application_using_the_revision_is_discovered_at_each_commit(
    tmp_path: Path, preview: Preview, discoveries: list[str]
) -> None:
    """$ARGOCD_APP_REVISION differs between any two commits, so a README change changes the app."""
    app = application("shop", "charts/web").replace('"nginx:1.0"', '"nginx:$ARGOCD_APP_REVISION_SHORT"')
    repo = make_repo(tmp_path / "repo", {**CHART, "apps/shop.yaml": app, "README.md": "# a\n"})
    base = repo.git("rev-parse", "HEAD").strip()
    repo.write({"README.md": "# b\n"})
    head = repo.commit("docs")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base", "head"]
    [diff] = [d for d in by_name(result)["shop"].diffs if d.is_drift]
    [change] = diff.changes
    assert (change.old, change.new) == (f"nginx:{base[:7]}", f"nginx:{head[:7]}")


def test_applicationset_git_generator_is_discovered_at_each_commit(
    tmp_path: Path, preview: Preview, discoveries: list[str]
) -> None:
    appset = f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: teams, namespace: argocd}}
spec:
  generators: [{{git: {{repoURL: {REPO_URL}, revision: main, directories: [{{path: "teams/*"}}]}}}}]
  template:
    metadata: {{name: "team-{{{{path.basename}}}}"}}
    spec:
      project: default
      source: {{repoURL: {REPO_URL}, targetRevision: main, path: "{{{{path}}}}"}}
      destination: {{server: https://kubernetes.default.svc, namespace: "{{{{path.basename}}}}"}}
"""
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: team\n"
    repo = make_repo(
        tmp_path / "repo", {"appsets/teams.yaml": appset, "teams/red/cm.yaml": cm, "README.md": "a\n"}
    )
    repo.write({"README.md": "b\n"})
    repo.commit("docs")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base", "head"]  # its commitSHA parameter differs between the commits
    assert changed_apps(result) == set()


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_tree_with_symlinks_discovers_again(tmp_path: Path, preview: Preview, discoveries: list[str]) -> None:
    repo = make_repo(tmp_path / "repo", {**MIXED, "docs/link.md": "x\n"})
    os.symlink("../README.md", repo.path / "docs" / "readme.md")
    repo.git("add", "-A")
    repo.commit("link")
    repo.write({"values/web-b.yaml": "replicas: 3\n"})
    repo.commit("scale web-b")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base", "head"]
    assert changed_apps(result) == {"web-b"}


def test_app_of_apps_children_keep_the_project_settings(
    tmp_path: Path, preview: Preview, discoveries: list[str]
) -> None:
    """Taking discovery over also takes the Argo CD settings over: children expanded at head are the same apps."""
    root = application("root", "apps/children").replace(
        '    helm:\n      parameters:\n        - name: image\n          value: "nginx:1.0"\n', ""
    )
    project = "version: 1\ndiscovery:\n  argocd: {namespace: gitops, trackingMethod: label, instanceLabelKey: owner}\n"
    files = {
        **CHART,
        ".gitops-check.yaml": project,
        "apps/root.yaml": root,
        "apps/children/payments.yaml": application("payments", "charts/web"),
        "README.md": "a\n",
    }
    repo = make_repo(tmp_path / "repo", files)
    repo.write({"README.md": "b\n"})
    repo.commit("docs")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base"]
    payments = by_name(result)["argocd/payments"].app  # namespace argocd is not the control plane's
    assert (payments.tracking.method.value, payments.tracking.label_key) == ("label", "owner")
    assert changed_apps(result) == set()
    assert result.stats["renders"] == 1  # the root, once, to find its children; they are unchanged by key
    assert result.stats["unchanged_by_key"] == 2


def test_disabled_plugin_stays_disabled_at_head(
    tmp_path: Path, preview: Preview, discoveries: list[str]
) -> None:
    """``discovery: {argocd: false}``: an Application an app renders is not an app, at either commit."""
    project = MIXED[".gitops-check.yaml"] + "  - {name: root, path: argoroot, namespace: argocd}\n"
    project += "discovery: {argocd: false}\n"
    files = {**MIXED, ".gitops-check.yaml": project, "argoroot/app.yaml": application("child", "plain/tools")}
    repo = make_repo(tmp_path / "repo", files)
    repo.write({"README.md": "b\n"})
    repo.commit("docs")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base"]
    assert changed_apps(result) == set() and result.stats["apps_added"] == 0
    assert {a.app.name for a in result.apps} == {"web-a", "web-b", "dev", "staging", "prod", "tools", "root"}


# ---------------------------------------------------------------------------------------------------------------
# The record itself


def test_record_sees_opened_files_and_sniffs(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: Application\napiVersion: argoproj.io/v1alpha1\n")
    (tmp_path / "b.yaml").write_text("kind: ConfigMap\n")
    (tmp_path / "c.yaml").write_text("kind: ConfigMap\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("x")
    markers = (b"argoproj.io",)
    with reads.record(tmp_path) as record:
        for name in ("a.yaml", "b.yaml"):
            data = (tmp_path / name).read_bytes()
            reads.sniffed(tmp_path / name, markers, any(m in data for m in markers))
        (tmp_path / "c.yaml").read_text()
        outside.read_text()
    (tmp_path / "late.yaml").write_text("after the record")

    assert record.files == {"a.yaml", "c.yaml"}  # b.yaml was only searched, found nothing
    assert record.sniffs == {"b.yaml": markers}
    assert record.reusable


def test_record_a_process_makes_it_incomplete(tmp_path: Path) -> None:
    import subprocess
    import threading

    with reads.record(tmp_path) as record:
        subprocess.run(["true"], check=False)
    assert not record.reusable and record.incomplete == ["started a process"]

    # Another thread's process counts only when it names the folder.
    with reads.record(tmp_path) as record:
        thread = threading.Thread(target=lambda: subprocess.run(["true"], check=False))
        thread.start()
        thread.join()
    assert record.reusable
    with reads.record(tmp_path) as record:
        thread = threading.Thread(target=lambda: subprocess.run(["ls", str(tmp_path)], capture_output=True))
        thread.start()
        thread.join()
    assert not record.reusable

    def aside() -> None:
        with reads.unrecorded():  # e.g. copying the folder for the other commit meanwhile
            subprocess.run(["ls", str(tmp_path)], capture_output=True)
            (tmp_path / "a.yaml").read_text()

    (tmp_path / "a.yaml").write_text("x")
    with reads.record(tmp_path) as record:
        thread = threading.Thread(target=aside)
        thread.start()
        thread.join()
    assert record.reusable and record.files == frozenset()


def test_record_sees_reads_of_every_thread_below_its_folder(tmp_path: Path) -> None:
    import threading

    (tmp_path / "a.yaml").write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("x")

    def other() -> None:
        (tmp_path / "a.yaml").read_text()
        outside.read_text()

    with reads.record(tmp_path) as record:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert record.files == {"a.yaml"}
    with reads.record(tmp_path) as record:
        pass
    (tmp_path / "a.yaml").read_text()
    assert record.files == frozenset()  # after the block


def test_adopt_without_state_is_harmless(tmp_path: Path) -> None:
    from gitops_check.model import Workspace

    dispatch.adopt(Workspace(tmp_path / "a", "a"), Workspace(tmp_path / "b", "b"), dispatch.DiscoverOptions())
