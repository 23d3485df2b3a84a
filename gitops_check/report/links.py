"""Links from a report to a file at the commit checked, on the forge the CI job runs for (GitHub or GitLab).

The job's environment names the project (``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``, ``CI_PROJECT_URL``); a link
is made only when the repository checked is that project (one of its remotes, or a --repo-url, spells the same
URL) and the result is about a commit, so a link never points at another repository or at a file the commit
does not hold. Paths in results are relative to the GitOps root; the root's place in the repository is added.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from gitops_check import repourl
from gitops_check.model.result import AppResult, CheckedSource


@dataclass(frozen=True)
class FileLinks:
    blob_base: str  # ``https://github.com/o/r/blob/<sha>/`` with the GitOps root after it

    def url(self, path: str, line: int | None = None) -> str | None:
        """The file's URL (``#L<line>`` when known); None for a path that is not a file inside the repository."""
        if not path or path.startswith("/") or "\\" in path:
            return None
        normal = posixpath.normpath(path)
        if normal == "." or normal.startswith("../") or normal == "..":
            return None
        anchor = f"#L{line}" if line and line > 0 else ""
        return self.blob_base + quote(normal, safe="/") + anchor


def file_links(source: CheckedSource | None, env: Mapping[str, str]) -> FileLinks | None:
    """Links for GitHub Actions (``<server>/<owner>/<repo>/blob/<sha>/<path>#L<n>``) or GitLab CI
    (``<project>/-/blob/<sha>/<path>#L<n>``); None outside CI, for a working tree, or for another repository."""
    if source is None or not source.revision:
        return None
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY"):
        project = f"{env['GITHUB_SERVER_URL'].rstrip('/')}/{env['GITHUB_REPOSITORY'].strip('/')}"
        blob = f"{project}/blob/{source.revision}/"
    elif env.get("GITLAB_CI") == "true" and env.get("CI_PROJECT_URL"):
        project = env["CI_PROJECT_URL"].rstrip("/")
        blob = f"{project}/-/blob/{source.revision}/"
    else:
        return None
    if repourl.canonical(project) not in source.urls:
        return None
    root = source.root.strip("/")
    return FileLinks(blob + (quote(root, safe="/") + "/" if root else ""))


def from_this_repository(app: AppResult) -> bool:
    """Every file the app's objects come from is in the repository checked (no other Git repository, chart
    repository or OCI artifact), so its paths can be linked at the commit checked. An app without sources (read
    back from a shard's part file, which keeps no sources) is not known to be."""
    sources = app.app.sources
    return bool(sources) and all(s.repo is None and s.chart is None and s.oci is None for s in sources)
