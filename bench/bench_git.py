"""Benchmark of reading a repository (``gitops_check.sources.git``), against ``git archive | tar -x``.

Generates a repository of ``--files`` YAML files in ``--folders`` folders with two commits (the second changes
every tenth file), then measures, each in a fresh Python process so the import of the module (and of anything
it pulls in) counts as it does for every run of the command line:

* ``import``: importing ``gitops_check.sources.git``;
* ``open+resolve``: ``open_repo`` and resolving ``HEAD`` and ``HEAD~1``, plus ``remote_urls``;
* ``materialize``: writing the first commit into an empty folder, then the second ``like`` the first;
* ``lookups``: ``changed_paths`` between the commits, ``tree_index`` and ``tree_ids`` of 200 paths;

and the baseline: ``git archive HEAD | tar -x`` of the same commit. Prints the median of ``--repeat`` runs and
the ratio of materializing to the baseline.

    python bench/bench_git.py [--files 3000] [--folders 100] [--repeat 5] [--source DIR ...]

``--source`` (repeatable): the checkout whose ``gitops_check`` is measured (default: this one); runs of several
sources are interleaved, so a busy machine slows each of them alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys, time, tempfile
from pathlib import Path
t0 = time.perf_counter()
from gitops_check.sources import git as g
t1 = time.perf_counter()
repo = sys.argv[1]
h = g.open_repo(repo)
head, first = h.resolve("HEAD"), h.resolve("HEAD~1")
h.remote_urls()
t2 = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    a = h.materialize(first, Path(tmp) / "a")
    h.materialize(head, Path(tmp) / "b", like=a)
t3 = time.perf_counter()
h.changed_paths(first, head)
index = h.tree_index(head)
h.tree_ids(head, sorted(index)[:200])
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "open+resolve": t2 - t1, "materialize": t3 - t2, "lookups": t4 - t3}))
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(root: Path, files: int, folders: int) -> Path:
    repo = root / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://git.example.com/org/gitops.git")
    for i in range(files):
        path = repo / f"apps/app{i % folders}/obj{i}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: obj{i}\ndata:\n  n: '{i}'\n" * 4
        )
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.email=b@x", "-c", "user.name=b", "commit", "-q", "-m", "one")
    for i in range(0, files, 10):
        (repo / f"apps/app{i % folders}/obj{i}.yaml").write_text(
            f"kind: ConfigMap\nmetadata:\n  name: obj{i}b\n"
        )
    _git(repo, "-c", "user.email=b@x", "-c", "user.name=b", "commit", "-q", "-am", "two")
    return repo


def probe(repo: Path, source: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(repo)], check=True, capture_output=True, text=True, cwd=source
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def baseline(repo: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        archive = subprocess.Popen(["git", "-C", str(repo), "archive", "HEAD"], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", tmp], stdin=archive.stdout, check=True)
        archive.wait()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--source", type=Path, action="append")
    args = parser.parse_args()
    sources: list[Path] = args.source or [ROOT]
    runs: dict[Path, list[dict[str, float]]] = {s: [] for s in sources}
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp), args.files, args.folders)
        bases = []
        for _ in range(args.repeat):
            for source in sources:
                runs[source].append(probe(repo, source))
            bases.append(baseline(repo))
    base = statistics.median(bases)
    print(f"{args.files} files, {args.folders} folders, median of {args.repeat} runs")
    print(f"  baseline git archive | tar -x: {base * 1000:.1f} ms (one commit)")
    for source, results in runs.items():
        print(f"{source}:")
        for key in results[0]:
            print(f"  {key:14} {statistics.median(r[key] for r in results) * 1000:8.1f} ms")
        total = statistics.median(sum(r.values()) for r in results)
        materialize = statistics.median(r["materialize"] for r in results)
        print(
            f"  {'total':14} {total * 1000:8.1f} ms; materialize (two commits) / baseline {materialize / base:.2f}x"
        )


if __name__ == "__main__":
    main()
