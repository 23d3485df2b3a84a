"""The issue's proof cases, on real repositories with real helm and kustomize: what each kind of commit reports,
and how many renders it took (only apps whose inputs changed are rendered)."""

from __future__ import annotations

from pathlib import Path

from gitops_check.model import Status
from tests.preview.conftest import Preview, by_name, changed_apps
from tests.preview.repos import CHART, MIXED, application, make_repo


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

    result = preview(repo.path, "HEAD~1")

    assert changed_apps(result) == {"payments"}
    assert by_name(result)["root"].diffs == []  # unchanged: rendered once, only to find its children
    assert result.stats["renders"] == 3  # root once for both commits, payments at base and head
