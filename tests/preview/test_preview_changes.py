"""The issue's proof cases, on real repositories with real helm and kustomize: what each kind of commit reports,
and how many renders it took (only apps whose inputs changed are rendered)."""

from __future__ import annotations

from pathlib import Path

from gitops_check.model.result import Status
from tests.preview.conftest import Preview, by_name, changed_apps
from tests.preview.repos import CHART, MIXED, REPO_URL, application, make_repo


def test_value_file_of_one_helm_app(tmp_path: Path, preview: Preview) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({"values/web-a.yaml": "replicas: 5\n"})
    repo.commit("scale web-a")

    result = preview(repo.path, "HEAD~1")

    assert changed_apps(result) == {"web-a"}
    [diff] = [d for d in by_name(result)["web-a"].diffs if d.is_drift]
    assert str(diff.key) == "Deployment/a/web-a" and diff.status is Status.CHANGED
    assert [(c.path, c.old, c.new) for c in diff.changes] == [("spec.replicas", 2, 5)]
    assert result.stats["renders"] == 2  # web-a at base and at head; web-b shares the chart but not the file
    assert result.stats["unchanged_by_key"] == 5
    assert result.exit_code() == 1 and result.mode == "preview"


def test_kustomize_base_shared_by_overlays_reports_every_overlay(tmp_path: Path, preview: Preview) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({"k8s/base/cm.yaml": MIXED["k8s/base/cm.yaml"].replace("level: info", "level: debug")})
    repo.commit("debug logs everywhere")

    result = preview(repo.path, "HEAD~1")

    assert changed_apps(result) == {"dev", "staging", "prod"}
    for env in ("dev", "staging", "prod"):
        [diff] = [d for d in by_name(result)[env].diffs if d.is_drift]
        assert str(diff.key) == f"ConfigMap/{env}/{env}-settings"
        assert [(c.path, c.old, c.new) for c in diff.changes] == [("data.level", "info", "debug")]
    assert result.stats["renders"] == 6


def test_app_added(tmp_path: Path, preview: Preview) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({
        ".gitops-check.yaml": MIXED[".gitops-check.yaml"] + "  - {name: extra, path: plain/extra, namespace: x}\n",
        "plain/extra/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  k: v\n",
    })  # fmt: skip
    repo.commit("add an app")

    result = preview(repo.path, "HEAD~1")

    extra = by_name(result)["extra"]
    assert changed_apps(result) == {"extra"} and extra.change == "added"
    assert [(str(d.key), d.status) for d in extra.diffs] == [("ConfigMap/x/extra", Status.ADDED)]
    assert result.stats["renders"] == 1 and result.stats["apps_added"] == 1


def test_app_removed(tmp_path: Path, preview: Preview) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({".gitops-check.yaml": MIXED[".gitops-check.yaml"].replace(
        "  - {name: tools, path: plain/tools, namespace: tools}\n", "")})  # fmt: skip
    repo.remove("plain/tools/cm.yaml")
    repo.commit("remove tools")

    result = preview(repo.path, "HEAD~1")

    tools = by_name(result)["tools"]
    assert changed_apps(result) == {"tools"} and tools.change == "removed"
    assert [(str(d.key), d.status) for d in tools.diffs] == [("ConfigMap/tools/tools", Status.REMOVED)]
    assert tools.diffs[0].live is not None and tools.diffs[0].live["data"] == {"a": "b"}
    assert result.stats["renders"] == 1 and result.stats["apps_removed"] == 1


def test_readme_change_renders_nothing(tmp_path: Path, preview: Preview) -> None:
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.write({"README.md": "# deploy\n\nMore words.\n"})
    repo.commit("docs")

    result = preview(repo.path, "HEAD~1")

    assert result.stats["renders"] == 0
    assert result.stats["unchanged_by_key"] == 6 and changed_apps(result) == set()
    assert result.exit_code() == 0 and not result.errors


def test_argocd_application_parameters(tmp_path: Path, preview: Preview) -> None:
    files = {
        **CHART,
        "apps/payments.yaml": application("payments", "charts/web"),
        "apps/shop.yaml": application("shop", "charts/web"),
    }
    repo = make_repo(tmp_path / "repo", files)
    repo.write({"apps/payments.yaml": application("payments", "charts/web", tag="1.1")})
    repo.commit("payments 1.1")

    result = preview(repo.path, "HEAD~1")

    assert {a.app.kind for a in result.apps} == {"argocd"}
    assert changed_apps(result) == {"payments"}
    [diff] = [d for d in by_name(result)["payments"].diffs if d.is_drift]
    assert str(diff.key) == "Deployment/payments/payments"
    assert [(c.path, c.old, c.new) for c in diff.changes] == [
        ("spec.template.spec.containers[name=app].image", "nginx:1.0", "nginx:1.1")
    ]
    assert result.stats["renders"] == 2


def test_app_of_apps_child_change_found_through_unchanged_parent(tmp_path: Path, preview: Preview) -> None:
    root = application("root", "apps/children").replace("    helm:\n      parameters:\n        - name: image\n"
                                                       '          value: "nginx:1.0"\n', "")  # fmt: skip
    files = {
        **CHART,
        "apps/root.yaml": root,
        "apps/children/payments.yaml": application("payments", "charts/web"),
        "values/payments.yaml": "replicas: 1\n",
    }
    files["apps/children/payments.yaml"] = files["apps/children/payments.yaml"].replace(
        "      parameters:", "      valueFiles: [/values/payments.yaml]\n      parameters:"
    )
    repo = make_repo(tmp_path / "repo", files)
    repo.write({"values/payments.yaml": "replicas: 4\n"})
    repo.commit("scale payments")

    result = preview(repo.path, "HEAD~1", cache_dir=tmp_path / "cache")
    warm = preview(repo.path, "HEAD~1", cache_dir=tmp_path / "cache")

    assert changed_apps(result) == changed_apps(warm) == {"payments"}
    assert by_name(result)["root"].diffs == []  # unchanged: rendered once, only to find its children
    assert result.stats["renders"] == 3  # root once for both commits, payments at base and head
    assert (warm.stats["renders"], warm.stats["cache_hits"]) == (
        0,
        3,
    )  # the root's children from its cached render


def test_applicationset_git_generator_new_folder_is_a_new_app(tmp_path: Path, preview: Preview) -> None:
    appset = f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: teams, namespace: argocd}}
spec:
  goTemplate: true
  generators:
    - git:
        repoURL: {REPO_URL}
        revision: main
        directories: [{{path: "teams/*"}}]
  template:
    metadata: {{name: "team-{{{{.path.basename}}}}"}}
    spec:
      project: default
      source: {{repoURL: {REPO_URL}, targetRevision: main, path: "{{{{.path.path}}}}"}}
      destination: {{server: https://kubernetes.default.svc, namespace: "{{{{.path.basename}}}}"}}
"""
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: team\ndata:\n  owner: {}\n"
    repo = make_repo(tmp_path / "repo", {"appsets/teams.yaml": appset, "teams/red/cm.yaml": cm.format("red")})
    repo.write({"teams/blue/cm.yaml": cm.format("blue")})
    repo.commit("team blue")

    result = preview(repo.path, "HEAD~1")

    assert changed_apps(result) == {"team-blue"} and by_name(result)["team-blue"].change == "added"
    assert [str(d.key) for d in by_name(result)["team-blue"].diffs] == ["ConfigMap/blue/team"]
    assert result.stats["renders"] == 1 and by_name(result)["team-red"].diffs == []


def test_flux_kustomization_substitution_change(tmp_path: Path, preview: Preview) -> None:
    sync = f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{url: "{REPO_URL}", interval: 1m}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: flux-system, namespace: flux-system}}
spec: {{path: ./clusters/prod, prune: true, sourceRef: {{kind: GitRepository, name: flux-system}}}}
"""

    def apps(level: str) -> str:
        return f"""\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: apps, namespace: flux-system}}
spec:
  path: ./apps/prod
  prune: true
  sourceRef: {{kind: GitRepository, name: flux-system}}
  postBuild: {{substitute: {{LEVEL: {level}}}}}
"""

    files = {
        "clusters/prod/flux-system/gotk-sync.yaml": sync,
        "clusters/prod/flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
        "clusters/prod/apps.yaml": apps("info"),
        "apps/base/kustomization.yaml": "resources: [cm.yaml]\n",
        "apps/base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: web}\n"
        "data: {level: '${LEVEL}'}\n",
        "apps/prod/kustomization.yaml": "resources: [../base]\n",
    }
    repo = make_repo(tmp_path / "repo", files)
    repo.write({"clusters/prod/apps.yaml": apps("debug")})
    repo.commit("debug logs")

    result = preview(repo.path, "HEAD~1")

    assert {a.app.kind for a in result.apps} == {"flux-kustomization"}
    # The root renders the Kustomization object itself; the child renders what it builds.
    assert changed_apps(result) == {"Kustomization/flux-system/flux-system", "Kustomization/flux-system/apps"}
    [root_diff] = [d for d in by_name(result)["Kustomization/flux-system/flux-system"].diffs if d.is_drift]
    assert [(c.path, c.old, c.new) for c in root_diff.changes] == [
        ("spec.postBuild.substitute.LEVEL", "info", "debug")
    ]
    [diff] = [d for d in by_name(result)["Kustomization/flux-system/apps"].diffs if d.is_drift]
    assert str(diff.key) == "ConfigMap/web/web"
    assert [(c.path, c.old, c.new) for c in diff.changes] == [("data.level", "info", "debug")]


def test_symlink_leaving_the_repository_rerenders_every_app(tmp_path: Path, preview: Preview) -> None:
    """Argo CD refuses a repository with an out-of-bounds symlink: adding one changes every app's key, and only
    the app whose folder holds it fails."""
    repo = make_repo(tmp_path / "repo", MIXED)
    repo.symlink("docs/escape", "/etc/passwd")
    repo.symlink("plain/tools/escape", "/etc/passwd")
    repo.commit("links")

    result = preview(repo.path, "HEAD~1")

    assert (
        result.stats["renders"] == 6 * 2 and result.stats["unchanged_by_key"] == 0
    )  # every app, both commits
    [tools] = [a for a in result.apps if a.errors]
    assert tools.app.name == "tools" and "head commit: symlink plain/tools/escape" in tools.errors[0].message
    assert changed_apps(result) == set() and result.exit_code() == 2
