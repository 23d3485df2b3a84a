"""Other Git repositories over git's own ``git http-backend`` (with basic auth): Argo CD sources and multi-source
``$ref`` value files in another repository, Flux GitRepository ref kinds; each compared with ``kustomize build``
/ ``helm template`` of the same content; ``--repo-map`` still wins; failures are "not checked" without secrets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from gitops_check.cli import cli
from tests.helpers.binaries import KUSTOMIZE, cached_binary
from tests.helpers.chartrepo import helm_binary, run
from tests.helpers.githttp import GitServer
from tests.helpers.gitrepo import GitRepo
from tests.remote.conftest import snapshot_of

PASSWORD = "git-Pa55word-xyz"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  version: '{version}'\n"


def other_repo(tmp_path: Path) -> GitRepo:
    """Another repository: a kustomization in deploy/, a chart in chart/, values in values/; tags v1.0.0, v1.1.0."""
    repo = GitRepo.init(tmp_path / "other-work")
    for version in ("1.0.0", "1.1.0"):
        repo.write({
            "deploy/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: other-\n",
            "deploy/cm.yaml": CM.format(name="settings", version=version),
            "chart/Chart.yaml": f"apiVersion: v2\nname: web\nversion: {version}\n",
            "chart/values.yaml": "color: blue\n",
            "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n"
                                       "  color: {{ .Values.color }}\n",
            "values/prod.yaml": f"color: green-{version}\n",
        })  # fmt: skip
        repo.commit(f"release {version}")
        repo.git("tag", f"v{version}")
    repo.write({"deploy/cm.yaml": CM.format(name="settings", version="main")})
    repo.commit("main moves on")
    return repo


def kustomize_build(folder: Path) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(run([cached_binary(KUSTOMIZE), "build", str(folder)])) if d]


def checkout(repo: GitRepo, rev: str, dest: Path) -> Path:
    repo.git("worktree", "add", "--detach", str(dest), rev)
    return dest


def gitops(tmp_path: Path, files: dict[str, str]) -> GitRepo:
    repo = GitRepo.init(tmp_path / "gitops")
    repo.write(files)
    repo.commit("apps")
    return repo


def check(
    repo: GitRepo, snapshot: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[Result, dict]:
    report = repo.path.parent / "report.json"
    report.unlink(missing_ok=True)
    result = CliRunner().invoke(
        cli,
        ["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--assume-complete-snapshot", "--json",
         str(report), "--no-color", "--allow-host", "127.0.0.1", *extra],
        env={"NO_COLOR": "1", **(env or {})},
        catch_exceptions=False,
    )  # fmt: skip
    return result, json.loads(report.read_text()) if report.exists() else {}


def argo(name: str, sources: str) -> str:
    return (
        f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n"
        f"spec:\n  project: default\n{sources}"
        "  destination:\n    server: https://kubernetes.default.svc\n    namespace: apps\n"
    )


@pytest.fixture
def served(tmp_path: Path) -> tuple[GitServer, GitRepo]:
    (tmp_path / "srv").mkdir()
    return GitServer(tmp_path / "srv"), other_repo(tmp_path)


def test_argocd_source_in_another_repository_at_a_tag_and_a_range(
    served: tuple[GitServer, GitRepo], tmp_path: Path
) -> None:
    server, other = served
    with server.running():
        url = server.publish(other.path, "other")
        expected = kustomize_build(checkout(other, "v1.0.0", tmp_path / "at-v1.0.0") / "deploy")
        for revision in ("v1.0.0", "1.0.*"):
            repo = gitops(tmp_path / revision.replace("*", "x"), {"apps/a.yaml": argo("remote-app", (
                f"  source:\n    repoURL: {url}\n    path: deploy\n    targetRevision: '{revision}'\n"))})  # fmt: skip
            result, _ = check(repo, snapshot_of(expected, "apps", tmp_path / "s.json"))
            assert result.exit_code == 0, result.output
            assert f"{url} {revision} -> " in result.output
        head = kustomize_build(checkout(other, "HEAD", tmp_path / "at-head") / "deploy")
        repo = gitops(tmp_path / "head", {"apps/a.yaml": argo("remote-app", (
            f"  source:\n    repoURL: {url}\n    path: deploy\n    targetRevision: HEAD\n"))})  # fmt: skip
        result, _ = check(repo, snapshot_of(head, "apps", tmp_path / "h.json"))
        assert result.exit_code == 0, result.output


def test_multi_source_chart_with_ref_values_from_another_repository(
    served: tuple[GitServer, GitRepo], tmp_path: Path
) -> None:
    server, other = served
    with server.running():
        url = server.publish(other.path, "other")
        sources = (
            f"  sources:\n    - repoURL: {url}\n      path: chart\n      targetRevision: v1.1.0\n"
            "      helm:\n        valueFiles: [$values/values/prod.yaml]\n"
            f"    - repoURL: {url}\n      targetRevision: v1.0.0\n      ref: values\n"
        )
        repo = gitops(tmp_path, {"apps/a.yaml": argo("multi", sources)})
        at = checkout(other, "v1.1.0", tmp_path / "c")
        values = checkout(other, "v1.0.0", tmp_path / "v")
        out = run([helm_binary(), "template", "multi", str(at / "chart"), "--namespace", "apps", "--include-crds",
                   "--values", str(values / "values/prod.yaml")])  # fmt: skip
        expected = [d for d in yaml.safe_load_all(out) if d]
        assert expected[0]["data"] == {"color": "green-1.0.0"}
        result, _ = check(repo, snapshot_of(expected, "apps", tmp_path / "s.json"))
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("ref", "at"),
    [("{tag: v1.0.0}", "v1.0.0"), ("{semver: '>=1.0.0 <2.0.0'}", "v1.1.0"), ("{branch: main}", "HEAD"),
     ("{name: refs/tags/v1.0.0}", "v1.0.0"), ("{commit: COMMIT}", "v1.0.0")],
)  # fmt: skip
def test_flux_gitrepository_ref_kinds(
    served: tuple[GitServer, GitRepo], tmp_path: Path, ref: str, at: str
) -> None:
    server, other = served
    ref = ref.replace("COMMIT", other.rev("v1.0.0"))
    with server.running():
        url = server.publish(other.path, "other")
        files = {
            "clusters/prod/kustomization.yaml": "resources: [source.yaml, app.yaml]\n",
            "clusters/prod/source.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n"
            f"  name: other\n  namespace: flux-system\nspec:\n  url: {url}\n  ref: {ref}\n",
            "clusters/prod/app.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
            "  name: other\n  namespace: flux-system\nspec:\n  path: ./deploy\n  targetNamespace: apps\n"
            "  sourceRef: {kind: GitRepository, name: other}\n",
        }
        repo = gitops(tmp_path, files)
        expected = kustomize_build(checkout(other, at, tmp_path / "at") / "deploy")
        result, data = check(repo, snapshot_of(expected, "apps", tmp_path / "s.json"))
        app = next(a for a in data["apps"] if a["name"] == "Kustomization/flux-system/other")
        assert app["status"] == "in-sync", result.output


def test_basic_auth_credentials_and_failures(served: tuple[GitServer, GitRepo], tmp_path: Path) -> None:
    server, other = served
    server.auth = ("ci", PASSWORD)
    with server.running():
        url = server.publish(other.path, "other")
        repo = gitops(tmp_path, {"apps/a.yaml": argo("remote-app", (
            f"  source:\n    repoURL: {url}\n    path: deploy\n    targetRevision: v1.0.0\n"))})  # fmt: skip
        expected = kustomize_build(checkout(other, "v1.0.0", tmp_path / "at") / "deploy")
        snapshot = snapshot_of(expected, "apps", tmp_path / "s.json")
        creds = {"GITOPS_CHECK_CRED_GIT_URL": server.url, "GITOPS_CHECK_CRED_GIT_USERNAME": "ci"}
        good, good_data = check(repo, snapshot, "--fetch-cache-dir", str(tmp_path / "c1"),
                                env={**creds, "GITOPS_CHECK_CRED_GIT_PASSWORD": PASSWORD})  # fmt: skip
        assert good.exit_code == 0, good.output
        bad, bad_data = check(repo, snapshot, "--fetch-cache-dir", str(tmp_path / "c2"),
                              env={**creds, "GITOPS_CHECK_CRED_GIT_PASSWORD": "wrong-" + PASSWORD})  # fmt: skip
        assert bad.exit_code == 2 and "not checked" in bad.output, bad.output
        none, _ = check(repo, snapshot, "--fetch-cache-dir", str(tmp_path / "c3"))
        assert none.exit_code == 2 and "not checked" in none.output
        for text in (good.output, bad.output, none.output, json.dumps([good_data, bad_data])):
            assert PASSWORD not in text
        # --repo-map wins: a local clone, no request
        before = len(server.seen)
        local = checkout(other, "v1.1.0", tmp_path / "clone")
        mapped, _ = check(repo, snapshot, "--repo-map", f"{url}={local}")
        assert len(server.seen) == before
        assert mapped.exit_code == 1  # the clone's content (1.1.0), not the tag's
        # the policy: without --allow-host a loopback server is refused; file:// never
        refused = CliRunner().invoke(cli, ["diff", "--repo", str(repo.path), "--snapshot", str(snapshot),
                                           "--assume-complete-snapshot", "--no-color"], catch_exceptions=False)  # fmt: skip
        assert refused.exit_code == 2 and "resolves to a loopback address" in refused.output
    local_repo = gitops(tmp_path / "f", {"apps/a.yaml": argo("file-app", (
        f"  source:\n    repoURL: file://{other.path}\n    path: deploy\n"))})  # fmt: skip
    result, _ = check(local_repo, snapshot)
    assert result.exit_code == 2 and "file:// URLs are never fetched" in result.output
