"""The JSON report is written app by app, unchanged resources from a template: it must be exactly the
document ``report_dict`` describes, as ``dump_json_lines`` writes it, for every kind of result and hostile strings."""

from __future__ import annotations

import pytest
from hypothesis import given

from gitops_check.model.objects import Origin, ResourceKey
from gitops_check.model.result import AppResult, CheckResult, ResourceDiff, Status
from gitops_check.report.jsonout import render_json, report_dict
from gitops_check.yamlio import dump_json_lines
from tests.report.results import build_result, huge_result, in_sync_app, make_app
from tests.security.test_writers_fuzz import FUZZ, results


def _plain(result: CheckResult) -> str:
    return dump_json_lines(report_dict(result)) + "\n"


def _unchanged_shapes() -> CheckResult:
    """Unchanged resources in every shape the template writes, and the ones it leaves to the encoder."""

    def unchanged(name: str, namespace: str | None, origin: Origin | None, **more: object) -> ResourceDiff:
        return ResourceDiff(ResourceKey("apps", "Deployment", namespace, name), "a", Status.UNCHANGED, origin=origin,
                            **more)  # type: ignore[arg-type]  # fmt: skip

    diffs = [
        unchanged("plain", "ns", Origin("a", "apps/a.yaml", 3)),
        unchanged("cluster-wide", None, Origin("a", "a.yaml")),  # no line
        unchanged("no-file", "ns", Origin("a", "", 4)),
        unchanged("no-origin", "ns", None),
        unchanged('quote " back\\slash \u2028 é \x01', "ns", Origin("a", 'f"ile\n', 1)),
        unchanged("noted", "ns", None, notes=("also rendered by b",)),
        unchanged("message", "ns", None, message="kind scope unknown"),
    ]
    app = AppResult(make_app("a"), diffs=diffs, warnings=["w"], hooks=[], resolved=["chart 1.0"], cluster="c")
    return CheckResult(apps=[app, in_sync_app("b"), AppResult(make_app("empty"))], target="t", against="a")


@pytest.mark.parametrize(
    "result", [build_result(), build_result("preview"), huge_result(10, 4), _unchanged_shapes()]
)
def test_the_report_is_the_documented_dict(result: CheckResult) -> None:
    assert render_json(result) == _plain(result)


@FUZZ
@given(results())
def test_the_report_is_the_documented_dict_for_hostile_strings(result: CheckResult) -> None:
    assert render_json(result) == _plain(result)
