"""The two glob dialects an ArtifactGenerator uses, as the Flux controller (source-watcher) applies them.

* ``from`` patterns go through Go's ``io/fs.Glob``: ``path.Match`` per path segment, so ``*`` never crosses a
  ``/`` and ``**`` is just ``*`` twice (one folder level: ``deploy/**`` lists the entries of ``deploy``, and the
  folders among them are then copied whole). Matches come folder by folder in lexical order.
* ``exclude`` patterns go through ``github.com/bmatcuk/doublestar/v4``: ``**`` as a whole segment spans any
  number of folders, ``{a,b}`` alternatives, ``[...]`` classes (``!`` or ``^`` negates).

Neither dialect treats a leading dot specially. Python's fnmatch does neither (its ``*`` crosses ``/``), so both
are translated to regular expressions here.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

GLOB_CHARS = "*?[]"  # what makes a ``from`` a pattern rather than a path (source-watcher's containsGlobChars)
MAX_ALTERNATION_COMMAS = 20  # source-watcher bounds {a,b,...} expansion the same way


class BadPattern(ValueError):
    """A pattern Go or doublestar would refuse (``syntax error in pattern``)."""


def has_glob(path: str) -> bool:
    return any(c in path for c in GLOB_CHARS)


def _has_meta(path: str) -> bool:
    """Go's ``hasMeta`` (io/fs): the characters ``path.Match`` gives a meaning to."""
    return any(c in path for c in "*?[\\")


def _class(pattern: str, i: int, negators: str) -> tuple[str, int]:
    """The character class starting after ``[`` at ``i``: (regex, index after ``]``)."""
    out = "["
    if i < len(pattern) and pattern[i] in negators:
        out += "^"
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        c = pattern[i]
        if c == "\\":
            i += 1
            if i >= len(pattern):
                raise BadPattern("unterminated escape in a character class")
            c = pattern[i]
        elif c == "/":
            raise BadPattern("a character class cannot hold /")
        out += "-" if c == "-" else re.escape(c)
        i += 1
    if i >= len(pattern) or out in ("[", "[^"):
        raise BadPattern("unterminated or empty character class")
    return out + "]", i + 1


@lru_cache(maxsize=256)
def _segment_regex(pattern: str) -> re.Pattern[str]:
    """Go's ``path.Match`` for one segment (no ``/`` in ``pattern``)."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            cls, i = _class(pattern, i + 1, "^")
            out += cls
            continue
        elif c == "\\":
            i += 1
            if i >= len(pattern):
                raise BadPattern("trailing backslash")
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + r"\Z", re.DOTALL)


def go_glob(root: Path, pattern: str) -> list[str]:
    """``fs.Glob(os.DirFS(root), pattern)``: root-relative posix paths, folder by folder in lexical order.

    Raises BadPattern for a malformed pattern; a folder that cannot be read matches nothing (as in Go).
    """
    if not _has_meta(pattern):
        return [pattern] if _exists(root, pattern) else []
    folder, _, name = pattern.rpartition("/")
    folder = folder or "."
    if not _has_meta(folder):
        return _glob_in(root, folder, name)
    if folder == pattern:
        raise BadPattern(pattern)
    out: list[str] = []
    for match in go_glob(root, folder):
        out.extend(_glob_in(root, match, name))
    return out


def _glob_in(root: Path, folder: str, name: str) -> list[str]:
    regex = _segment_regex(name)  # raises for a bad pattern even when the folder is missing, like Go
    try:
        entries = sorted(os.listdir(root / folder)) if (root / folder).is_dir() else []
    except OSError:
        return []
    return [n if folder == "." else f"{folder}/{n}" for n in entries if regex.match(n)]


def _exists(root: Path, rel: str) -> bool:
    return os.path.lexists(root / rel)


# ---------------------------------------------------------------------------------------------------------------
# doublestar (exclude patterns)


def check_alternations(pattern: str) -> None:
    """source-watcher refuses patterns with more than 20 alternatives in ``{}`` groups."""
    commas = depth = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
        elif c == "{":
            depth += 1
        elif c == "}" and depth:
            depth -= 1
        elif c == "," and depth:
            commas += 1
        i += 1
    if commas > MAX_ALTERNATION_COMMAS:
        raise BadPattern(
            f"{commas} alternatives in '{{}}' groups, at most {MAX_ALTERNATION_COMMAS} are allowed"
        )


@lru_cache(maxsize=256)
def doublestar_regex(pattern: str) -> re.Pattern[str]:
    """doublestar's ``Match`` as a regular expression over a posix path."""
    body, end = _ds(pattern, 0, top=True)
    if end != len(pattern):
        raise BadPattern(pattern)
    return re.compile(body + r"\Z", re.DOTALL)


def _ds(p: str, i: int, *, top: bool) -> tuple[str, int]:
    out = ""
    while i < len(p):
        c = p[i]
        if not top and c in ",}":
            return out, i
        if c == "*":
            if (
                p.startswith("**", i)
                and (i == 0 or p[i - 1] == "/")
                and (i + 2 == len(p) or p[i + 2] in "/,}")
            ):
                after = i + 2
                if after < len(p) and p[after] == "/":
                    out += "(?:[^/]*(?:/[^/]*)*/)?"  # "**/": any number of whole folders, none included
                    i = after + 1
                    continue
                if out.endswith("/"):
                    out = out[:-1] + "(?:/.*)?"  # "a/**": a itself and everything below it
                else:
                    out += ".*"
                i = after
                continue
            while i < len(p) and p[i] == "*":
                i += 1
            out += "[^/]*"
            continue
        if c == "?":
            out += "[^/]"
        elif c == "[":
            cls, i = _class(p, i + 1, "!^")
            out += cls
            continue
        elif c == "{":
            alternatives = []
            i += 1
            while True:
                part, i = _ds(p, i, top=False)
                alternatives.append(part)
                if i >= len(p):
                    raise BadPattern("unterminated {")
                if p[i] == "}":
                    i += 1
                    break
                i += 1  # ","
            out += "(?:" + "|".join(alternatives) + ")"
            continue
        elif c == "\\":
            i += 1
            if i >= len(p):
                raise BadPattern("trailing backslash")
            out += re.escape(p[i])
        else:
            out += re.escape(c)
        i += 1
    return out, i


def doublestar_match(pattern: str, path: str) -> bool:
    return doublestar_regex(pattern).match(path) is not None
