"""Go's reading of YAML scalars (sigs.k8s.io/yaml over go-yaml v2), which every GitOps tool and the API server use.

PyYAML follows YAML 1.1: ``12:30`` is the sexagesimal number 750, ``1e3`` stays a string, ``y`` is a string.
go-yaml v2 reads ``12:30`` as a string, ``1e3`` as 1000, ``y``/``n`` as booleans, Go integer syntax
(``0o17``, ``0x1F``, ``1_000``), and sigs.k8s.io/yaml then turns the result into JSON: map keys become strings,
numbers are JSON numbers (an integral float is written without a fraction, so ``1.0`` reads back as 1), and
infinities or NaN are refused. These functions reproduce that, value for value; tests/test_goyaml.py checks
them against the Go original on a corpus of tricky scalars.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from decimal import Decimal
from typing import Any

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"


class NotJSON(ValueError):
    """A value Go's YAML-to-JSON conversion refuses (infinity, NaN, a null map key)."""


_BOOLS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_SPECIAL_FLOATS = frozenset(
    (".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF")
)
# First characters that may start something other than a string (go-yaml's resolveTable).
_SIGN, _DIGIT, _MAP, _DOT = "S", "D", "M", "."
_HINTS = {
    "+": _SIGN,
    "-": _SIGN,
    ".": _DOT,
    **dict.fromkeys("0123456789", _DIGIT),
    **dict.fromkeys("yYnNtTfFoO~", _MAP),
}
# strconv.ParseInt(s, 0, 64) syntax, underscores already removed.
_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_TIMESTAMP_START = re.compile(r"[0-9]{4}-")
INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


def plain_tag(value: str) -> str:
    """The tag go-yaml v2 resolves an untagged plain scalar to."""
    if not value:
        return NULL
    hint = _HINTS.get(value[0])
    if hint is None:
        return MERGE if value == "<<" else STR
    if value in _BOOLS:
        return BOOL
    if value in _NULLS:
        return NULL
    if value in _SPECIAL_FLOATS:
        return FLOAT
    if hint == _DOT:
        return FLOAT if _DOT_FLOAT.fullmatch(value) else STR
    if hint in (_DIGIT, _SIGN):
        if _TIMESTAMP_START.match(value):
            return STR  # go-yaml keeps timestamp-like plain scalars as strings when decoding into interface{}
        plain = value.replace("_", "")
        if _parse_int(plain) is not None:
            return INT
        if _YAML_FLOAT.fullmatch(plain) and not math.isinf(float(plain)):
            return FLOAT
    return STR


def _parse_int(plain: str) -> int | None:
    """strconv.ParseInt(plain, 0, 64), then ParseUint for unsigned values past int64."""
    m = _GO_INT.fullmatch(plain)
    if m is None:
        return None
    sign, digits = m.groups()
    prefix = digits[:2].lower()
    if prefix == "0x":
        number = int(digits[2:], 16)
    elif prefix == "0o":
        number = int(digits[2:], 8)
    elif prefix == "0b":
        number = int(digits[2:], 2)
    elif digits.startswith("0"):
        number = int(digits, 8) if len(digits) > 1 else 0
    else:
        number = int(digits)
    if sign == "-":
        number = -number
    if INT64_MIN <= number <= INT64_MAX or (not sign and number <= UINT64_MAX):
        return number
    return None


def to_int(value: str) -> int | float:
    """An int-tagged scalar; one Go's syntax cannot read falls back to a float (as go-yaml's resolver does)."""
    plain = value.replace("_", "")
    number = _parse_int(plain)
    if number is not None:
        return number
    return to_float(plain)


def to_float(value: str) -> int | float:
    """A float-tagged scalar as it comes back from JSON: integral values below 1e21 are written as integers."""
    if value in _SPECIAL_FLOATS:
        raise NotJSON(f"{value} cannot be written as JSON (Go's YAML readers refuse it)")
    number = float(value.replace("_", ""))
    if math.isinf(number) or math.isnan(number):
        raise NotJSON(f"{value} cannot be written as JSON (Go's YAML readers refuse it)")
    return json_number(number)


def json_number(number: float) -> int | float:
    """What encoding/json writes for a float64, read back: shortest digits, no exponent below 1e21."""
    if number.is_integer() and abs(number) < 1e21:
        return int(number) if abs(number) < 2**53 else int(Decimal(repr(number)))
    return number


def float_key(value: str) -> str:
    """A float-tagged map key: go-yaml keeps the float64, sigs.k8s.io/yaml formats it as a float32."""
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}.get(value.lower())
    return _format_float32_g(special if special is not None else float(value.replace("_", "")))


def to_bool(value: str) -> bool:
    return _BOOLS[value]


# How a plain scalar of each tag but str and null becomes its value (yamlio's constructor and blockyaml read by it).
CONVERTERS: dict[str, Callable[[str], Any]] = {INT: to_int, FLOAT: to_float, BOOL: to_bool}

# The tag of a plain scalar depends on its text only, and manifests repeat the same texts (keys, kinds, names):
# remembered for the process (a constant of the language, like a compiled pattern), up to a bound; long texts,
# which seldom repeat, are not kept. Hot paths look a text up here before calling ``remembered_plain_tag``.
PLAIN_TAGS: dict[str, str] = {}
_PLAIN_TAGS_KEPT = 1 << 16
_PLAIN_TAG_TEXT_KEPT = 256


def remembered_plain_tag(value: str) -> str:
    """``plain_tag``, remembered in ``PLAIN_TAGS``."""
    tag = PLAIN_TAGS.get(value)
    if tag is None:
        tag = plain_tag(value)
        if len(PLAIN_TAGS) < _PLAIN_TAGS_KEPT and len(value) <= _PLAIN_TAG_TEXT_KEPT:
            PLAIN_TAGS[value] = tag
    return tag


def key_string(key: Any) -> str:
    """A map key as sigs.k8s.io/yaml writes it into JSON (bool, int and float keys become strings)."""
    if isinstance(key, str):
        return key
    if key is True or key is False:
        return "true" if key else "false"
    if isinstance(key, int) and INT64_MIN <= key <= INT64_MAX:
        return str(key)
    if isinstance(key, float):
        return _format_float32_g(key)
    raise NotJSON(
        f"unsupported map key {key!r} (Go's YAML readers accept only strings, numbers and booleans)"
    )


def _as_float32(number: float) -> float:
    """``number`` rounded to a float32; an infinity when it is beyond float32's range (struct refuses those)."""
    try:
        value: float = struct.unpack("f", struct.pack("f", number))[0]
    except OverflowError:
        return math.copysign(math.inf, number)
    return value


def _format_float32_g(number: float) -> str:
    """strconv.FormatFloat(number, 'g', -1, 32): the shortest decimal that reads back as the same float32."""
    if math.isinf(number):
        return ".inf" if number > 0 else "-.inf"
    if math.isnan(number):
        return ".nan"
    single = _as_float32(number)
    if math.isinf(single):  # beyond float32 (1E100): Go's float32 conversion gives an infinity
        return ".inf" if single > 0 else "-.inf"
    digits = ""
    for precision in range(1, 10):
        digits = f"{single:.{precision - 1}e}"
        if _as_float32(float(digits)) == single:
            break
    mantissa, exponent = digits.split("e")
    exp = int(exponent)
    if exp < -4 or exp >= 6:  # Go's %g switches to %e at precision 6 for the shortest form
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    text = f"{float(digits):.{max(0, len(mantissa.replace('-', '').replace('.', '')) - 1 - exp)}f}"
    return text
