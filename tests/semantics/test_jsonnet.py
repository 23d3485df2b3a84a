"""Argo CD directory apps with jsonnet (issue 12, item 1), through full ``gitops-check diff`` and ``preview`` runs.

The layout follows argoproj/argocd-example-apps (``jsonnet-guestbook``: a ``.jsonnet`` file importing
``params.libsonnet``; ``jsonnet-guestbook-tla``: top-level arguments), plus ``extVars``, ``libs`` and code TLAs.
What gitops-check renders must equal go-jsonnet's own output for the same files, computed here with the
``gojsonnet`` wheel's API, not with gitops-check's code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import _gojsonnet
import pytest

from gitops_check.cli import main
from gitops_check.pipeline.check import CheckRequest, render_repo
from tests.semantics.argo_repos import URL, application, make_repo, statuses, tracked, write_snapshot

PARAMS = """{
  containerPort: 80,
  image: "gcr.io/heptio-images/ks-guestbook-demo:0.2",
  name: "jsonnet-guestbook-ui",
  replicas: 1,
  servicePort: 80,
  type: "ClusterIP",
}
"""

GUESTBOOK = """local params = import 'params.libsonnet';

[
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: params.name },
    spec: {
      ports: [{ port: params.servicePort, targetPort: params.containerPort }],
      selector: { app: params.name },
      type: params.type,
    },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: params.name },
    spec: {
      replicas: params.replicas,
      revisionHistoryLimit: 3,
      selector: { matchLabels: { app: params.name } },
      template: {
        metadata: { labels: { app: params.name } },
        spec: {
          containers: [{
            image: params.image,
            name: params.name,
            ports: [{ containerPort: params.containerPort }],
          }],
        },
      },
    },
  },
]
"""

# TLAs, an extVar, an import from ``libs`` (vendor/) and a List object.
GUESTBOOK_TLA = """local k = import 'k.libsonnet';

function(name='jsonnet-guestbook-ui', replicas=1, image='gcr.io/heptio-images/ks-guestbook-demo:0.2')
  {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      k.deployment(name, replicas, image),
      k.configMap(name + '-env', { ENV: std.extVar('env'), APP: std.extVar('app') }),
    ],
  }
"""

VENDOR_K = """{
  deployment(name, replicas, image):: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: name, labels: { app: name } },
    spec: {
      replicas: replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: name, image: image }] },
      },
    },
  },
  configMap(name, data):: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name }, data: data },
}
"""

TLA_JSONNET = {
    "tlas": [
        {"name": "name", "value": "$ARGOCD_APP_NAME"},
        {"name": "replicas", "value": "2", "code": True},
    ],
    "extVars": [{"name": "env", "value": "prod"}, {"name": "app", "value": "$ARGOCD_APP_NAMESPACE"}],
    "libs": ["vendor"],
}


def _files() -> dict[str, str]:
    return {
        "apps/jsonnet-guestbook.yaml": application("jsonnet-guestbook", "jsonnet-guestbook", "guestbook"),
        "apps/jsonnet-guestbook-tla.yaml": application(
            "jsonnet-guestbook-tla", "jsonnet-guestbook-tla", "tla", directory={"jsonnet": TLA_JSONNET}
        ),
        "jsonnet-guestbook/guestbook-ui.jsonnet": GUESTBOOK,
        "jsonnet-guestbook/params.libsonnet": PARAMS,
        "jsonnet-guestbook-tla/guestbook-ui.jsonnet": GUESTBOOK_TLA,
        "vendor/k.libsonnet": VENDOR_K,
    }


def _expected(root: Path) -> dict[str, list[Any]]:
    """go-jsonnet's own output (the wheel's API), as Argo CD's repo server would get it."""
    plain = json.loads(_gojsonnet.evaluate_file(
        str(root / "jsonnet-guestbook/guestbook-ui.jsonnet"), jpathdir=[str(root / "jsonnet-guestbook")]
    ))  # fmt: skip
    tla = json.loads(_gojsonnet.evaluate_file(
        str(root / "jsonnet-guestbook-tla/guestbook-ui.jsonnet"),
        jpathdir=[str(root / "jsonnet-guestbook-tla"), str(root / "vendor")],
        ext_vars={"env": "prod", "app": "tla"}, tla_vars={"name": "jsonnet-guestbook-tla"},
        tla_codes={"replicas": "2"},
    ))  # fmt: skip
    return {"jsonnet-guestbook": plain, "jsonnet-guestbook-tla": tla["items"]}


def _in_sync_snapshot(path: Path, expected: dict[str, list[Any]]) -> list[dict[str, Any]]:
    namespaces = {"jsonnet-guestbook": "guestbook", "jsonnet-guestbook-tla": "tla"}
    return [tracked(app, body, namespaces[app]) for app, bodies in expected.items() for body in bodies]


def _run(repo: Path, snapshot: Path, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report.json"
    code = main(["diff", "--repo", str(repo), "--repo-url", URL, "--snapshot", str(snapshot), "--json", str(report),
                 "--no-color", *extra])  # fmt: skip
    return code, json.loads(report.read_text())


def test_rendered_objects_equal_go_jsonnet_output(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", _files())
    done = render_repo(CheckRequest(repo=repo.path, revision="HEAD", default_source=None, repo_urls=(URL,)))
    assert done.errors == []
    rendered = {r.app.name: [o.body for o in r.output.objects] for r in done.rendered if r.output}
    expected = _expected(repo.path)
    assert rendered["jsonnet-guestbook"] == expected["jsonnet-guestbook"]
    # The List comes out whole from the renderer; identity flattens it like every other render.
    assert [item for lst in rendered["jsonnet-guestbook-tla"] for item in lst["items"]] == expected[
        "jsonnet-guestbook-tla"
    ]
    assert expected["jsonnet-guestbook-tla"][1]["data"] == {"ENV": "prod", "APP": "tla"}


def test_diff_in_sync_then_drift_and_pruning(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", _files())
    expected = _expected(repo.path)
    live = _in_sync_snapshot(tmp_path, expected)
    code, report = _run(repo.path, write_snapshot(tmp_path / "synced.json", live), tmp_path)
    assert code == 0, report
    assert statuses(report) == {
        "jsonnet-guestbook": {
            "Service/guestbook/jsonnet-guestbook-ui": "unchanged",
            "Deployment/guestbook/jsonnet-guestbook-ui": "unchanged",
        },
        "jsonnet-guestbook-tla": {
            "Deployment/tla/jsonnet-guestbook-tla": "unchanged",
            "ConfigMap/tla/jsonnet-guestbook-tla-env": "unchanged",
        },
    }

    # The cluster runs 3 replicas of the TLA app and an object Git no longer renders.
    live[2]["spec"]["replicas"] = 3
    old = tracked("jsonnet-guestbook", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old"}},
                  "guestbook")  # fmt: skip
    code, report = _run(repo.path, write_snapshot(tmp_path / "drift.json", [*live, old]), tmp_path)
    assert code == 1
    found = statuses(report)
    assert found["jsonnet-guestbook"]["ConfigMap/guestbook/old"] == "removed"
    assert found["jsonnet-guestbook-tla"]["Deployment/tla/jsonnet-guestbook-tla"] == "changed"
    assert sum(s != "unchanged" for app in found.values() for s in app.values()) == 2


@pytest.mark.parametrize(
    ("files", "message", "file", "line"),
    [
        ({"bad/main.jsonnet": "local l = import 'l.libsonnet';\nl.cm\n",
          "bad/l.libsonnet": "{\n  cm: error 'no config map for you',\n}\n"},
         "no config map for you", "bad/l.libsonnet", 2),
        ({"bad/main.jsonnet": "{\n  a: ,\n}\n"}, "Unexpected", "bad/main.jsonnet", 2),
        ({"bad/main.jsonnet": "import '../../../../../../../etc/hostname'\n"}, "outside the repository",
         "bad/main.jsonnet", 1),
        ({"bad/main.jsonnet": "import '/etc/hostname'\n"}, "absolute path", "bad/main.jsonnet", 1),
        ({"bad/main.jsonnet": "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'x'},\n"
                              "data: {p: importstr '../../../../../../../etc/hostname'}}\n"},
         "outside the repository", "bad/main.jsonnet", None),
        ({"bad/main.jsonnet": "'just a string'\n"}, "evaluates to a str", "bad/main.jsonnet", None),
        ({"bad/main.jsonnet": "std.extVar('missing')\n"}, "Undefined external variable", "bad/main.jsonnet", 1),
    ],
)  # fmt: skip
def test_broken_jsonnet_is_not_checked_with_file_and_line(
    tmp_path: Path, files: dict[str, str], message: str, file: str, line: int | None
) -> None:
    repo = make_repo(
        tmp_path / "repo", {**_files(), "apps/bad.yaml": application("bad", "bad", "bad"), **files}
    )
    live = _in_sync_snapshot(tmp_path, _expected(repo.path))
    code, report = _run(repo.path, write_snapshot(tmp_path / "s.json", live), tmp_path)
    assert code == 2
    apps = {a["name"]: a for a in report["apps"]}
    assert apps["jsonnet-guestbook"]["status"] == apps["jsonnet-guestbook-tla"]["status"] == "in-sync"
    [error] = apps["bad"]["errors"]
    assert message in error["message"]
    assert (error["file"], error["line"]) == (file, line)
    assert str(repo.path) not in error["message"] and "/tmp" not in error["message"]


def test_libs_outside_the_repository_are_refused(tmp_path: Path) -> None:
    tla = {**TLA_JSONNET, "libs": ["../../../"]}
    files = {**_files(), "apps/jsonnet-guestbook-tla.yaml": application(
        "jsonnet-guestbook-tla", "jsonnet-guestbook-tla", "tla", directory={"jsonnet": tla})}  # fmt: skip
    repo = make_repo(tmp_path / "repo", files)
    code, report = _run(repo.path, write_snapshot(tmp_path / "s.json", []), tmp_path)
    assert code == 2
    [error] = next(a for a in report["apps"] if a["name"] == "jsonnet-guestbook-tla")["errors"]
    assert "jsonnet library path ../../../ points outside the repository" in error["message"]


def test_preview_sees_a_change_in_a_library_outside_the_app_folder(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", _files())
    repo.write(
        {
            "vendor/k.libsonnet": VENDOR_K.replace(
                "spec: { containers", "spec: { serviceAccountName: 'gb', containers"
            )
        }
    )
    repo.commit("service account for every deployment")
    report = tmp_path / "preview.json"
    code = main(["preview", "--repo", str(repo.path), "--repo-url", URL, "--base", "HEAD~1", "--no-cache",
                 "--work-dir", str(tmp_path / "work"), "--json", str(report), "--no-color"])  # fmt: skip
    assert code == 1
    found = {
        a: {r: s for r, s in rs.items() if s != "unchanged"}
        for a, rs in statuses(json.loads(report.read_text())).items()
    }
    assert {a: rs for a, rs in found.items() if rs} == {
        "jsonnet-guestbook-tla": {"Deployment/tla/jsonnet-guestbook-tla": "changed"}
    }


def test_project_file_apps_take_the_same_jsonnet_options(tmp_path: Path) -> None:
    project = (
        "version: 1\napps:\n- name: tla\n  path: jsonnet-guestbook-tla\n  namespace: tla\n  tool: directory\n"
        "  directory:\n    jsonnet:\n      libs: [vendor]\n      extVars: [{name: env, value: prod}, {name: app, value: tla}]\n"
        "      tlas: [{name: name, value: jsonnet-guestbook-tla}, {name: replicas, value: '2', code: true}]\n"
    )
    files = {k: v for k, v in _files().items() if not k.startswith("apps/")}
    repo = make_repo(tmp_path / "repo", {**files, ".gitops-check.yaml": project})
    live = [tracked("tla", b, "tla") for b in _expected(repo.path)["jsonnet-guestbook-tla"]]
    code, report = _run(repo.path, write_snapshot(tmp_path / "s.json", live), tmp_path)
    assert code == 0, report
    assert statuses(report) == {
        "tla": {
            "Deployment/tla/jsonnet-guestbook-tla": "unchanged",
            "ConfigMap/tla/jsonnet-guestbook-tla-env": "unchanged",
        }
    }
