"""Semantic versions and constraints as Masterminds/semver v3 reads them (Helm, Argo CD and Flux all use it).

Versions: an optional ``v``, one to three numbers (missing ones are 0), ``-prerelease``, ``+metadata``.
Constraints: ``||`` between alternatives, comparators joined by spaces or commas (all must hold), ``a - b``
ranges, operators ``= != > < >= => <= =< ~ ~> ^``, and ``x``/``X``/``*`` or missing parts as wildcards
(``1.2`` and ``1.2.x`` mean ``>=1.2.0 <1.3.0``). Pre-releases only match an alternative one of whose
comparators names a pre-release (``>=1.0.0-0``): the rule Flux documents.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_CV = (
    r"v?([0-9xX*]+)(\.[0-9xX*]+)?(\.[0-9xX*]+)?"
    r"(-([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?"
)
_OPS = r"=|!=|>|<|>=|=>|<=|=<|~|~>|\^"
_OPS_ORDERED = r"!=|>=|=>|<=|=<|~>|=|>|<|~|\^|"
_CONSTRAINT = re.compile(rf"^\s*({_OPS_ORDERED})\s*({_CV})\s*$")
_RANGE = re.compile(rf"\s*({_CV})\s+-\s+({_CV})\s*")
_FIND = re.compile(rf"({_OPS_ORDERED})\s*({_CV})")
_VALID = re.compile(rf"^(\s*({_OPS_ORDERED})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS_ORDERED})\s*({_CV})\s*)*$")
_VERSION = re.compile(
    r"^v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?"
    r"(?:-([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?"
    r"(?:\+([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?$"
)


class SemverError(ValueError):
    pass


@functools.total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: str = ""
    meta: str = ""
    original: str = ""

    @staticmethod
    def parse(text: str) -> Version:
        m = _VERSION.match(text.strip())
        if not m:
            raise SemverError(f"{text!r} is not a semantic version")
        pre = m.group(4) or ""
        for part in pre.split(".") if pre else ():
            if part.isdigit() and len(part) > 1 and part.startswith("0"):
                raise SemverError(f"{text!r}: a numeric pre-release part has a leading zero")
        return Version(
            int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), pre, m.group(5) or "", text.strip()
        )

    def _key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def compare(self, other: Version) -> int:
        if self._key() != other._key():
            return -1 if self._key() < other._key() else 1
        return _compare_pre(self.pre, other.pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.compare(other) == 0

    def __hash__(self) -> int:
        return hash((self._key(), self.pre))

    def __lt__(self, other: Version) -> bool:
        return self.compare(other) < 0

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += f"-{self.pre}"
        if self.meta:
            text += f"+{self.meta}"
        return text


def _compare_pre(a: str, b: str) -> int:
    if a == b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    pa, pb = a.split("."), b.split(".")
    for x, y in zip(pa, pb, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit():
            return -1
        if y.isdigit():
            return 1
        return -1 if x < y else 1
    return -1 if len(pa) < len(pb) else 1 if len(pa) > len(pb) else 0


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


@dataclass(frozen=True)
class _Comparator:
    op: str
    con: Version
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool

    @staticmethod
    def parse(text: str) -> _Comparator:
        m = _CONSTRAINT.match(text)
        if not m:
            raise SemverError(f"improper constraint: {text}")
        op, major, minor, patch, pre = m.group(1), m.group(3), m.group(4), m.group(5), m.group(6) or ""
        minor_dirty = patch_dirty = dirty = False
        if _is_x(major) or not major:
            ver, dirty = f"0.0.0{pre}", True
        elif not minor or _is_x(minor[1:]):
            ver, dirty, minor_dirty = f"{major}.0.0{pre}", True, True
        elif not patch or _is_x(patch[1:]):
            ver, dirty, patch_dirty = f"{major}{minor}.0{pre}", True, True
        else:
            ver = f"{major}{minor}{patch}{pre}"
        return _Comparator(op, Version.parse(ver), dirty, minor_dirty, patch_dirty)

    def check(self, v: Version, include_pre: bool) -> bool:
        if v.pre and not include_pre:
            return False
        return _OPERATORS[self.op](v, self)


def _tilde(v: Version, c: _Comparator) -> bool:
    if v < c.con:
        return False
    con = c.con
    if con._key() == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True
    if v.major != con.major:
        return False
    return not (v.minor != con.minor and not c.minor_dirty)


def _equal(v: Version, c: _Comparator) -> bool:
    return _tilde(v, c) if c.dirty else v == c.con


def _not_equal(v: Version, c: _Comparator) -> bool:
    con = c.con
    if c.dirty:
        if con.major != v.major:
            return True
        if con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            return bool((v.pre or con.pre) and _compare_pre(v.pre, con.pre) != 0)
    return v != con


def _greater(v: Version, c: _Comparator) -> bool:
    con = c.con
    if not c.dirty:
        return v.compare(con) > 0
    if v.major != con.major:
        return v.major > con.major
    if c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > con.minor
    return v.compare(con) > 0


def _less_equal(v: Version, c: _Comparator) -> bool:
    con = c.con
    if not c.dirty:
        return v.compare(con) <= 0
    if v.major > con.major:
        return False
    return not (v.major == con.major and v.minor > con.minor and not c.minor_dirty)


def _caret(v: Version, c: _Comparator) -> bool:
    con = c.con
    if v < con:
        return False
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if v.minor > 0:
        return False
    return v.patch == con.patch


_OPERATORS: dict[str, Callable[[Version, _Comparator], bool]] = {
    "": _equal,
    "=": _equal,
    "!=": _not_equal,
    ">": _greater,
    "<": lambda v, c: v.compare(c.con) < 0,
    ">=": lambda v, c: v.compare(c.con) >= 0,
    "=>": lambda v, c: v.compare(c.con) >= 0,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}


@dataclass(frozen=True)
class Constraint:
    text: str
    groups: tuple[tuple[_Comparator, ...], ...]
    group_has_pre: tuple[bool, ...]

    @staticmethod
    def parse(text: str) -> Constraint:
        rewritten = _RANGE.sub(lambda m: f">= {m.group(1)}, <= {m.group(9)}", text)
        groups: list[tuple[_Comparator, ...]] = []
        has_pre: list[bool] = []
        for part in rewritten.split("||"):
            if not part.strip():
                comparators: tuple[_Comparator, ...] = (
                    _Comparator("", Version(0, 0, 0), True, False, False),
                )
            else:
                if not _VALID.match(part):
                    raise SemverError(f"improper constraint: {part.strip()}")
                found = [m.group(0) for m in _FIND.finditer(part)] or [part]
                comparators = tuple(_Comparator.parse(f) for f in found)
            groups.append(comparators)
            has_pre.append(any(c.con.pre for c in comparators))
        return Constraint(text, tuple(groups), tuple(has_pre))

    def check(self, v: Version) -> bool:
        return any(
            all(c.check(v, pre) for c in group)
            for group, pre in zip(self.groups, self.group_has_pre, strict=True)
        )


def parse_versions(texts: Iterable[str]) -> list[tuple[Version, str]]:
    """(version, original text) for every text that parses; others are skipped, as Helm skips them."""
    out = []
    for text in texts:
        try:
            out.append((Version.parse(text), text))
        except SemverError:
            continue
    return out


def best_match(constraint: Constraint, texts: Iterable[str]) -> str | None:
    """The original text of the highest version satisfying ``constraint``."""
    matching = [(v, t) for v, t in parse_versions(texts) if constraint.check(v)]
    return max(matching, key=lambda p: p[0])[1] if matching else None


def nearest(texts: Iterable[str], wanted: str, count: int = 5) -> list[str]:
    """Versions to suggest when ``wanted`` is missing: the closest ones by version, newest first."""
    versions = parse_versions(texts)
    if not versions:
        return sorted(texts)[-count:]
    try:
        target = Version.parse(wanted.lstrip("=^~<>! "))
    except SemverError:
        return [t for _, t in sorted(versions, reverse=True)[:count]]

    def distance(v: Version) -> tuple[int, int, int]:
        return (abs(v.major - target.major), abs(v.minor - target.minor), abs(v.patch - target.patch))

    close = sorted(versions, key=lambda p: distance(p[0]))[:count]
    return [t for _, t in sorted(close, reverse=True)]


class NoMatch(SemverError):
    """No version satisfies the constraint; ``nearest`` are the versions to suggest (see :func:`nearest`)."""

    def __init__(self, constraint: str, nearest: list[str]):
        super().__init__(f"no version matches {constraint}")
        self.nearest = nearest


def pick(constraint: str, texts: Iterable[str]) -> str:
    """The original text of the highest version ``constraint`` accepts, as Helm, Argo CD and Flux pick a chart
    version, an OCI tag or a git tag. Raises SemverError for a constraint that does not parse, NoMatch when none
    matches."""
    candidates = list(texts)
    best = best_match(Constraint.parse(constraint), candidates)
    if best is None:
        raise NoMatch(constraint, nearest(candidates, constraint))
    return best
