"""Typed values back from JSON: a decoder per type annotation, built once per type and reused for every value.

Part files (``parts.py``) hold tens of thousands of dataclasses; asking ``typing`` about each value's type anew
(origin, arguments, dataclass fields) cost more than reading the JSON. A ``Decoders`` instead turns each type it
meets into a function once (a dataclass into a table of field decoders) and calls those.

The rules: ``X | None`` passes None through; lists, tuples, sets and frozensets are rebuilt as their type says,
dicts and Mappings as dicts; enums from their value; dataclasses from an object whose unknown keys are ignored
(missing ones take their defaults); ``str``/``int``/``float``/``bool`` are type-checked (an int is a float);
``Any``, ``object`` and unions of several types are taken as they are. A value of the wrong shape raises
TypeError, ValueError, KeyError or AttributeError, which the caller words.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Decoder = Callable[[Any], Any]


def _as_is(value: Any) -> Any:
    return value


class Decoders:
    """Decoders for the types met, built on first use; ``special`` maps a type to a decoder of its own."""

    def __init__(self, special: Mapping[Any, Decoder] | None = None) -> None:
        self._built: dict[Any, Decoder] = dict(special or {})

    def decode(self, kind: Any, value: Any) -> Any:
        return self.of(kind)(value)

    def of(self, kind: Any) -> Decoder:
        found = self._built.get(kind)
        if found is None:
            found = self._built[kind] = self._build(kind)
        return found

    def _build(self, kind: Any) -> Decoder:
        if kind is Any or kind is object:
            return _as_is
        origin = typing.get_origin(kind)
        args = typing.get_args(kind)
        if origin in (typing.Union, types.UnionType):
            return self._optional(args)
        if origin in (list, tuple, Iterable) or kind in (list, tuple):
            return self._sequence(tuple if origin is tuple or kind is tuple else list, args)
        if origin in (set, frozenset) or kind in (set, frozenset):
            return self._sequence(frozenset if origin is frozenset or kind is frozenset else set, args)
        if origin in (dict, Mapping) or kind is dict:
            return self._mapping(args)
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return _enum(kind)
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            return self._dataclass(kind)
        if kind in (str, int, float, bool):
            return _scalar(kind)
        return _as_is

    def _optional(self, args: tuple[Any, ...]) -> Decoder:
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            return _as_is
        decode = self.of(inner[0])
        if len(inner) == len(args):  # no None among them
            return decode
        return lambda value: None if value is None else decode(value)

    def _sequence(self, make: Callable[[Iterable[Any]], Any], args: tuple[Any, ...]) -> Decoder:
        item = self.of(args[0] if args else Any)

        def decode(value: Any) -> Any:
            if not isinstance(value, list):
                raise TypeError(f"expected a list, got {type(value).__name__}")
            return make(value) if item is _as_is else make([item(v) for v in value])

        return decode

    def _mapping(self, args: tuple[Any, ...]) -> Decoder:
        item = self.of(args[1] if args else Any)

        def decode(value: Any) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected an object, got {type(value).__name__}")
            return dict(value) if item is _as_is else {k: item(v) for k, v in value.items()}

        return decode

    def _dataclass(self, kind: type) -> Decoder:
        """One function per dataclass, written out as source (as ``dataclasses`` writes ``__init__``): a call per
        value and field, a dict and a lookup of the field's type per value, was most of a merge's time."""
        env: dict[str, Any] = {
            "_cls": kind,
            "_missing": _MISSING,
            "_new": object.__new__,
            "_set": object.__setattr__,
        }
        built: list[Decoder] = []  # the compiled function, once compiled
        # Registered before its fields are built: a dataclass may hold itself (CheckResult.baseline).
        self._built[kind] = lambda value: built[0](value)
        hints = typing.get_type_hints(kind)
        lines = ["def decode(value):", "    if value.__class__ is not dict:",
                 "        raise TypeError(f'{_cls.__name__}: expected an object, got {type(value).__name__}')",
                 "    get = value.get"]  # fmt: skip
        args = []
        for i, f in enumerate(f for f in dataclasses.fields(kind) if f.init):
            var = f"v{i}"
            lines.append(f"    {var} = get({f.name!r}, _missing)")
            lines.append(f"    if {var} is _missing:")
            if f.default is not dataclasses.MISSING:
                env[f"_default{i}"] = f.default
                lines.append(f"        {var} = _default{i}")
            elif f.default_factory is not dataclasses.MISSING:
                env[f"_factory{i}"] = f.default_factory
                lines.append(f"        {var} = _factory{i}()")
            else:
                lines.append(f"        raise TypeError({kind.__name__ + ': no ' + f.name!r})")
            conversion = self._inline(hints[f.name], var, f"_d{i}", env)
            if conversion:
                lines.append("    else:")
                lines += ["        " + line for line in conversion]
            args.append((f.name, var))
        if _plain_init(kind):
            # What the generated __init__ would do, without its call and its per-field object.__setattr__: a
            # frozen dataclass's __init__ was a third of a fleet's decoding.
            values = ", ".join(f"{name!r}: {var}" for name, var in args)
            lines += ["    made = _new(_cls)", f"    _set(made, '__dict__', {{{values}}})", "    return made"]
        else:
            # By position where the signature allows: a slotted __init__ called with keywords took twice as long.
            by_position = not any(f.kw_only for f in dataclasses.fields(kind))
            call = ", ".join(var if by_position else f"{name}={var}" for name, var in args)
            lines.append(f"    return _cls({call})")
        namespace: dict[str, Any] = {}
        exec("\n".join(lines), env, namespace)
        built.append(namespace["decode"])
        self._built[kind] = namespace["decode"]
        return built[0]

    def _inline(self, kind: Any, var: str, name: str, env: dict[str, Any]) -> list[str]:
        """Statements turning ``var`` into a value of ``kind`` in place; none when it is taken as it is."""
        args = typing.get_args(kind)
        if (
            typing.get_origin(kind) in (typing.Union, types.UnionType)
            and type(None) in args
            and len(args) == 2
        ):
            inner = self._inline(next(a for a in args if a is not type(None)), var, name, env)
            return [f"if {var} is not None:", *("    " + line for line in inner)] if inner else []
        decode = self.of(kind)
        if decode is _as_is:
            return []
        env[name] = decode
        # The common cases without a call: a value of the right type, an enum's value, an empty list.
        if kind in (str, int, bool):
            env[name + "_type"] = kind
            return [f"if {var}.__class__ is not {name}_type:", f"    {var} = {name}({var})"]
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            env[name + "_members"] = {m.value: m for m in kind}
            return [f"{var} = {name}_members.get({var}, _missing) if {var}.__class__ is str else {name}({var})",
                    f"if {var} is _missing:", f"    raise ValueError(f'not a {kind.__name__}')"]  # fmt: skip
        origin = typing.get_origin(kind) or kind
        if origin in (list, tuple, set, frozenset):
            empty = {list: "[]", tuple: "()", set: "set()", frozenset: "frozenset()"}[origin]
            return [f"if {var}.__class__ is list and not {var}:", f"    {var} = {empty}", "else:",
                    f"    {var} = {name}({var})"]  # fmt: skip
        return [f"{var} = {name}({var})"]


_MISSING = object()


def _plain_init(kind: type) -> bool:
    """The dataclass's ``__init__`` only stores its arguments: the one ``dataclasses`` wrote (compiled from a
    string), every field an argument, no ``__post_init__``, attributes in a ``__dict__`` (no slots)."""
    init = getattr(kind.__dict__.get("__init__"), "__code__", None)
    return (
        init is not None
        and init.co_filename == "<string>"
        and not hasattr(kind, "__post_init__")
        and "__slots__" not in kind.__dict__
        and all(f.init for f in dataclasses.fields(kind))
    )


def _enum(kind: type[enum.Enum]) -> Decoder:
    members = {m.value: m for m in kind}

    def decode(value: Any) -> Any:
        found = members.get(value) if isinstance(value, str | int) else None
        return found if found is not None else kind(value)  # kind() raises ValueError naming the value

    return decode


def _scalar(kind: type) -> Decoder:
    def decode(value: Any) -> Any:
        if value is None or isinstance(value, kind):
            return value
        if kind is float and isinstance(value, int):
            return float(value)
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")

    return decode
