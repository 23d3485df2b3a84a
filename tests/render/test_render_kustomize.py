"""render.kustomize with the real kustomize binary (and kubectl's built-in kustomize as the fallback)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from gitops_check import yamlio
from gitops_check.errors import RenderError, ToolMissingError
from gitops_check.model.app import App
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import KustomizeOptions, Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.render.app import render_app
from gitops_check.render.base import RenderOutput, ToolFinder
from gitops_check.render.kustomize import is_remote, parse_image
from tests.helpers.gitrepo import make_workspace

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.0"}
      - {name: side, image: busybox}
"""
SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 80}]\n"

FILES = {
    "apps/web/base/deploy.yaml": DEPLOY,
    "apps/web/base/service.yaml": SERVICE,
    "apps/web/base/kustomization.yaml": "resources: [deploy.yaml, service.yaml]\n",
    "apps/web/overlays/prod/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
namePrefix: prod-
namespace: prod
commonLabels: {team: web}
images:
- {name: nginx, newName: registry.example.com/nginx, newTag: "1.1"}
replicas:
- {name: web, count: 2}
patches:
- path: patch.yaml
""",
    "apps/web/overlays/prod/patch.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations: {patched: 'yes'}\n"
    ),
    "apps/web/components/debug/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations: {debug: 'on'}\n"
    ),
}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path, FILES)


def render(
    ws: Workspace,
    path: str = "apps/web/overlays/prod",
    options: RenderOptions | None = None,
    tools: ToolFinder | None = None,
    **overrides: object,
) -> RenderOutput:
    source = Source(path=path, tool=Tool.AUTO, kustomize=KustomizeOptions(**overrides))  # type: ignore[arg-type]
    return render_app(App(name="web-prod", sources=(source,)), ws, options or RenderOptions(), tools=tools)


def by_kind(out: RenderOutput) -> dict[str, dict[str, object]]:
    return {o.body["kind"]: o.body for o in out.objects}


def test_overlay(ws: Workspace, kustomize_bin: Path) -> None:
    out = render(ws, options=RenderOptions(kustomize_binary=str(kustomize_bin)))
    objs = by_kind(out)
    deploy = objs["Deployment"]
    assert deploy["metadata"] == {
        "name": "prod-web",
        "namespace": "prod",
        "labels": {"app": "web", "team": "web"},
        "annotations": {"patched": "yes"},
    }
    assert deploy["spec"]["replicas"] == 2  # type: ignore[index]
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/nginx:1.1"  # type: ignore[index]
    assert objs["Service"]["metadata"]["name"] == "prod-web"  # type: ignore[index]
    # Each object points at the file holding it, in the base (issue 14 item 9), and carries no origin annotation.
    assert {(o.origin.app, o.origin.file, o.origin.line) for o in out.objects} == {
        ("web-prod", "apps/web/base/deploy.yaml", None),
        ("web-prod", "apps/web/base/service.yaml", None),
    }
    assert not [o for o in out.objects if "config.kubernetes.io/origin" in str(o.body)]


def kustomize_edit_oracle(ws: Workspace, kustomize: Path, path: str, commands: list[list[str]]) -> str:
    """What Argo CD does: `kustomize edit ...` in a copy of the folder, then `kustomize build`."""
    src = ws.root / path
    copy = src.parent / (src.name + "-oracle")
    shutil.copytree(src, copy)
    try:
        for args in commands:
            subprocess.run([str(kustomize), "edit", *args], cwd=copy, check=True, capture_output=True)
        return subprocess.run(
            [str(kustomize), "build", str(copy)], check=True, capture_output=True, text=True
        ).stdout
    finally:
        shutil.rmtree(copy)


def test_argo_cd_overrides_match_kustomize_edit(ws: Workspace, kustomize_bin: Path) -> None:
    """Prefix/suffix replace the folder's own, images replace its entries, labels are added with --force, ..."""
    expected = kustomize_edit_oracle(
        ws,
        kustomize_bin,
        "apps/web/overlays/prod",
        [
            ["set", "nameprefix", "--", "argo-"],
            ["set", "namesuffix", "--", "-v2"],
            ["set", "image", "nginx:2.0", "busybox=quay.io/library/busybox:1.36"],
            ["set", "replicas", "web=5"],
            ["add", "label", "--force", "team:platform", "tier:frontend"],
            ["add", "annotation", "owner:sre"],
            ["set", "namespace", "--", "prod-eu"],
            ["add", "component", "../../components/debug"],
        ],
    )
    out = render(
        ws,
        options=RenderOptions(kustomize_binary=str(kustomize_bin)),
        name_prefix="argo-",
        name_suffix="-v2",
        images=("nginx:2.0", "busybox=quay.io/library/busybox:1.36"),
        replicas=(("web", 5),),
        common_labels={"team": "platform", "tier": "frontend"},
        force_common_labels=True,
        common_annotations={"owner": "sre"},
        namespace="prod-eu",
        components=("../../components/debug",),
    )
    assert [o.body for o in out.objects] == [d.data for d in yamlio.load_yaml_documents(expected, "oracle")]
    deploy = by_kind(out)["Deployment"]
    assert deploy["metadata"]["name"] == "argo-web-v2"  # type: ignore[index]  # not argo-prod-web-v2
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2.0"  # type: ignore[index]


def test_patches_override_appended(ws: Workspace, kustomize_bin: Path) -> None:
    patch = {
        "target": {"kind": "Deployment", "name": "web"},
        "patch": "- op: add\n  path: /metadata/annotations/argo\n  value: patched\n",
    }
    out = render(ws, options=RenderOptions(kustomize_binary=str(kustomize_bin)), patches=(patch,))
    assert by_kind(out)["Deployment"]["metadata"]["annotations"] == {"patched": "yes", "argo": "patched"}  # type: ignore[index]


def test_existing_label_without_force_fails_like_argo_cd(ws: Workspace, kustomize_bin: Path) -> None:
    with pytest.raises(RenderError, match="label team already in kustomization file apps/web/overlays/prod/"):
        render(ws, options=RenderOptions(kustomize_binary=str(kustomize_bin)), common_labels={"team": "x"})


def test_overrides_leave_the_workspace_folder_alone(ws: Workspace, kustomize_bin: Path) -> None:
    folder = ws.root / "apps/web/overlays"
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    render(ws, options=RenderOptions(kustomize_binary=str(kustomize_bin)), name_prefix="x-")
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_overrides_on_the_repository_root(tmp_path: Path, kustomize_bin: Path) -> None:
    ws = make_workspace(
        tmp_path, {"kustomization.yaml": "resources: [svc.yaml]\nnamePrefix: a-\n", "svc.yaml": SERVICE}
    )
    original = (ws.root / "kustomization.yaml").read_bytes()
    out = render(ws, path=".", options=RenderOptions(kustomize_binary=str(kustomize_bin)), name_prefix="b-")
    assert by_kind(out)["Service"]["metadata"]["name"] == "b-web"  # type: ignore[index]
    assert (ws.root / "kustomization.yaml").read_bytes() == original


def test_apps_sharing_a_folder_render_concurrently(ws: Workspace, kustomize_bin: Path) -> None:
    options = RenderOptions(kustomize_binary=str(kustomize_bin))
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def one(prefix: str) -> None:
        try:
            out = render(ws, path="apps/web/base", options=options, name_prefix=prefix)
            results[prefix] = by_kind(out)["Service"]["metadata"]["name"]  # type: ignore[index,assignment]
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(f"p{i}-",)) for i in range(6)]
    threads.append(
        threading.Thread(
            target=lambda: results.setdefault(
                "plain", by_kind(render(ws, options=options))["Service"]["metadata"]["name"]
            )
        )
    )  # type: ignore[index,arg-type]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == {**{f"p{i}-": f"p{i}-web" for i in range(6)}, "plain": "prod-web"}


def test_falls_back_to_kubectl_kustomize(
    ws: Workspace, kustomize_bin: Path, kubectl_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = render(ws, options=RenderOptions(kustomize_binary=str(kustomize_bin)))
    only_kubectl = tmp_path / "only-kubectl"
    only_kubectl.mkdir()
    (only_kubectl / "kubectl").symlink_to(kubectl_bin)
    monkeypatch.setenv("PATH", str(only_kubectl))
    monkeypatch.setenv("GITOPS_CHECK_KUSTOMIZE", "")
    monkeypatch.setenv("GITOPS_CHECK_BIN_CACHE", "/nonexistent")
    tools = ToolFinder(RenderOptions())
    assert tools.find("kustomize") is None
    out = render(ws, tools=tools)
    assert [o.body for o in out.objects] == [o.body for o in expected.objects]


def test_no_kustomize_and_no_kubectl(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("GITOPS_CHECK_BIN_CACHE", "/nonexistent")
    for var in ("GITOPS_CHECK_KUSTOMIZE", "GITOPS_CHECK_KUBECTL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(
        ToolMissingError, match=r"kustomize not found: install kustomize 5 .* GITOPS_CHECK_KUSTOMIZE"
    ):
        render(ws)


def test_build_error_names_the_app_and_repository_paths(tmp_path: Path, kustomize_bin: Path) -> None:
    ws = make_workspace(tmp_path, {"apps/bad/kustomization.yaml": "resources: [missing.yaml]\n"})
    with pytest.raises(RenderError) as e:
        render(
            ws, path="apps/bad", options=RenderOptions(kustomize_binary=str(kustomize_bin)), name_prefix="x-"
        )
    message = str(e.value)
    assert message.startswith("kustomize build for app web-prod (apps/bad) failed: ")
    assert "missing.yaml" in message
    assert str(ws.root) not in message and "gitops-check-" not in message
    assert e.value.app == "web-prod"


REMOTE = "https://github.com/example/manifests//base?ref=v1.0.0"


@pytest.mark.parametrize("where", ["overlay", "base", "component"])
def test_remote_bases_are_refused(tmp_path: Path, where: str) -> None:
    files = {
        "base/kustomization.yaml": "resources: [svc.yaml]\n",
        "base/svc.yaml": SERVICE,
        "overlay/kustomization.yaml": "resources: [../base]\n",
    }
    if where == "overlay":
        files["overlay/kustomization.yaml"] = f"resources: [../base, '{REMOTE}']\n"
        shown = "overlay/kustomization.yaml"
    elif where == "base":
        files["base/kustomization.yaml"] = f"resources: [svc.yaml, '{REMOTE}']\n"
        shown = "base/kustomization.yaml"
    else:
        files["overlay/kustomization.yaml"] = "resources: [../base]\ncomponents: [../comp]\n"
        files["comp/kustomization.yaml"] = f"kind: Component\nresources: ['{REMOTE}']\n"
        shown = "comp/kustomization.yaml"
    ws = make_workspace(tmp_path, files)
    with pytest.raises(RenderError) as e:
        render(ws, path="overlay")
    assert e.value.message == (
        f"remote kustomize base {REMOTE} in {shown}: needs the network; allow with --allow-remote-bases"
    )


def test_reference_outside_the_repository_is_refused(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"overlay/kustomization.yaml": "resources: [../../elsewhere]\n"})
    with pytest.raises(RenderError, match="outside the repository"):
        render(ws, path="overlay")


@pytest.mark.parametrize(
    ("entry", "remote"),
    [
        ("https://github.com/org/repo//path?ref=v1", True),
        ("github.com/org/repo/path?ref=main", True),
        ("github.com/org/repo", True),
        ("git::https://example.com/repo.git", True),
        ("git@github.com:org/repo.git", True),
        ("ssh://git@example.com/repo.git", True),
        ("https://example.com/manifest.yaml", True),
        ("gitlab.example.com:8443/group/repo//base", True),
        ("../base", False),
        ("deploy.yaml", False),
        ("v1.2/base", False),  # exists locally (created below)
    ],
)
def test_is_remote(tmp_path: Path, entry: str, remote: bool) -> None:
    (tmp_path / "v1.2/base").mkdir(parents=True)
    assert is_remote(entry, tmp_path) is remote


@pytest.mark.parametrize(
    ("arg", "entry"),
    [
        ("nginx:1.2", {"name": "nginx", "newTag": "1.2"}),
        ("nginx=reg/nginx:1.2", {"name": "nginx", "newName": "reg/nginx", "newTag": "1.2"}),
        ("nginx=reg/nginx", {"name": "nginx", "newName": "reg/nginx"}),
        ("nginx@sha256:abc", {"name": "nginx", "digest": "sha256:abc"}),
        ("nginx=reg/nginx@sha256:abc", {"name": "nginx", "newName": "reg/nginx", "digest": "sha256:abc"}),
        ("localhost:5000/app:v1", {"name": "localhost:5000/app", "newTag": "v1"}),
    ],
)
def test_parse_image_like_kustomize_edit(arg: str, entry: dict[str, str]) -> None:
    assert parse_image(arg) == entry


def test_parse_image_invalid() -> None:
    with pytest.raises(RenderError, match="invalid kustomize image override"):
        parse_image("nginx")
