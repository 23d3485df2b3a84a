"""ApplicationSet generators on a real repository: list, git directories/files, clusters, matrix, merge, selectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_check.discover import gotemplate
from gitops_check.discover.appset import AppSetResult, expand_appset
from gitops_check.discover.appset_params import ClusterInfo, GenEnv, GeneratorError
from gitops_check.discover.gotemplate import Syntax, Templater
from gitops_check.model.rendered import Workspace
from tests.helpers.binaries import cached_binary
from tests.helpers.gitrepo import make_workspace

REPO = {
    "apps/web/kustomization.yaml": "resources: []\n",
    "apps/api/kustomization.yaml": "resources: []\n",
    "apps/legacy/kustomization.yaml": "resources: []\n",
    "apps/api/nested/x.yaml": "a: 1\n",
    "apps/.hidden/x.yaml": "a: 1\n",
    "config/dev/config.json": '{"cluster": {"name": "dev", "replicas": 1000000}, "tier": "low"}',
    "config/prod/config.json": '{"cluster": {"name": "prod", "replicas": 3}, "tier": "high"}',
    "config/prod/extra/config.json": '{"cluster": {"name": "prod-extra", "replicas": 1}}',
    "config/list.yaml": "- {name: a}\n- {name: b}\n",
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return make_workspace(tmp_path_factory.mktemp("appset"), REPO)


@pytest.fixture(scope="module")
def helper() -> str:
    return str(
        cached_binary(gotemplate.HELPER, how="build it with `python scripts/tools.py ensure gotemplate`")
    )


def run(
    ws: Workspace,
    generators: list[Any],
    template: dict[str, Any],
    *,
    go: bool = False,
    helper: str | None = None,
    clusters: tuple[ClusterInfo, ...] = (),
    doublestar: bool = False,
    **spec: Any,
) -> AppSetResult:
    def workspace_for(url: str, revision: str | None) -> Workspace:
        if url != "https://git.example.com/gitops.git":
            raise GeneratorError(f"git generator repository {url} is not available; map it with --repo-map")
        return ws

    env = GenEnv(
        templater=Templater(Syntax(go, ("missingkey=error",) if go else ()), helper=helper),
        workspace_for=workspace_for,
        clusters=clusters,
        new_git_file_globbing=doublestar,
    )
    obj = {"metadata": {"name": "set"}, "spec": {"generators": generators, "template": template, **spec}}
    return expand_appset(obj, env, "argocd")


def names(result: AppSetResult) -> list[str]:
    return [a.doc["metadata"]["name"] for a in result.apps]


def tmpl(name: str, path: str = "apps", namespace: str = "default") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example.com/gitops.git", "path": path},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        },
    }


GIT = {"repoURL": "https://git.example.com/gitops.git", "revision": "HEAD"}


def test_git_directories_with_exclude_fasttemplate(ws: Workspace) -> None:
    gen = {"git": {**GIT, "directories": [{"path": "apps/*"}, {"path": "apps/legacy", "exclude": True}]}}
    result = run(ws, [gen], tmpl("{{path.basename}}-{{path[0]}}", "{{path}}", "{{path.basenameNormalized}}"))
    assert result.errors == []
    assert names(result) == ["api-apps", "web-apps"]  # WalkDir order; .hidden and apps/api/nested not matched
    assert result.apps[0].doc["spec"]["source"]["path"] == "apps/api"
    assert result.apps[0].doc["metadata"]["namespace"] == "argocd"
    assert result.apps[0].generator == "generators[0] git directories"


def test_git_directories_gotemplate(ws: Workspace, helper: str) -> None:
    gen = {"git": {**GIT, "directories": [{"path": "apps/*"}]}}
    template = tmpl("{{ .path.basename }}-{{ index .path.segments 0 }}", "{{ .path.path }}")
    result = run(ws, [gen], template, go=True, helper=helper)
    assert names(result) == ["api-apps", "legacy-apps", "web-apps"]


def test_git_files_greedy_pathspec_by_default(ws: Workspace) -> None:
    """Argo CD's default git files globbing is git's pathspec: '*' also crosses '/'."""
    gen = {"git": {**GIT, "files": [{"path": "config/*/config.json"}]}}
    template = tmpl("{{cluster.name}}-{{cluster.replicas}}-{{path.basename}}", "{{path}}")
    result = run(ws, [gen], template)
    assert names(result) == ["dev-1e+06-dev", "prod-3-prod", "prod-extra-1-extra"]


def test_git_files_new_globbing(ws: Workspace, helper: str) -> None:
    gen = {"git": {**GIT, "files": [{"path": "config/*/config.json"}]}}
    template = tmpl("{{ .cluster.name }}-{{ .cluster.replicas }}-{{ .path.filename }}", "{{ .path.path }}")
    result = run(ws, [gen], template, go=True, helper=helper, doublestar=True)
    assert names(result) == ["dev-1e+06-config.json", "prod-3-config.json"]


def test_git_files_list_of_objects_and_values(ws: Workspace) -> None:
    gen = {"git": {**GIT, "files": [{"path": "config/list.yaml"}], "values": {"full": "{{name}}-{{path}}"}}}
    result = run(ws, [gen], tmpl("{{values.full}}"))
    assert names(result) == ["a-config", "b-config"]


def test_list_generator_and_fasttemplate_needs_strings(ws: Workspace) -> None:
    gen = {
        "list": {
            "elements": [
                {"env": "dev", "values": {"tier": "low"}},
                {"env": "prod", "values": {"tier": "high"}},
            ]
        }
    }
    assert names(run(ws, [gen], tmpl("web-{{env}}-{{values.tier}}"))) == ["web-dev-low", "web-prod-high"]
    bad = run(ws, [{"list": {"elements": [{"env": "dev", "replicas": 3}]}}], tmpl("web-{{env}}"))
    assert bad.apps == [] and "not a string" in bad.errors[0]


def test_matrix_interpolates_the_second_generator(ws: Workspace, helper: str) -> None:
    gen = {
        "matrix": {
            "generators": [
                {"list": {"elements": [{"env": "dev"}, {"env": "prod"}]}},
                {"git": {**GIT, "files": [{"path": "config/{{ .env }}/config.json"}]}},
            ]
        }
    }
    template = tmpl("{{ .cluster.name }}-{{ .env }}", "{{ .path.path }}", "{{ .tier }}")
    result = run(ws, [gen], template, go=True, helper=helper, doublestar=True)
    assert names(result) == ["dev-dev", "prod-prod"]
    assert result.apps[1].doc["spec"]["destination"]["namespace"] == "high"
    assert result.apps[0].generator == "generators[0] matrix(list, git files)"


def test_matrix_fasttemplate_conflicting_keys_is_an_error(ws: Workspace) -> None:
    gen = {
        "matrix": {"generators": [{"list": {"elements": [{"a": "1"}]}}, {"list": {"elements": [{"a": "2"}]}}]}
    }
    result = run(ws, [gen], tmpl("x-{{a}}"))
    assert result.apps == [] and "found duplicate key a with different value" in result.errors[0]


def test_merge_overrides_by_key(ws: Workspace) -> None:
    gen = {
        "merge": {
            "mergeKeys": ["name"],
            "generators": [
                {"list": {"elements": [{"name": "a", "size": "s"}, {"name": "b", "size": "s"}]}},
                {"list": {"elements": [{"name": "b", "size": "xl"}, {"name": "c", "size": "xl"}]}},
            ],
        }
    }
    result = run(ws, [gen], tmpl("{{name}}-{{size}}"))
    assert names(result) == ["a-s", "b-xl"]
    dup = {"merge": {"mergeKeys": ["name"], "generators": [{"list": {"elements": [{"name": "a"}, {"name": "a"}]}},
                                                          {"list": {"elements": []}}]}}  # fmt: skip
    assert "not unique" in run(ws, [dup], tmpl("{{name}}")).errors[0]


CLUSTERS = (
    ClusterInfo("prod-eu", "https://prod-eu.example.com", {"env": "prod"}, {"team": "core"}),
    ClusterInfo("Staging_1", "https://staging.example.com", {"env": "staging"}),
)


def test_clusters_generator_includes_the_local_cluster_without_selector(ws: Workspace) -> None:
    result = run(ws, [{"clusters": {}}], tmpl("web-{{nameNormalized}}", namespace="{{metadata.labels.env}}"),
                 clusters=CLUSTERS)  # fmt: skip
    assert names(result) == ["web-in-cluster", "web-prod-eu", "web-staging-1"]
    assert result.apps[1].doc["spec"]["destination"]["namespace"] == "prod"
    assert (
        result.apps[0].doc["spec"]["destination"]["namespace"] == "{{metadata.labels.env}}"
    )  # unknown: kept


def test_clusters_generator_with_selector_and_values(ws: Workspace, helper: str) -> None:
    gen = {"clusters": {"selector": {"matchLabels": {"env": "prod"}}, "values": {"ns": "web-{{ .name }}"}}}
    template = tmpl("web-{{ .name }}", namespace="{{ .values.ns }}")
    template["spec"]["destination"]["server"] = "{{ .server }}"
    result = run(ws, [gen], template, go=True, helper=helper, clusters=CLUSTERS)
    assert names(result) == ["web-prod-eu"]
    assert result.apps[0].doc["spec"]["destination"] == {
        "server": "https://prod-eu.example.com",
        "namespace": "web-prod-eu",
    }


def test_generator_selector_filters_parameters(ws: Workspace) -> None:
    gen = {
        "list": {"elements": [{"env": "dev", "region": "eu"}, {"env": "prod", "region": "us"}]},
        "selector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]},
    }
    assert names(run(ws, [gen], tmpl("{{env}}-{{region}}"))) == ["prod-us"]


def test_generator_template_merges_over_the_base_and_template_patch(ws: Workspace, helper: str) -> None:
    gen = {
        "list": {"elements": [{"env": "dev"}], "template": {"metadata": {}, "spec": {"project": "special"}}}
    }
    patch = "spec:\n  source:\n    helm:\n      valueFiles: [values-{{ .env }}.yaml]\nmetadata:\n  finalizers: [x]\n"
    result = run(ws, [gen], tmpl("web-{{ .env }}"), go=True, helper=helper, templatePatch=patch)
    doc = result.apps[0].doc
    assert doc["spec"]["project"] == "special"
    assert doc["spec"]["destination"]["server"] == "https://kubernetes.default.svc"
    assert doc["spec"]["source"] == {
        "repoURL": "https://git.example.com/gitops.git",
        "path": "apps",
        "helm": {"valueFiles": ["values-dev.yaml"]},
    }
    assert doc["metadata"]["finalizers"] == ["x"]


def test_unsupported_generators_do_not_hide_the_others(ws: Workspace) -> None:
    gens = [
        {"pullRequest": {"github": {"owner": "o", "repo": "r"}}},
        {"list": {"elements": [{"env": "dev"}]}},
    ]
    result = run(ws, gens, tmpl("web-{{env}}"))
    assert names(result) == ["web-dev"]
    assert result.errors == [
        "generators[0] pullRequest: the pullRequest generator lists pull requests through an SCM provider's API, "
        "which gitops-check cannot do"
    ]


def test_duplicate_generated_names_and_missing_repository(ws: Workspace) -> None:
    gen = {"list": {"elements": [{"env": "dev"}, {"env": "dev"}]}}
    result = run(ws, [gen], tmpl("web-{{env}}"))
    assert names(result) == ["web-dev"]
    assert result.errors == ["ApplicationSet set contains applications with duplicate name: web-dev"]
    other = {"git": {"repoURL": "https://git.example.com/other.git", "directories": [{"path": "*"}]}}
    assert "map it with --repo-map" in run(ws, [other], tmpl("{{path}}")).errors[0]


def test_missing_helper_makes_go_templates_unchecked(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITOPS_CHECK_BIN_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(gotemplate.HELPER_ENV, raising=False)
    with pytest.raises(gotemplate.HelperMissing):
        run(ws, [{"list": {"elements": [{"env": "dev"}]}}], tmpl("web-{{ .env }}"), go=True)
