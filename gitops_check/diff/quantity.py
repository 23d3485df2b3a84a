"""Kubernetes resource quantities (``500m``, ``1Gi``, ``1e3``) compared by value, as the API server stores them.

The server rewrites quantities into a canonical spelling (``1000m`` -> ``1``, ``1024Mi`` -> ``1Gi``), so Git and
the cluster spell equal values differently; comparing exact decimal values avoids reporting that as drift.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
# As apimachinery's parseQuantityString: the number may be empty ("m" and "." are zero), no spaces around.
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d*)?)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)")

# Maps whose values are quantities (container resources, ResourceQuota, LimitRange, PV capacity, RuntimeClass).
QUANTITY_MAPS = frozenset(
    {"requests", "limits", "hard", "capacity", "allocatable", "max", "min", "default", "defaultRequest",
     "maxLimitRequestRatio", "podFixed", "used"}
)  # fmt: skip
QUANTITY_FIELDS = frozenset({"sizeLimit", "storage"})


# A constant cache: a pure function of its text, so runs may share it.
@lru_cache(maxsize=4096)
def parse(text: str) -> Decimal | None:
    m = _QUANTITY.fullmatch(text)
    if not m or not text:
        return None
    number, exponent, suffix = m.groups()
    try:
        digits = number.lstrip("+-").strip(".")
        value = Decimal(number.rstrip(".") or "0") if digits else Decimal(0)
        if exponent:
            return value * Decimal(10) ** int(exponent[1:])
        return value * _SUFFIX[suffix or ""]
    except (InvalidOperation, KeyError):
        return None


def value_of(raw: object) -> Decimal | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return Decimal(str(raw))
    if isinstance(raw, str):
        return parse(raw)
    return None


def equal(a: object, b: object) -> bool:
    va, vb = value_of(a), value_of(b)
    return va is not None and va == vb
