"""Helm's ``--set`` parser (helm.sh/helm/v3/pkg/strvals), for Flux HelmRelease ``valuesFrom[].targetPath``.

helm-controller turns a values reference with a ``targetPath`` into ``<targetPath>=<value>`` and parses it with
``strvals.ParseInto`` (``ParseIntoString`` when the value is quoted, ``ParseLiteralInto`` for ``literal: true``),
writing into the values map being built. So ``a.b[1]=x,c=y`` sets two values, ``{a,b}`` is a list, ``true``,
``null`` and integers are typed, ``\\,`` escapes a comma. Lists are changed in place when the index exists and
replaced when they grow, as Go's slices are: helm-controller's merge order depends on that sharing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MAX_INDEX = 65536
MAX_NESTED_NAME_LEVEL = 30
_EOF = ""


class StrvalsError(Exception):
    """The ``path=value`` text cannot be parsed; the message never contains the value."""


class _NotList(Exception):
    pass


class _End(Exception):
    """io.EOF: the input is used up (ends the parse without an error)."""


Wrap = Callable[[str], Any]


def parse_into(text: str, dest: dict[str, Any], *, as_string: bool = False, wrap: Wrap = str) -> None:
    """``strvals.ParseInto`` (``ParseIntoString`` with ``as_string``); ``wrap`` is applied to string values."""
    _Parser(text, dest, as_string, wrap, literal=False).parse()


def parse_literal_into(text: str, dest: dict[str, Any], *, wrap: Wrap = str) -> None:
    """``strvals.ParseLiteralInto``: the value is everything after the first ``=`` of the key, verbatim."""
    _Parser(text, dest, True, wrap, literal=True).parse()


class _Parser:
    def __init__(self, text: str, data: dict[str, Any], as_string: bool, wrap: Wrap, *, literal: bool):
        self.text = text
        self.pos = 0
        self.data = data
        self.as_string = as_string
        self.wrap = wrap
        self.literal = literal

    def parse(self) -> None:
        while True:
            try:
                self.key(self.data, 0)
            except _End:
                return

    # -- reading

    def read(self) -> str:
        if self.pos >= len(self.text):
            return _EOF
        r = self.text[self.pos]
        self.pos += 1
        return r

    def unread(self) -> None:
        self.pos -= 1

    def until(self, stop: str) -> tuple[str, str]:
        """Characters up to one in ``stop`` (consumed): (text, stop char); raises _End with the text read so far."""
        out: list[str] = []
        while True:
            r = self.read()
            if r == _EOF:
                raise _EndWith("".join(out))
            if r in stop:
                return "".join(out), r
            if r == "\\" and not self.literal:
                nxt = self.read()
                if nxt == _EOF:
                    raise _EndWith("".join(out))
                out.append(nxt)
                continue
            out.append(r)

    # -- grammar

    def key(self, data: dict[str, Any], level: int) -> None:
        stop = "=[." if self.literal else "=[,."
        try:
            k, last = self.until(stop)
        except _EndWith as e:
            if not e.text:
                raise _End() from None
            raise StrvalsError(f"key {e.text!r} has no value") from None
        if last == "[":
            index = self.key_index()
            existing = data.get(k, [])
            if not isinstance(existing, list):
                raise StrvalsError(f"unable to parse key: {k!r} is not a list")
            try:
                _set(data, k, self.list_item(existing, index, level))
            except _ListError as e:
                _set(data, k, e.partial)
                raise e.cause from None
            return
        if last == "=":
            if self.literal:
                _set(data, k, self.wrap(self.rest()))
                return
            try:
                _set(data, k, self.val_list())
                return
            except _NotList:
                _set(data, k, self.reader(self.val()))
                return
            except _End:
                _set(data, k, "")
                raise
        if last == ",":
            _set(data, k, "")
            raise StrvalsError(f"key {k!r} has no value (cannot end with ,)")
        # last == "."
        level += 1
        if level > MAX_NESTED_NAME_LEVEL:
            raise StrvalsError(
                f"value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
            )
        inner = data.get(k, {})
        if not isinstance(inner, dict):
            raise StrvalsError(f"unable to parse key: {k!r} is not a map")
        try:
            self.key(inner, level)
        except _End:
            if inner:
                _set(data, k, inner)
            raise
        except StrvalsError:
            if inner:
                _set(data, k, inner)
            raise
        if not inner:
            raise StrvalsError(f"key map {k!r} has no value")
        _set(data, k, inner)

    def key_index(self) -> int:
        try:
            text, _ = self.until("]")
        except _EndWith:
            raise StrvalsError("error parsing index: unexpected end") from None
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise StrvalsError(f"error parsing index: invalid index {text!r}")
        return int(text)

    def list_item(self, items: list[Any], index: int, level: int) -> list[Any]:
        if index < 0:
            raise _ListError(items, StrvalsError(f"negative {index} index not allowed"))
        try:
            k, last = self.until("[.=")
        except _EndWith as e:
            if e.text:
                raise _ListError(items, StrvalsError("unexpected data at end of array index")) from None
            raise _ListError(items, _End()) from None
        if k:
            raise _ListError(items, StrvalsError("unexpected data at end of array index"))
        if last == "=":
            if self.literal:
                return _set_index(items, index, self.wrap(self.rest()))
            try:
                return _set_index(items, index, self.val_list())
            except _NotList:
                return _set_index(items, index, self.reader(self.val()))
            except _End:
                return _set_index(items, index, "")
        if last == "[":
            nested_index = self.key_index()
            current: list[Any] = []
            if len(items) > index and items[index] is not None:
                if not isinstance(items[index], list):
                    raise _ListError(items, StrvalsError("unable to parse key: not a list"))
                current = items[index]
            try:
                nested = self.list_item(current, nested_index, level)
            except _ListError as e:
                raise _ListError(items, e.cause) from None
            return _set_index(items, index, nested)
        # last == "."
        inner: dict[str, Any] = {}
        if len(items) > index:
            if not isinstance(items[index], dict):
                items[index] = {}  # indices out of order
            inner = items[index]
        try:
            self.key(inner, level)
        except (StrvalsError, _End) as e:
            raise _ListError(items, e) from None
        return _set_index(items, index, inner)

    def val_list(self) -> list[Any]:
        r = self.read()
        if r == _EOF:
            raise _End()
        if r != "{":
            self.unread()
            raise _NotList()
        out: list[Any] = []
        while True:
            try:
                text, last = self.until(",}")
            except _EndWith:
                raise StrvalsError("list must terminate with '}'") from None
            if last == "}":
                if self.read() not in (",", _EOF):
                    self.unread()
                out.append(self.reader(text))
                return out
            out.append(self.reader(text))

    def val(self) -> str:
        try:
            text, _ = self.until(",")
        except _EndWith as e:
            return e.text  # the value runs to the end: the next key() ends the parse
        return text

    def rest(self) -> str:
        text = self.text[self.pos :]
        self.pos = len(self.text)
        return text

    def reader(self, text: str) -> Any:
        if self.as_string:
            return self.wrap(text)
        return typed_value(text, self.wrap)


class _EndWith(Exception):
    def __init__(self, text: str):
        super().__init__("end of input")
        self.text = text


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    """Helm's ``set``: an empty key (``--set =x``, ``a..b=c``) is dropped, not stored."""
    if key:
        data[key] = value


class _ListError(Exception):
    """An error inside a list: Go still stores the (possibly partial) list before returning the error."""

    def __init__(self, partial: list[Any], cause: Exception):
        super().__init__(str(cause))
        self.partial = partial
        self.cause = cause


def typed_value(text: str, wrap: Wrap = str) -> Any:
    """strvals.typedVal: true/false/null (any case), 0, integers not starting with 0; else the string."""
    lower = text.lower()
    if lower == "true":
        return True
    if lower == "false":
        return False
    if lower == "null":
        return None
    if text == "0":
        return 0
    if text and text[0] != "0" and re.fullmatch(r"[+-]?[0-9]+", text):
        value = int(text)
        if -(2**63) <= value < 2**63:
            return value
    return wrap(text)


def _set_index(items: list[Any], index: int, value: Any) -> list[Any]:
    if index < 0:
        raise _ListError(items, StrvalsError(f"negative {index} index not allowed"))
    if index > MAX_INDEX:
        raise _ListError(
            items, StrvalsError(f"index of {index} is greater than maximum supported index of {MAX_INDEX}")
        )
    if len(items) <= index:
        items = [*items, *([None] * (index + 1 - len(items)))]  # a new list, as Go's grown slice
    items[index] = value
    return items
