"""gitops_check.gosemantics.globs against Go's path.Match and doublestar v4's Match on one corpus of patterns and names."""

from __future__ import annotations

import itertools

import pytest

from gitops_check.gosemantics import globs
from tests.differential import goref

PATTERNS = [
    "*", "a*", "*c", "a*c", "a?c", "?", "??", "a/*", "*/b", "a/*/c", "a/**", "**", "**/c", "a/**/c", "a**",
    "**c", "a/**b", "[abc]", "[a-c]x", "[^a]", "[!a]", "[^a-c]", "[]a]", "[]", "[^]", "[a-]", "[-a]", "[a",
    "a[", "[z-a]", "[a\\]]", "[\\]a]", "[\\-a]", "a\\*", "a\\", "\\a", "a\\?c", "[*]", "[?]", "{a,b}",
    "{a,b}/c", "x{a,{b,c}}", "{a", "a}", "{,a}", "*.yaml", "apps/*/config.json", "apps/**/*.yaml",
    "cluster-addons/*", "[[]", "[a-c-e]", "é*", "[é]", "*/", "/a", "a//b",
]  # fmt: skip
NAMES = [
    "", "a", "b", "c", "abc", "ac", "a/c", "a/b/c", "a/b", "a/x/y/c", "x/c", "]", "-", "a]", "*", "a*", "?",
    "a?c", "\\a", "x", "xa", "xb", "xc", "{a", "a}", "é", "éa", "config.yaml", "apps/x/config.json",
    "apps/x/y/config.json", "apps/a.yaml", "apps/x/y/z.yaml", "cluster-addons/argo", "cluster-addons/a/b", "[",
    "a/", "/a", "a//b", "ab/c",
]  # fmt: skip
CASES = [list(c) for c in itertools.product(PATTERNS, NAMES)]


def _ids(cases: list[list[str]]) -> list[str]:
    return [f"{p!r}~{n!r}" for p, n in cases]


@pytest.fixture(scope="module")
def path_match_results() -> list[dict[str, object]]:
    return goref.run("pathmatch", CASES)


@pytest.fixture(scope="module")
def doublestar_results() -> list[dict[str, object]]:
    return goref.run("doublestar", CASES)


def test_path_match_agrees_with_go(path_match_results: list[dict[str, object]]) -> None:
    wrong = []
    for (pattern, name), go in zip(CASES, path_match_results, strict=True):
        regex = globs.path_match_regex(pattern)
        ours = {"error": regex is None, "match": bool(regex and regex.fullmatch(name))}
        theirs = {"error": bool(go["error"]), "match": bool(go["match"]) and not go["error"]}
        if ours != theirs:
            wrong.append(f"path.Match({pattern!r}, {name!r}): Go {theirs}, ours {ours}")
    assert not wrong, "\n".join(wrong[:40])


def test_doublestar_agrees_with_go(doublestar_results: list[dict[str, object]]) -> None:
    wrong = []
    for (pattern, name), go in zip(CASES, doublestar_results, strict=True):
        regex = globs.doublestar_regex(pattern)
        ours = bool(regex and regex.fullmatch(name))
        theirs = bool(go["match"]) and not go["error"]
        if ours != theirs:
            wrong.append(f"doublestar.Match({pattern!r}, {name!r}): Go {theirs}, ours {ours}")
    assert not wrong, "\n".join(wrong[:40])
