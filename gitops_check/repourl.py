"""Repository URLs in one canonical spelling, so https, ssh and ``.git`` forms of a repository compare equal.

``https://github.com/Org/Repo.git``, ``git@github.com:Org/Repo`` and ``ssh://git@github.com/Org/Repo``
all become ``github.com/org/repo`` (hosts and paths compared case-insensitively, as GitHub and GitLab do).
"""

from __future__ import annotations

import re

_SCP = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$")  # git@host:path (scp-like ssh syntax)


def canonical(url: str) -> str:
    text = url.strip()
    m = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(.*)$", text)
    if m:
        rest = m.group(1)
        rest = rest.split("@", 1)[1] if "@" in rest.split("/", 1)[0] else rest
        host, _, path = rest.partition("/")
        host = host.split(":", 1)[0]  # drop a port
    else:
        scp = _SCP.match(text)
        if not scp:
            return text.rstrip("/").removesuffix(".git").lower()
        host, path = scp.group(1), scp.group(2)
    path = path.strip("/").removesuffix(".git").strip("/")
    return f"{host}/{path}".lower()


def same_repo(a: str, b: str) -> bool:
    return canonical(a) == canonical(b)


def not_available_hint(url: str) -> str:
    """What to pass when a repository an app names is not available: most often it is this repository under a
    URL its remotes do not spell (a mirror, another host name, a CI clone), which ``--repo-url`` says; a clone of
    another repository is given with ``--repo-map``."""
    return f"if {url} is the repository being checked, pass --repo-url {url}; otherwise map a local clone with --repo-map {url}=PATH"
