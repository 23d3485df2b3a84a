"""Flux's post-build variable substitution language (``${var}``, ``${var:=default}``, ``$${var}``, bash string functions).

kustomize-controller runs ``github.com/fluxcd/pkg/envsubst`` (a fork of drone/envsubst) over the YAML of every
built object. Its rules are not bash's and not Python's ``string.Template``, and the differences decide what
lands in the cluster, so this is a port of its scanner and parser, quirks included:

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
from dataclasses import dataclass, field
from functools import lru_cache

# The controller refuses variable names that do not match this (``^[_[:alpha:]][_[:alpha:][:digit:]]*$``).
VAR_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*\Z")

_EOF = "\x00"  # Go's scanner returns rune(0) at the end, so a NUL in the text also ends a token
_SCAN_IDENT, _SCAN_LBRACK, _SCAN_RBRACK, _SCAN_ESCAPE = 1, 2, 4, 8
_DOLLAR, _BACKSLASH = 1, 2
_T_ILLEGAL, _T_EOF, _T_IDENT, _T_LBRACK, _T_RBRACK = range(5)
_DEFAULT_OPS = frozenset({"-", "+", "=", "?", ":-", ":+", ":=", ":?"})


class SubstitutionError(Exception):
    """The text is not a valid template, or (strict mode) a variable has no value. The message names no value."""


# ---------------------------------------------------------------------------------------------------------------
# Syntax tree


@dataclass
class _Text:
    value: str


@dataclass
class _Func:
    param: str = ""
    name: str = ""
    args: list[_Node] = field(default_factory=list)


_Node = _Text | _Func
Accept = Callable[[str, int], bool]


# ---------------------------------------------------------------------------------------------------------------
# Scanner: a faithful port (positions, widths and the in-place removal of escape characters)


class _Scanner:
    def __init__(self, buf: str):
        self.buf = buf
        self.pos = 0
        self.start = 0
        self.width = 0
        self.mode = 0
        self.escape_chars = 0
        self.accept: Accept = _accept_rune

    def read(self) -> str:
        if self.pos >= len(self.buf):
            self.width = 0
            return _EOF
        r = self.buf[self.pos]
        self.width = 1
        self.pos += 1
        return r

    def unread(self) -> None:
        self.pos -= self.width

    def skip(self) -> None:
        """Drop the character just read from the buffer; the next one becomes part of the token."""
        self.buf = self.buf[: self.pos - 1] + self.buf[self.pos :]

    def peek(self) -> str:
        r = self.read()
        self.unread()
        return r

    def string(self) -> str:
        return self.buf[self.start : self.pos]

    def scan(self) -> int:
        self.start = self.pos
        r = self.read()
        if r == _EOF:
            return _T_EOF
        if self.scan_lbrack(r):
            return _T_LBRACK
        if self.scan_rbrack(r):
            return _T_RBRACK
        if self.scan_ident(r):
            return _T_IDENT
        return _T_ILLEGAL

    def scan_ident(self, r: str) -> bool:
        if not self.mode & _SCAN_IDENT:
            return False
        if self.scan_escaped(r):
            self.skip()
        elif not self.accept(r, self.pos - self.start):
            return False
        while True:
            r = self.read()
            if r == _EOF:
                self.unread()
                break
            if self.scan_lbrack(r):
                self.unread()
                self.unread()
                break
            if self.scan_escaped(r):
                self.skip()
                continue
            if not self.accept(r, self.pos - self.start):
                self.unread()
                break
        return True

    def scan_lbrack(self, r: str) -> bool:
        if not self.mode & _SCAN_LBRACK:
            return False
        if r == "$":
            if self.read() == "{":
                return True
            self.unread()
        return False

    def scan_rbrack(self, r: str) -> bool:
        return bool(self.mode & _SCAN_RBRACK) and r == "}"

    def scan_escaped(self, r: str) -> bool:
        if not self.mode & _SCAN_ESCAPE:
            return False
        if r == "$" and self.escape_chars & _DOLLAR and self.peek() == "$":
            return True
        return r == "\\" and bool(self.escape_chars & _BACKSLASH) and self.peek() in ("/", "\\")


def _accept_rune(r: str, i: int) -> bool:
    return True


def _accept_ident(r: str, i: int) -> bool:
    return r.isalpha() or r.isdecimal() or r == "_"


def _accept_colon(r: str, i: int) -> bool:
    return r == ":"


def _accept_one_hash(r: str, i: int) -> bool:
    return r == "#" and i == 1


def _accept_not_closing(r: str, i: int) -> bool:
    return r != "}"


def _accept_hash_func(r: str, i: int) -> bool:
    return r == "#" and i < 3


def _accept_percent_func(r: str, i: int) -> bool:
    return r == "%" and i < 3


def _accept_default_func(r: str, i: int) -> bool:
    return (i == 1 and r == ":") or (i == 2 and r in "=-?+")


def _accept_replace_func(r: str, i: int) -> bool:
    return (i == 1 and r == "/") or (i == 2 and r in "/#%")


def _accept_one_equal(r: str, i: int) -> bool:
    return i == 1 and r == "="


def _accept_one_colon(r: str, i: int) -> bool:
    return i == 1 and r == ":"


def _reject_colon_close(r: str, i: int) -> bool:
    return r not in ":}"


def _accept_slash(r: str, i: int) -> bool:
    return r == "/"


def _accept_not_slash(r: str, i: int) -> bool:
    return r != "/"


def _accept_casing_func(r: str, i: int) -> bool:
    return r in ",^" and i < 3


# ---------------------------------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str):
        self.s = _Scanner(text)

    def parse(self) -> list[_Node]:
        nodes: list[_Node] = []
        while True:  # Go recurses once per token; a loop gives the same list without a depth limit
            s = self.s
            s.accept = _accept_rune
            s.mode = _SCAN_IDENT | _SCAN_LBRACK | _SCAN_ESCAPE
            s.escape_chars = _DOLLAR
            token = s.scan()
            if token == _T_IDENT:
                nodes.append(_Text(s.string()))
            elif token == _T_EOF:
                return nodes
            elif token == _T_LBRACK:
                nodes.append(self.func())
            else:
                raise SubstitutionError("bad substitution")

    def func(self) -> _Node:
        s = self.s
        s.escape_chars = _DOLLAR | _BACKSLASH
        if s.peek() == "#":
            return self.len_func()
        s.accept = _accept_ident
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("unable to parse variable name")
        name = s.string()
        nxt = s.peek()
        if nxt == ":":
            return self.default_or_substr(name)
        if nxt == "=":
            return self.default_func(name)
        if nxt in (",", "^"):
            return self.casing_func(name)
        if nxt == "/":
            return self.replace_func(name)
        if nxt == "#":
            return self.remove_func(name, _accept_hash_func)
        if nxt == "%":
            return self.remove_func(name, _accept_percent_func)
        s.accept = _accept_ident
        s.mode = _SCAN_RBRACK
        if s.scan() == _T_RBRACK:
            return _Func(param=name)
        raise SubstitutionError("missing closing brace")

    def param(self, accept: Accept, mode: int) -> _Node:
        s = self.s
        s.accept = accept
        s.mode = mode | _SCAN_LBRACK
        token = s.scan()
        if token == _T_LBRACK:
            return self.func()
        if token in (_T_IDENT, _T_RBRACK):
            return _Text(s.string())
        raise SubstitutionError("unable to parse substitution within function")

    def default_or_substr(self, name: str) -> _Node:
        s = self.s
        s.read()
        r = s.peek()
        s.unread()
        if r in ("=", "-", "?", "+"):
            return self.default_func(name)
        return self.substr_func(name)

    def substr_func(self, name: str) -> _Node:
        s = self.s
        node = _Func(param=name)
        s.accept = _accept_one_colon
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("bad substitution")
        node.name = s.string()
        node.args.append(self.param(_reject_colon_close, _SCAN_IDENT))
        s.accept = _accept_colon
        s.mode = _SCAN_IDENT | _SCAN_RBRACK
        token = s.scan()
        if token == _T_RBRACK:
            return node
        if token != _T_IDENT:
            raise SubstitutionError("bad substitution")
        node.args.append(self.param(_accept_not_closing, _SCAN_IDENT))
        self.consume_rbrack()
        return node

    def remove_func(self, name: str, accept: Accept) -> _Node:
        s = self.s
        node = _Func(param=name)
        s.accept = accept
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("bad substitution")
        node.name = s.string()
        node.args.append(self.param(_accept_not_closing, _SCAN_IDENT))
        self.consume_rbrack()
        return node

    def replace_func(self, name: str) -> _Node:
        s = self.s
        node = _Func(param=name)
        s.accept = _accept_replace_func
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("bad substitution")
        node.name = s.string()
        if s.peek() == "/":
            node.args.append(_Text(""))  # an empty pattern: ${var/#/prefix}
        else:
            node.args.append(self.param(_accept_not_slash, _SCAN_IDENT | _SCAN_ESCAPE))
        s.accept = _accept_slash
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("bad substitution")
        if s.peek() == "}":
            self.consume_rbrack()
            return node
        node.args.append(self.param(_accept_not_closing, _SCAN_IDENT | _SCAN_ESCAPE))
        self.consume_rbrack()
        return node

    def default_func(self, name: str) -> _Node:
        s = self.s
        node = _Func(param=name)
        s.accept = _accept_one_equal if s.peek() == "=" else _accept_default_func
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("unable to parse default function")
        node.name = s.string()
        while True:
            if s.peek() == "}":
                self.consume_rbrack()
                return node
            node.args.append(self.param(_accept_not_closing, _SCAN_IDENT))

    def casing_func(self, name: str) -> _Node:
        s = self.s
        node = _Func(param=name)
        s.accept = _accept_casing_func
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("bad substitution")
        node.name = s.string()
        self.consume_rbrack()
        return node

    def len_func(self) -> _Node:
        s = self.s
        node = _Func()
        s.accept = _accept_one_hash
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("bad substitution")
        node.name = s.string()
        s.accept = _accept_ident
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("bad substitution")
        node.param = s.string()
        self.consume_rbrack()
        return node

    def consume_rbrack(self) -> None:
        self.s.mode = _SCAN_RBRACK
        if self.s.scan() != _T_RBRACK:
            raise SubstitutionError("bad substitution")


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


Lookup = Callable[[str], "str | None"]


def substitute(text: str, lookup: Lookup, *, strict: bool = False) -> tuple[str, set[str]]:
    """``text`` with every ``${...}`` expanded; also the names of the variables it read.

    ``lookup`` returns None for an undefined variable: empty in normal mode, an error in strict mode (unless the
    expression supplies a default).
    """
    used: set[str] = set()
    nodes = _Parser(text).parse()
    out = "".join(_eval(n, lookup, strict, used) for n in nodes)
    return out, used


def _eval(node: _Node, lookup: Lookup, strict: bool, used: set[str]) -> str:
    if isinstance(node, _Text):
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


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str] | None:
    """A shell pattern where ``*`` and ``?`` also match ``/``; None when it is malformed (Go: ErrBadPattern)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\":
            if i + 1 >= len(pattern):
                return None
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                return None
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            if not body:
                return None
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return None
