"""Markers and keys of sticky comments, and the job summary pieces that do not need a platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_check.model.result import AppError, CheckResult
from gitops_check.publish import actions
from gitops_check.publish.result import default_key
from gitops_check.publish.sticky import KEY_LIMIT, MARKER_ROOM, marker, normalize_key, parse_marker


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("preview", "preview"),
        ("diff:deploy/prod", "diff:deploy/prod"),
        ("my report -- v2", "my-report-v2"),
        ("a-->b<!--c", "a-b-c"),
        ("  ", "default"),
        ("x" * 300, "x" * KEY_LIMIT),
    ],
)
def test_keys_are_safe_inside_an_html_comment(raw: str, key: str) -> None:
    assert normalize_key(raw) == key
    assert "--" not in normalize_key(raw).replace("<!--", "")


def test_markers_round_trip() -> None:
    assert marker("diff:deploy/prod") == "<!-- gitops-check:diff:deploy/prod -->"
    assert parse_marker(marker("diff:deploy/prod") + "\nbody") == ("diff:deploy/prod", 1)
    assert parse_marker(marker("diff:deploy/prod", 12) + "\nbody") == ("diff:deploy/prod", 12)
    assert parse_marker("\n  " + marker("k", 2)) == ("k", 2)
    assert parse_marker("quoted: " + marker("k")) is None  # the marker must open the comment
    assert parse_marker("<!-- gitops-check:k:part 0 -->") is None
    longest = marker("k" * KEY_LIMIT, 9999) + "\n"
    assert len(longest) <= MARKER_ROOM


def test_default_key_from_the_folder(tmp_path: Path) -> None:
    (tmp_path / "deploy" / "prod").mkdir(parents=True)
    env = {"GITHUB_WORKSPACE": str(tmp_path)}
    assert default_key("preview", tmp_path, env) == "preview"
    assert default_key("diff", tmp_path / "deploy" / "prod", env) == "diff:deploy/prod"
    assert (
        default_key("diff", tmp_path, {"GITHUB_WORKSPACE": str(tmp_path / "deploy")})
        == f"diff:{tmp_path.name}"
    )


def test_annotations_escape_and_cap() -> None:
    errors = [
        AppError(f"app{n}", f"line one\nline two 100% wrong, {n}", file=f"apps/{n}.yaml", line=3)
        for n in range(12)
    ]
    result = CheckResult(apps=[], target="t", against="a", errors=errors)
    found = actions.error_annotations(result, "deploy/")
    assert len(found) == actions.MAX_ANNOTATIONS
    assert found[0].command() == (
        "::error file=deploy/apps/0.yaml,line=3,title=gitops-check%3A app0 could not be checked"
        "::line one%0Aline two 100%25 wrong, 0"
    )
    assert found[-1].message == "3 more errors: see the job summary and the log"
    outside = actions.error_annotations(result, None)[0]
    assert outside.file is None and outside.line is None
    tricky = actions.Annotation("t", "m", file="a,b:c.yaml")
    assert tricky.command() == "::error file=a%2Cb%3Ac.yaml,title=t::m"


def test_summary_room_and_pieces(tmp_path: Path) -> None:
    summary = tmp_path / "s.md"
    assert actions.summary_room(str(summary)) == actions.SUMMARY_LIMIT
    summary.write_bytes(b"x" * (actions.SUMMARY_LIMIT - 100))
    text = actions.summary_of_result(lambda limit: "R" * limit, actions.summary_room(str(summary)), ["note"])
    assert text.startswith("> note\n\n_The gitops-check report did not fit")
    parts = ["a" * 600, "b" * 600, "c" * 600]
    joined = actions.summary_of_parts(parts, 1500, ["fork"])
    assert joined.startswith("> fork\n\n" + "a" * 600) and "b" * 600 in joined and "c" * 600 not in joined
    assert "1 more part of the report did not fit" in joined and len(joined.encode()) <= 1500
