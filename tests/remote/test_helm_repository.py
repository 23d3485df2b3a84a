"""Charts from Helm repositories over HTTP and HTTPS (self-signed CA, basic auth), in full ``gitops-check diff``
runs, each compared with ``helm template`` of the same archive; and every way fetching can fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gitops_check.cli import cli
from tests.helpers.chartrepo import FileServer, make_ca, make_chart, package
from tests.helpers.gitrepo import GitRepo
from tests.remote.conftest import ChartSite, helm_template, publish, snapshot_of

PASSWORD = "s3cret-Pa55word-xyz"


def argo_app(repo_url: str, version: str, name: str = "demo-app") -> str:
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n"
        f"  name: {name}\n  namespace: argocd\nspec:\n  project: default\n"
        f"  source:\n    repoURL: {repo_url}\n    chart: demo\n    targetRevision: '{version}'\n"
        "  destination:\n    server: https://kubernetes.default.svc\n    namespace: apps\n"
    )


def git_repo(tmp_path: Path, files: dict[str, str]) -> GitRepo:
    repo = GitRepo.init(tmp_path / "gitops")
    repo.write(files)
    repo.commit("apps")
    return repo


def check(
    repo: GitRepo, snapshot: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[Result, dict]:
    report = repo.path.parent / "report.json"
    result = CliRunner().invoke(
        cli,
        ["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--assume-complete-snapshot",
         "--json", str(report), "--no-color", *extra],
        env={"NO_COLOR": "1", **(env or {})},
        catch_exceptions=False,
    )  # fmt: skip
    data = json.loads(report.read_text()) if report.exists() else {}
    return result, data


def everything(result: Result, data: dict) -> str:
    return result.output + json.dumps(data)


def test_argocd_chart_range_over_http_renders_like_helm_template(site: ChartSite, tmp_path: Path) -> None:
    with FileServer(site.folder).running() as server:
        publish(site, server.url)
        repo = git_repo(tmp_path, {"apps/demo.yaml": argo_app(server.url, "1.2.*")})
        expected = helm_template(site.folder / "demo-1.2.5.tgz", "demo-app", "apps")
        snapshot = snapshot_of(expected, "apps", tmp_path / "snap.json")
        result, data = check(repo, snapshot, "--allow-host", "127.0.0.1")
        assert result.exit_code == 0, result.output
        assert "demo 1.2.* -> 1.2.5 (sha256:" in result.output
        assert f"from {server.url}" in result.output
        assert any("1.2.5" in line for app in data["apps"] for line in app.get("resolved", []))
        # the range left out the pre-release and the next major; an older render is drift
        older = snapshot_of(
            helm_template(site.folder / "demo-1.2.4.tgz", "demo-app", "apps"), "apps", tmp_path / "o.json"
        )
        result, _ = check(repo, older, "--allow-host", "127.0.0.1")
        assert result.exit_code == 1, result.output


def test_flux_helmrelease_over_https_with_basic_auth_and_ca(site: ChartSite, tmp_path: Path) -> None:
    cert, key = make_ca(tmp_path / "tls")
    with FileServer(site.folder, auth=("ci", PASSWORD), tls=(cert, key)).running() as server:
        publish(site, server.url)
        files = {
            "clusters/prod/sources.yaml": (
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n"
                f"  namespace: flux-system\nspec:\n  url: {server.url}\n  interval: 10m\n"
            ),
            "clusters/prod/release.yaml": (
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: demo\n"
                "  namespace: apps\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: demo\n"
                "      version: '>=1.0.0 <2.0.0'\n      sourceRef:\n        kind: HelmRepository\n        name: charts\n"
                "        namespace: flux-system\n  values:\n    greeting: from-flux\n"
            ),
            "clusters/prod/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
                "  - sources.yaml\n  - release.yaml\n"
            ),
        }
        repo = git_repo(tmp_path, files)
        expected = helm_template(
            site.folder / "demo-1.2.5.tgz", "demo", "apps", "--set", "greeting=from-flux"
        )
        snapshot = snapshot_of(expected, "apps", tmp_path / "snap.json")
        env = {
            "GITOPS_CHECK_CRED_CHARTS_URL": server.url,
            "GITOPS_CHECK_CRED_CHARTS_USERNAME": "ci",
            "GITOPS_CHECK_CRED_CHARTS_PASSWORD": PASSWORD,
        }
        result, data = check(
            repo, snapshot, "--allow-host", "127.0.0.1", "--fetch-ca-file", str(cert), env=env
        )
        app = next(a for a in data["apps"] if "demo" in a["name"] and "flux-system" not in a["name"])
        assert app["status"] == "in-sync" or result.exit_code in (0,), result.output
        assert "demo >=1.0.0 <2.0.0 -> 1.2.5" in result.output
        assert PASSWORD not in everything(result, data)
        # without the CA: a clear TLS failure, not checked
        result, data = check(repo, snapshot, "--allow-host", "127.0.0.1", env=env)
        assert result.exit_code == 2
        assert "TLS verification failed" in result.output and "--fetch-ca-file" in result.output


@pytest.mark.parametrize("case", ["wrong-password", "no-credential", "missing-version", "unreachable", "oversized",
                                  "offline", "outside-allow-host", "private-not-allowed", "digest-mismatch",
                                  "file-url", "userinfo-url"])  # fmt: skip
def test_failures_are_not_checked_with_url_and_reason(site: ChartSite, tmp_path: Path, case: str) -> None:
    if case == "oversized":
        package(make_chart(tmp_path / "big", "demo", "1.2.6", extra_bytes=3 * 1024 * 1024), site.folder)
    auth = ("ci", PASSWORD) if case in ("wrong-password", "no-credential", "userinfo-url") else None
    with FileServer(site.folder, auth=auth).running() as server:
        publish(site, server.url)
        if case == "digest-mismatch":
            text = (site.folder / "index.yaml").read_text()
            lines = [
                "    digest: '" + "0" * 64 + "'" if line.strip().startswith("digest:") else line
                for line in text.splitlines()
            ]
            (site.folder / "index.yaml").write_text("\n".join(lines) + "\n")
        url = {
            "unreachable": "http://127.0.0.1:9",
            "file-url": "file:///etc",
            "userinfo-url": server.url.replace("http://", f"http://ci:{PASSWORD}@"),
        }.get(case, server.url)
        version = {"missing-version": "1.4.0", "oversized": "1.2.6"}.get(case, "1.2.5")
        repo = git_repo(tmp_path, {"apps/demo.yaml": argo_app(url, version)})
        snapshot = snapshot_of([], "apps", tmp_path / "snap.json")
        args = ["--allow-host", "127.0.0.1"]
        env = {}
        if case == "wrong-password":
            env = {"GITOPS_CHECK_CRED_X_URL": server.url, "GITOPS_CHECK_CRED_X_USERNAME": "ci",
                   "GITOPS_CHECK_CRED_X_PASSWORD": "wrong-" + PASSWORD}  # fmt: skip
        if case == "oversized":
            args += ["--max-download-size", "1"]
        if case == "offline":
            args += ["--offline"]
        if case == "outside-allow-host":
            args = ["--allow-host", "charts.example.org"]
        if case == "private-not-allowed":
            args = []
        result, data = check(repo, snapshot, *args, env=env)
        text = everything(result, data)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in text
        assert PASSWORD not in text
        assert "not checked" in text
        reason = {
            "wrong-password": "the credential GITOPS_CHECK_CRED_X was tried and refused",
            "no-credential": "no credential is configured",
            "missing-version": "version 1.4.0 not found",
            "unreachable": "unreachable",
            "oversized": "larger than the maximum download size (1 MiB)",
            "offline": "the run is offline",
            "outside-allow-host": "not allowed by --allow-host",
            "private-not-allowed": "resolves to a loopback address",
            "digest-mismatch": "digest mismatch",
            "file-url": "file:// URLs are never fetched",
            "userinfo-url": "HTTP 401",
        }[case]
        assert reason in text, text
        if case == "missing-version":
            assert "nearest versions in the index: " in text and "1.3.0-rc.1" in text
        if case != "file-url":
            shown = url.replace(f"ci:{PASSWORD}@", "***@")
            assert shown.split("//", 1)[1].split("/")[0].split("@")[-1] in text


def test_redirect_to_another_host_never_carries_the_credential(site: ChartSite, tmp_path: Path) -> None:
    """The repository (with basic auth) sends the archive download to another host: no credential goes there."""
    with FileServer(site.folder, host="127.0.0.2").running() as other:

        def redirect(path: str) -> str | None:
            return other.url + path if path.endswith(".tgz") else None

        with FileServer(site.folder, auth=("ci", PASSWORD), redirect=None).running() as server:
            server.redirect = redirect
            publish(site, server.url)
            other.auth = ("someone", "else")
            repo = git_repo(tmp_path, {"apps/demo.yaml": argo_app(server.url, "1.2.5")})
            env = {"GITOPS_CHECK_CRED_X_URL": server.url, "GITOPS_CHECK_CRED_X_USERNAME": "ci",
                   "GITOPS_CHECK_CRED_X_PASSWORD": PASSWORD}  # fmt: skip
            # the index needs the credential: the redirect hook only sends archives away
            result, data = check(repo, snapshot_of([], "apps", tmp_path / "s.json"),
                                 "--allow-host", "127.0.0.1", "--allow-host", "127.0.0.2", env=env)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert other.seen, "the redirect was not followed"
    assert all(s.authorization is None for s in other.seen)
    assert "HTTP 401" in result.output and "no credential is configured" in result.output
    assert PASSWORD not in everything(result, data)


def test_pinned_version_on_a_warm_cache_needs_no_request(site: ChartSite, tmp_path: Path) -> None:
    with FileServer(site.folder).running() as server:
        publish(site, server.url)
        repo = git_repo(tmp_path, {"apps/demo.yaml": argo_app(server.url, "1.2.4")})
        snapshot = snapshot_of(helm_template(site.folder / "demo-1.2.4.tgz", "demo-app", "apps"), "apps",
                               tmp_path / "s.json")  # fmt: skip
        first, _ = check(repo, snapshot, "--allow-host", "127.0.0.1")
        assert first.exit_code == 0, first.output
        before = len(server.seen)
        assert before >= 2  # index + archive
        second, _ = check(repo, snapshot, "--allow-host", "127.0.0.1")
        assert second.exit_code == 0, second.output
        assert len(server.seen) == before
        # a range consults the index again (one conditional request), not the archive
        repo.write({"apps/demo.yaml": argo_app(server.url, "~1.2.0")})
        repo.commit("range")
        snapshot = snapshot_of(helm_template(site.folder / "demo-1.2.5.tgz", "demo-app", "apps"), "apps",
                               tmp_path / "s2.json")  # fmt: skip
        third, _ = check(repo, snapshot, "--allow-host", "127.0.0.1")
        assert third.exit_code == 0, third.output
        assert [s.path for s in server.seen[before:]] == ["/index.yaml", "/demo-1.2.5.tgz"]


def test_credential_is_bound_to_its_prefix(site: ChartSite, tmp_path: Path) -> None:
    """A credential configured for another path of the same host is not sent."""
    with FileServer(site.folder, auth=("ci", PASSWORD)).running() as server:
        publish(site, server.url)
        repo = git_repo(tmp_path, {"apps/demo.yaml": argo_app(server.url, "1.2.5")})
        env = {"GITOPS_CHECK_CRED_X_URL": server.url + "/other", "GITOPS_CHECK_CRED_X_USERNAME": "ci",
               "GITOPS_CHECK_CRED_X_PASSWORD": PASSWORD}  # fmt: skip
        result, _ = check(
            repo, snapshot_of([], "apps", tmp_path / "s.json"), "--allow-host", "127.0.0.1", env=env
        )
    assert result.exit_code == 2
    assert all(s.authorization is None for s in server.seen)


def test_chart_dependency_from_a_repository_honours_chart_lock(site: ChartSite, tmp_path: Path) -> None:
    """Argo CD's helm-dependency example: a chart in Git depending on a chart from a repository."""
    import shutil

    from tests.helpers.chartrepo import helm_binary, run

    with FileServer(site.folder).running() as server:
        publish(site, server.url)
        chart = (
            "apiVersion: v2\nname: top\nversion: 0.1.0\ndependencies:\n"
            f"  - name: demo\n    version: '1.2.*'\n    repository: {server.url}\n"
        )
        lock = (
            f"dependencies:\n- name: demo\n  repository: {server.url}\n  version: 1.2.4\ndigest: sha256:0\n"
        )
        files = {
            "charts/top/Chart.yaml": chart,
            "charts/top/Chart.lock": lock,
            "charts/top/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: top\ndata: {a: b}\n",
            "apps/top.yaml": (
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: top\n  namespace: argocd\n"
                "spec:\n  project: default\n  source:\n    repoURL: https://git.example.com/gitops.git\n"
                "    path: charts/top\n  destination:\n    server: https://kubernetes.default.svc\n"
                "    namespace: apps\n"
            ),
        }
        repo = git_repo(tmp_path, files)
        reference = tmp_path / "reference" / "top"
        (reference / "templates").mkdir(parents=True)
        (reference / "Chart.yaml").write_text(chart)
        (reference / "templates" / "cm.yaml").write_text(files["charts/top/templates/cm.yaml"])
        (reference / "charts").mkdir()
        shutil.copy(site.folder / "demo-1.2.4.tgz", reference / "charts")
        out = run([helm_binary(), "template", "top", str(reference), "--namespace", "apps", "--include-crds"])
        import yaml

        expected = [d for d in yaml.safe_load_all(out) if d]
        assert any(d["data"].get("chart") == "1.2.4" for d in expected if d["metadata"]["name"] == "top-demo")
        result, _ = check(
            repo, snapshot_of(expected, "apps", tmp_path / "s.json"), "--allow-host", "127.0.0.1",
            "--repo-url", "https://git.example.com/gitops.git",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "dependency demo 1.2.4 -> 1.2.4 (sha256:" in result.output


def test_kustomize_helm_charts_are_fetched_under_the_policy(site: ChartSite, tmp_path: Path) -> None:
    """kustomize ``helmCharts`` with ``--enable-helm`` (issue 12): the chart comes through fetch_chart, never
    through kustomize's own ``helm pull``; compared with ``kustomize build --enable-helm`` of the vendored chart."""
    import tarfile

    import yaml

    from tests.helpers.binaries import KUSTOMIZE, cached_binary
    from tests.helpers.chartrepo import helm_binary, run

    with FileServer(site.folder).running() as server:
        publish(site, server.url)
        kustomization = (
            "helmCharts:\n  - name: demo\n"
            f"    repo: {server.url}\n    version: 1.2.5\n    releaseName: inflated\n    namespace: apps\n"
        )
        repo = git_repo(tmp_path, {
            ".gitops-check.yaml": "version: 1\napps:\n  - name: inflated\n    path: app\n    namespace: apps\n",
            "app/kustomization.yaml": kustomization,
        })  # fmt: skip
        vendored = tmp_path / "vendored" / "app"
        vendored.mkdir(parents=True)
        (vendored / "kustomization.yaml").write_text(kustomization)
        (vendored / "charts" / "demo-1.2.5").mkdir(parents=True)
        with tarfile.open(site.folder / "demo-1.2.5.tgz") as tar:
            tar.extractall(vendored / "charts" / "demo-1.2.5", filter="data")
        out = run(
            [
                cached_binary(KUSTOMIZE),
                "build",
                "--enable-helm",
                "--helm-command",
                helm_binary(),
                str(vendored),
            ]
        )
        expected = [d for d in yaml.safe_load_all(out) if d]
        before = len(server.seen)
        result, _ = check(repo, snapshot_of(expected, "apps", tmp_path / "s.json"), "--allow-host", "127.0.0.1",
                          "--kustomize-build-options", "--enable-helm")  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "demo 1.2.5 -> 1.2.5 (sha256:" in result.output
        assert [s.path for s in server.seen[before:]] == ["/index.yaml", "/demo-1.2.5.tgz"]
        offline, _ = check(repo, snapshot_of(expected, "apps", tmp_path / "s.json"), "--offline",
                           "--kustomize-build-options", "--enable-helm", "--fetch-cache-dir", str(tmp_path / "c"))  # fmt: skip
        assert offline.exit_code == 2 and "the run is offline" in offline.output


def test_flux_values_files_and_argo_value_files_inside_a_fetched_chart(
    site: ChartSite, tmp_path: Path
) -> None:
    chart = make_chart(tmp_path / "vf", "demo", "1.2.7", value="default")
    (chart / "values-prod.yaml").write_text("greeting: prod\n")
    package(chart, site.folder)
    with FileServer(site.folder).running() as server:
        publish(site, server.url)
        files = {
            "clusters/prod/kustomization.yaml": "resources: [all.yaml]\n",
            "clusters/prod/all.yaml": (
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n"
                f"  namespace: flux-system\nspec:\n  url: {server.url}\n---\n"
                "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: demo\n"
                "  namespace: apps\nspec:\n  chart:\n    spec:\n      chart: demo\n      version: 1.2.7\n"
                "      valuesFiles: [values.yaml, values-prod.yaml]\n"
                "      sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}\n"
            ),
            "apps/argo.yaml": argo_app(server.url, "1.2.7", name="argo-demo").replace(
                "  destination:", "    helm:\n      valueFiles: [values-prod.yaml]\n  destination:"
            ),
        }
        repo = git_repo(tmp_path, files)
        archive = site.folder / "demo-1.2.7.tgz"
        expected = helm_template(archive, "demo", "apps", "--set", "greeting=prod") + helm_template(
            archive, "argo-demo", "apps", "--set", "greeting=prod"
        )
        result, data = check(
            repo, snapshot_of(expected, "apps", tmp_path / "s.json"), "--allow-host", "127.0.0.1"
        )
        statuses = {a["name"]: a["status"] for a in data["apps"]}
        assert statuses["HelmRelease/apps/demo"] == "in-sync", result.output
        assert statuses["argo-demo"] == "in-sync", result.output
