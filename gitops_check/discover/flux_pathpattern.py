"""An ArtifactGenerator's ``pathPattern``: one set of artifacts per folder of a source that matches it.

``pathPattern: "@monorepo/apps/{app}/envs/{env}"`` makes the generator walk the source's folders; each folder
matching the pattern (``{name}`` is one path segment) renders every entry of ``artifacts`` with the captured
values: in names and labels lowercased, in ``from``/``to`` as captured. An artifact named ``{app}-{env}`` then
exists once per matching folder (``auth-dev``, ``payments-prod``). As source-watcher does, a rendered copy
operation keeps ``from``, ``to``, ``exclude`` and ``strategy`` only, and a name two folders render alike, or one
that is not a valid object name, fails the generator.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_CAPTURE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class PatternError(Exception):
    """The controller would refuse the generator (the message says why)."""


def parse(path_pattern: str) -> tuple[str, re.Pattern[str]]:
    """(alias, regular expression over a folder's path in that source)."""
    head, sep, pattern = path_pattern.partition("/")
    if not sep or not head.startswith("@") or len(head) < 2:
        raise PatternError(f"invalid pathPattern format: {path_pattern}")
    seen: set[str] = set()
    out, i = "^", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "{":
            end = pattern.find("}", i + 1)
            if end < 0:
                raise PatternError(f"pathPattern {path_pattern!r}: a capture is missing its closing brace")
            name = pattern[i + 1 : end]
            if not _CAPTURE_NAME.match(name) or name in seen:
                raise PatternError(
                    f"pathPattern {path_pattern!r}: invalid or duplicate capture variable {name!r}"
                )
            seen.add(name)
            out += f"(?P<{name}>[^/]+)"
            i = end + 1
            continue
        if c == "}":
            raise PatternError(f"pathPattern {path_pattern!r}: a capture is missing its opening brace")
        out += re.escape(c)
        i += 1
    return head[1:], re.compile(out + "$")


def expand(spec: Mapping[str, Any], root: Path) -> list[dict[str, Any]]:
    """Every artifact the generator makes from ``root`` (the pattern's source), in the controller's order."""
    _, matcher = parse(str(spec.get("pathPattern") or ""))
    artifacts = [a for a in spec.get("artifacts") or [] if isinstance(a, dict)]
    out: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for rel in _folders(root):
        match = matcher.match(rel)
        if match is None:
            continue
        raw = {k: v for k, v in match.groupdict().items()}
        lowered = {k: v.lower() for k, v in raw.items()}
        for name, value in lowered.items():
            if len(value) > 63 or not _LABEL_VALUE.match(value):
                raise PatternError(
                    f"captured value {value!r} for variable {name!r} is not a valid label value"
                )
        for artifact in artifacts:
            rendered = _render(artifact, lowered, raw)
            name = rendered["name"]
            if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
                raise PatternError(f"rendered artifact name {name!r} is not a valid Kubernetes object name")
            if name in seen:
                raise PatternError(
                    f"folders {seen[name]!r} and {rel!r} both resolve to artifact name {name!r}"
                )
            seen[name] = rel
            out.append(rendered)
    return out


def _folders(root: Path) -> list[str]:
    """Folders below ``root`` in filepath.WalkDir's order (lexical, depth first)."""
    out: list[str] = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root).as_posix()
        if rel != ".":
            out.append(rel)
    return out


def _render(
    artifact: Mapping[str, Any], lowered: Mapping[str, str], raw: Mapping[str, str]
) -> dict[str, Any]:
    out = dict(artifact)
    out["name"] = _template(str(artifact.get("name") or ""), lowered)
    copies = []
    for op in artifact.get("copy") or []:
        if not isinstance(op, dict):
            continue
        entry = {
            "from": _template(str(op.get("from") or ""), raw),
            "to": _template(str(op.get("to") or ""), raw),
        }
        for key in ("exclude", "strategy"):
            if op.get(key) is not None:
                entry[key] = op[key]
        copies.append(entry)
    out["copy"] = copies
    return out


def _template(text: str, values: Mapping[str, str]) -> str:
    out, i = "", 0
    while i < len(text):
        c = text[i]
        if c == "{":
            end = text.find("}", i + 1)
            if end < 0:
                raise PatternError(f"invalid template {text!r}: a capture is missing its closing brace")
            name = text[i + 1 : end]
            if name not in values:
                raise PatternError(
                    f"invalid template {text!r}: capture variable {name!r} is not defined by pathPattern"
                )
            out += values[name]
            i = end + 1
            continue
        if c == "}":
            raise PatternError(f"invalid template {text!r}: a capture is missing its opening brace")
        out += c
        i += 1
    return out
