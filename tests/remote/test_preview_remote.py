"""Preview keys of fetched charts: the resolved version and digest count, so a new chart version published under
a range re-renders the app, and an unchanged pinned chart comes from the render cache."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gitops_check.cli import cli
from tests.helpers.chartrepo import FileServer, make_chart, package
from tests.helpers.gitrepo import GitRepo
from tests.remote.conftest import ChartSite, publish
from tests.remote.test_helm_repository import argo_app


def test_new_version_under_a_range_rerenders_and_a_pinned_chart_does_not(
    site: ChartSite, tmp_path: Path
) -> None:
    with FileServer(site.folder).running() as server:
        publish(site, server.url)
        repo = GitRepo.init(tmp_path / "gitops")
        repo.write({
            "apps/range.yaml": argo_app(server.url, "1.2.*", name="ranged"),
            "apps/pinned.yaml": argo_app(server.url, "1.2.4", name="pinned"),
            "README.md": "one\n",
        })  # fmt: skip
        repo.commit("apps")
        changed = "    helm:\n      parameters: [{name: greeting, value: changed}]\n"
        repo.write({
            "apps/range.yaml": argo_app(server.url, "1.2.*", name="ranged").replace("  destination:", changed + "  destination:"),
            "apps/pinned.yaml": argo_app(server.url, "1.2.4", name="pinned").replace("  destination:", changed + "  destination:"),
        })  # fmt: skip
        repo.commit("both apps change")

        def preview() -> dict[str, object]:
            out = tmp_path / "r.json"
            result = CliRunner().invoke(
                cli,
                ["preview", "--repo", str(repo.path), "--base", "HEAD~1", "--cache-dir", str(tmp_path / "renders"),
                 "--json", str(out), "--allow-host", "127.0.0.1", "--work-dir", str(tmp_path / "work")],
                env={"GITHUB_ACTIONS": "", "GITLAB_CI": ""},
                catch_exceptions=False,
            )  # fmt: skip
            assert result.exit_code == 1, result.output  # the change changes both apps
            data: dict[str, object] = json.loads(out.read_text())
            return data

        first = preview()
        assert first["stats"]["renders"] == 4  # type: ignore[index]  # two apps at two commits
        second = preview()
        assert (second["stats"]["renders"], second["stats"]["cache_hits"]) == (0, 4)  # type: ignore[index]
        package(make_chart(tmp_path / "new", "demo", "1.2.6", value="new"), site.folder)
        publish(site, server.url)
        third = preview()
        assert (third["stats"]["renders"], third["stats"]["cache_hits"]) == (2, 2)  # type: ignore[index]
        ranged = next(a for a in third["apps"] if a["name"] == "ranged")  # type: ignore[attr-defined]
        assert any("-> 1.2.6" in line for line in ranged.get("resolved", [])), ranged
