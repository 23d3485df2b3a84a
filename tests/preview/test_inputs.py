"""What an app reads (inputs.app_inputs) and its content key: everything the render touches, and only when in doubt
more. Real repositories; the key must change exactly when a file the app reads changes."""

from __future__ import annotations

from pathlib import Path

from gitops_check.model.app import App
from gitops_check.model.source import HelmOptions, KustomizeOptions, Source, Tool
from gitops_check.preview.sniff import Sniffer
from gitops_check.render.inputs import Tree, app_inputs, content_key, norm
from gitops_check.sources.git import open_repo
from tests.helpers.gitrepo import GitRepo

KUSTOMIZATION = """\
resources:
  - ../../bases/web
  - ../../shared/sa.yaml
  - https://github.com/example/remote//base?ref=v1
components:
  - ../../components/tls
patches:
  - path: patches/replicas.yaml
patchesStrategicMerge:
  - ../../shared/strategic.yaml
patchesJson6902:
  - path: ../../shared/json6902.yaml
    target: {kind: Deployment, name: web}
configMapGenerator:
  - name: settings
    files: [app.properties, extra=../../shared/extra.properties]
    envs: [../../shared/env.txt]
secretGenerator:
  - name: creds
    env: ../../shared/creds.env
generators:
  - ../../shared/generator.yaml
"""

FILES = {
    "overlays/prod/kustomization.yaml": KUSTOMIZATION,
    "overlays/prod/patches/replicas.yaml": "x\n",
    "overlays/prod/app.properties": "a=b\n",
    "bases/web/kustomization.yaml": "resources: [deploy.yaml]\ncomponents: [../../components/logging]\n",
    "bases/web/deploy.yaml": "x\n",
    "components/tls/kustomization.yaml": "kind: Component\n",
    "components/logging/kustomization.yaml": "kind: Component\n",
    "components/extra/kustomization.yaml": "kind: Component\n",
    "shared/sa.yaml": "x\n",
    "shared/strategic.yaml": "x\n",
    "shared/json6902.yaml": "x\n",
    "shared/extra.properties": "x\n",
    "shared/env.txt": "x\n",
    "shared/creds.env": "x\n",
    "shared/generator.yaml": "kind: ConfigMapGenerator\nfiles: [../../shared/generated.txt]\n",
    "shared/generated.txt": "x\n",
    "shared/unrelated.yaml": "x\n",
    "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n"
    "  - {name: lib, version: 1.0.0, repository: file://../lib}\n",
    "charts/lib/Chart.yaml": "apiVersion: v2\nname: lib\nversion: 1.0.0\ntype: library\n",
    "values/common.yaml": "x: 1\n",
    "values/prod/a.yaml": "x: 1\n",
    "values/prod/b.yaml": "x: 1\n",
    "env/prod.yaml": "x: 1\n",
    "files/config.txt": "x\n",
    "apps/app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\n",
}


def tree_of(repo: GitRepo, tmp_path: Path, name: str) -> Tree:
    handle = open_repo(repo.path)
    ws = handle.materialize("HEAD", tmp_path / name)
    return Tree(ws, handle.tree_index("HEAD"))


def kustomize_app() -> App:
    source = Source("overlays/prod", Tool.KUSTOMIZE, kustomize=KustomizeOptions(
        components=("../../components/extra",), patches=({"path": "../../shared/argo-patch.yaml"},)))  # fmt: skip
    return App("prod", (source,))


def helm_app() -> App:
    chart = Source("charts/app", Tool.HELM, helm=HelmOptions(
        value_files=("/values/common.yaml", "$env/env/prod.yaml", "../../values/prod/*.yaml"),
        file_parameters=(("config", "/files/config.txt"),)))  # fmt: skip
    return App("app", (chart, Source("", ref="env")), kind="argocd", origin="apps/app.yaml:1")


def test_kustomize_inputs_follow_every_reference(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write(FILES)
    repo.commit()

    inputs = app_inputs(kustomize_app(), tree_of(repo, tmp_path, "ws"))

    assert inputs.paths >= {
        "overlays/prod", "bases/web", "components/tls", "components/logging", "components/extra",
        "shared/sa.yaml", "shared/strategic.yaml", "shared/json6902.yaml", "shared/extra.properties",
        "shared/env.txt", "shared/creds.env", "shared/generator.yaml", "shared/generated.txt",
        "shared/argo-patch.yaml", "overlays/prod/patches/replicas.yaml",
    }  # fmt: skip
    assert "shared/unrelated.yaml" not in inputs.paths and "shared" not in inputs.paths
    assert inputs.unresolved == ("resources entry https://github.com/example/remote//base?ref=v1 in "
                                 "overlays/prod is remote",)  # fmt: skip


def test_helm_inputs_value_files_refs_globs_and_local_dependencies(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write(FILES)
    repo.commit()

    inputs = app_inputs(helm_app(), tree_of(repo, tmp_path, "ws"))

    assert inputs.paths == {"charts/app", "charts/lib", "values/common.yaml", "env/prod.yaml", "values/prod",
                            "files/config.txt"}  # fmt: skip
    assert inputs.unresolved == () and inputs.declared == "apps/app.yaml"


def test_key_changes_exactly_when_an_input_changes(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    files = {**FILES, "overlays/prod/kustomization.yaml": KUSTOMIZATION.replace(
        "  - https://github.com/example/remote//base?ref=v1\n", "")}  # fmt: skip
    repo.write(files)
    repo.commit()
    app = kustomize_app()

    def key(name: str) -> str | None:
        tree = tree_of(repo, tmp_path, name)
        return content_key(app, app_inputs(app, tree), tree, {"tools": {"kustomize": "v5.8.1"}})

    first = key("one")
    assert first is not None
    repo.write({"shared/unrelated.yaml": "changed\n", "README.md": "x\n"})
    repo.commit()
    assert key("two") == first
    repo.write({"shared/generated.txt": "changed\n"})  # two hops away: a generator file's own file list
    repo.commit()
    assert key("three") != first
    tree = tree_of(repo, tmp_path, "four")
    assert content_key(app, app_inputs(app, tree), tree, {"tools": {"kustomize": "v5.9.0"}}) != key("five")


def test_symlink_targets_are_inputs_and_remote_sources_are_unresolved(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({"apps/web/cm.yaml": "x\n", "shared/real/values.yaml": "x: 1\n"})
    repo.symlink("apps/web/values.yaml", "../../shared/real/values.yaml")
    repo.symlink("linked", "shared/real")
    repo.commit()
    tree = tree_of(repo, tmp_path, "ws")

    web = app_inputs(App("web", (Source("apps/web"),)), tree)
    through = app_inputs(App("t", (Source("linked"),)), tree)
    remote = app_inputs(App("r", (Source("x", repo="https://git.example.com/other.git"),)), tree)
    chart = app_inputs(App("c", (Source("", chart="nginx", repo=None),)), tree)

    assert web.paths == {"apps/web", "shared/real/values.yaml"}
    assert through.paths == {"linked", "shared/real"}
    assert remote.unresolved and content_key(App("r", ()), remote, tree, {}) is None
    # a fetched chart is pinned by what it resolves to (content_key's resolve), not unresolved
    assert chart.unresolved == () and chart.remote == (("chart", "", "nginx", ""),)
    assert content_key(App("c", ()), chart, tree, {}) is None  # nobody to resolve it: always render
    assert content_key(App("c", ()), chart, tree, {}, resolve=lambda item: "nginx 1.0.0 sha256:1") is not None
    assert norm("./a/b/") == "a/b" and norm(".") == "" and norm("../x") == "../x"


def test_sniff_finds_declared_apps_but_not_annotations(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        "root/apps.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\n",
        "chart/templates/app.yaml": "apiVersion: {{ .Values.group }}/v1alpha1\nkind: {{ .Values.kind }}\n",
        "chart/values.yaml": "group: argoproj.io\nkind: Application\n",
        "plain/cm.yaml": "kind: ConfigMap\nmetadata:\n  annotations:\n    argocd.argoproj.io/sync-wave: '1'\n",
        "kust/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
        "flux/ks.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n",
    })  # fmt: skip
    repo.commit()
    tree = tree_of(repo, tmp_path, "ws")
    sniffer = Sniffer()

    def parent(path: str) -> bool:
        return sniffer.may_declare_apps(app_inputs(App("a", (Source(path),)), tree), tree)

    assert [parent(p) for p in ("root", "chart", "plain", "kust", "flux")] == [True, True, False, False, True]


def test_flux_values_files_are_root_relative_and_secret_values_count(tmp_path: Path) -> None:
    from gitops_check.model.objects import SecretText

    repo = GitRepo.init(tmp_path / "repo")
    repo.write(FILES)
    repo.commit()
    tree = tree_of(repo, tmp_path, "ws")
    release = App(
        "r", (Source("charts/app", Tool.FLUX_HELM, helm=HelmOptions(value_files=("values/common.yaml",))),)
    )

    assert app_inputs(release, tree).paths == {"charts/app", "charts/lib", "values/common.yaml"}

    def key(password: str) -> str | None:
        app = App("k", (Source("bases/web", Tool.FLUX_KUSTOMIZE, substitute={"pw": SecretText(password)}),))
        return content_key(app, app_inputs(app, tree), tree, {})

    # Values from Secrets hide from repr; the key must still see them change.
    assert key("one") is not None and key("one") != key("two") and key("one") == key("one")


def test_same_inputs_holds_exactly_when_the_key_would_not_change(tmp_path: Path) -> None:
    """``same_inputs`` lets preview skip computing keys: whenever it says "same", the inputs read at the other
    commit and the key there are equal; every change of something the app reads makes it say "different"."""
    from gitops_check.render.inputs import same_inputs

    files = {**FILES, "overlays/prod/kustomization.yaml": KUSTOMIZATION.replace(
        "  - https://github.com/example/remote//base?ref=v1\n", "")}  # fmt: skip
    repo = GitRepo.init(tmp_path / "repo")
    repo.write(files)
    repo.symlink("links/values.yaml", "../values/common.yaml")
    repo.commit()
    apps = [kustomize_app(), helm_app(), App("l", (Source("links", Tool.DIRECTORY),))]
    old = tree_of(repo, tmp_path, "old")

    def check(name: str) -> list[bool]:
        new = tree_of(repo, tmp_path, name)
        out = []
        for app in apps:
            inputs = app_inputs(app, old)
            same = same_inputs(app, inputs, old, new)
            if same:
                assert app_inputs(app, new) == inputs
                assert content_key(app, inputs, old, {}) == content_key(app, app_inputs(app, new), new, {})
            out.append(same)
        return out

    assert check("unchanged") == [True, True, True]
    repo.write({"shared/unrelated.yaml": "changed\n", "README.md": "x\n"})
    repo.commit()
    assert check("unrelated") == [True, True, True]
    repo.write({"shared/generated.txt": "changed\n"})  # read through a generator's own file list
    repo.commit()
    assert check("generated") == [False, True, True]
    repo.write({"values/prod/c.yaml": "x: 2\n"})  # a new file in a glob's folder
    repo.commit()
    assert check("glob") == [False, False, True]
    repo.write({"apps/app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {}\n"})
    repo.commit()
    assert check("declaring-file") == [False, False, True]


def test_same_inputs_never_when_a_symlink_changed_or_inputs_are_unresolved(tmp_path: Path) -> None:
    from gitops_check.render.inputs import same_inputs

    repo = GitRepo.init(tmp_path / "repo")
    repo.write({"apps/web/cm.yaml": "x\n", "a/values.yaml": "x: 1\n", "b/values.yaml": "x: 1\n"})
    repo.symlink("apps/web/values.yaml", "../../a/values.yaml")
    repo.commit()
    old = tree_of(repo, tmp_path, "old")
    web = App("web", (Source("apps/web"),))
    remote = App("r", (Source("x", repo="https://git.example.com/other.git"),))

    assert same_inputs(web, app_inputs(web, old), old, old)
    assert not same_inputs(remote, app_inputs(remote, old), old, old)
    (repo.path / "apps/web/values.yaml").unlink()
    repo.symlink("apps/web/values.yaml", "../../b/values.yaml")  # same content, another file
    repo.commit()
    new = tree_of(repo, tmp_path, "new")
    assert not same_inputs(web, app_inputs(web, old), old, new)
    assert app_inputs(web, new).paths != app_inputs(web, old).paths


def test_holds_jsonnet_answers_as_the_walk_of_the_folder() -> None:
    """``Tree.holds_jsonnet`` (a look-up among the commit's .jsonnet files) against walking the folder's files,
    for every folder and file of a tree with .jsonnet files at several depths, beside folders sharing a prefix."""
    from gitops_check.model.rendered import Workspace

    files = [
        "a/x.jsonnet",
        "a/b/y.yaml",
        "a/b/c/z.jsonnet",
        "ab/w.jsonnet",
        "d/e.yaml",
        "f.jsonnet",
        "g/h/i.libsonnet",
    ]
    index: dict[str, tuple[str, str]] = {"": ("040000", "t")}
    for rel in files:
        parts = rel.split("/")
        for i in range(1, len(parts)):
            index["/".join(parts[:i])] = ("040000", "t")
        index[rel] = ("100644", "b")
    index["a/link.jsonnet"] = ("120000", "l")  # a symlink is not a file of the folder
    tree = Tree(Workspace(root=Path("/nowhere"), label="t", revision=None, repo_path=None), index)
    for path in index:
        for recurse in (True, False):
            walked = tree.files_under(path)
            if not recurse:
                prefix = path + "/" if path else ""
                walked = [f for f in walked if "/" not in f[len(prefix) :]]
            assert tree.holds_jsonnet(path, recurse=recurse) == any(f.endswith(".jsonnet") for f in walked), (
                path,
                recurse,
            )
