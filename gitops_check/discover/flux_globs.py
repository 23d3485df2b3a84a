"""The two glob dialects an ArtifactGenerator uses, as the Flux controller (source-watcher) applies them.

* ``from`` patterns go through Go's ``io/fs.Glob``: ``path.Match`` per path segment, so ``*`` never crosses a
  ``/`` and ``**`` is just ``*`` twice (one folder level: ``deploy/**`` lists the entries of ``deploy``, and the
  folders among them are then copied whole). Matches come folder by folder in lexical order.
* ``exclude`` patterns go through ``github.com/bmatcuk/doublestar/v4``: ``**`` as a whole segment spans any
  number of folders, ``{a,b}`` alternatives, ``[...]`` classes (``!`` or ``^`` negates).

Neither dialect treats a leading dot specially. The translations to regular expressions are
gitops_check.gosemantics.globs' (checked against the Go originals); this module adds fs.Glob's folder-by-folder walk.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gitops_check.gosemantics import globs

GLOB_CHARS = "*?[]"  # what makes a ``from`` a pattern rather than a path (source-watcher's containsGlobChars)
MAX_ALTERNATION_COMMAS = 20  # source-watcher bounds {a,b,...} expansion the same way


class BadPattern(ValueError):
    """A pattern Go or doublestar would refuse (``syntax error in pattern``)."""


def has_glob(path: str) -> bool:
    return any(c in path for c in GLOB_CHARS)


def _has_meta(path: str) -> bool:
    """Go's ``hasMeta`` (io/fs): the characters ``path.Match`` gives a meaning to."""
    return any(c in path for c in "*?[\\")


def _segment_regex(pattern: str) -> re.Pattern[str]:
    """Go's ``path.Match`` for one segment; BadPattern where Go returns ErrBadPattern."""
    regex = globs.path_match_regex(pattern)
    if regex is None:
        raise BadPattern(pattern)
    return regex


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
    return [n if folder == "." else f"{folder}/{n}" for n in entries if regex.fullmatch(n)]


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


def doublestar_regex(pattern: str) -> re.Pattern[str]:
    """doublestar's ``Match`` as a regular expression over a posix path (use ``fullmatch``)."""
    regex = globs.doublestar_regex(pattern)
    if regex is None:
        raise BadPattern(pattern)
    return regex


def doublestar_match(pattern: str, path: str) -> bool:
    return doublestar_regex(pattern).fullmatch(path) is not None
