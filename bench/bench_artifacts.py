"""Benchmark of building an ExternalArtifact from an ArtifactGenerator, next to a plain copy of the same files.

Generates a monorepo of ``--apps`` folders with ``--files`` manifests each, then builds the artifact Flux's
official example builds (``@monorepo/apps/**`` into ``@artifact/``, with an ``exclude``) with gitops-check's copy
engine (discover/flux_artifact_copy.py: glob matching, exclusions, origins recorded for discovery) and, as the
baseline in the same invocation, copies the same folder with ``shutil.copytree`` (no rules at all). Each is run
``--repeat`` times; medians are printed, and their ratio.

    python bench/bench_artifacts.py [--apps 200] [--files 25] [--repeat 5]

Target on a 2-core machine: the build within 3x the plain copy (the rules cost less than the copying).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitops_check.discover.flux_artifact_copy import Staged, apply_copies  # noqa: E402

MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n" + "".join(
    f"  key{k}: value-{k}\n" for k in range(20)
)


def generate(root: Path, apps: int, files: int) -> None:
    for a in range(apps):
        folder = root / "apps" / f"app-{a:03d}"
        folder.mkdir(parents=True)
        for i in range(files):
            (folder / f"cm-{i:02d}.yaml").write_text(MANIFEST.format(i=i))
        (folder / "README.md").write_text("docs\n")


def build_once(repo: Path, work: Path) -> float:
    out = work / "artifact"
    out.mkdir()
    start = time.perf_counter()
    copies = [{"from": "@monorepo/apps/**", "to": "@artifact/", "exclude": ["*.md"]}]
    apply_copies(copies, {"monorepo": repo}, Staged(out))
    elapsed = time.perf_counter() - start
    shutil.rmtree(out)
    return elapsed


def copy_once(repo: Path, work: Path) -> float:
    out = work / "copy"
    start = time.perf_counter()
    shutil.copytree(repo / "apps", out)
    elapsed = time.perf_counter() - start
    shutil.rmtree(out)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--files", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as tmp:
        repo, work = Path(tmp) / "repo", Path(tmp) / "work"
        work.mkdir()
        generate(repo, args.apps, args.files)
        total = args.apps * (args.files + 1)
        builds, copies = [], []
        for _ in range(args.repeat):  # interleaved, so both see the same machine load
            builds.append(build_once(repo, work))
            copies.append(copy_once(repo, work))
    build, copy = statistics.median(builds), statistics.median(copies)
    ratio = build / copy if copy else float("inf")
    print(f"files in the source:        {total}")
    print(f"artifact build (median):    {build * 1000:.0f} ms ({total / build:.0f} files/s)")
    print(f"plain copytree (median):    {copy * 1000:.0f} ms ({total / copy:.0f} files/s)")
    print(f"ratio build / copy:         {ratio:.2f}x  (target <= 3x: {'PASS' if ratio <= 3 else 'FAIL'})")
    return 0 if ratio <= 3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
