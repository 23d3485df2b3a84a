"""Argo CD config management plugins (issue 12, item 7), through full ``gitops-check diff`` and ``preview`` runs.

The plugin definition is a sidecar ``plugin.yaml`` as Argo CD's docs write them (``init``, ``generate``,
``discover.fileName``, ``discover.find.command``), given on the command line or through GITOPS_CHECK_PLUGINS,
never read from the checked commit. The plugin templates ``*.yaml.tmpl`` files with ``sed`` and prints what the
sidecar environment holds, so the tests see exactly which ``ARGOCD_APP_*``, ``ARGOCD_ENV_*`` and ``PARAM_*``
variables it got, and that nothing else from the job's environment reached it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from gitops_check.cli import main
from gitops_check.render.plugin import parameter_env
from tests.semantics.argo_repos import URL, application, make_repo, statuses, tracked, write_snapshot

PLUGIN = r"""apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata:
  name: tmpl
spec:
  version: v1.0
  init:
    command: [sh, -c]
    args: ["echo initialized > .init-done"]
  generate:
    command: [sh, -c]
    args:
      - |
        test -f .init-done || { echo "init did not run" >&2; exit 3; }
        touch generated-here
        for f in *.yaml.tmpl; do
          sed -e "s|@APP@|$ARGOCD_APP_NAME|g" -e "s|@NS@|$ARGOCD_APP_NAMESPACE|g" "$f"
          echo ---
        done
        cat <<EOF
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: $ARGOCD_APP_NAME-env
        data:
          revision: "$ARGOCD_APP_REVISION"
          source: "$ARGOCD_APP_SOURCE_PATH $ARGOCD_APP_SOURCE_REPO_URL $ARGOCD_APP_SOURCE_TARGET_REVISION"
          project: "$ARGOCD_APP_PROJECT_NAME"
          foo: "$ARGOCD_ENV_FOO"
          replicas: "$PARAM_REPLICAS"
          image0: "$PARAM_IMAGES_0"
          team: "$PARAM_LABELS_TEAM"
          token: "${GITOPS_TEST_TOKEN:-absent}"
          kube: "$KUBE_VERSION"
        EOF
  discover:
    fileName: "*.yaml.tmpl"
"""

# Discovery by command (Argo CD docs: find.command prints something when the plugin applies).
MARKER_PLUGIN = """apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata:
  name: marker
spec:
  generate:
    command: [sh, -c, "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-marker\\n'"]
  discover:
    find:
      command: [sh, -c, "test -f .use-marker-plugin && echo yes || true"]
"""

TEMPLATE = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: @APP@
  labels: {namespace: @NS@}
spec:
  replicas: 1
  selector: {matchLabels: {app: @APP@}}
  template:
    metadata: {labels: {app: @APP@}}
    spec:
      containers: [{name: app, image: nginx:1.27}]
"""

PLUGIN_BLOCK = {
    "name": "tmpl-v1.0",
    "env": [{"name": "FOO", "value": "bar-$ARGOCD_APP_NAME"}],
    "parameters": [
        {"name": "replicas", "string": "3"},
        {"name": "images", "array": ["nginx:1.27", "busybox"]},
        {"name": "labels", "map": {"team": "web"}},
    ],
}


def _files() -> dict[str, str]:
    return {
        "apps/web.yaml": application("web", "web", "web", plugin=PLUGIN_BLOCK),
        "apps/auto.yaml": application("auto", "auto", "auto"),
        "web/deployment.yaml.tmpl": TEMPLATE,
        "auto/deployment.yaml.tmpl": TEMPLATE,
        # A definition inside the commit is never used.
        "argocd/cmp-plugin.yaml": PLUGIN.replace("name: tmpl", "name: from-the-commit"),
    }


@pytest.fixture
def plugin_file(tmp_path: Path) -> Path:
    path = tmp_path / "plugins" / "plugin.yaml"
    path.parent.mkdir()
    path.write_text(PLUGIN + "---\n" + MARKER_PLUGIN)
    return path


def _run(repo: Path, snapshot: Path, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report.json"
    code = main(["diff", "--repo", str(repo), "--repo-url", URL, "--snapshot", str(snapshot), "--json", str(report),
                 "--no-color", "--assume-complete-snapshot", *extra])  # fmt: skip
    return code, json.loads(report.read_text())


def _desired(app: str, revision: str, *, foo: str = "", params: bool = False) -> list[dict[str, Any]]:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": app, "labels": {"namespace": app}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": app}},
                 "template": {"metadata": {"labels": {"app": app}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}},
    }  # fmt: skip
    env = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{app}-env"},
        "data": {"revision": revision, "source": f"{app} {URL} HEAD", "project": "default", "foo": foo,
                 "replicas": "3" if params else "", "image0": "nginx:1.27" if params else "",
                 "team": "web" if params else "", "token": "absent", "kube": ""},
    }  # fmt: skip
    return [tracked(app, deployment, app), tracked(app, env, app)]


def test_named_and_discovered_plugins_render_with_argo_cd_environment(
    tmp_path: Path, plugin_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITOPS_TEST_TOKEN", "job-secret-value")
    repo = make_repo(tmp_path / "repo", _files())
    sha = repo.git("rev-parse", "HEAD").strip()
    live = [*_desired("web", sha, foo="bar-web", params=True), *_desired("auto", sha)]
    code, report = _run(
        repo.path, write_snapshot(tmp_path / "s.json", live), tmp_path, "--plugin", str(plugin_file)
    )
    assert code == 0, report
    assert statuses(report) == {
        "web": {"Deployment/web/web": "unchanged", "ConfigMap/web/web-env": "unchanged"},
        "auto": {"Deployment/auto/auto": "unchanged", "ConfigMap/auto/auto-env": "unchanged"},
    }
    # The throwaway copy took what the commands wrote.
    assert not list(repo.path.rglob("generated-here")) and not list(repo.path.rglob(".init-done"))

    # Drift is drift; the environment variable the job has never reaches the plugin.
    live[1]["data"]["replicas"] = "2"
    code, report = _run(
        repo.path, write_snapshot(tmp_path / "s2.json", live), tmp_path, "--plugin", str(plugin_file)
    )
    assert code == 1
    assert statuses(report)["web"]["ConfigMap/web/web-env"] == "changed"
    assert "job-secret-value" not in json.dumps(report)


def test_definitions_come_from_the_environment_too(
    tmp_path: Path, plugin_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITOPS_CHECK_PLUGINS", f"{tmp_path / 'missing-is-an-error.yaml'}")
    repo = make_repo(tmp_path / "repo", _files())
    code = main(["diff", "--repo", str(repo.path), "--snapshot", str(write_snapshot(tmp_path / "s.json", [])),
                 "--no-color"])  # fmt: skip
    assert code == 2  # a plugin file that does not exist is a usage error
    monkeypatch.setenv("GITOPS_CHECK_PLUGINS", f"{plugin_file}{os.pathsep}{plugin_file}")
    sha = repo.git("rev-parse", "HEAD").strip()
    live = [*_desired("web", sha, foo="bar-web", params=True), *_desired("auto", sha)]
    code, report = _run(repo.path, write_snapshot(tmp_path / "s.json", live), tmp_path)
    assert code == 0, report


def test_without_a_definition_the_app_is_not_checked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", _files())
    code, report = _run(repo.path, write_snapshot(tmp_path / "s.json", []), tmp_path)
    assert code == 2
    web = next(a for a in report["apps"] if a["name"] == "web")
    [error] = web["errors"]
    assert error["message"] == (
        "not checked: the app uses the config management plugin tmpl-v1.0, and the job gave no definition of it "
        "(given: none given); pass its plugin.yaml with --plugin FILE or GITOPS_CHECK_PLUGINS"
    )
    # Without definitions, discovery has nothing to try: the auto app is a folder of (no) manifests.
    assert next(a for a in report["apps"] if a["name"] == "auto")["errors"] == []


def test_discover_command_picks_the_plugin(tmp_path: Path, plugin_file: Path) -> None:
    files = {k: v for k, v in _files().items() if k != "auto/deployment.yaml.tmpl"}
    repo = make_repo(tmp_path / "repo", {**files, "auto/.use-marker-plugin": ""})
    code, report = _run(
        repo.path, write_snapshot(tmp_path / "s.json", []), tmp_path, "--plugin", str(plugin_file)
    )
    assert code == 1
    assert statuses(report)["auto"] == {"ConfigMap/auto/from-marker": "added"}


def test_a_plugin_that_hangs_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    hanging = tmp_path / "hang.yaml"
    hanging.write_text(f"""apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata: {{name: tmpl}}
spec:
  version: v1.0
  generate:
    command: [sh, -c, "sleep 300 & echo $! > {pid_file}; wait"]
""")
    repo = make_repo(
        tmp_path / "repo", {**_files(), ".gitops-check.yaml": "version: 1\nrender: {timeout: 2s}\n"}
    )
    start = time.monotonic()
    code, report = _run(
        repo.path, write_snapshot(tmp_path / "s.json", []), tmp_path, "--plugin", str(hanging)
    )
    assert code == 2 and time.monotonic() - start < 60
    [error] = next(a for a in report["apps"] if a["name"] == "web")["errors"]
    assert (
        "config management plugin tmpl-v1.0 for app web (web): generate: timed out after 2s"
        in error["message"]
    )
    pid = int(pid_file.read_text())
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the plugin's child process outlived the timeout")


def test_a_failing_plugin_says_which_step_and_why(tmp_path: Path) -> None:
    failing = tmp_path / "fail.yaml"
    failing.write_text(
        PLUGIN.replace('args: ["echo initialized > .init-done"]', 'args: ["echo no credentials >&2; exit 4"]')
    )
    repo = make_repo(tmp_path / "repo", _files())
    code, report = _run(
        repo.path, write_snapshot(tmp_path / "s.json", []), tmp_path, "--plugin", str(failing)
    )
    assert code == 2
    [error] = next(a for a in report["apps"] if a["name"] == "web")["errors"]
    assert (
        error["message"]
        == "config management plugin tmpl-v1.0 for app web (web): init failed: no credentials"
    )


def test_preview_renders_plugin_apps_at_both_commits(tmp_path: Path, plugin_file: Path) -> None:
    repo = make_repo(tmp_path / "repo", _files())
    repo.write({"web/deployment.yaml.tmpl": TEMPLATE.replace("nginx:1.27", "nginx:1.28")})
    repo.commit("nginx 1.28")
    report = tmp_path / "preview.json"
    code = main(["preview", "--repo", str(repo.path), "--repo-url", URL, "--base", "HEAD~1", "--no-cache",
                 "--work-dir", str(tmp_path / "work"), "--json", str(report), "--no-color",
                 "--plugin", str(plugin_file)])  # fmt: skip
    assert code == 1
    changed = {
        (app, rid)
        for app, rs in statuses(json.loads(report.read_text())).items()
        for rid, s in rs.items()
        if s == "changed"
    }
    # The image, and the commit id the plugin prints (ARGOCD_APP_REVISION) in both apps.
    assert changed == {
        ("web", "Deployment/web/web"),
        ("web", "ConfigMap/web/web-env"),
        ("auto", "ConfigMap/auto/auto-env"),
    }


def test_parameter_environment_like_argo_cd() -> None:
    env = parameter_env([{"name": "image-tag", "string": "v1"}, {"name": "ports", "array": ["80", "443"]},
                         {"name": "labels", "map": {"app.kubernetes.io/name": "web"}}])  # fmt: skip
    assert env == {
        "ARGOCD_APP_PARAMETERS": '[{"name":"image-tag","string":"v1"},{"name":"ports","array":["80","443"]},'
        '{"name":"labels","map":{"app.kubernetes.io/name":"web"}}]',
        "PARAM_IMAGE_TAG": "v1",
        "PARAM_PORTS_0": "80",
        "PARAM_PORTS_1": "443",
        "PARAM_LABELS_APP_KUBERNETES_IO_NAME": "web",
    }


@pytest.mark.parametrize(
    ("discover", "matches"),
    [
        ("fileName: '*.tmpl'", True),  # Go's filepath.Glob matches dot files too
        ("fileName: './sub/s*.yaml'", True),
        ("fileName: 's*.yaml'", False),  # one folder level only
        ("find: {glob: '**/Chart.yaml'}", True),  # go-zglob: ** spans folders
        ("find: {glob: '*/Chart.yaml'}", False),
        ("find: {command: [sh, -c, 'true']}", False),  # no output: no match
    ],
)
def test_discover_rules_as_argo_cd_reads_them(tmp_path: Path, discover: str, matches: bool) -> None:
    definition = tmp_path / "discover.yaml"
    definition.write_text(f"""apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata: {{name: probe}}
spec:
  generate:
    command: [sh, -c, "printf 'apiVersion: v1\\\\nkind: ConfigMap\\\\nmetadata:\\\\n  name: discovered\\\\n'"]
  discover:
    {discover}
""")
    repo = make_repo(tmp_path / "repo", {
        "apps/auto.yaml": application("auto", "auto", "auto"),
        "auto/.hidden.tmpl": "x",
        "auto/sub/settings.yaml": "just: values\n",
        "auto/deep/er/Chart.yaml": "name: not-a-chart-here\n",
    })  # fmt: skip
    code, report = _run(
        repo.path, write_snapshot(tmp_path / "s.json", []), tmp_path, "--plugin", str(definition)
    )
    assert statuses(report)["auto"] == ({"ConfigMap/auto/discovered": "added"} if matches else {})
    assert code == (1 if matches else 0)
