"""Issue 10 item 7: a committed ``render.allowRemoteBases: true`` widens nothing, and remote kustomize bases obey
the job's network policy (no ``file://`` clone of another repository on the machine, no loopback or private
fetch unless the job allows that host, nothing outside the repository).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gitops_check.cli import cli
from gitops_check.proc import tool_cache_dir
from gitops_check.remote.charts import reset
from tests.helpers.binaries import KUSTOMIZE, cached_binary
from tests.helpers.chartrepo import FileServer
from tests.helpers.gitrepo import GitRepo

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: apps\ndata:\n  k: v\n"


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_CHECK_KUSTOMIZE", str(cached_binary(KUSTOMIZE)))
    monkeypatch.setenv("GITOPS_CHECK_BIN_CACHE", str(tool_cache_dir()))
    monkeypatch.setenv("GITOPS_CHECK_FETCH_CACHE_DIR", str(tmp_path / "cache"))
    reset()


def _setup(tmp_path: Path, entry: str) -> GitRepo:
    outside = GitRepo.init(tmp_path / "elsewhere")  # another repository on the machine
    outside.write(
        {"secret/kustomization.yaml": "resources: [cm.yaml]\n", "secret/cm.yaml": CM.format(name="stolen")}
    )
    outside.commit("elsewhere")
    repo = GitRepo.init(tmp_path / "gitops")
    repo.write({
        ".gitops-check.yaml": (
            "version: 1\nrender:\n  allowRemoteBases: true\n"
            "apps:\n  - name: app\n    path: app\n    namespace: apps\n"
        ),
        "app/kustomization.yaml": f"resources:\n  - cm.yaml\n  - {entry}\n",
        "app/cm.yaml": CM.format(name="own"),
    })  # fmt: skip
    repo.commit("app")
    return repo


def _apps(repo: GitRepo, *args: str) -> tuple[Result, dict[str, object]]:
    report = repo.path.parent / "report.json"
    snapshot = repo.path.parent / "snap.json"
    snapshot.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": []}))
    result = CliRunner().invoke(
        cli,
        ["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--assume-complete-snapshot",
         "--json", str(report), "--no-color", *args],
        catch_exceptions=False,
    )  # fmt: skip
    return result, json.loads(report.read_text())


def _entries(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        "file-clone": f"file://{tmp_path / 'elsewhere'}//secret",
        "git-file-clone": f"git::file://{tmp_path / 'elsewhere'}//secret",
        "loopback": f"http://127.0.0.1:{port}/cm.yaml",
        "private": "http://10.0.0.7/cm.yaml",
        "link-local": "http://169.254.169.254/latest/meta-data/cm.yaml",
        "outside": "../../elsewhere/secret",
    }


@pytest.mark.parametrize(
    "case", ["file-clone", "git-file-clone", "loopback", "private", "link-local", "outside"]
)
@pytest.mark.parametrize("job_allows", [False, True], ids=["commit-only", "job-allows-remote-bases"])
def test_commit_cannot_widen_and_remote_bases_obey_the_policy(
    tmp_path: Path, case: str, job_allows: bool
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "cm.yaml").write_text(CM.format(name="fetched"))
    with FileServer(served).running() as server:
        repo = _setup(tmp_path, _entries(tmp_path, server.port)[case])
        result, report = _apps(repo, *(["--allow-remote-bases"] if job_allows else []))
    assert result.exit_code == 2, result.output
    assert server.seen == []  # nothing was fetched from loopback
    text = result.output + json.dumps(report)
    assert "stolen" not in text
    if case == "outside":
        assert "outside the repository" in text
    elif not job_allows:
        assert "allow with --allow-remote-bases" in text
    else:
        reason = {
            "file-clone": "file:// URLs are never fetched",
            "git-file-clone": "file:// URLs are never fetched",
            "loopback": "resolves to a loopback address",
            "private": "resolves to a private address",
            "link-local": "resolves to a link-local address",
        }[case]
        assert reason in text, text


def test_the_job_can_allow_a_loopback_host_explicitly(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "cm.yaml").write_text(CM.format(name="fetched"))
    with FileServer(served).running() as server:
        repo = _setup(tmp_path, f"http://127.0.0.1:{server.port}/cm.yaml")
        result, _ = _apps(repo, "--allow-remote-bases", "--allow-host", f"127.0.0.1:{server.port}")
        assert [s.path for s in server.seen] == ["/cm.yaml"]
        # the project file may restrict further: offline wins over the job's permission
        repo.write({".gitops-check.yaml": (
            "version: 1\nrender:\n  network: {offline: true}\n"
            "apps:\n  - name: app\n    path: app\n    namespace: apps\n"
        )})  # fmt: skip
        repo.commit("offline")
        restricted, _ = _apps(repo, "--allow-remote-bases", "--allow-host", f"127.0.0.1:{server.port}")
    assert result.exit_code == 1, result.output  # both ConfigMaps would be created: rendered, so drift
    assert "ConfigMap/apps/fetched" in result.output
    assert restricted.exit_code == 2 and "render.network.offline" in restricted.output
