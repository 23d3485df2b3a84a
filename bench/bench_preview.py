"""Benchmark of ``gitops-check preview`` next to the naive approach, run in the same invocation.

Generates a synthetic GitOps repository of ~300 apps (100 Helm apps on 5 shared charts with one value file
each, 100 Kustomize overlays on 10 shared bases, 100 plain folders) and a commit that changes one Helm app's
value file, then measures:

* preview, cold: the installed console script with an empty render cache (wall time, Python start included);
* preview, warm: the same command again, the render cache filled by the cold run;
* preview, cold with the two commits written to disk (``--work-dir`` under the system temp folder);
* naive: render every app at both commits with the same renderers, tool finder and number of workers, then diff
  every app (the same exact comparison preview uses). It runs as a process of its own too (this script with
  ``--naive``), in the same temporary folder preview uses by default, so both sides pay the same interpreter
  start-up and imports: the ratio is between what a user waits for either way. Each side also reports the
  time spent inside the process (after imports), printed apart.

With ``--against DIR`` (the root of another checkout of gitops-check, e.g. ``git worktree add DIR main``), the
cold preview runs once more per run with that checkout's package (``PYTHONPATH=DIR``), interleaved with this
one's, so a change is measured against its baseline under the same machine load.

Correctness check in the same run: the apps preview reports as changed must be exactly the apps whose full
render differs between the commits (computed by the naive run). Exit code 1 when it does not hold.

    python bench/bench_preview.py [--out bench/out/preview] [--apps 300] [--workers 4] [--runs 5]
        [--naive-runs 3] [--against DIR]

Targets: cold preview at least 20x faster than naive, under 3 s; warm under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}  # fmt: skip
CHANGED_APP = "helm-042"
PYCACHE = Path(tempfile.gettempdir()) / "gitops-check-bench-pycache"

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}, chart: {{ .Chart.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image }}:{{ .Values.tag }}"
          env:
          {{- range $k, $v := .Values.env }}
            - {name: {{ $k }}, value: {{ $v | quote }}}
          {{- end }}
          resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}}
spec:
  selector: {app: {{ .Release.Name }}}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-config}
data:
  {{- range $k, $v := .Values.env }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
"""


def generate(root: Path, apps: int) -> None:
    """The repository with two commits: everything, then one Helm app's value file changed."""
    per = apps // 3
    files: dict[str, str] = {}
    entries: list[str] = []
    for c in range(5):
        files[f"charts/svc-{c}/Chart.yaml"] = f"apiVersion: v2\nname: svc-{c}\nversion: 1.{c}.0\n"
        files[f"charts/svc-{c}/values.yaml"] = "replicas: 1\nimage: example/app\ntag: '1.0'\nenv: {}\n"
        files[f"charts/svc-{c}/templates/app.yaml"] = TEMPLATE
    for i in range(per):
        name = f"helm-{i:03d}"
        files[f"values/{name}.yaml"] = _values(i, tag="1.0")
        entries.append(f"  - {{name: {name}, path: charts/svc-{i % 5}, namespace: {name}, "
                       f"helm: {{valueFiles: [/values/{name}.yaml]}}}}\n")  # fmt: skip
    for b in range(10):
        files[f"kustomize/bases/base-{b}/kustomization.yaml"] = "resources: [deploy.yaml, cm.yaml]\n"
        files[f"kustomize/bases/base-{b}/deploy.yaml"] = _deployment(f"api-{b}")
        files[f"kustomize/bases/base-{b}/cm.yaml"] = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-{b}\ndata:\n  level: info\n"
        )
    for i in range(per):
        name = f"kust-{i:03d}"
        files[f"kustomize/overlays/{name}/kustomization.yaml"] = (
            f"resources: [../../bases/base-{i % 10}]\nnamespace: {name}\nnamePrefix: o{i}-\n"
            f"configMapGenerator:\n  - name: extra\n    literals: [index={i}]\n"
        )
        entries.append(f"  - {{name: {name}, path: kustomize/overlays/{name}}}\n")
    for i in range(apps - 2 * per):
        name = f"plain-{i:03d}"
        files[f"plain/{name}/deploy.yaml"] = _deployment(name)
        files[f"plain/{name}/cm.yaml"] = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v{i}\n"
        )
        entries.append(f"  - {{name: {name}, path: plain/{name}, namespace: {name}}}\n")
    files[".gitops-check.yaml"] = "version: 1\napps:\n" + "".join(entries)
    files["README.md"] = "# synthetic GitOps repository\n"
    _write(root, files)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "all apps")
    _write(root, {f"values/{CHANGED_APP}.yaml": _values(42, tag="1.1")})
    _git(root, "commit", "-q", "-am", f"{CHANGED_APP}: tag 1.1")


def _values(i: int, *, tag: str) -> str:
    env = "".join(f"  VAR_{k}: value-{i}-{k}\n" for k in range(8))
    return f"replicas: {i % 4 + 1}\ntag: '{tag}'\nenv:\n{env}"


def _deployment(name: str) -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 2\n"
            f"  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n"
            f"    spec:\n      containers: [{{name: app, image: 'example/{name}:1.0'}}]\n")  # fmt: skip


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True)


# ---------------------------------------------------------------------------------------------------------------


def run_preview(repo: Path, out: Path, name: str, *extra: str, package: Path | None = None) -> dict[str, Any]:
    """The console script on ``repo``; ``package``: another checkout whose gitops_check it imports instead."""
    exe = shutil.which("gitops-check") or str(Path(sys.executable).parent / "gitops-check")
    report = out / f"{name}.json"
    argv = [
        exe,
        "preview",
        "--repo",
        str(repo),
        "--base",
        "HEAD~1",
        "--json",
        str(report),
        "--no-color",
        *extra,
    ]
    start = time.perf_counter()
    env = _clean_env() | ({"PYTHONPATH": str(package)} if package else {})
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"preview failed ({proc.returncode}):\n{proc.stderr[-3000:]}\n{proc.stdout[-3000:]}")
    data = json.loads(report.read_text())
    changed = {a["name"] for a in data["apps"] if a["status"] == "drifted"}
    return {"wall": wall, "changed": changed, "stats": data["stats"], "timings": data["timings"]}


def _clean_env() -> dict[str, str]:
    """Outside CI; byte code kept (like a pip installation) in a folder of the benchmark's own."""
    drop = ("GITHUB_ACTIONS", "GITLAB_CI", "GITOPS_CHECK_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def run_naive(repo: Path, out: Path, name: str, workers: int) -> dict[str, Any]:
    """The naive approach as a process of its own (``--naive``), timed from the outside like preview."""
    report = out / f"{name}.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--naive", str(repo), "--workers", str(workers),
            "--out", str(report)]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=_clean_env())
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"naive run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    data = json.loads(report.read_text())
    return {
        "wall": wall,
        "changed": set(data["changed"]),
        "renders": data["renders"],
        "inside": data["inside"],
    }


def naive_run(repo: Path, workers: int) -> dict[str, Any]:
    """Render every app at both commits, then compare every app: what preview avoids."""
    from gitops_check.diff.engine import diff_object
    from gitops_check.discover.dispatch import discover
    from gitops_check.discover.project import load_project
    from gitops_check.identity import KindScopes, assign_keys
    from gitops_check.pipeline.rendering import render_all
    from gitops_check.preview.compare import EXACT
    from gitops_check.project.config import RenderOptions
    from gitops_check.render.base import ToolFinder
    from gitops_check.sources.git import open_repo

    start = time.perf_counter()
    handle = open_repo(repo)
    options = RenderOptions(workers=workers)
    tools = ToolFinder(options)
    renders: dict[str, dict[str, Any]] = {}
    # The same place preview writes the two commits to by default: memory-backed when it has room.
    with tempfile.TemporaryDirectory(prefix="bench-naive-", dir=_memory_folder()) as tmp:
        for side, rev in (("base", "HEAD~1"), ("head", "HEAD")):
            ws = handle.materialize(rev, Path(tmp) / side)
            apps = discover(ws, load_project(ws)).apps
            renders[side] = {r.app.name: r for r in render_all(apps, ws, options, tools)}
    changed = set()
    scopes = KindScopes()
    for name in sorted(set(renders["base"]) | set(renders["head"])):
        base, head = renders["base"].get(name), renders["head"].get(name)
        if base is None or head is None or base.output is None or head.output is None:
            changed.add(name)
            continue
        old = {m.key: m for m in assign_keys(base.app, base.output.objects, scopes).manifests}
        new = {m.key: m for m in assign_keys(head.app, head.output.objects, scopes).manifests}
        for key in set(old) | set(new):
            before = old.get(key)
            diff = diff_object(key, new.get(key), before.body if before else None, head.app, EXACT)
            if diff.is_drift:
                changed.add(name)
    return {
        "inside": time.perf_counter() - start,
        "changed": sorted(changed),
        "renders": sum(len(r) for r in renders.values()),
    }


def _memory_folder() -> str | None:
    """/dev/shm when it has room, as ``preview`` chooses by default (``preview.commits``)."""
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return None
    roomy = st.f_bavail * st.f_frsize >= 256 * 1024 * 1024 and os.access("/dev/shm", os.W_OK)
    return "/dev/shm" if roomy else None


def repeated(runs: int, one: Any) -> dict[str, Any]:
    """``one(i)`` ``runs`` times: the median run (and the fastest wall time), every changed set kept."""
    return summary([one(i) for i in range(runs)])


def interleaved(runs: int, one: Any, other: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``one(i)`` and ``other(i)`` in turns (which goes first alternates): ``repeated``'s summary of each."""
    ones: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for i in range(runs):
        pair = [(one, ones), (other, others)]
        for run, results in pair if i % 2 == 0 else pair[::-1]:
            results.append(run(i))
    return summary(ones), summary(others)


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(results, key=lambda r: r["wall"])
    median = dict(ordered[len(ordered) // 2])
    median["best"] = ordered[0]["wall"]
    median["all_changed"] = [r["changed"] for r in results]
    insides = sorted(r["inside"] if "inside" in r else r["timings"]["total"] for r in results)
    median["inside_median"] = insides[len(insides) // 2]
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "preview")
    parser.add_argument("--apps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5, help="runs of each preview variant (median reported)")
    parser.add_argument(
        "--naive-runs", type=int, default=3, help="runs of the naive approach (median reported)"
    )
    parser.add_argument(
        "--against", type=Path, metavar="DIR", help="another checkout's root: its cold preview, interleaved"
    )
    parser.add_argument("--naive", type=Path, metavar="REPO", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.naive:
        args.out.write_text(json.dumps(naive_run(args.naive, args.workers)))
        return 0
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    repo = out / "repo"
    generate(repo, args.apps)
    workers = ["--workers", str(args.workers)]

    # Not timed: writes the byte code of every module the command imports (an installed package ships it).
    run_preview(repo, out, "warm-up", "--no-cache", *workers)

    def cold_run(i: int, package: Path | None = None) -> dict[str, Any]:
        name = f"cold-{'against-' if package else ''}{i}"
        return run_preview(
            repo, out, name, "--cache-dir", str(out / f"{name}-cache"), *workers, package=package
        )

    if args.against:
        against = args.against.resolve()
        run_preview(repo, out, "warm-up-against", "--no-cache", *workers, package=against)  # its byte code
        cold, base = interleaved(args.runs, cold_run, lambda i: cold_run(i, against))
    else:
        cold, base = repeated(args.runs, cold_run), None
    warm = repeated(args.runs, lambda i: run_preview(repo, out, f"warm-{i}", "--cache-dir", str(out / "cold-0-cache"),
                                                     *workers))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-preview-disk-") as disk:
        on_disk = repeated(args.runs, lambda i: run_preview(repo, out, f"disk-{i}", "--no-cache", "--work-dir", disk,
                                                            *workers))  # fmt: skip
    naive = repeated(args.naive_runs, lambda i: run_naive(repo, out, f"naive-{i}", args.workers))

    load = os.getloadavg()[0]
    print(f"synthetic repository: {cold['stats']['apps']} apps, commit changes values/{CHANGED_APP}.yaml; "
          f"{os.cpu_count()} CPUs, load average {load:.1f}; median of {args.runs} runs (naive: {args.naive_runs})")  # fmt: skip
    print("seconds: wall time of the process, start-up and imports included (what a user waits for);")
    print("inside: the same runs after start-up and imports, both sides (the two approaches alone)")
    print(f"{'run':<32}{'seconds':>8}{'fastest':>8}{'inside':>8}{'renders':>8}{'vs naive':>10}{'inside':>8}")
    rows = [("preview cold (empty cache)", cold), ("preview warm (cache from cold)", warm),
            ("preview cold, commits on disk", on_disk), ("naive: render all twice, diff", naive)]  # fmt: skip
    if base is not None:
        rows.insert(1, (f"  the same, {args.against.name} (--against)", base))
    for label, r in rows:
        renders = r["renders"] if r is naive else r["stats"]["renders"]
        print(
            f"{label:<32}{r['wall']:>8.2f}{r['best']:>8.2f}{r['inside_median']:>8.2f}{renders:>8}"
            f"{naive['wall'] / r['wall']:>9.1f}x{naive['inside_median'] / r['inside_median']:>7.1f}x"
        )
    print(f"preview cold stages (median run): {json.dumps(cold['timings'])}")
    if base is not None:
        print(f"  the same, --against (median run): {json.dumps(base['timings'])}")
        change = (cold["wall"] - base["wall"], cold["inside_median"] - base["inside_median"])
        print(
            f"this checkout minus --against, cold: {change[0]:+.3f} s wall, {change[1]:+.3f} s inside (medians)"
        )
    every = [*cold["all_changed"], *warm["all_changed"], *on_disk["all_changed"]]
    every += base["all_changed"] if base is not None else []
    correct = all(changed == naive["changed"] for changed in every) and all(
        changed == naive["changed"] for changed in naive["all_changed"]
    )
    print(f"changed apps: preview {sorted(cold['changed'])}, full renders differ {sorted(naive['changed'])}")
    checks = [
        ("cold >= 20x faster than naive, end to end", naive["wall"] / cold["wall"] >= 20),
        (
            "cold >= 20x faster than naive, after start-up",
            naive["inside_median"] / cold["inside_median"] >= 20,
        ),
        ("cold < 3 s", cold["wall"] < 3),
        ("warm < 1 s", warm["wall"] < 1),
        ("no missed or extra change, in every run", correct),
    ]
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return 0 if correct else 1


if __name__ == "__main__":
    raise SystemExit(main())
