"""The render cache is the job's, never the repository's: a cache folder inside the checkout is not used.

Every file of the checkout comes from the pull request. A cache there (what GitLab's ``cache:`` would keep, or a
``--cache-dir`` pointing into the project folder) could hold entries the pull request committed, keyed by the
content keys of its own apps, and be read back as their renders: a forged "no change".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_check.cli import main
from tests.helpers.binaries import HELM, KUSTOMIZE, cached_binary
from tests.preview.repos import MIXED, make_repo


def preview(repo: Path, tmp_path: Path, cache: Path, report: Path) -> int:
    return main(["preview", "--repo", str(repo), "--base", "HEAD~1", "--cache-dir", str(cache), "--no-color",
                 "--work-dir", str(tmp_path / "work"), "--json", str(report),
                 "--helm", str(cached_binary(HELM)), "--kustomize", str(cached_binary(KUSTOMIZE))])  # fmt: skip


def test_a_cache_folder_inside_the_checkout_is_never_read_or_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "GITOPS_CHECK_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    repo = make_repo(tmp_path / "project", MIXED)
    repo.write({"values/web-b.yaml": "replicas: 4\n"})
    repo.commit("scale web-b")
    cache = repo.path / ".cache" / "gitops-check-renders"
    report = tmp_path / "r.json"

    assert preview(repo.path, tmp_path, cache, report) == 1

    assert not cache.exists()
    data = json.loads(report.read_text())
    assert data["stats"]["cache_hits"] == 0
    out = capsys.readouterr()
    assert "lies inside the checkout of the checked repository" in out.out + out.err
    outside = tmp_path / "cache"
    assert preview(repo.path, tmp_path, outside, report) == 1
    assert (outside / "salt").is_file()  # a folder outside the checkout is used as before
