"""The run memo never keeps a run that used a remote source: a chart version range may resolve to a newer chart
tomorrow, with nothing in the key changed. Fetched over the network or read from a warm fetch cache alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from gitops_check.cli import cli
from tests.helpers.chartrepo import FileServer, make_chart, package
from tests.helpers.gitrepo import GitRepo
from tests.remote.conftest import ChartSite, publish
from tests.remote.test_helm_repository import argo_app


def test_a_run_with_a_fetched_chart_is_never_reused(site: ChartSite, tmp_path: Path) -> None:
    with FileServer(site.folder).running() as server:
        publish(site, server.url)
        repo = GitRepo.init(tmp_path / "gitops")
        repo.write({"apps/ranged.yaml": argo_app(server.url, "1.2.*", name="ranged")})
        repo.commit("apps")
        snapshot = tmp_path / "cluster.json"
        snapshot.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": []}))
        cache = tmp_path / "renders"

        def diff(name: str, *extra: str) -> dict[str, Any]:
            out = tmp_path / f"{name}.json"
            result = CliRunner().invoke(
                cli,
                ["diff", "--repo", str(repo.path), "--snapshot", str(snapshot), "--assume-complete-snapshot",
                 "--cache-dir", str(cache), "--json", str(out), "--allow-host", "127.0.0.1", "-v", *extra],
                env={"GITHUB_ACTIONS": "", "GITLAB_CI": "", "GITOPS_CHECK_CACHE_DIR": ""},
                catch_exceptions=False,
            )  # fmt: skip
            assert result.exit_code == 1, result.output  # every object of the chart would be created
            assert "this run's result is not kept: remote sources were used" in result.output
            doc: dict[str, Any] = json.loads(out.read_text())
            assert doc["stats"]["memo_hit"] == 0 and doc["stats"]["memo_stored"] == 0
            return doc

        def resolved(doc: dict[str, Any]) -> str:
            return "".join(doc["apps"][0].get("resolved", []))

        first = diff("first")
        assert "-> 1.2.5" in resolved(first) and first["stats"]["fetch_requests"] > 0
        # The render cache and the fetch cache are warm now; still nothing to reuse.
        second = diff("second")
        assert "-> 1.2.5" in resolved(second)
        assert not list(cache.glob("memo/**/*.json"))

        package(make_chart(tmp_path / "new", "demo", "1.2.6", value="new"), site.folder)
        publish(site, server.url)
        third = diff("third")
        assert "-> 1.2.6" in resolved(third)  # the newer chart, not a result kept from before
