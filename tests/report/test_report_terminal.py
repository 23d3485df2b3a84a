from __future__ import annotations

import io
import re

import pytest

from gitops_check.model.result import AppError, CheckResult
from gitops_check.report.terminal import render_terminal, should_color
from tests.report.results import REDACTED_NEW, REDACTED_OLD, in_sync_app

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_plain_output_has_no_escapes_and_covers_everything(result: CheckResult) -> None:
    out = render_terminal(result, color=False)
    assert "\x1b" not in out
    # Failed apps first, then drifted; in-sync apps on one line.
    assert (
        out.index("ingress [not checked]") < out.index("payments [not checked]") < out.index("shop [drifted]")
    )
    assert "In sync: alpha, beta" in out
    # Resource verdicts, in the documented order inside the app.
    web = out.index("~ Deployment/shop/web: changed: 2 fields (1 by hand)")
    assert (
        web
        < out.index("+ ConfigMap/shop/settings: would be created")
        < out.index("- Service/shop/old: would be pruned")
    )
    assert "(apps/shop/deployment.yaml:1)" in out
    assert "! Ingress/edge/public: not checked: kind Ingress.networking.k8s.io was not captured" in out
    # The unified diff.
    assert "    --- live: Deployment/shop/web\n    +++ git: Deployment/shop/web\n" in out
    assert "    -      - image: nginx:1.25\n    +      - image: nginx:1.27\n" in out
    # A field set by hand is called out with its manager.
    assert (
        'by hand: metadata.labels.debug: "true", changed by hand with kubectl-edit; a sync would keep it'
        in out
    )
    # App error with file:line, all its lines.
    assert "error (render): charts/payments/values.yaml:12: helm template failed for app payments" in out
    assert 'function "nope" not defined' in out
    # Warnings, secrets only as markers, summary and exit code meaning.
    assert "warning: chart version 1.2.3 is deprecated" in out
    assert "warning: kind Widget.example.com has unknown scope" in out
    assert REDACTED_OLD in out and REDACTED_NEW in out
    assert "note: Secret values are compared by hash and never shown" in out
    lines = out.rstrip("\n").splitlines()
    assert lines[-2] == (
        "3 of 5 apps checked: 2 in sync, 1 drifted (2 changed, 1 would be created, 1 would be pruned), 2 not checked"
    )
    assert lines[-1].startswith("Exit code 2: not everything could be checked")
    # Unchanged resources only in verbose mode.
    assert "ConfigMap/alpha/alpha-cm0" not in out


def test_verbose_lists_unchanged_resources_timings_and_stats(result: CheckResult) -> None:
    out = render_terminal(result, color=False, verbose=True)
    assert "= ConfigMap/alpha/alpha-cm0: in sync" in out
    assert "alpha [in sync]" in out
    assert "timings: render 1.75s, diff 0.50s" in out
    assert "stats: objects 12" in out


def test_color_output_colours_diff_lines(result: CheckResult) -> None:
    out = render_terminal(result, color=True)
    assert "\x1b[31m-      - image: nginx:1.25\x1b[0m" in out
    assert "\x1b[32m+      - image: nginx:1.27\x1b[0m" in out
    assert re.search(r"\x1b\[36m@@ -\d", out)
    assert ANSI.sub("", out) == render_terminal(result, color=False)


def test_preview_wording(preview_result: CheckResult) -> None:
    out = render_terminal(preview_result, color=False)
    assert "shop [with changes] 2 changed, 1 added, 1 removed" in out
    assert "--- base: Deployment/shop/web" in out and "+++ head: Deployment/shop/web" in out
    assert "would be" not in out
    assert "Unchanged: alpha, beta" in out
    assert (
        "3 of 5 apps compared: 2 unchanged, 1 with changes (2 changed, 1 added, 1 removed), 2 not checked"
        in out
    )


def test_exit_code_meaning(clean_result: CheckResult, drift_only_result: CheckResult) -> None:
    assert (
        render_terminal(clean_result, color=False)
        .rstrip()
        .endswith("Exit code 0: everything checked is in sync")
    )
    assert render_terminal(drift_only_result, color=False).rstrip().endswith("Exit code 1: drift found")


def test_many_in_sync_apps_are_counted_not_listed() -> None:
    result = CheckResult(apps=[in_sync_app(f"app{i}") for i in range(30)], target="t", against="a")
    out = render_terminal(result, color=False)
    assert "In sync: 30 apps (--verbose lists them)" in out
    assert "app17" in render_terminal(result, color=False, verbose=True)


def test_escape_sequences_in_content_cannot_reach_the_terminal() -> None:
    result = CheckResult(
        apps=[in_sync_app("a")],
        target="t",
        against="a",
        errors=[AppError("a", "helm said \x1b[2J\x1b]0;pwned\x07 hello", stage="cluster")],
        warnings=["w\x1b[31m"],
    )
    out = render_terminal(result, color=False)
    assert "\x1b" not in out and "\x07" not in out
    assert "helm said [2J]0;pwned hello" in out


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(
    ("tty", "env", "expected"),
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": ""}, True),  # empty means unset (no-color.org)
        (False, {"FORCE_COLOR": "1"}, True),
        (True, {"FORCE_COLOR": "0"}, False),
        (False, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),  # NO_COLOR wins
        (True, {"TERM": "dumb"}, False),
        (False, {"TERM": "dumb", "FORCE_COLOR": "true"}, True),
    ],
)
def test_should_color(tty: bool, env: dict[str, str], expected: bool) -> None:
    assert should_color(_Stream(tty), env) is expected


def test_should_color_on_closed_stream() -> None:
    stream = io.StringIO()
    stream.close()
    assert should_color(stream, {}) is False
