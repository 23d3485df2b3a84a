"""Each commit's apps are discovered from that commit's own files, whatever changed between the two.

Each case records which commits discovery ran on (both, in order) and checks the result: a change discovery can
see (a new Application in a plain file, the commit id in an app, a Kustomization discovery reads) shows at head,
and a change it cannot see changes nothing else. Preview once took the base commit's discovery over at head when
an audit hook saw that nothing discovery read had changed; it saved under 0.1 s of a ~1.4 s preview (issue 16),
so it was dropped with its hook.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

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


def test_value_file_change_discovers_each_commit(
    tmp_path: Path, preview: Preview, discoveries: list[str]
) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({"values/web-a.yaml": "replicas: 5\n"})
    repo.commit("scale web-a")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base", "head"]
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
def test_changes_discovery_sees_show_at_head(
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
    """A file without argoproj.io at base that holds an Application at head."""
    files = {**CHART, "apps/notes.yaml": "# nothing here yet\nkind: ConfigMap\n"}
    repo = make_repo(tmp_path / "repo", {**files, "apps/shop.yaml": application("shop", "charts/web")})
    repo.write({"apps/notes.yaml": application("payments", "charts/web")})
    repo.commit("payments")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base", "head"]
    assert changed_apps(result) == {"payments"} and by_name(result)["payments"].change == "added"


def test_changed_file_without_markers_changes_only_its_app(
    tmp_path: Path, preview: Preview, discoveries: list[str]
) -> None:
    repo = make_repo(tmp_path / "repo", {**CHART, "apps/shop.yaml": application("shop", "charts/web")})
    repo.write(
        {"charts/web/values.yaml": CHART["charts/web/values.yaml"].replace("replicas: 1", "replicas: 3")}
    )
    repo.commit("three replicas")

    result = preview(repo.path, "HEAD~1")

    assert discoveries == ["base", "head"]
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

    assert discoveries == ["base", "head"]
    assert changed_apps(result) == set()


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_tree_with_symlinks(tmp_path: Path, preview: Preview, discoveries: list[str]) -> None:
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
    """The project file's Argo CD settings hold at head too: children expanded at head are the same apps."""
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

    assert discoveries == ["base", "head"]
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

    assert discoveries == ["base", "head"]
    assert changed_apps(result) == set() and result.stats["apps_added"] == 0
    assert {a.app.name for a in result.apps} == {"web-a", "web-b", "dev", "staging", "prod", "tools", "root"}


def test_no_audit_hook_in_the_package() -> None:
    """A process-wide audit hook cannot be removed once added: gitops-check, a library too, adds none."""
    package = Path(__file__).resolve().parents[2] / "gitops_check"
    assert [p for p in package.rglob("*.py") if "addaudithook" in p.read_text()] == []
