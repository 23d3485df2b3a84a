"""Guard rails: the checks that decide whether gitops-check may ask an agent to sync at all.

A sync changes a cluster, so it is refused (exit 2, nothing sent) when

* the check before it could not check everything: what drifted is then not known (``--force`` overrides);
* an app is not on the project file's allow-list (``sync: {allow: [names or globs]}``), when there is one;
* the pipeline runs for a pull/merge request from a fork, whose author does not own the repository and must
  not be able to deploy by opening one (``--allow-fork`` overrides). On GitHub the event payload decides
  (the head repository differs from the base one; ``head.repo.fork`` alone is also true for PRs inside a
  fork, so it is not used alone); on GitLab the merge request's source and target project ids.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitops_check.errors import ConfigError

ALLOWED_KEYS = {"allow"}


def allow_list(sync_section: Mapping[str, Any], file: str) -> tuple[str, ...] | None:
    """The ``sync.allow`` patterns of the project file; None when the file sets no allow-list."""
    unknown = sorted(str(k) for k in sync_section if k not in ALLOWED_KEYS)
    if unknown:
        raise ConfigError(f"sync: unknown key {unknown[0]!r} (allowed: allow)", file=file)
    if "allow" not in sync_section:
        return None
    value = sync_section["allow"]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError("sync.allow: expected a list of app names or glob patterns", file=file)
    return tuple(value)


def not_allowed(apps: Sequence[str], patterns: Sequence[str] | None) -> list[str]:
    """The apps no pattern allows (``*`` and ``?`` globs, case-sensitive); none when there is no list."""
    if patterns is None:
        return []
    return [a for a in apps if not any(fnmatch.fnmatchcase(a, p) for p in patterns)]


def fork_pipeline(environ: Mapping[str, str]) -> str | None:
    """Why this CI run serves a pull/merge request from a fork, or None when it does not (or is not CI)."""
    if environ.get("GITHUB_ACTIONS") == "true" and environ.get("GITHUB_EVENT_NAME", "").startswith(
        "pull_request"
    ):
        return _github_fork(environ)
    source = environ.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID")
    target = environ.get("CI_MERGE_REQUEST_PROJECT_ID")
    if environ.get("GITLAB_CI") == "true" and source and target and source != target:
        return f"GitLab merge request from project {source} into project {target} (a fork)"
    return None


def _github_fork(environ: Mapping[str, str]) -> str | None:
    event = environ.get("GITHUB_EVENT_NAME", "")
    path = environ.get("GITHUB_EVENT_PATH", "")
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        pr = payload["pull_request"]
        head = (pr.get("head") or {}).get("repo")
        base = (pr.get("base") or {}).get("repo") or {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        # Not knowing is treated as a fork: a deploy must be proven safe, not assumed.
        return f"GitHub {event} event whose payload ($GITHUB_EVENT_PATH) cannot be read to rule out a fork"
    if not isinstance(head, dict):
        return f"GitHub {event} from a repository that no longer exists (a deleted fork)"
    head_name, base_name = head.get("full_name"), base.get("full_name")
    if head_name != base_name or (head.get("id") and base.get("id") and head.get("id") != base.get("id")):
        return f"GitHub {event} from {head_name} into {base_name} (a fork)"
    return None
