"""Go's glob languages as Python regular expressions, one translator for all of them.

* ``path.Match`` (Go's standard library; Argo CD's git directories generator): ``*`` and ``?`` stop at ``/``,
  ``[...]`` classes with ``^`` negation, ranges and backslash escapes, and a malformed pattern (``[]a]``, ``[a-]``,
  a trailing backslash, an unterminated class) is an error, never a literal;
* Flux's envsubst copy of it (``${var#pattern}``), where ``*`` and ``?`` also match ``/``;
* doublestar v4 (``newGitFileGlobbing``): path.Match's segments plus ``**`` for any number of folders, ``{a,b}``
  alternatives and ``!`` as a second negation sign.

Each returns None for a pattern Go rejects (ErrBadPattern); callers treat that as "matches nothing", as the
Go callers do. tests/differential/test_globs.py checks them against the Go originals.
"""

from __future__ import annotations

import re
from functools import lru_cache


class _Bad(ValueError):
    pass


def _class(pattern: str, i: int) -> tuple[str, int]:
    """path.Match's class starting after ``[`` at ``i``: (regex, index after ``]``)."""
    negated = i < len(pattern) and pattern[i] == "^"
    if negated:
        i += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            i += 1
            break
        lo, i = _class_char(pattern, i)
        hi = lo
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
        ranges.append((lo, hi))
    usable = [(lo, hi) for lo, hi in ranges if lo <= hi]  # Go accepts z-a and never matches it
    if not usable:
        return ("(?s:.)" if negated else "(?!)"), i
    body = "".join(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}" for lo, hi in usable)
    return f"[{'^' if negated else ''}{body}]", i


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """Go's getEsc: one (possibly escaped) character of a class, which must not end the pattern."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise _Bad
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise _Bad
    if i + 1 >= len(pattern):
        raise _Bad  # nothing after it: the class is never closed
    return pattern[i], i + 1


def _doublestar_class(pattern: str, i: int) -> tuple[str, int]:
    """doublestar's class: ``-`` is literal at either end, a range resets (``a-c-e`` is a-c, ``-``, ``e``)."""
    if i >= len(pattern):
        raise _Bad
    negated = pattern[i] in "!^"
    if negated:
        i += 1
    if i >= len(pattern) or pattern[i] == "]":
        raise _Bad
    items: list[tuple[str, str]] = []
    last: str | None = None
    while i < len(pattern) and pattern[i] != "]":
        c = pattern[i]
        i += 1
        if last is not None and c == "-" and i < len(pattern) and pattern[i] != "]":
            if pattern[i] == "\\":
                i += 1
            if i >= len(pattern):
                raise _Bad
            items.append((last, pattern[i]))
            i += 1
            last = None
            continue
        if c == "\\":
            if i >= len(pattern):
                raise _Bad
            c = pattern[i]
            i += 1
        items.append((c, c))
        last = c
    if i >= len(pattern):
        raise _Bad
    usable = [(lo, hi) for lo, hi in items if lo <= hi]
    if not usable:
        return ("(?s:.)" if negated else "(?!)"), i + 1
    body = "".join(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}" for lo, hi in usable)
    return f"[{'^' if negated else ''}{body}]", i + 1


def _segment(pattern: str, *, star: str, single: str, doublestar: bool = False) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(star)
        elif c == "?":
            out.append(single)
        elif c == "\\":
            i += 1
            if i >= len(pattern):
                raise _Bad
            out.append(re.escape(pattern[i]))
        elif c == "[":
            regex, i = _doublestar_class(pattern, i + 1) if doublestar else _class(pattern, i + 1)
            out.append(regex)
            continue
        elif c == "{" and doublestar:
            end = _closing_brace(pattern, i)
            options = _split_alternatives(pattern[i + 1 : end])
            parts = [_segment(o, star=star, single=single, doublestar=True) for o in options]
            out.append("(?:" + "|".join(parts) + ")")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _closing_brace(pattern: str, start: int) -> int:
    depth = 0
    i = start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise _Bad


def _split_alternatives(body: str) -> list[str]:
    out, depth, start, i = [], 0, 0, 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            i += 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(body[start:i])
            start = i + 1
        i += 1
    out.append(body[start:])
    return out


# Constant caches: pure functions of the pattern, so runs may share them.
@lru_cache(maxsize=512)
def path_match_regex(pattern: str, *, slash_separates: bool = True) -> re.Pattern[str] | None:
    """Go's ``path.Match`` (``slash_separates=False``: Flux envsubst's copy, where ``*``/``?`` cross ``/``)."""
    star, single = ("[^/]*", "[^/]") if slash_separates else (".*", ".")
    try:
        return re.compile(_segment(pattern, star=star, single=single), re.DOTALL)
    except _Bad:
        return None


def path_match(pattern: str, name: str) -> bool:
    """``path.Match(pattern, name)``; a malformed pattern matches nothing."""
    regex = path_match_regex(pattern)
    return bool(regex and regex.fullmatch(name))


@lru_cache(maxsize=512)
def doublestar_regex(pattern: str) -> re.Pattern[str] | None:
    """doublestar v4's ``Match``: ``**`` alone in a segment spans any number of folders (zero included)."""
    parts = pattern.split("/")
    out = ""
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "**" and last:
                # a trailing /** also matches the folder itself
                out = out[:-1] + "(?:/.*)?" if out.endswith("/") else out + ".*"
            elif part == "**":
                out += "(?:.*/)?"
            else:
                out += _segment(part, star="[^/]*", single="[^/]", doublestar=True) + ("" if last else "/")
        return re.compile(out, re.DOTALL)
    except _Bad:
        return None
