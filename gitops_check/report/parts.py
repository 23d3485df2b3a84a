"""A shard's result as a part file, and the parts of one check merged back into the result a single run gives.

A part holds exactly what reporters read (``CheckResult``: apps, diffs with their redacted views, errors,
findings, syncs, the baseline), as JSON: never pickle, so a part file from another job cannot run code, and
never a Secret value (diffs hold redaction markers only; an app keeps its name, kind, origin and agent object,
not its settings, which may hold values taken from Secrets).

Merging: every shard discovers the whole repository, so run-level errors, warnings and notes repeat in every
part; they are kept once, in order. Apps are partitioned between shards, so apps, findings and syncs are joined.
A shard that sent no part is an error naming it (exit 2): a merged report is complete or says it is not.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitops_check.errors import InputError
from gitops_check.model.app import App
from gitops_check.model.result import AppError, CheckResult
from gitops_check.pipeline.shards import Shard
from gitops_check.report.typedjson import Decoders

FORMAT = "gitops-check-part"
VERSION = 1
_APP_FIELDS = ("name", "kind", "origin", "agent_namespace", "agent_name")


@dataclass(frozen=True)
class Part:
    shard: Shard
    result: CheckResult
    source: str = ""  # the file it was read from, for messages


# ---------------------------------------------------------------------------------------------------------------
# Writing and reading


def dump_part(result: CheckResult, shard: Shard | None) -> str:
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "shard": {"index": shard.index, "total": shard.total} if shard else {"index": 1, "total": 1},
        "result": result,  # turned into JSON objects by _as_json as the C encoder meets them
    }
    # A result is a tree this process built (no cycles): the encoder's check for them (~25 % of its time) is off.
    text = json.dumps(
        doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_as_json, check_circular=False
    )
    return text + "\n"


def load_part(text: str, source: str) -> Part:
    """Raises InputError naming the file for anything that is not a part this version wrote."""
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InputError(f"{source} is not a gitops-check part file (written with --part)")
        if doc.get("version") != VERSION:
            raise InputError(
                f"{source}: part format version {doc.get('version')!r}; this gitops-check reads {VERSION}"
            )
        shard = Shard(int(doc["shard"]["index"]), int(doc["shard"]["total"]))
        result = _DECODERS.decode(CheckResult, doc["result"])
    except InputError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise InputError(f"{source}: damaged part file ({type(e).__name__}: {e})"[:300]) from None
    if not 1 <= shard.index <= shard.total:
        raise InputError(f"{source}: shard {shard} is out of range")
    return Part(shard, result, source)


def _encode(value: Any) -> Any:
    """``value`` as plain JSON data: what the part holds for a value the model leaves untyped (``Any``: a diff's
    views, a change's values), whose mappings may have keys of any type (written as ``str(key)``)."""
    if isinstance(value, App):
        return {name: getattr(value, name) for name in _APP_FIELDS}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_encode(v) for v in value)
    return value


# The part is written by the C encoder, which calls ``_as_json`` for what it cannot write itself (dataclasses,
# plain enums, sets, mappings that are not dicts): the text is the one ``json.dumps(_encode(result))`` gives, without
# a Python call per value. A fleet's result holds ~125,000 dataclasses; asking ``dataclasses`` for each one's
# fields and walking every value in Python was most of a cold run's time after rendering. One function per class,
# made on first use, turns an object into the dict of its fields.
_Converter = Callable[[Any], Any]
# Process-wide: a class's converter never changes (two threads may both build one; either is right).
_CONVERTERS: dict[type, _Converter] = {}


def _as_json(value: Any) -> Any:
    convert = _CONVERTERS.get(value.__class__)
    if convert is None:
        convert = _CONVERTERS[value.__class__] = _converter(value.__class__)
    return convert(value)


def _converter(kind: type) -> _Converter:
    if issubclass(kind, App):
        return _encode
    if dataclasses.is_dataclass(kind):
        return _dataclass_converter(kind)
    if issubclass(kind, (enum.Enum, Mapping, set, frozenset)):
        return _encode
    raise TypeError(f"Object of type {kind.__name__} is not JSON serializable")


def _dataclass_converter(kind: type) -> _Converter:
    """A function returning the dict of a dataclass's fields, written out as source (as ``typedjson`` does). A field
    whose type lets a mapping hold keys other than strings (``Any``) goes through ``_encode``, which writes them
    as ``str(key)`` and sorts them as such; the C encoder would write ``True`` as ``true`` and sort ints as ints."""
    try:
        hints = typing.get_type_hints(kind)
    except (NameError, TypeError):
        hints = {}
    items = []
    for f in dataclasses.fields(kind):
        if _string_keyed(hints.get(f.name, Any)):
            items.append(f"{f.name!r}: value.{f.name}")
        else:
            items.append(f"{f.name!r}: None if (v := value.{f.name}) is None else _encode(v)")
    namespace: dict[str, Any] = {}
    exec(f"def convert(value):\n    return {{{', '.join(items)}}}", {"_encode": _encode}, namespace)
    convert: _Converter = namespace["convert"]
    return convert


def _string_keyed(kind: Any) -> bool:
    """Whether every mapping a value of this type can hold has string keys (so the C encoder writes it as
    ``_encode`` would)."""
    if kind in (str, int, float, bool, type(None)):
        return True
    if isinstance(kind, type) and (issubclass(kind, enum.Enum) or dataclasses.is_dataclass(kind)):
        return True  # converted by _as_json; an enum's value as _encode writes it
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return all(_string_keyed(a) for a in args)
    if origin in (list, tuple, set, frozenset, Iterable, Sequence):
        return all(_string_keyed(a) for a in args if a is not Ellipsis)
    if origin in (dict, Mapping):
        return len(args) == 2 and args[0] is str and _string_keyed(args[1])
    return False


def _app_from_json(value: Any) -> App:
    return App(sources=(), **{name: value[name] for name in _APP_FIELDS})


# Built once per process; an App comes back as the fields a part keeps (see the module's docstring).
_DECODERS = Decoders({App: _app_from_json})


# ---------------------------------------------------------------------------------------------------------------
# Merging


MERGE_APP = "gitops-check merge"


def merge_parts(parts: list[Part], total: int | None = None) -> CheckResult:
    """One result from the parts of one check; missing, repeated or foreign parts are errors (exit 2)."""
    problems: list[AppError] = []
    totals = {p.shard.total for p in parts}
    expected = total or (max(totals) if totals else 1)
    for p in parts:
        if p.shard.total != expected:
            problems.append(AppError(MERGE_APP, f"{p.source} is shard {p.shard} of another split (expected "
                                                f"{expected} shards); not merged", stage="merge"))  # fmt: skip
    parts = [p for p in parts if p.shard.total == expected]
    by_index: dict[int, Part] = {}
    for p in parts:
        if p.shard.index in by_index:
            problems.append(AppError(MERGE_APP, f"shard {p.shard} given twice ({by_index[p.shard.index].source} "
                                                f"and {p.source}); the second is not merged", stage="merge"))  # fmt: skip
            continue
        by_index[p.shard.index] = p
    for index in range(1, expected + 1):
        if index not in by_index:
            problems.append(AppError(f"shard {index}/{expected}", f"shard {index}/{expected}: no part from this "
                                     "shard (its job failed, or its part file was not passed on): its apps are not "
                                     "checked", stage="merge"))  # fmt: skip
    ordered = [by_index[i].result for i in sorted(by_index)]
    if not ordered:
        return CheckResult(apps=[], target="(no parts)", against="", errors=problems)
    merged = merge_results(ordered)
    # A shard that owns no app compared with no cluster: its "against" says nothing about the check.
    firsts = {(r.mode, r.target, r.against if r.apps else merged.against) for r in ordered}
    if len(firsts) > 1:
        problems.append(AppError(MERGE_APP, "the parts come from different checks (mode, commit or cluster "
                                            "differ); merged anyway", stage="merge"))  # fmt: skip
    merged.errors.extend(problems)
    return merged


def merge_results(results: list[CheckResult]) -> CheckResult:
    first = next((r for r in results if r.apps), results[0])
    merged = CheckResult(
        apps=[a for r in results for a in r.apps],
        target=first.target,
        against=first.against,
        errors=_once(e for r in results for e in r.errors),
        warnings=_once(w for r in results for w in r.warnings),
        notes=_once(n for r in results for n in r.notes),
        mode=first.mode,
        syncs=[s for r in results for s in r.syncs],
        findings=_once(f for r in results for f in r.findings),
        strict=any(r.strict for r in results),
        fail_on_manual=any(r.fail_on_manual for r in results),
        source=first.source,
    )
    for r in results:
        for key, value in r.stats.items():
            merged.stats[key] = merged.stats.get(key, 0) + value
        for key, seconds in r.timings.items():  # the slowest shard: what the matrix waited for
            merged.timings[key] = max(merged.timings.get(key, 0.0), seconds)
    baselines = [r.baseline for r in results if r.baseline is not None]
    if baselines:
        merged.baseline = merge_results(baselines)
    return merged


def _once(items: Iterable[Any]) -> list[Any]:
    """Repeated items kept once, first occurrence first (every shard reports the run-level ones)."""
    return list(dict.fromkeys(items))
