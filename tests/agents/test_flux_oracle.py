"""Flux oracle: Kustomizations applied by the real kustomize-controller at Git's first commit, then changed by
hand (and in a ConfigMap they substitute from); Git moves to a second commit. What ``gitops-check diff`` reports
then — live client-side, live server-side, and against a snapshot — equals what the controller does when it
reconciles the second commit: the objects it creates, configures (its server-side dry run found them different)
and prunes (garbage collection), read from its log, and its inventory afterwards.

One Kustomization per case, each applying into a namespace of its own, so one case cannot hide another. The
cases follow docs/flux.md: a plain folder, a kustomization.yaml with a generator, targetNamespace, namePrefix,
postBuild substitute and substituteFrom, patches, prune on and off, and changes by hand of several kinds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from tests.agents.oracle import MODES, drift_reports
from tests.helpers.cluster import find_tool
from tests.helpers.flux import Flux
from tests.helpers.gitrepo import GitRepo

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("flux")]

SOURCE = "flux-system"  # the GitRepository: gitops-check takes flux-system/flux-system to be the repository
VARS = "oracle-vars"  # ConfigMap in flux-system, only in the cluster: substituteFrom reads it there


def _doc(obj: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(obj), sort_keys=False)


def deployment(
    *, image: str = "nginx:1.27", replicas: int = 2, namespace: str | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web", "labels": {"app": "web"}}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def configmap(
    name: str = "settings", data: Mapping[str, str] | None = None, namespace: str | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": dict(data or {"color": "blue"}),
    }


def secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "stringData": {"password": "pw-in-git"},
    }


def standard(**cm: str) -> dict[str, str]:
    """A Deployment and a ConfigMap, namespaces left to targetNamespace."""
    return {"deploy.yaml": _doc(deployment()), "cm.yaml": _doc(configmap(data=cm or None))}


def kustomize_folder(mode: str) -> dict[str, str]:
    deploy = deployment()
    deploy["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [
        {"configMapRef": {"name": "app-config"}}
    ]
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["deploy.yaml"],
        "labels": [{"pairs": {"team": "shop"}}],
        "configMapGenerator": [{"name": "app-config", "literals": [f"mode={mode}"]}],
    }
    # extra.yaml is not listed: with a kustomization.yaml, Flux applies only what it lists.
    return {
        "kustomization.yaml": _doc(kustomization),
        "deploy.yaml": _doc(deploy),
        "extra.yaml": _doc(configmap("unlisted")),
    }


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    first: Callable[[], dict[str, str]]  # files under apps/<name>/ at the first commit
    second: Callable[[], dict[str, str]] | None = None  # at the second commit (None: the same)
    spec: Mapping[str, Any] = field(default_factory=dict)  # Kustomization spec besides path and sourceRef
    hand: tuple[tuple[str, ...], ...] = ()  # kubectl commands run in the case's namespace between the commits
    deviation: Mapping[str, str] = field(default_factory=dict)  # mode -> a known difference (docs/flux.md)

    @property
    def namespace(self) -> str:
        return f"flux-{self.name}"

    def kustomization(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "interval": "1h",
            "path": f"./apps/{self.name}",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": SOURCE},
            **json.loads(json.dumps(self.spec)),
        }
        return {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": self.name, "namespace": "flux-system"},
            "spec": spec,
        }


# docs/flux.md, known differences: fields kubectl owns with Git's values change owner, not value.
OWNERSHIP_ONLY = (
    "kustomize-controller counts taking over kubectl's fields as a change even when every value is Git's; "
    "gitops-check compares values"
)


def _target(case: str) -> dict[str, Any]:
    return {"targetNamespace": f"flux-{case}"}


CASES = [
    Case(
        "plain",
        "a folder without kustomization.yaml, namespaces written in the objects; a value changed in Git",
        first=lambda: {
            "deploy.yaml": _doc(deployment(namespace="flux-plain")),
            "cm.yaml": _doc(configmap(namespace="flux-plain")),
        },
        second=lambda: {
            "deploy.yaml": _doc(deployment(namespace="flux-plain")),
            "cm.yaml": _doc(configmap(data={"color": "green"}, namespace="flux-plain")),
        },
    ),
    Case(
        "kustomize",
        "a kustomization.yaml with labels and a configMapGenerator whose literal changes in Git (new hashed name)",
        first=lambda: kustomize_folder("a"),
        second=lambda: kustomize_folder("b"),
        spec=_target("kustomize"),
    ),
    Case(
        "target-ns",
        "targetNamespace; replicas scaled by hand",
        first=standard,
        spec=_target("target-ns"),
        hand=(("scale", "deployment/web", "--replicas=5"),),
    ),
    Case(
        "name-prefix",
        "namePrefix; an object deleted by hand",
        first=standard,
        spec={**_target("name-prefix"), "namePrefix": "pre-"},
        hand=(("delete", "configmap/pre-settings"),),
    ),
    Case(
        "substitute",
        "postBuild.substitute; Git adds a variable with a default",
        first=lambda: standard(color="${color}", size="${size}"),
        second=lambda: standard(color="${color}", size="${size}", tier="${tier:=gold}"),
        spec={**_target("substitute"), "postBuild": {"substitute": {"color": "teal", "size": "large"}}},
    ),
    Case(
        "substitute-from",
        "postBuild.substituteFrom a ConfigMap only the cluster has, whose value changes in the cluster",
        first=lambda: standard(region="${region}"),
        spec={
            **_target("substitute-from"),
            "postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": VARS}]},
        },
    ),
    Case(
        "patches",
        "spec.patches (strategic merge and JSON 6902); an annotation added by hand",
        first=standard,
        spec={
            **_target("patches"),
            "patches": [
                {
                    "patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
                    "target": {"kind": "Deployment"},
                },
                {
                    "patch": '[{"op": "add", "path": "/metadata/labels", "value": {"patched": "yes"}}]',
                    "target": {"kind": "ConfigMap", "name": "settings"},
                },
            ],
        },
        hand=(("annotate", "deployment/web", "note=by-hand"),),
    ),
    Case(
        "prune",
        "prune: true; an object removed from Git",
        first=lambda: {**standard(), "old.yaml": _doc(configmap("old", {"a": "b"}))},
        second=standard,
        spec=_target("prune"),
    ),
    Case(
        "no-prune",
        "prune: false; an object removed from Git",
        first=lambda: {**standard(), "old.yaml": _doc(configmap("old", {"a": "b"}))},
        second=standard,
        spec={**_target("no-prune"), "prune": False},
    ),
    Case(
        "hand-image",
        "an image set by hand",
        first=standard,
        spec=_target("hand-image"),
        hand=(("set", "image", "deployment/web", "web=nginx:1.99"),),
    ),
    Case(
        "hand-label",
        "a label added by hand",
        first=standard,
        spec=_target("hand-label"),
        hand=(("label", "configmap/settings", "owner=alice"),),
    ),
    Case(
        "set-back",
        "a value patched by hand, then set back to Git's",
        first=standard,
        spec=_target("set-back"),
        hand=(
            ("patch", "configmap/settings", "--type=merge", "-p", '{"data":{"color":"red"}}'),
            ("patch", "configmap/settings", "--type=merge", "-p", '{"data":{"color":"blue"}}'),
        ),
        deviation=dict.fromkeys(MODES, OWNERSHIP_ONLY),
    ),
    Case(
        "secret",
        "a Secret value changed by hand",
        first=lambda: {**standard(), "secret.yaml": _doc(secret())},
        spec=_target("secret"),
        hand=(("patch", "secret/creds", "--type=merge", "-p", '{"stringData":{"password":"by-hand"}}'),),
    ),
]


def write(repo: GitRepo, url: str, *, second: bool) -> str:
    """The repository at one commit: the GitRepository, one Kustomization per case, and each case's folder."""
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": SOURCE, "namespace": "flux-system"},
        "spec": {"url": url, "ref": {"branch": "main"}, "interval": "1h"},
    }
    files = {"flux/source.yaml": _doc(source)}
    for case in CASES:
        files[f"flux/{case.name}.yaml"] = _doc(case.kustomization())
        content = (case.second or case.first)() if second else case.first()
        for rel, text in content.items():
            files[f"apps/{case.name}/{rel}"] = text
        folder = repo.path / "apps" / case.name
        if folder.is_dir():
            for old in folder.iterdir():
                if old.name not in content:
                    repo.remove(f"apps/{case.name}/{old.name}")
    repo.write(files)
    return repo.commit("second" if second else "first")


@dataclass
class Verdicts:
    head: str
    flux: dict[str, set[tuple[str, str]]]  # case -> {(id, created|configured|deleted)}
    inventory: dict[str, set[str]]  # case -> ids after the second commit was applied
    gitops_check: dict[str, dict[str, Any]]  # mode -> JSON report


def _vars(flux: Flux, region: str) -> None:
    flux.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": VARS, "namespace": "flux-system"},
            "data": {"region": region},
        }
    )


@pytest.fixture(scope="module")
def verdicts(flux: Flux, tmp_path_factory: pytest.TempPathFactory) -> Verdicts:
    work = tmp_path_factory.mktemp("flux-oracle")
    repo = GitRepo.init(flux.git_root / "oracle")
    url = flux.git.url("oracle")
    first = write(repo, url, second=False)
    _vars(flux, "eu-west-1")
    for case in CASES:
        flux.namespace(case.namespace)
    flux.git_repository(SOURCE, url)
    flux.wait_ready("GitRepository", SOURCE, revision=first)
    for case in CASES:
        flux.apply(case.kustomization())
    for case in CASES:
        flux.wait_ready("Kustomization", case.name, revision=first)

    # Changes in the cluster, then Git's second commit; gitops-check reports before Flux sees either.
    for case in CASES:
        for command in case.hand:
            flux.cluster.kubectl(*command, "-n", case.namespace)
    _vars(flux, "us-east-2")
    head = write(repo, url, second=True)

    common = ["diff", "--repo", str(repo.path), "--repo-url", url, "--no-color"]
    env = {"GITOPS_CHECK_KUSTOMIZE": str(find_tool("kustomize"))}
    reports = drift_reports(work, str(flux.cluster.admin_kubeconfig), common, env)

    # Flux reconciles the second commit: the source first, then every Kustomization.
    handled = flux.request_reconcile("GitRepository", SOURCE)
    flux.wait_ready("GitRepository", SOURCE, revision=head, handled=handled)
    asked = {case.name: flux.request_reconcile("Kustomization", case.name) for case in CASES}
    changes: dict[str, set[tuple[str, str]]] = {}
    inventory: dict[str, set[str]] = {}
    for case in CASES:
        flux.wait_ready("Kustomization", case.name, revision=head, handled=asked[case.name])
        log = flux.apply_log(case.name, head)
        found = {(k, v) for k, v in log.applied.items() if v in ("created", "configured")}
        changes[case.name] = found | {(k, "deleted") for k in log.pruned}
        inventory[case.name] = flux.inventory(case.name)
    return Verdicts(head, changes, inventory, reports)


STATUS_AS_FLUX = {"added": "created", "changed": "configured", "removed": "deleted"}


def _app(report: dict[str, Any], case: Case) -> dict[str, Any]:
    name = f"Kustomization/flux-system/{case.name}"
    found = next((a for a in report["apps"] if a["name"] == name), None)
    assert found is not None, f"gitops-check did not check {name}: {[a['name'] for a in report['apps']]}"
    assert found["status"] != "error", json.dumps(found, indent=1)[:3000]
    return dict(found)


def gitops_check_changes(report: dict[str, Any], case: Case) -> set[tuple[str, str]]:
    return {
        (r["id"], STATUS_AS_FLUX[r["status"]])
        for r in _app(report, case)["resources"]
        if r["status"] in STATUS_AS_FLUX and not r.get("byHand")
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_changes_match_flux(
    verdicts: Verdicts, case: Case, mode: str, request: pytest.FixtureRequest
) -> None:
    if mode in case.deviation:
        request.applymarker(pytest.mark.xfail(reason=case.deviation[mode], strict=True))
    expected = verdicts.flux[case.name]
    report = verdicts.gitops_check[mode]
    actual = gitops_check_changes(report, case)
    assert actual == expected, (
        f"{case.what} ({mode}): kustomize-controller {sorted(expected)}; gitops-check {sorted(actual)}\n"
        + json.dumps(_app(report, case)["resources"], indent=1)[:3000]
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_inventory_is_what_gitops_check_renders(verdicts: Verdicts, case: Case) -> None:
    rendered = {
        r["id"]
        for r in _app(verdicts.gitops_check["client-side"], case)["resources"]
        if r["status"] != "removed"
    }
    assert verdicts.inventory[case.name] == rendered
