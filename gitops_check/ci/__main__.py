"""``python -m gitops_check.ci github|gitlab``: the run step of the GitHub Action or of the GitLab job."""

from __future__ import annotations

import os
import sys

from gitops_check.ci import github, gitlab


def main(argv: list[str]) -> int:
    if argv == ["github"]:
        return github.main(dict(os.environ))
    if argv == ["gitlab"]:
        return gitlab.main(dict(os.environ))
    print("usage: python -m gitops_check.ci github|gitlab", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
