"""Benchmark of ``gitops-check diff`` against a snapshot, next to a naive baseline run in the same invocation.

Generates (or reuses) a synthetic repository of ~200 apps / ~10,000 objects and a snapshot with server
defaults, managed fields and known injected drifts (bench/gen_repo.py), then measures:

* gitops-check: the installed console script as a user runs it — wall time, peak memory of the process tree,
  objects per second of the diff stage, drifts found / injected, false positives, missed drifts;
* naive baseline: the same renders, then the snapshot parsed and each object compared with plain dict equality.

    python bench/bench_diff.py [--out bench/out/diff] [--apps 200] [--regenerate]

Targets on a 2-core machine: whole diff < 20 s, diff stage > 5,000 objects/s, peak memory < 500 MB, every
injected drift found, zero false positives.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gen_repo import generate, render_desired  # noqa: E402


def run_gitops_check(out: Path, workers: int) -> dict[str, Any]:
    report = out / "report.json"
    exe = shutil.which("gitops-check") or str(Path(sys.executable).parent / "gitops-check")
    argv = [exe, "diff", "--repo", str(out / "repo"), "--snapshot", str(out / "snapshot.json"),
            "--json", str(report), "--workers", str(workers), "--no-color"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"gitops-check failed ({proc.returncode}):\n{proc.stderr[-3000:]}\n{proc.stdout[-3000:]}"
        )
    data = json.loads(report.read_text())
    found = {
        (app["name"], r["id"], r["status"])
        for app in data["apps"]
        for r in app["resources"]
        if r["status"] != "unchanged"
    }
    return {
        "wall": wall,
        "peak_mb": max(peak_kb, before) / 1024,
        "exit": proc.returncode,
        "timings": data["timings"],
        "objects": data["stats"]["objects"],
        "found": found,
    }


def run_naive(out: Path) -> dict[str, Any]:
    """Render, parse, compare with ==: what a hand-rolled checker does."""
    start = time.perf_counter()
    desired = render_desired(out / "repo")
    rendered = time.perf_counter()
    snapshot = json.loads((out / "snapshot.json").read_text())
    live = {}
    for obj in snapshot["objects"]:
        meta = obj["metadata"]
        group = obj["apiVersion"].rpartition("/")[0]
        live[(group, obj["kind"], meta.get("namespace"), meta["name"])] = obj
    parsed = time.perf_counter()
    found = set()
    for app, _ns, key, body in desired:
        other = live.get((key.group, key.kind, key.namespace, key.name))
        want = dict(body, metadata={**body.get("metadata", {}), "namespace": key.namespace})
        if other is None:
            found.add((app, str(key), "added"))
        elif other != want:
            found.add((app, str(key), "changed"))
    done = time.perf_counter()
    return {
        "wall": done - start,
        "render": rendered - start,
        "parse": parsed - rendered,
        "compare": done - parsed,
        "objects": len(desired),
        "found": found,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="gitops-check diff benchmark")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "diff")
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--components", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    if args.regenerate and args.out.exists():
        shutil.rmtree(args.out)
    if not (args.out / "expected.json").exists():
        t = time.perf_counter()
        info = generate(args.out, args.apps, args.components)
        print(f"generated {info['apps']} apps / {info['objects']} objects in {time.perf_counter() - t:.1f}s")
    info = json.loads((args.out / "expected.json").read_text())
    expected = {(e["app"], e["resource"], e["status"]) for e in info["expected"]}

    ours = run_gitops_check(args.out, args.workers)
    naive = run_naive(args.out)

    diff_s = ours["timings"].get("diff", 0.0)
    rate = ours["objects"] / diff_s if diff_s else float("inf")
    naive_rate = naive["objects"] / naive["compare"] if naive["compare"] else float("inf")
    missed = expected - ours["found"]
    false_pos = ours["found"] - expected
    naive_fp = naive["found"] - expected
    print(
        f"\nsynthetic repository: {info['apps']} apps, {info['objects']} objects, {len(expected)} injected drifts"
    )
    print(f"{'':28}{'gitops-check':>16}{'naive':>16}")
    print(f"{'wall time (s)':28}{ours['wall']:>16.2f}{naive['wall']:>16.2f}")
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in sorted(ours["timings"].items()))
    print(f"{'  stages':28}{stages}")
    print(f"{'diff stage objects/s':28}{rate:>16,.0f}{naive_rate:>16,.0f}")
    print(f"{'peak memory (MB)':28}{ours['peak_mb']:>16.0f}{'(in-process)':>16}")
    print(f"{'drifts found / injected':28}{len(expected - missed):>12}/{len(expected):<3}"
          f"{len(expected & naive['found']):>12}/{len(expected):<3}")  # fmt: skip
    print(f"{'false positives':28}{len(false_pos):>16}{len(naive_fp):>16}")
    print(f"{'exit code':28}{ours['exit']:>16}")
    print(
        f"\nratios: wall {ours['wall'] / naive['wall']:.2f}x of naive; "
        f"false positives {len(false_pos)} vs {len(naive_fp)}"
    )
    targets = {
        "whole diff < 20 s": ours["wall"] < 20,
        "diff stage > 5,000 objects/s": rate > 5000,
        "peak memory < 500 MB": ours["peak_mb"] < 500,
        "every injected drift found": not missed,
        "zero false positives": not false_pos,
    }
    for name, ok in targets.items():
        print(f"  [{'ok' if ok else 'MISSED'}] {name}")
    for item in sorted(missed)[:10]:
        print(f"  missed: {item}")
    for item in sorted(false_pos)[:10]:
        print(f"  false positive: {item}")


if __name__ == "__main__":
    main()
