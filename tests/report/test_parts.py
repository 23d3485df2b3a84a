"""Part files read back exactly as written: every field of every kind of result, through the decoders
``typedjson`` builds once per type; and damaged parts are errors naming the file."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from typing import Any

import pytest

from gitops_check.errors import InputError
from gitops_check.model.app import App
from gitops_check.model.objects import Origin, ResourceKey
from gitops_check.model.result import (
    AppError,
    AppResult,
    Change,
    ChangeKind,
    CheckedSource,
    CheckResult,
    Finding,
    Hook,
    Status,
)
from gitops_check.model.sync import SyncOutcome, SyncState
from gitops_check.pipeline.shards import Shard
from gitops_check.report.parts import dump_part, load_part
from gitops_check.report.typedjson import Decoders
from tests.report.results import build_result, huge_result, make_app


def _as_kept(result: CheckResult) -> CheckResult:
    """What a part keeps of a result: an app's name, kind, origin and agent object, not its settings."""

    def kept(app: App) -> App:
        return App(app.name, (), kind=app.kind, origin=app.origin, agent_namespace=app.agent_namespace,
                   agent_name=app.agent_name)  # fmt: skip

    apps = [dataclasses.replace(a, app=kept(a.app)) for a in result.apps]
    baseline = _as_kept(result.baseline) if result.baseline is not None else None
    return dataclasses.replace(result, apps=apps, baseline=baseline)


def _everything() -> CheckResult:
    """Every field set, with the types JSON flattens: tuples, frozensets, enums, floats, nested results."""
    result = build_result("preview")
    app = result.apps[1]
    result.apps[1] = dataclasses.replace(
        app,
        render_seconds=2,  # an int where a float is declared: read back as 2.0
        resolved=["podinfo 6.x -> 6.14.1"],
        change="added",
        hooks=[Hook("Job", "ns", "migrate-*", ("PreSync", "Skip"), Origin("drifted", "job.yaml", 3))],
        cluster="prod",
        untouched=None,
    )
    result.apps.append(AppResult(App("flux-app", (), kind="flux", agent_namespace="flux-system",
                                     agent_name="apps"), untouched="cannot render: chart missing"))  # fmt: skip
    result.errors.append(AppError("", "cluster unreachable", "x.yaml", 4, stage="cluster"))
    result.notes.append("discovered 5 apps")
    result.findings.append(Finding("plain-secret", "drifted", "a Secret in Git", "s.yaml", 1))
    result.syncs.append(
        SyncOutcome("drifted", "Application argocd/drifted", "Argo CD API", SyncState.PLANNED,
                    resources=(ResourceKey("apps", "Deployment", "ns", "web"),), seconds=1.5, dry_run=True)
    )  # fmt: skip
    result.strict = True
    result.fail_on_manual = True
    result.source = CheckedSource(
        "a" * 40, "clusters/prod", frozenset({"https://example.com/r.git", "git@x:r"})
    )
    result.baseline = build_result("diff")
    return result


@pytest.mark.parametrize(
    "result", [build_result(), build_result("preview"), huge_result(20, 5), _everything()]
)
def test_a_part_reads_back_as_the_result_it_was_written_from(result: CheckResult) -> None:
    part = load_part(dump_part(result, Shard(2, 3)), "p.json")
    assert part.shard == Shard(2, 3)
    assert part.result == _as_kept(result)


def test_the_decoded_values_have_the_declared_types() -> None:
    result = load_part(dump_part(_everything(), None), "p.json").result
    app = result.apps[1]
    assert type(app.render_seconds) is float and isinstance(app.hooks[0].phases, tuple)
    assert isinstance(result.source and result.source.urls, frozenset)
    assert (
        isinstance(result.syncs[0].resources[0], ResourceKey) and result.syncs[0].state is SyncState.PLANNED
    )
    assert isinstance(result.baseline, CheckResult) and result.baseline.apps[0].app.name == "alpha"


def _damaged(edit: Any) -> str:
    doc = json.loads(dump_part(build_result(), None))
    edit(doc["result"])
    return json.dumps(doc)


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r["apps"][1]["diffs"][0].update(status="drifting"),  # not a Status
        lambda r: r["apps"][1]["diffs"][0].update(app=7),  # not a str
        lambda r: r["apps"][1]["diffs"][0].update(changes={"a": 1}),  # not a list
        lambda r: r["apps"][1]["diffs"][0].update(key="ConfigMap/x"),  # not an object
        lambda r: r["apps"][1]["diffs"][0]["key"].pop("kind"),  # a field without default missing
        lambda r: r["apps"][0].pop("app"),
        lambda r: r.update(stats=[1]),
        lambda r: r.update(apps=None),
    ],
)
def test_a_damaged_part_is_an_error_naming_the_file(edit: Any) -> None:
    with pytest.raises(InputError, match=r"^p\.json: damaged part file"):
        load_part(_damaged(edit), "p.json")


def test_unknown_fields_are_ignored_and_missing_ones_take_their_defaults() -> None:
    def edit(r: dict[str, Any]) -> None:
        r["from_a_later_version"] = {"x": 1}
        r["apps"][0]["diffs"][0]["also_new"] = 1
        for name in ("warnings", "notes", "syncs", "findings", "strict", "baseline"):
            del r[name]
        del r["apps"][0]["diffs"][0]["notes"]

    result = load_part(_damaged(edit), "p.json").result
    assert result.warnings == [] and result.syncs == [] and result.strict is False and result.baseline is None
    assert result.apps[0].diffs[0].notes == ()


@dataclasses.dataclass(frozen=True)
class _Node:
    name: str
    weight: float = 1.0
    children: tuple[_Node, ...] = ()
    parent: _Node | None = None
    tags: frozenset[str] = frozenset()
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    either: int | str = 0  # a union of several types: taken as it is


def test_decoders_handle_recursive_dataclasses_and_special_types() -> None:
    decoders = Decoders({App: lambda v: make_app(v)})
    value = {"name": "root", "weight": 3, "children": [{"name": "leaf", "tags": ["b", "a"], "either": "x"}],
             "parent": {"name": "up", "extra": {"k": [1]}}}  # fmt: skip
    node = decoders.decode(_Node, value)
    assert node == _Node("root", 3.0, (_Node("leaf", tags=frozenset({"a", "b"}), either="x"),),
                         _Node("up", extra={"k": [1]}))  # fmt: skip
    assert decoders.decode(tuple[App, ...], ["a"]) == (make_app("a"),)
    assert decoders.of(_Node) is decoders.of(_Node)  # built once


@dataclasses.dataclass(frozen=True)
class _Checked:
    name: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a name is needed")


@dataclasses.dataclass(frozen=True, slots=True)
class _Slotted:
    name: str
    size: int = 0


def test_decoded_dataclasses_equal_constructed_ones_and_keep_their_own_init() -> None:
    decoders = Decoders()
    assert decoders.decode(_Slotted, {"name": "a"}) == _Slotted("a")
    assert decoders.decode(_Checked, {"name": "a"}) == _Checked("a")
    with pytest.raises(ValueError, match="a name is needed"):  # __post_init__ ran
        decoders.decode(_Checked, {"name": ""})
    node = decoders.decode(_Node, {"name": "n"})  # built without calling __init__: the same object
    assert node == _Node("n") and hash(node.children) == hash(()) and vars(node) == vars(_Node("n"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.name = "other"  # type: ignore[misc]


def test_merged_parts_keep_the_run_policy_that_decides_the_exit_code() -> None:
    from gitops_check.report.parts import merge_results

    policy = dataclasses.replace(_everything(), syncs=[], baseline=None, errors=[])
    plain = dataclasses.replace(build_result(), strict=False, fail_on_manual=False)
    merged = merge_results([plain, policy])
    assert (
        merged.strict and merged.fail_on_manual
    )  # --fail-on manual: a shard's hand edits fail the merge too


def _walked(value: Any) -> Any:
    """What a part holds for a value, by a plain walk of it: dataclasses as objects of every field (an app: the
    fields a part keeps), enums as their values, sets sorted, mapping keys as ``str(key)``."""
    if isinstance(value, App):
        return {
            name: getattr(value, name) for name in ("name", "kind", "origin", "agent_namespace", "agent_name")
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _walked(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _walked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walked(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_walked(v) for v in value)
    return value


def _with_untyped_keys() -> CheckResult:
    """Views and change values (typed ``Any``) holding keys that are not strings, enums and a set: the C encoder
    alone would write ``True`` as ``true`` and sort 10 before 9 as numbers."""
    result = _everything()
    app = result.apps[1]
    diff = dataclasses.replace(
        app.diffs[0],
        desired={"b": {10: "ten", 9: "nine", True: "yes", None: "none"}, "a": [(1, 2), {"x"}]},
        live={"k": Status.CHANGED, "f": 1.5},
        changes=(Change(ChangeKind.VALUE, "spec.x", old={2: "two"}, new=ChangeKind.ADDED),),
    )
    result.apps[1] = dataclasses.replace(app, diffs=[diff, *app.diffs[1:]])
    return result


@pytest.mark.parametrize(
    "result",
    [build_result(), build_result("preview"), huge_result(20, 5), _everything(), _with_untyped_keys()],
)
def test_the_part_text_is_the_walk_of_the_result_written_by_json(result: CheckResult) -> None:
    """The converters made once per class write exactly what a walk of every value gives."""
    expected = {"format": "gitops-check-part", "version": 1, "shard": {"index": 2, "total": 3},
                "result": _walked(result)}  # fmt: skip
    text = json.dumps(expected, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    assert dump_part(result, Shard(2, 3)) == text


def test_a_value_json_cannot_write_is_refused_as_json_refuses_it() -> None:
    result = build_result()
    result.apps[0] = dataclasses.replace(result.apps[0], warnings=[object()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not JSON serializable"):
        dump_part(result, None)
