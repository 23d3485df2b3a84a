"""``python -I -m gitops_check.ci github|gitlab``: kept for older workflows; prefer ``gitops-check ci github``."""

from __future__ import annotations

import os
import sys

from gitops_check.ci import github, gitlab


def main(argv: list[str]) -> int:
    if argv == ["github"]:
        return github.main(dict(os.environ))
    if argv == ["gitlab"]:
        return gitlab.main(dict(os.environ))
    print("usage: gitops-check ci github|gitlab", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
