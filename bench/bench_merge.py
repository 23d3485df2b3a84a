"""Benchmark of ``gitops-check merge`` against the code of a baseline commit, in one invocation.

Takes the part files of a sharded run (``part-1.json``.. as ``bench/bench_fleet.py`` writes them into its
``runs`` folder) and times ``gitops-check merge`` of them, twice per version, interleaved (this machine is shared:
the faster of two runs is printed): once writing only the JSON report (what bench_fleet times), once writing
every report (JSON, JUnit, Markdown, full Markdown and the terminal report). The baseline is the package as it
was at ``--baseline`` (extracted with ``git archive``, run with the same Python); the current one is this
checkout. Then it checks that both versions wrote the same reports (JSON without timings, the other files byte
for byte).

``--scale N`` makes the fleet N times larger, SYNTHETICALLY: every app of every part is copied N-1 times under
renamed names (``<name>-x2``..), diffs, errors, hooks and findings included, in the part it came from. No repository
is generated or checked: the copies only stand for a larger fleet's part files, to time the merge at 5,000 apps
without rendering 5,000 apps. ``--scale 5`` of bench_fleet's 1,000-app parts is ~5,000 apps / ~205,000 resources.

    python bench/bench_merge.py --parts bench/out/fleet/runs [--scale 5] [--baseline REV] [--out bench/out/merge]

Target (issue 15) on a 2-core machine: merge under 5 s at 5,000 apps. No assertion: printed as PASS/FAIL.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_fleet import comparable, measured  # noqa: E402

# The last commit before merge was made fast (issue 15): the generic decoder and junit_xml's pretty printer.
DEFAULT_BASELINE = "e415dca"
TARGET_SECONDS = 5.0


def scaled_parts(source: Path, out: Path, scale: int) -> tuple[list[Path], int, int]:
    """The parts of ``source`` with every app copied ``scale - 1`` times under new names; (files, apps, resources)."""
    files = sorted(source.glob("part-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    if not files:
        raise SystemExit(f"no part-*.json in {source} (run bench/bench_fleet.py first)")
    out.mkdir(parents=True, exist_ok=True)
    written, apps, resources = [], 0, 0
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        result = doc["result"]
        originals, findings = list(result["apps"]), list(result.get("findings", []))
        for k in range(2, scale + 1):
            result["apps"] += [_renamed(app, f"-x{k}") for app in originals]
            result["findings"] += [{**f, "app": f["app"] + f"-x{k}"} for f in findings]
        apps += len(result["apps"])
        resources += sum(len(a["diffs"]) for a in result["apps"])
        target = out / path.name
        target.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        written.append(target)
    return written, apps, resources


def _renamed(app: dict[str, Any], suffix: str) -> dict[str, Any]:
    app = copy.deepcopy(app)
    name = app["app"]["name"] + suffix
    app["app"]["name"] = name
    for diff in app["diffs"]:
        diff["app"] = name
        if diff.get("origin"):
            diff["origin"]["app"] = name
    for error in app["errors"]:
        error["app"] = name
    for hook in app.get("hooks", []):
        hook["origin"]["app"] = name
    return app


def baseline_tree(rev: str, out: Path) -> Path:
    """The package as it was at ``rev``, in a folder of its own to put first on PYTHONPATH."""
    tree = out / f"baseline-{rev}"
    if not (tree / "gitops_check").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "gitops_check"], capture_output=True,
                                 check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def merge(tree: Path, parts: list[Path], reports: Path, *, every_report: bool) -> dict[str, Any]:
    reports.mkdir(parents=True, exist_ok=True)
    # -P: not the current folder first on sys.path, which may be this checkout.
    argv = ["env", f"PYTHONPATH={tree}", sys.executable, "-P", "-m", "gitops_check", "merge", *map(str, parts),
            "--no-color", "--json", str(reports / "report.json")]  # fmt: skip
    if every_report:
        argv += ["--junit", str(reports / "junit.xml"), "--markdown", str(reports / "comment.md"),
                 "--markdown-full", str(reports / "full.md")]  # fmt: skip
    return measured(argv)


def same_reports(a: Path, b: Path) -> list[str]:
    """The reports the two versions wrote that differ (JSON compared without timings)."""
    differ = [] if comparable(a / "report.json") == comparable(b / "report.json") else ["report.json"]
    for name in ("junit.xml", "comment.md", "full.md"):
        if (a / name).read_bytes() != (b / name).read_bytes():
            differ.append(name)
    return differ


def main() -> int:
    parser = argparse.ArgumentParser(description="gitops-check merge: baseline commit against this checkout")
    parser.add_argument(
        "--parts", type=Path, required=True, help="folder with part-1.json.. (bench_fleet's runs)"
    )
    parser.add_argument("--scale", type=int, default=1, help="copy every app N-1 times (synthetic fleet)")
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision to compare with")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "merge")
    args = parser.parse_args()

    out = args.out.resolve()
    parts, apps, resources = scaled_parts(args.parts, out / f"parts-x{args.scale}", args.scale)
    versions = {"baseline": baseline_tree(args.baseline, out), "current": ROOT}
    kinds = {"json only": False, "every report": True}
    times: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(args.repeat):
        for kind, every in kinds.items():
            for version, tree in versions.items():
                run = merge(tree, parts, out / version / kind.replace(" ", "-"), every_report=every)
                times.setdefault((version, kind), []).append(run)
    differ = same_reports(out / "baseline" / "every-report", out / "current" / "every-report")

    synthetic = f", synthetic: every app copied {args.scale}x" if args.scale > 1 else ""
    print(f"merge of {len(parts)} parts: {apps} apps, {resources} resources{synthetic}; "
          f"baseline {args.baseline}, best of {args.repeat}, cores {os.cpu_count()}")  # fmt: skip
    for kind in kinds:
        base = min(times[("baseline", kind)], key=lambda r: r["wall"])
        now = min(times[("current", kind)], key=lambda r: r["wall"])
        print(f"{kind:>12}: baseline {base['wall']:6.2f} s (CPU {base['cpu']:6.2f} s), peak {base['peak_mb']:4.0f} MB"
              f" | current {now['wall']:6.2f} s (CPU {now['cpu']:6.2f} s), peak {now['peak_mb']:4.0f} MB"
              f" | {base['wall'] / now['wall']:4.1f}x faster (CPU {base['cpu'] / now['cpu']:4.1f}x)")  # fmt: skip
    print("reports equal to the baseline's:", "yes" if not differ else "NO: " + ", ".join(differ))
    best = min(times[("current", "json only")], key=lambda r: r["wall"])
    print(f"{'PASS' if best['wall'] < TARGET_SECONDS else 'FAIL'} merge (JSON) under {TARGET_SECONDS:.0f} s: "
          f"{best['wall']:.2f} s (CPU {best['cpu']:.2f} s) at {apps} apps")  # fmt: skip
    shutil.rmtree(out / f"parts-x{args.scale}", ignore_errors=True)
    return 0 if not differ else 1


if __name__ == "__main__":
    raise SystemExit(main())
