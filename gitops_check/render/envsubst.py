"""Flux's post-build variable substitution language (``${var}``, ``${var:=default}``, ``$${var}``, bash string functions).

kustomize-controller runs ``github.com/fluxcd/pkg/envsubst`` (a fork of drone/envsubst) over the YAML of every
built object. Its rules are not bash's and not Python's ``string.Template``, and the differences decide what
lands in the cluster, so this is a port (parser in render/envsubst_parse.py), quirks included:

* only ``${...}`` is an expression; ``$var`` stays as written; ``$$`` outside an expression becomes ``$`` (so
  ``$${var}`` gives ``${var}``); backslashes are literal outside expressions;
* undefined variables become empty strings (strict mode, Flux's ``StrictPostBuildSubstitutions`` feature gate,
  fails on them unless the expression supplies a default);
* ``${var-x}``, ``${var.x}`` and other unknown forms are errors ("missing closing brace"), while ``=``, ``:=``,
  ``:-`` (and ``:?``, ``:+``) all mean "this default when the value is empty";
* ``#``/``%`` patterns are globs where ``*`` also matches ``/``; ``/`` replacements are plain substrings;
  lengths and offsets count bytes, as Go does.

Errors never quote variable values (they may come from Secrets).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gitops_check.gosemantics import globs
from gitops_check.render.envsubst_parse import Node, SubstitutionError, Text, parse

# The controller refuses variable names that do not match this (``^[_[:alpha:]][_[:alpha:][:digit:]]*$``).
VAR_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*\Z")
_DEFAULT_OPS = frozenset({"-", "+", "=", "?", ":-", ":+", ":=", ":?"})

__all__ = ["VAR_NAME", "SubstitutionError", "substitute"]


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


Lookup = Callable[[str], "str | None"]


def substitute(text: str, lookup: Lookup, *, strict: bool = False) -> tuple[str, set[str]]:
    """``text`` with every ``${...}`` expanded; also the names of the variables it read.

    ``lookup`` returns None for an undefined variable: empty in normal mode, an error in strict mode (unless the
    expression supplies a default).
    """
    if "$" not in text:
        return text, set()  # nothing to expand and no "$$" to unescape
    used: set[str] = set()
    nodes = parse(text)
    out = "".join(_eval(n, lookup, strict, used) for n in nodes)
    return out, used


def _eval(node: Node, lookup: Lookup, strict: bool, used: set[str]) -> str:
    if isinstance(node, Text):
        return node.value
    args = [_eval(a, lookup, strict, used) for a in node.args]
    used.add(node.param)
    value = lookup(node.param)
    if value is None:
        if strict and node.name not in _DEFAULT_OPS:
            raise SubstitutionError(f"variable not set (strict mode): {node.param!r}")
        value = ""
    return _apply(node.name, value, args)


def _apply(name: str, s: str, args: list[str]) -> str:
    if name == ",":
        return s[:1].lower() + s[1:]
    if name == ",,":
        return s.lower()
    if name == "^":
        return s[:1].upper() + s[1:]
    if name == "^^":
        return s.upper()
    if name == "#":
        return str(len(s.encode())) if not args else _trim_prefix(s, args[0], longest=False)
    if name == "##":
        return _trim_prefix(s, args[0], longest=True) if args else s
    if name == "%":
        return _trim_suffix(s, args[0], longest=False) if args else s
    if name == "%%":
        return _trim_suffix(s, args[0], longest=True) if args else s
    if name == ":":
        return _substr(s, args)
    if name == "/#":
        return args[1] + s[len(args[0]) :] if len(args) == 2 and s.startswith(args[0]) else s
    if name == "/%":
        return s[: len(s) - len(args[0])] + args[1] if len(args) == 2 and s.endswith(args[0]) else s
    if name in ("/", "//"):
        if not args:
            return s
        new = args[1] if len(args) > 1 else ""
        return (
            s.replace(args[0], new, 1 if name == "/" else -1) if args[0] else _go_replace_empty(s, new, name)
        )
    # Every default form, and any other name: the value, or the arguments joined when it is empty.
    return "".join(args) if not s and args else s


def _go_replace_empty(s: str, new: str, name: str) -> str:
    """Go's strings.Replace with an empty old string inserts ``new`` before every character (once for ``/``)."""
    if name == "/":
        return new + s
    return new + new.join(s) + new if s else new


def _substr(s: str, args: list[str]) -> str:
    data = s.encode()
    pos = _atoi(args[0]) if args else None
    if pos is None:
        return s
    if pos < 0:
        pos = max(0, len(data) + pos)
    if len(args) == 1:
        return data[pos:].decode(errors="replace") if pos < len(data) else ""
    length = _atoi(args[1])
    if length is None:
        return s
    if length < 0:
        end = len(data) + length
        return data[pos:end].decode(errors="replace") if end >= pos else ""
    if pos + length >= len(data):
        return data[pos:].decode(errors="replace") if pos < len(data) else ""
    return data[pos : pos + length].decode(errors="replace")


def _atoi(text: str) -> int | None:
    """Go's strconv.Atoi: optional sign and ASCII digits only."""
    if re.fullmatch(r"[+-]?[0-9]+", text):
        return int(text)
    return None


def _trim_prefix(s: str, pattern: str, *, longest: bool) -> str:
    regex = _glob(pattern)
    if regex is None:
        return s
    shortest = ""
    for i in range(len(s)):  # candidate prefixes, longest first; the empty prefix is never tried
        candidate = s[: len(s) - i]
        if regex.fullmatch(candidate):
            if longest:
                return s[len(candidate) :]
            shortest = candidate
    return s[len(shortest) :] if shortest else s


def _trim_suffix(s: str, pattern: str, *, longest: bool) -> str:
    # Flux reverses both the value and the pattern and trims a prefix, quirks of reversed patterns included.
    return _trim_prefix(s[::-1], pattern[::-1], longest=longest)[::-1]


def _glob(pattern: str) -> re.Pattern[str] | None:
    """Flux's copy of path.Match, where ``*`` and ``?`` also match ``/``; None when malformed (ErrBadPattern)."""
    return globs.path_match_regex(pattern, slash_separates=False)
