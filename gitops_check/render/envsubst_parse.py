"""The scanner and parser of Flux's substitution language: a port of fluxcd/pkg/envsubst/parse.

Kept apart from evaluation (render/envsubst.py) because it is where Flux's quirks live: which characters end a
name, that ``$$`` drops one ``$`` outside expressions (the escape character is removed from the buffer and the
next one kept), that backslashes escape only ``/`` and ``\\`` and only inside replacement patterns.
Positions, read widths and the in-place removal of escape characters follow the Go scanner exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

_EOF = "\x00"  # Go's scanner returns rune(0) at the end, so a NUL in the text also ends a token
_SCAN_IDENT, _SCAN_LBRACK, _SCAN_RBRACK, _SCAN_ESCAPE = 1, 2, 4, 8
_DOLLAR, _BACKSLASH = 1, 2
_T_ILLEGAL, _T_EOF, _T_IDENT, _T_LBRACK, _T_RBRACK = range(5)


class SubstitutionError(Exception):
    """The text is not a valid template, or (strict mode) a variable has no value. The message names no value."""


# ---------------------------------------------------------------------------------------------------------------
# Syntax tree


@dataclass
class Text:
    value: str


@dataclass
class Func:
    param: str = ""
    name: str = ""
    args: list[Node] = field(default_factory=list)


Node = Text | Func
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
        # Go removes an escape character from the buffer; positions here never shift: removed ones are listed
        # (for the current token) and left out of its text, which keeps long documents linear.
        self.removed: list[int] = []
        self.has_nul = _EOF in buf

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
        """Drop the character just read; the next one becomes part of the token (Go: removed from the buffer)."""
        self.removed.append(self.pos - 1)
        self.pos += 1

    def peek(self) -> str:
        r = self.read()
        self.unread()
        return r

    def string(self) -> str:
        if not self.removed:
            return self.buf[self.start : self.pos]
        parts, i = [], self.start
        for r in self.removed:
            parts.append(self.buf[i:r])
            i = r + 1
        parts.append(self.buf[i : self.pos])
        return "".join(parts)

    def scan(self) -> int:
        self.start = self.pos
        self.removed = []
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
            if self.accept is _accept_rune:
                # Top-level text accepts everything; only "$" (and the NUL that ends Go's scanner) needs a look.
                # Jumping to the next one is what reading character by character would do, in one step.
                stop = _next_special(self.buf, self.pos, self.has_nul)
                if stop > self.pos:
                    self.pos, self.width = stop, 1
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


def _next_special(buf: str, pos: int, has_nul: bool) -> int:
    found = [i for i in (buf.find("$", pos), buf.find(_EOF, pos) if has_nul else -1) if i >= 0]
    return min(found) if found else len(buf)


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

    def parse(self) -> list[Node]:
        nodes: list[Node] = []
        while True:  # Go recurses once per token; a loop gives the same list without a depth limit
            s = self.s
            s.accept = _accept_rune
            s.mode = _SCAN_IDENT | _SCAN_LBRACK | _SCAN_ESCAPE
            s.escape_chars = _DOLLAR
            token = s.scan()
            if token == _T_IDENT:
                nodes.append(Text(s.string()))
            elif token == _T_EOF:
                return nodes
            elif token == _T_LBRACK:
                nodes.append(self.func())
            else:
                raise SubstitutionError("bad substitution")

    def func(self) -> Node:
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
            return Func(param=name)
        raise SubstitutionError("missing closing brace")

    def param(self, accept: Accept, mode: int) -> Node:
        s = self.s
        s.accept = accept
        s.mode = mode | _SCAN_LBRACK
        token = s.scan()
        if token == _T_LBRACK:
            return self.func()
        if token in (_T_IDENT, _T_RBRACK):
            return Text(s.string())
        raise SubstitutionError("unable to parse substitution within function")

    def default_or_substr(self, name: str) -> Node:
        s = self.s
        s.read()
        r = s.peek()
        s.unread()
        if r in ("=", "-", "?", "+"):
            return self.default_func(name)
        return self.substr_func(name)

    def substr_func(self, name: str) -> Node:
        s = self.s
        node = Func(param=name)
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

    def remove_func(self, name: str, accept: Accept) -> Node:
        s = self.s
        node = Func(param=name)
        s.accept = accept
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("bad substitution")
        node.name = s.string()
        node.args.append(self.param(_accept_not_closing, _SCAN_IDENT))
        self.consume_rbrack()
        return node

    def replace_func(self, name: str) -> Node:
        s = self.s
        node = Func(param=name)
        s.accept = _accept_replace_func
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("bad substitution")
        node.name = s.string()
        if s.peek() == "/":
            node.args.append(Text(""))  # an empty pattern: ${var/#/prefix}
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

    def default_func(self, name: str) -> Node:
        s = self.s
        node = Func(param=name)
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

    def casing_func(self, name: str) -> Node:
        s = self.s
        node = Func(param=name)
        s.accept = _accept_casing_func
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            raise SubstitutionError("bad substitution")
        node.name = s.string()
        self.consume_rbrack()
        return node

    def len_func(self) -> Node:
        s = self.s
        node = Func()
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


def parse(text: str) -> list[Node]:
    """The template's text and expressions, in order; raises SubstitutionError."""
    return _Parser(text).parse()
