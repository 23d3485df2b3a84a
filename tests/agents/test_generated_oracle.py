"""Generated apps against the real Argo CD: ApplicationSets (list, git directories, git files, matrix, merge,
goTemplate and the default template, templatePatch) expanded by the real ApplicationSet controller, and an App of
Apps synced by the real application controller.

For each, the Applications Argo CD creates (their names) are the apps gitops-check finds in the same commit, and
each generated app's manifests (Argo CD's manifests endpoint) equal gitops-check's render of it, object for object.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.agents.oracle import argocd_manifests, describe_difference, gitops_check_render
from tests.helpers.argocd import NAMESPACE, ArgoCD, wait_for
from tests.helpers.gitrepo import GitRepo

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("argocd")]

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{service: {name}}}\n"


def _files() -> dict[str, str]:
    files = {
        "services/cart/cm.yaml": CM.format(name="cart"),
        "services/web/cm.yaml": CM.format(name="web"),
        "services/web/kustomization.yaml": "resources: [cm.yaml]\n",
        "services/legacy/cm.yaml": CM.format(name="legacy"),
        "envs/dev/config.json": json.dumps({"env": "dev", "tier": "bronze"}),
        "envs/prod/config.json": json.dumps({"env": "prod", "tier": "gold"}),
    }
    return files


def _appset(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


def _template(url: str, name: str, path: str, namespace: str, **source: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "project": "default",
            "source": {"repoURL": url, "targetRevision": "HEAD", "path": path, **source},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        },
    }


def appsets(url: str) -> list[dict[str, Any]]:
    services = {"repoURL": url, "revision": "HEAD", "directories": [
        {"path": "services/*"}, {"path": "services/legacy", "exclude": True}]}  # fmt: skip
    return [
        _appset("list-go", {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": [
                {"name": "alpha", "path": "services/cart"}, {"name": "beta", "path": "services/web"}]}}],
            "template": _template(url, "list-{{.name}}", "{{.path}}", "as-list-{{.name | lower}}"),
        }),
        _appset("git-dirs", {
            "generators": [{"git": services}],
            "template": _template(url, "dir-{{path.basename}}", "{{path}}", "as-dir-{{path.basename}}"),
        }),
        _appset("git-files", {
            "goTemplate": True,
            "generators": [{"git": {"repoURL": url, "revision": "HEAD", "files": [{"path": "envs/*/config.json"}]}}],
            "template": _template(url, "files-{{.env}}", "services/web", "as-files-{{.env}}",
                                  kustomize={"commonLabels": {"tier": "{{.tier}}"}}),
        }),
        _appset("matrix", {
            "goTemplate": True,
            "generators": [{"matrix": {"generators": [
                {"git": services}, {"list": {"elements": [{"cluster": "east"}, {"cluster": "west"}]}}]}}],
            "template": _template(url, "mx-{{.path.basename}}-{{.cluster}}", "{{.path.path}}",
                                  "as-mx-{{.cluster}}"),
        }),
        _appset("merge", {
            "goTemplate": True,
            "generators": [{"merge": {"mergeKeys": ["name"], "generators": [
                {"list": {"elements": [{"name": "a", "ns": "one"}, {"name": "b", "ns": "two"}]}},
                {"list": {"elements": [{"name": "a", "ns": "three"}]}}]}}],
            "template": _template(url, "mg-{{.name}}", "services/cart", "as-mg-{{.ns}}"),
        }),
        _appset("patched", {
            "goTemplate": True,
            "generators": [{"list": {"elements": [{"name": "p1", "prefix": ""}, {"name": "p2", "prefix": "x-"}]}}],
            "template": _template(url, "patched-{{.name}}", "services/web", "as-patched"),
            "templatePatch": (
                '{{- if .prefix }}\nspec:\n  source:\n    kustomize:\n      namePrefix: "{{ .prefix }}"\n{{- end }}\n'
            ),
        }),
    ]  # fmt: skip


def app_of_apps(url: str) -> dict[str, str]:
    """A root Application whose folder holds two child Applications (one a Kustomize app with options)."""
    child = _template(url, "", "services/cart", "aoa-cart")
    child["metadata"] = {"name": "aoa-cart", "namespace": NAMESPACE}
    other = _template(url, "", "services/web", "aoa-web", kustomize={"nameSuffix": "-v2"})
    other["metadata"] = {"name": "aoa-web", "namespace": NAMESPACE}
    root = _template(url, "", "roots/children", NAMESPACE)
    root["metadata"] = {"name": "aoa-root", "namespace": NAMESPACE}
    docs = {
        "roots/children/cart.yaml": child,
        "roots/children/web.yaml": other,
        "roots/root.yaml": root,
    }
    out = {}
    for path, body in docs.items():
        out[path] = yaml.safe_dump({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **body})
    return out


@pytest.fixture(scope="module")
def generated(argocd: ArgoCD) -> dict[str, Any]:
    repo = GitRepo.init(argocd.git_root / "generated")
    url = argocd.git.url("generated")
    sets = appsets(url)
    files = {**_files(), **app_of_apps(url)}
    for appset in sets:
        files[f"appsets/{appset['metadata']['name']}.yaml"] = yaml.safe_dump(appset, sort_keys=False)
    repo.write(files)
    repo.commit("generated apps")

    argocd.start_applicationset_controller()
    for appset in sets:
        argocd.apply_object(appset)
    root = yaml.safe_load(files["roots/root.yaml"])
    argocd.create_app(root)
    argocd.wait_app(
        "aoa-root", lambda a: (a.get("status") or {}).get("sync", {}).get("status") is not None, "compared"
    )
    state = argocd.sync_via_operation("aoa-root")
    assert state["status"]["operationState"]["phase"] == "Succeeded", state["status"]["operationState"]

    def settled() -> dict[str, list[str]] | None:
        made: dict[str, list[str]] = {}
        for app in argocd.applications():
            owners = app["metadata"].get("ownerReferences") or []
            owner = next((o["name"] for o in owners if o.get("kind") == "ApplicationSet"), None)
            if app["metadata"]["name"].startswith("aoa-") and app["metadata"]["name"] != "aoa-root":
                owner = "aoa-root"
            if owner:
                made.setdefault(owner, []).append(app["metadata"]["name"])
        for appset in sets:
            status = (
                argocd.cluster.request(
                    "GET",
                    f"/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/applicationsets/{appset['metadata']['name']}",
                )
                .json()
                .get("status")
                or {}
            )
            conditions = {c["type"]: c for c in status.get("conditions") or []}
            if conditions.get("ErrorOccurred", {}).get("status") == "True":
                raise AssertionError(
                    f"ApplicationSet {appset['metadata']['name']}: {conditions['ErrorOccurred']}"
                )
            if conditions.get("ResourcesUpToDate", {}).get("status") != "True":
                return None
        return made if len(made.get("aoa-root", [])) == 2 else None

    made = wait_for("ApplicationSets expanded and the App of Apps synced", settled, timeout=180)
    objects, errors = gitops_check_render(repo.path, url)
    return {"argocd": made, "objects": objects, "errors": errors}


GENERATORS = ["list-go", "git-dirs", "git-files", "matrix", "merge", "patched", "aoa-root"]


@pytest.mark.parametrize("generator", GENERATORS)
def test_generated_apps_match_argocd(argocd: ArgoCD, generated: dict[str, Any], generator: str) -> None:
    names = sorted(generated["argocd"].get(generator, []))
    assert names, f"Argo CD generated no Application for {generator}"
    ours = set(generated["objects"]) | set(generated["errors"])
    prefix = {"list-go": "list-", "git-dirs": "dir-", "git-files": "files-", "matrix": "mx-", "merge": "mg-",
              "patched": "patched-", "aoa-root": "aoa-"}[generator]  # fmt: skip
    assert sorted(n for n in ours if n.startswith(prefix) and n != "aoa-root") == names
    for name in names:
        assert name not in generated["errors"], (
            f"gitops-check could not render {name}: {generated['errors'][name]}"
        )
        app = argocd.app(name)
        expected = argocd_manifests(argocd, name, app["spec"]["destination"]["namespace"])
        difference = describe_difference(expected, generated["objects"].get(name, {}))
        assert not difference, f"{generator} / {name}:\n{difference}"
