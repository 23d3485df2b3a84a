from __future__ import annotations

import re

import pytest

from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import (
    AppError,
    AppResult,
    Change,
    ChangeKind,
    CheckResult,
    ResourceDiff,
    Status,
)
from gitops_check.report.markdown import render_markdown, render_markdown_full, render_markdown_parts
from gitops_check.report.text import unified_diff
from tests.report.results import REDACTED_NEW, REDACTED_OLD, configmap, huge_result, in_sync_app, make_app

FENCE = re.compile(r"^ {0,3}(`{3,})(.*)$")


def code_blocks(md: str) -> list[tuple[str, str]]:
    """(info, content) of every fenced block; fails on a fence left open."""
    blocks: list[tuple[str, str]] = []
    fence: str | None = None
    info = ""
    content: list[str] = []
    for line in md.split("\n"):
        if fence is None:
            m = FENCE.match(line)
            if m:
                fence, info, content = m.group(1), m.group(2), []
        elif re.fullmatch(r" {0,3}`{" + str(len(fence)) + r",}\s*", line):
            blocks.append((info, "\n".join(content) + "\n"))
            fence = None
        else:
            content.append(line)
    assert fence is None, "a code block is left open"
    return blocks


def outside_code(md: str) -> str:
    """The document with code block contents removed, to count HTML tags that are really tags."""
    out, fence = [], None
    for line in md.split("\n"):
        if fence is None:
            m = FENCE.match(line)
            if m:
                fence = m.group(1)
            else:
                out.append(line)
        elif re.fullmatch(r" {0,3}`{" + str(len(fence)) + r",}\s*", line):
            fence = None
    return "\n".join(out)


def all_diffs(result: CheckResult) -> set[str]:
    return {unified_diff(d, mode=result.mode) for d in result.diffs} - {""}


def check_well_formed(md: str, result: CheckResult) -> None:
    diffs = all_diffs(result)
    for info, content in code_blocks(md):
        if info == "diff":
            assert content in diffs, "a diff block was cut or altered"
    text = outside_code(md)
    assert text.count("<details") == text.count("</details>")
    assert not md.endswith("\n\n") and md.endswith("\n")


def test_full_layout(result: CheckResult) -> None:
    md = render_markdown_full(result)
    check_well_formed(md, result)
    lines = md.splitlines()
    assert lines[0] == "### gitops-check: 2 of 5 apps not checked; drift in 1"
    assert lines[2].startswith("Checked commit 1a2b3c4 of ./k8s against snapshot cluster.json")
    assert (
        "3 of 5 apps checked: 2 in sync, 1 drifted (2 changed, 1 would be created, 1 would be pruned), 2 not checked."
        in md
    )
    assert "Exit code 2: not everything could be checked" in md
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == "| App | Added | Changed | Pruned | Errors | Status |"
    assert table[2:] == [
        "| ingress | 0 | 0 | 0 | 1 | not checked |",
        "| payments | 0 | 0 | 0 | 1 | not checked |",
        "| shop | 1 | 2 | 1 | 0 | drifted |",
        "| alpha | 0 | 0 | 0 | 0 | in sync |",
        "| beta | 0 | 0 | 0 | 0 | in sync |",
    ]
    # One <details> per app that is not in sync, failed first; failed apps are open.
    summaries = re.findall(r"<details( open)?><summary>(.*)</summary>", md)
    assert summaries == [
        (" open", "<b>ingress</b>: not checked, 1 error"),
        (" open", "<b>payments</b>: not checked, 1 error"),
        ("", "<b>shop</b>: drifted, 2 changed, 1 would be created, 1 would be pruned"),
    ]
    # Every drifted resource with its whole diff; errors with file:line; by-hand fields with their manager.
    assert {c for i, c in code_blocks(md) if i == "diff"} == all_diffs(result)
    assert "**Error** (render) in `charts/payments/values.yaml:12`:" in md
    assert '  function "nope" not defined\n```' in md
    assert (
        '`metadata.labels.debug`: `"true"`, changed by hand with `kubectl-edit`; a sync would keep it' in md
    )
    assert "**Deployment/shop/web**: changed: 2 fields (1 by hand) (`apps/shop/deployment.yaml:1`)" in md
    assert "**Ingress/edge/public**: not checked: kind Ingress.networking.k8s.io was not captured" in md
    assert REDACTED_OLD in md and REDACTED_NEW in md
    assert "- chart version 1.2.3 is deprecated" in md
    # Order inside the app: changed, added, removed.
    assert (
        md.index("**Deployment/shop/web**")
        < md.index("**ConfigMap/shop/settings**")
        < md.index("**Service/shop/old**")
    )


def test_fits_unchanged_when_small(result: CheckResult) -> None:
    md = render_markdown(result)
    assert md == render_markdown_full(result)
    assert "left out" not in md
    assert render_markdown_parts(result) == [md]


def test_preview_columns_and_wording(preview_result: CheckResult) -> None:
    md = render_markdown_full(preview_result)
    assert "| App | Added | Changed | Removed | Errors | Status |" in md
    assert md.startswith("### gitops-check: 2 of 5 apps not checked; changes in 1\n")
    assert "<b>shop</b>: with changes, 2 changed, 1 added, 1 removed" in md
    assert "| alpha | 0 | 0 | 0 | 0 | unchanged |" in md
    assert "Compared commit 1a2b3c4" in md
    assert "would be" not in md and "drift" not in md


def test_in_sync_title(clean_result: CheckResult) -> None:
    md = render_markdown(clean_result, title="prod cluster", details_url="https://ci.example/jobs/1 (x)")
    assert md.startswith("### prod cluster: all 2 apps in sync\n")
    assert "[Full report](https://ci.example/jobs/1%20%28x%29)." in md
    assert "<details" not in md


def test_escaping_of_names_messages_and_fences() -> None:
    name = "a|b<script>`x`*_"
    body = configmap("c", "ns", {"doc": "text with ```` four backticks", "more": "`````"})
    diff = ResourceDiff(ResourceKey("", "ConfigMap", "ns", "c<|>"), name, Status.ADDED, desired=body)
    error = AppError(name, "failed:\n```\n<!-- gitops-check:marker --> @team", file="f`.yaml", line=3)
    app = AppResult(
        make_app(name, origin="o|<b>"), diffs=[diff], errors=[error], warnings=["<img src=x> | `w`"]
    )
    result = CheckResult(apps=[app], target="t <i>", against="a")
    md = render_markdown_full(result)
    check_well_formed(md, result)
    assert "| a\\|b&lt;script&gt;\\`x\\`\\*\\_ | 1 | 0 | 0 | 1 | not checked |" in md
    assert "<summary><b>a|b&lt;script&gt;`x`*_</b>: not checked, 1 would be created, 1 error</summary>" in md
    assert "**ConfigMap/ns/c&lt;\\|&gt;**" in md
    assert "- &lt;img src=x&gt; \\| \\`w\\`" in md
    assert "Checked t &lt;i&gt; against a." in md
    assert "<script>" not in md and "<img" not in md and "<i>" not in md
    # The diff fence is longer than the longest backtick run inside; the message fence longer than ```.
    assert "\n``````diff\n" in md
    assert "\n````text\nfailed:\n```\n<!-- gitops-check:marker --> @team\n````\n" in md
    assert "in ``f`.yaml:3``" in md
    # The marker only appears inside a code block, where it is text.
    assert "<!--" not in outside_code(md)


def test_many_changes_are_capped_in_comments_only() -> None:
    changes = tuple(Change(ChangeKind.VALUE, f"data.k{i}", "a", "b") for i in range(40))
    old = configmap("c", "ns", {f"k{i}": "a" for i in range(40)})
    new = configmap("c", "ns", {f"k{i}": "b" for i in range(40)})
    diff = ResourceDiff(
        ResourceKey("", "ConfigMap", "ns", "c"), "x", Status.CHANGED, changes, desired=new, live=old
    )
    result = CheckResult(apps=[AppResult(make_app("x"), diffs=[diff])], target="t", against="a")
    assert "- 15 more in the full report" in render_markdown(result)
    assert "more in the full report" not in render_markdown_full(result)
    assert "`data.k39`" in render_markdown_full(result)


# ---------------------------------------------------------------------------------------------------------------
# Size limits


@pytest.fixture(scope="module")
def huge() -> CheckResult:
    return huge_result(300, 20)


def test_render_markdown_stays_under_the_limit(huge: CheckResult) -> None:
    md = render_markdown(huge)
    assert len(md) <= 65536
    check_well_formed(md, huge)
    # Every app is still in the table.
    for app in huge.apps:
        assert f"| {app.app.name} |" in md
    # The most significant apps keep their diffs; the note says what is missing and where to look.
    blocks = [c for i, c in code_blocks(md) if i == "diff"]
    assert blocks and "ConfigMap/app-000/cm-00" in blocks[0]
    note = next(line for line in md.splitlines() if line.startswith("> **Note:**"))
    assert "left out to stay under 65,536 characters; see the full report artifact." in note
    assert "The details of " in note or "Diffs of " in note
    assert md.index("> **Note:**") < md.index("| App |")


def test_slightly_too_large_drops_diffs_of_least_significant_app(result: CheckResult) -> None:
    full = render_markdown_full(result)
    shop = next(a for a in result.apps if a.app.name == "shop")
    service = next(d for d in shop.diffs if d.key.name == "old")
    # Room for everything but the new app's diff (about 2,500 characters).
    limit = len(full) + 700
    bigger = CheckResult(
        apps=[*result.apps, _app_with_diffs("zz", 1, lines=40)], target=result.target, against=result.against
    )
    md = render_markdown(bigger, limit=limit)
    assert len(md) <= limit
    check_well_formed(md, bigger)
    assert unified_diff(service) in md  # the more significant app keeps its diffs
    assert "Diffs of 1 resource in 1 app left out to stay under" in md
    assert "Apps concerned: `zz`." in md
    assert "**ConfigMap/zz/cm-00**: changed: 1 field (diff left out)" in md


def test_fleet_sized_report_fits_a_gitlab_note(huge: CheckResult) -> None:
    # GitLab takes 1,000,000 characters per note; this fleet's full report is several times that.
    limit = 1_000_000
    assert len(render_markdown_full(huge)) > 3 * limit
    md = render_markdown(huge, limit=limit)
    assert limit - 20_000 < len(md) <= limit  # full, not wastefully short
    check_well_formed(md, huge)
    for app in huge.apps:
        assert f"| {app.app.name} |" in md
    blocks = [c for i, c in code_blocks(md) if i == "diff"]
    assert "ConfigMap/app-000/cm-00" in blocks[0]
    assert "left out to stay under 1,000,000 characters" in md


def test_fleet_whose_table_alone_is_too_large_keeps_half_for_details() -> None:
    fleet = huge_result(2500, 1)
    md = render_markdown(fleet)
    assert len(md) <= 65536
    check_well_formed(md, fleet)
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert 200 < len(rows) < 1200  # about half the comment; the rest share the last row
    assert re.match(r"\| _\d+ more apps_ \|", rows[-1])
    assert [c for i, c in code_blocks(md) if i == "diff"]  # the most significant apps still show diffs
    assert "(summed up in the last row)" in md


def test_a_diff_too_large_for_any_comment_goes_first() -> None:
    small = [_app_with_diffs(f"small-{n}", 1, lines=5) for n in range(5)]
    result = CheckResult(apps=[_app_with_diffs("big", 1, lines=3000), *small], target="t", against="a")
    md = render_markdown(result, limit=30000)
    assert len(md) <= 30000
    check_well_formed(md, result)
    shown = "".join(c for i, c in code_blocks(md) if i == "diff")
    assert all(f"ConfigMap/small-{n}/cm-00" in shown for n in range(5))
    assert "ConfigMap/big/cm-00" not in shown
    assert "Diffs of 1 resource in 1 app left out" in md and "Apps concerned: `big`." in md


def test_render_markdown_with_a_tiny_limit_is_still_valid(result: CheckResult) -> None:
    for limit in (300, 1000, 2500):
        md = render_markdown(result, limit=limit)
        assert len(md) <= limit
        check_well_formed(md, result)


def test_parts_split_at_app_boundaries(huge: CheckResult) -> None:
    parts = render_markdown_parts(huge)
    assert len(parts) > 1
    count = len(parts)
    seen: dict[str, int] = {}
    for n, part in enumerate(parts, 1):
        assert len(part) <= 65536
        assert part.startswith(f"### gitops-check: drift in 300 of 301 apps (part {n} of {count})\n")
        check_well_formed(part, huge)
        for title in re.findall(r"^\*\*(ConfigMap/[^*]+)\*\*", part, flags=re.M):
            seen[title] = seen.get(title, 0) + 1
        assert "(continued)" not in part  # every app fits one part here
    # Every drifted resource appears exactly once, with its whole diff.
    expected = {str(d.key) for d in huge.diffs if d.is_drift}
    assert set(seen) == expected and set(seen.values()) == {1}
    assert sum(1 for p in parts for i, _ in code_blocks(p) if i == "diff") == len(expected)
    # The table is in part 1, whole.
    assert all(f"| {a.app.name} |" in parts[0] for a in huge.apps)


def _app_with_diffs(name: str, n: int, lines: int = 30) -> AppResult:
    diffs = []
    for r in range(n):
        old = configmap(f"cm-{r:02d}", name, {f"k{i}": f"old {i} " + "x" * 40 for i in range(lines)})
        new = configmap(f"cm-{r:02d}", name, {f"k{i}": f"new {i} " + "x" * 40 for i in range(lines)})
        key = ResourceKey("", "ConfigMap", name, f"cm-{r:02d}")
        change = (Change(ChangeKind.VALUE, "data.k0", "old", "new"),)
        diffs.append(ResourceDiff(key, name, Status.CHANGED, change, desired=new, live=old))
    return AppResult(make_app(name), diffs=diffs)


def test_parts_split_a_large_app_at_resource_boundaries() -> None:
    result = CheckResult(apps=[_app_with_diffs("big", 30), in_sync_app("small")], target="t", against="a")
    parts = render_markdown_parts(result, limit=20000)
    assert len(parts) > 3
    titles: list[str] = []
    for n, part in enumerate(parts, 1):
        assert len(part) <= 20000
        check_well_formed(part, result)
        titles += re.findall(r"^\*\*(ConfigMap/[^*]+)\*\*", part, flags=re.M)
        if n > 1:
            assert "<summary><b>big</b> (continued)</summary>" in part
    assert titles == [f"ConfigMap/big/cm-{r:02d}" for r in range(30)]


def test_parts_replace_a_diff_too_large_for_any_part() -> None:
    result = CheckResult(apps=[_app_with_diffs("big", 2, lines=400)], target="t", against="a")
    parts = render_markdown_parts(result, limit=10000)
    text = "".join(parts)
    assert all(len(p) <= 10000 for p in parts)
    for part in parts:
        check_well_formed(part, result)
    assert text.count("_Diff too large for one comment (") == 2
    assert "```diff" not in text
    assert "**ConfigMap/big/cm-00**: changed: 1 field" in text


def test_parts_title_and_details_url(huge: CheckResult) -> None:
    parts = render_markdown_parts(huge, limit=200_000, title="staging", details_url="https://ci.example/1")
    assert parts[0].startswith("### staging: drift in 300 of 301 apps (part 1 of ")
    assert "[Full report](https://ci.example/1)." in parts[0]


def test_size_units_count_wide_characters() -> None:
    name = "app-\U0001f680-é"  # an emoji counts 2 in UTF-16 (GitHub's count) and 4 bytes in UTF-8
    result = CheckResult(apps=[_app_with_diffs(name, 20)], target="t", against="a")
    md = render_markdown(result, limit=12000)
    assert len(md.encode("utf-16-le")) // 2 <= 12000
    md = render_markdown(result, limit=12000, unit="bytes")
    assert len(md.encode()) <= 12000
    assert "left out to stay under 12,000 bytes" in md
    for part in render_markdown_parts(result, limit=12000, unit="bytes"):
        assert len(part.encode()) <= 12000
    with pytest.raises(ValueError, match="unit"):
        render_markdown(result, unit="lines")  # type: ignore[arg-type]


def test_tiny_limit_never_leaves_a_code_block_open() -> None:
    message = "\n".join(f"line {i} of a long helm error" for i in range(200))
    result = CheckResult(apps=[in_sync_app("a")], target="t", against="a", errors=[AppError("", message)])
    for limit in (400, 900, 3000):
        md = render_markdown(result, limit=limit)
        assert len(md) <= limit
        code_blocks(md)
        for part in render_markdown_parts(result, limit=limit):
            assert len(part) <= limit
            code_blocks(part)


@pytest.mark.parametrize("limit", [1500, 4000, 9000, 20000, 45000])
def test_any_limit_gives_valid_documents(result: CheckResult, limit: int) -> None:
    mixed = huge_result(25, 6, lines=20)
    mixed.apps += result.apps
    md = render_markdown(mixed, limit=limit)
    assert len(md) <= limit
    check_well_formed(md, mixed)
    parts = render_markdown_parts(mixed, limit=limit)
    for part in parts:
        assert len(part) <= limit
        check_well_formed(part, mixed)
    # Splitting loses nothing but diffs too large for a part, and those are named.
    text = "".join(parts)
    for d in mixed.diffs:
        if d.is_drift or d.status is Status.ERROR:
            assert f"**{d.key}**" in text
