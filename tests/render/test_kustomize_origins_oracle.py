"""Origins computed from the kustomization tree (render/kustomize_origins.py) against kustomize's own origin
annotations, the oracle: every Kustomize folder of the suite's fixtures and generated cases are rendered both
ways, the plain build with computed origins and the wrapper build asking kustomize, and must give the same
objects with the same origins. Cases outside what the computation knows must take kustomize's way."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_check.errors import RenderError
from gitops_check.model.app import App
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import KUSTOMIZATION_FILES, KustomizeOptions, Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.render import kustomize, kustomize_origins
from gitops_check.render.app import render_app
from gitops_check.render.base import SharedWork, SymlinkGuard, ToolFinder
from tests.helpers.binaries import kustomize_without_build_metadata
from tests.helpers.gitrepo import make_workspace

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def doc(api_version: str, kind: str, name: str, extra: str = "") -> str:
    return f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: {name}\n{extra}"


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata: {{a: b}}\n"
DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  selector: {{matchLabels: {{app: x}}}}\n"
    "  template:\n    metadata: {{labels: {{app: x}}}}\n    spec:\n      containers:\n"
    "      - {{name: main, image: registry.example.com/app:1.0}}\n"
)
CRD = (
    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n"
    "spec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n"
    "  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]\n"
)

# Generated cases: each top folder below "cases/" is one app.
CASES: dict[str, str] = {
    # a base shared by several overlays, with a file of several documents and stacked levels
    "shared/base/kustomization.yaml": "namePrefix: b-\nnameSuffix: -bs\nresources: [all.yaml, ../deeper]\n",
    "shared/base/all.yaml": "---\n".join(
        [
            DEPLOY.format(name="web"),
            CM.format(name="settings"),
            CRD,
            doc("example.com/v1", "Widget", "w1"),
            doc("other.example.com/v1", "Namespace", "not-core"),
            doc("apiregistration.k8s.io/v1", "APIService", "v1.example.com"),
            doc("other.example.com/v1", "APIService", "lookalike"),
            doc("rbac.authorization.k8s.io/v1", "ClusterRole", "reader"),
            doc("apiextensions.example.com/v1", "CustomResourceDefinition", "odd"),
        ]
    ),
    "shared/deeper/kustomization.yaml": "namePrefix: d-\nresources: [inner]\nnamespace: deep\n",
    "shared/deeper/inner/kustomization.yaml": "nameSuffix: -in\nresources: [cm.yaml, ns.yaml]\n",
    "shared/deeper/inner/cm.yaml": CM.format(name="inner"),
    "shared/deeper/inner/ns.yaml": doc("v1", "Namespace", "inner-ns"),
    "cases/stacked/kustomization.yaml": (
        "namePrefix: o-\nnameSuffix: -os\nnamespace: prod\nresources: [../../shared/base, own.yaml]\n"
        "commonLabels: {team: a}\nlabels: [{pairs: {tier: web}, includeSelectors: false}]\n"
        "commonAnnotations: {note: x}\nimages: [{name: registry.example.com/app, newTag: '2.0'}]\n"
        "replicas: [{name: b-web-bs, count: 3}]\n"
    ),
    "cases/stacked/own.yaml": CM.format(name="own") + "---\n" + doc("example.com/v1", "Widget", "w2"),
    "cases/plain/kustomization.yaml": "resources: [../../shared/base]\n",
    "cases/bases-field/kustomization.yaml": "bases: [../../shared/deeper]\nnamePrefix: x-\n",
    # components: a prefix and resources of their own, applied over what the parent holds
    "shared/comp/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamePrefix: c-\nresources: [c.yaml]\n"
        "configMapGenerator: [{name: from-comp, literals: [k=v]}]\n"
    ),
    "shared/comp/c.yaml": CM.format(name="comp"),
    "shared/comp2/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnameSuffix: -c2\n"
    ),
    "cases/components/kustomization.yaml": (
        "resources: [../../shared/deeper, mine.yaml]\ncomponents: [../../shared/comp, ../../shared/comp2]\n"
        "namePrefix: top-\n"
    ),
    "cases/components/mine.yaml": CM.format(name="mine") + "---\n" + doc("v1", "Namespace", "kept"),
    # generators with and without the hash, with generatorOptions
    "cases/generators/kustomization.yaml": (
        "namePrefix: g-\nresources: [../../shared/deeper]\n"
        "configMapGenerator:\n- {name: hashed, literals: [a=b]}\n"
        "- {name: plain, literals: [a=b], options: {disableNameSuffixHash: true}}\n"
        "secretGenerator:\n- {name: creds, literals: [user=u]}\n"
    ),
    "cases/generator-options/kustomization.yaml": (
        "generatorOptions: {disableNameSuffixHash: true}\nconfigMapGenerator: [{name: one, literals: [a=b]}]\n"
        "secretGenerator: [{name: two, literals: [a=b], options: {disableNameSuffixHash: false}}]\n"
    ),
    "cases/generated-in-base/kustomization.yaml": "resources: [../generators]\nnameSuffix: -top\n",
    # patches that keep names: strategic merge (files and inline, with a name of its own), JSON6902, targets
    "cases/patches/kustomization.yaml": (
        "resources: [../../shared/base]\nnamePrefix: p-\n"
        "patchesStrategicMerge: [smp.yaml]\n"
        "patchesJson6902:\n- target: {group: apps, version: v1, kind: Deployment, name: b-web-bs}\n  path: ops.yaml\n"
        "patches:\n"
        "- target: {kind: ConfigMap}\n  patch: |\n    - {op: add, path: /data/patched, value: 'yes'}\n"
        "- target: {kind: Deployment, labelSelector: ''}\n  patch: |\n"
        "    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: another-name}\n"
        "    spec: {replicas: 5}\n"
        "- path: smp2.yaml\n"
    ),
    "cases/patches/smp.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b-settings-bs}\ndata: {x: y}\n",
    "cases/patches/smp2.yaml": doc("example.com/v1", "Widget", "b-w1-bs", "spec: {size: 2}\n"),
    "cases/patches/ops.yaml": "- {op: replace, path: /spec/replicas, value: 2}\n",
    # Argo CD overrides build an edited copy of this folder
    "cases/overridden/kustomization.yaml": "namePrefix: a-\nresources: [../../shared/base, here.yaml]\n",
    "cases/overridden/here.yaml": DEPLOY.format(name="here"),
    "cases/overridden-more/kustomization.yaml": "resources: [../../shared/deeper]\nnameSuffix: -own\n",
    "cases/overridden-renamed/kustomization.yaml": "resources: [../../shared/deeper]\n",
    # must be computed right or fall back: renames, deletions, things the computation does not know
    "cases/json-rename/kustomization.yaml": (
        "resources: [../../shared/deeper]\n"
        "patches:\n- target: {kind: ConfigMap, name: d-inner-in}\n"
        "  patch: |\n    - {op: replace, path: /metadata/name, value: comp}\n    - {op: add, path: /data, value: {}}\n"
    ),
    "cases/json-move-rename/kustomization.yaml": (
        "resources: [../../shared/deeper]\npatchesJson6902:\n- target: {version: v1, kind: ConfigMap, name: d-inner-in}\n"
        "  patch: |\n    - {op: add, path: /metadata/labels, value: {x: renamed}}\n"
        "    - {op: move, from: /metadata/labels/x, path: /metadata/name}\n"
    ),
    "cases/json-reads-name/kustomization.yaml": (
        "resources: [../../shared/deeper]\npatches:\n- target: {kind: ConfigMap}\n"
        "  patch: |\n    - {op: add, path: /metadata/labels, value: {}}\n"
        "    - {op: copy, from: /metadata/name, path: /metadata/labels/was}\n"
    ),
    "cases/smp-rename-allowed/kustomization.yaml": (
        "resources: [../../shared/deeper]\npatches:\n- target: {kind: ConfigMap}\n  options: {allowNameChange: true}\n"
        "  patch: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: renamed}\n"
    ),
    "cases/deleted/kustomization.yaml": (
        "resources: [../../shared/base]\npatches:\n- patch: |\n    $patch: delete\n    apiVersion: v1\n"
        "    kind: ConfigMap\n    metadata: {name: b-settings-bs}\n"
    ),
    "cases/local-config/kustomization.yaml": "resources: [local.yaml, ../../shared/deeper]\n",
    "cases/local-config/local.yaml": doc(
        "v1", "ConfigMap", "dropped", "  annotations: {config.kubernetes.io/local-config: 'true'}\n"
    ),
    "cases/replacements/kustomization.yaml": (
        "resources: [../../shared/deeper]\nreplacements:\n- source: {kind: ConfigMap, name: inner-in}\n"
        "  targets: [{select: {kind: Namespace}, fieldPaths: [metadata.name]}]\n"
    ),
    "cases/replacements-fields/kustomization.yaml": (
        "resources: [../../shared/base]\nnamePrefix: r-\nreplacements:\n"
        "- source: {kind: ConfigMap, name: b-settings-bs, fieldPath: data.a}\n"
        "  targets:\n  - select: {kind: Deployment}\n"
        "    fieldPaths:\n    - spec.template.spec.containers.[name=main].image\n"
        "    - metadata.labels.[app.kubernetes.io/x]\n"
        "    options: {create: true}\n"
        "- path: more.yaml\n"
    ),
    "cases/replacements-fields/more.yaml": (
        "source: {kind: Deployment, name: b-web-bs}\ntargets:\n- select: {kind: ConfigMap}\n"
        "  fieldPaths: [data.deployment]\n  options: {create: true}\n"
    ),
    "cases/replacements-file-renames/kustomization.yaml": (
        "resources: [../../shared/deeper]\nreplacements: [{path: r.yaml}]\n"
    ),
    "cases/replacements-file-renames/r.yaml": (
        "- source: {kind: Namespace}\n  targets: [{select: {kind: ConfigMap}, fieldPaths: [metadata.name]}]\n"
    ),
    "cases/list/kustomization.yaml": "resources: [list.yaml]\n",
    "cases/list/list.yaml": "apiVersion: v1\nkind: ConfigMapList\nitems:\n- "
    + CM.format(name="a").replace("\n", "\n  "),
    # same names in different namespaces, told apart by the namespace when no transformer sets it
    "cases/same-name/kustomization.yaml": "resources: [a.yaml, b.yaml]\nnamePrefix: s-\n",
    "cases/same-name/b.yaml": doc("v1", "ConfigMap", "cfg"),
    "cases/same-name/a.yaml": doc("v1", "ConfigMap", "cfg", "  namespace: one\n")
    + "---\n"
    + doc("v1", "ConfigMap", "cfg", "  namespace: two\n"),
    "cases/same-name-one-namespaced/kustomization.yaml": "resources: [../../shared/deeper, cm.yaml]\n",
    "cases/same-name-one-namespaced/cm.yaml": doc(
        "v1", "ConfigMap", "d-inner-in", "  namespace: elsewhere\n"
    ),
    "cases/generator-merge/kustomization.yaml": (
        "resources: [../generators]\nconfigMapGenerator: [{name: hashed, behavior: merge, literals: [c=d]}]\n"
    ),
    "cases/generator-like-file/kustomization.yaml": (
        "resources: [f.yaml]\nconfigMapGenerator: [{name: gen, literals: [a=b]}]\n"
    ),
    "cases/generator-like-file/f.yaml": CM.format(name="gen-abcdefgh12"),
    "cases/sort-options/kustomization.yaml": "resources: [../../shared/deeper]\nsortOptions: {order: fifo}\n",
    "cases/plain-name-not-string/kustomization.yaml": "resources: [n.yaml]\n",
    "cases/plain-name-not-string/n.yaml": doc("v1", "ConfigMap", "0x1F"),
    "cases/symlinked-base/kustomization.yaml": "resources: [../../linked]\n",
    "cases/top-component/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [c.yaml]\n"
    ),
    "cases/top-component/c.yaml": CM.format(name="c"),
    "cases/asks-itself/kustomization.yaml": "resources: [../../shared/deeper]\nbuildMetadata: [originAnnotations]\n",
}
SYMLINKS = {"linked": "shared/deeper"}
# Argo CD's kustomize overrides, applied to an edited copy of the folder
OVERRIDES: dict[str, dict[str, Any]] = {
    "cases/overridden": {
        "name_prefix": "argo-",
        "name_suffix": "-sfx",
        "images": ("registry.example.com/app=registry.example.com/other:3",),
        "namespace": "edited",
        "common_labels": {"by": "argo"},
    },
    "cases/overridden-more": {
        "components": ("../../shared/comp",),
        "patches": ({"target": {"kind": "ConfigMap"}, "patch": "- {op: add, path: /data, value: {k: v}}"},),
    },
    "cases/overridden-renamed": {
        "patches": (
            {"target": {"kind": "ConfigMap"}, "patch": "- {op: replace, path: /metadata/name, value: other}"},
        ),
    },
}
# Computed by the plan (the rest of cases/ must fall back to kustomize's annotations).
COMPUTED = {
    "cases/stacked", "cases/plain", "cases/bases-field", "cases/components", "cases/generators",
    "cases/generator-options", "cases/generated-in-base", "cases/patches", "cases/overridden",
    "cases/overridden-more", "cases/same-name", "cases/replacements-fields",
}  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return make_workspace(tmp_path_factory.mktemp("origins"), CASES, symlinks=SYMLINKS)


class Spy:
    """Records whether each render's origins were computed, and can turn the computation off."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.computed: list[bool] = []
        self.off = False
        real_plan = kustomize.plan_origins
        real_assign = kustomize_origins.OriginPlan.assign

        def plan(*args: Any, **kwargs: Any) -> Any:
            return None if self.off else real_plan(*args, **kwargs)

        def assign(plan_self: Any, *args: Any, **kwargs: Any) -> Any:
            result = real_assign(plan_self, *args, **kwargs)
            self.computed.append(result is not None)
            return result

        monkeypatch.setattr(kustomize, "plan_origins", plan)
        monkeypatch.setattr(kustomize_origins.OriginPlan, "assign", assign)


def both_ways(
    ws: Workspace, path: str, binary: Path, spy: Spy, overrides: dict[str, Any] | None = None
) -> tuple[Any, Any, bool]:
    """(computed render or its error, kustomize-annotated render or its error, whether it was computed). Each
    way is one run (its own shared state)."""

    def once() -> Any:
        source = Source(path=path, tool=Tool.KUSTOMIZE, kustomize=KustomizeOptions(**(overrides or {})))
        options = RenderOptions(kustomize_binary=str(binary))
        try:
            out = render_app(
                App("app", (source,)), ws, options, tools=ToolFinder(options), symlinks=SymlinkGuard(),
                shared=SharedWork(),
            )  # fmt: skip
        except RenderError as e:
            return ("error", e.message)
        return [(o.body, o.origin) for o in out.objects]

    spy.off, spy.computed = False, []
    computed = once()
    was_computed = any(spy.computed)
    spy.off = True
    annotated = once()
    spy.off = False
    return computed, annotated, was_computed


def case_folders() -> list[str]:
    return sorted({p.split("/")[1] for p in CASES if p.startswith("cases/")})


@pytest.mark.parametrize("name", case_folders())
def test_generated_case_matches_kustomize(
    workspace: Workspace, kustomize_bin: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = f"cases/{name}"
    computed, annotated, was_computed = both_ways(
        workspace, path, kustomize_bin, Spy(monkeypatch), OVERRIDES.get(path)
    )
    assert computed == annotated
    assert not isinstance(annotated, tuple), annotated  # every case builds
    assert was_computed == (path in COMPUTED)
    if path in COMPUTED and name != "generator-options":  # only generated objects there
        assert any(o.file != path for _, o in computed)  # some objects have a file of their own


def test_files_shared_between_overlays_are_read_once_per_run(
    workspace: Workspace, kustomize_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two overlays of one base in one run: the base's files are read once, and both get their origins."""
    reads: list[str] = []
    real = kustomize_origins.yamlio.document_heads

    def counting(text: Any, where: str, limit: Any = None) -> Any:
        reads.append(where)
        return real(text, where, limit)

    monkeypatch.setattr(kustomize_origins.yamlio, "document_heads", counting)
    options = RenderOptions(kustomize_binary=str(kustomize_bin))
    tools, symlinks, shared = ToolFinder(options), SymlinkGuard(), SharedWork()
    found = []
    for path in ("cases/plain", "cases/stacked"):
        out = render_app(
            App(path, (Source(path=path, tool=Tool.KUSTOMIZE),)), workspace, options, tools=tools,
            symlinks=symlinks, shared=shared,
        )  # fmt: skip
        found.append({o.origin.file for o in out.objects})
    assert "shared/base/all.yaml" in found[0] and "shared/base/all.yaml" in found[1]
    assert reads.count("shared/base/all.yaml") == 1


def fixture_kustomizations() -> Iterator[tuple[str, str]]:
    """(fixture tree, kustomization folder in it) for every kustomization file of tests/fixtures."""
    for tree in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        for dirpath, _, filenames in os.walk(tree):
            if any(name in KUSTOMIZATION_FILES for name in filenames):
                yield tree.name, Path(dirpath).relative_to(tree).as_posix()


def tree_files(tree: Path) -> dict[str, bytes]:
    return {
        p.relative_to(tree).as_posix(): p.read_bytes()
        for p in tree.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture(scope="module")
def fixture_workspaces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Workspace]:
    trees = sorted({tree for tree, _ in fixture_kustomizations()})
    return {
        tree: make_workspace(tmp_path_factory.mktemp(tree), tree_files(FIXTURES / tree)) for tree in trees
    }


def test_every_fixture_kustomization_matches_kustomize(
    fixture_workspaces: dict[str, Workspace], kustomize_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch)
    computed_count = 0
    built = 0
    for tree, folder in fixture_kustomizations():
        computed, annotated, was_computed = both_ways(fixture_workspaces[tree], folder, kustomize_bin, spy)
        assert computed == annotated, (tree, folder)
        built += not isinstance(annotated, tuple)
        computed_count += was_computed
    # Most fixtures build and are computed (the others are Flux trees kustomize cannot build on its own).
    assert built >= 20 and computed_count >= 20, (built, computed_count)


def test_a_kustomize_without_build_metadata_still_gets_computed_origins(
    workspace: Workspace, kustomize_bin: Path, tmp_path: Path
) -> None:
    """The computation needs no build metadata: a kustomize refusing it is run once per app, plainly."""
    old, log = kustomize_without_build_metadata(tmp_path, kustomize_bin)
    options = RenderOptions(kustomize_binary=str(old))
    out = render_app(App("app", (Source(path="cases/plain", tool=Tool.KUSTOMIZE),)), workspace, options)
    assert "shared/base/all.yaml" in {o.origin.file for o in out.objects}
    assert len(log.read_text().splitlines()) == 1


@pytest.mark.parametrize(
    ("field_path", "writes"),
    [
        ("metadata.name", True),
        ("metadata", True),
        ("metadata.[name=x]", True),
        ("metadata.*", True),
        ("kind", True),
        ("apiVersion", True),
        ("*", True),
        ("[x=y]", True),
        ("", True),
        ("metadata.namespace", False),
        ("metadata.labels.[app.kubernetes.io/name]", False),
        ("spec.template.metadata.name", False),
        ("spec.template.spec.containers.[name=main].image", False),
    ],
)
def test_replacement_field_paths_that_may_rename(field_path: str, writes: bool) -> None:
    assert kustomize_origins._writes_identity(field_path) is writes
