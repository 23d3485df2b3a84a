"""Benchmark of charts fetched from outside the repository, next to the same charts vendored in Git.

Starts, on 127.0.0.1, a Helm chart repository (HTTP) and the real OCI distribution registry (HTTPS, self-signed
CA) holding 10 charts x 3 versions (packaged and pushed with the real helm), and generates two repositories of
50 Argo CD Applications each (5 apps per chart, half of the charts from the HTTP repository, half from OCI):

* ``pinned``: every app names an exact version;
* ``ranged``: every app names a range (``1.x``);
* ``vendored``: the same 50 apps rendering the same charts committed in Git (the baseline).

Then measures, each in a process of its own (the installed console script, as a user runs it):

* cold: ``diff`` with an empty fetch cache (pinned and ranged), and the time ``helm pull`` takes for the same
  50 charts (what a pipeline vendoring charts before a check would spend);
* warm: the same commands again on the filled cache;
* vendored: ``diff`` of the vendored repository.

and prints wall times, the HTTP requests gitops-check made (``stats.fetch_requests`` of its JSON report), and
the ratios. Targets: warm pinned makes 0 requests and is within 1.2x of vendored; cold (pinned) is within 1.5x
of ``helm pull`` of the same charts plus the vendored run.

    python bench/bench_remote.py [--out bench/out/remote] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.chartrepo import FileServer, helm_binary, index, make_chart, package  # noqa: E402
from tests.helpers.gitrepo import GitRepo  # noqa: E402
from tests.helpers.registry import running_registry  # noqa: E402

CHARTS = 10
VERSIONS = ("1.0.0", "1.1.0", "1.2.0")
APPS_PER_CHART = 5


def app_yaml(name: str, repo_url: str, chart: str, version: str) -> str:
    return (
        f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n"
        f"spec:\n  project: default\n  source:\n    repoURL: {repo_url}\n    chart: {chart}\n"
        f"    targetRevision: '{version}'\n  destination:\n    server: https://kubernetes.default.svc\n"
        f"    namespace: {name}\n"
    )


def vendored_yaml(name: str, path: str) -> str:
    return (
        f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n"
        f"spec:\n  project: default\n  source:\n    repoURL: https://git.example.com/bench.git\n    path: {path}\n"
        f"  destination:\n    server: https://kubernetes.default.svc\n    namespace: {name}\n"
    )


def charts_of(i: int, http_url: str, oci_url: str) -> tuple[str, str]:
    return (http_url, f"chart-{i:02d}") if i % 2 == 0 else (oci_url, f"chart-{i:02d}")


def make_repo(path: Path, files: dict[str, str]) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    repo = GitRepo.init(path)
    repo.write(files)
    repo.commit("apps")
    return path


def run_check(repo: Path, out: Path, env: dict[str, str], extra: list[str]) -> dict[str, Any]:
    exe = shutil.which("gitops-check") or str(Path(sys.executable).parent / "gitops-check")
    report = out / "report.json"
    snapshot = out / "empty.json"
    snapshot.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": []}))
    argv = [exe, "diff", "--repo", str(repo), "--snapshot", str(snapshot), "--assume-complete-snapshot",
            "--json", str(report), "--no-color", "--repo-url", "https://git.example.com/bench.git", *extra]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env}, check=False)
    wall = time.perf_counter() - start
    data = json.loads(report.read_text()) if report.exists() else {}
    errors = [e for a in data.get("apps", []) for e in a["errors"]]
    if proc.returncode not in (0, 1) or errors:
        raise SystemExit(
            f"gitops-check failed ({proc.returncode}): {errors[:3]}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return {
        "wall": wall,
        "requests": data["stats"].get("fetch_requests", -1),
        "objects": data["stats"]["objects"],
    }


def helm_pull_all(apps: list[tuple[str, str, str]], dest: Path, ca: Path) -> float:
    """``helm pull`` of every app's chart, as a pipeline vendoring them first would (one pull per app)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    start = time.perf_counter()
    for n, (url, chart, version) in enumerate(apps):
        target = dest / str(n)
        target.mkdir()
        if url.startswith("oci://"):
            argv = [
                helm_binary(),
                "pull",
                f"{url}/{chart}",
                "--version",
                version,
                "-d",
                str(target),
                "--ca-file",
                str(ca),
            ]
        else:
            argv = [helm_binary(), "pull", chart, "--repo", url, "--version", version, "-d", str(target)]
        subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "remote")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    out: Path = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    site = out / "site"
    sources = out / "src"
    for i in range(CHARTS):
        for version in VERSIONS:
            package(make_chart(sources, f"chart-{i:02d}", version, value=f"c{i}-{version}"), site)
    env_base = {"HELM_REGISTRY_CONFIG": str(out / "helm-registry.json"), "HELM_CACHE_HOME": str(out / "helm-cache"),
                "HELM_CONFIG_HOME": str(out / "helm-config"), "HELM_DATA_HOME": str(out / "helm-data")}  # fmt: skip
    with FileServer(site).running() as server, running_registry(out / "registry") as registry:
        index(site, server.url)
        oci_url = f"oci://{registry.host}/charts"
        for tgz in sorted(site.glob("*.tgz")):
            subprocess.run([helm_binary(), "push", str(tgz), oci_url, "--ca-file", str(registry.cert)],
                           check=True, capture_output=True, env={**os.environ, **env_base})  # fmt: skip
        pinned, ranged, vendored, pulls = {}, {}, {}, []
        for i in range(CHARTS):
            url, chart = charts_of(i, server.url, oci_url)
            unpacked = out / "vendor" / chart
            with tarfile.open(site / f"{chart}-1.2.0.tgz") as tar:
                tar.extractall(out / "vendor", filter="data")
            for a in range(APPS_PER_CHART):
                name = f"app-{i:02d}-{a}"
                pinned[f"apps/{name}.yaml"] = app_yaml(name, url, chart, "1.2.0")
                ranged[f"apps/{name}.yaml"] = app_yaml(name, url, chart, "1.x")
                vendored[f"apps/{name}.yaml"] = vendored_yaml(name, f"charts/{chart}")
                pulls.append((url, chart, "1.2.0"))
            for f in unpacked.rglob("*"):
                if f.is_file():
                    vendored[f"charts/{chart}/{f.relative_to(unpacked)}"] = f.read_text()
        repos = {
            "pinned": make_repo(out / "repo-pinned", pinned),
            "ranged": make_repo(out / "repo-ranged", ranged),
            "vendored": make_repo(out / "repo-vendored", vendored),
        }
        flags = ["--allow-host", "127.0.0.1", "--fetch-ca-file", str(registry.cert)]
        rows: dict[str, list[dict[str, Any]]] = {}
        for _ in range(args.repeat):
            for kind in ("pinned", "ranged"):
                cache = out / f"cache-{kind}"
                shutil.rmtree(cache, ignore_errors=True)
                env = {**env_base, "GITOPS_CHECK_FETCH_CACHE_DIR": str(cache)}
                rows.setdefault(f"cold {kind}", []).append(run_check(repos[kind], out, env, flags))
                rows.setdefault(f"warm {kind}", []).append(run_check(repos[kind], out, env, flags))
            rows.setdefault("vendored", []).append(run_check(repos["vendored"], out, env_base, []))
            wall = helm_pull_all(pulls, out / "pulled", registry.cert)
            rows.setdefault("helm pull x50", []).append({"wall": wall, "requests": -1, "objects": 0})
    med = {k: statistics.median(r["wall"] for r in v) for k, v in rows.items()}
    requests = {k: v[-1]["requests"] for k, v in rows.items()}
    print(
        f"{len(pinned)} apps, {CHARTS} charts x {len(VERSIONS)} versions, half HTTP half OCI; median of {args.repeat}"
    )
    print(f"{'run':<16}{'wall s':>9}{'requests':>10}")
    for k in rows:
        print(f"{k:<16}{med[k]:>9.2f}{(requests[k] if requests[k] >= 0 else '-'):>10}")
    warm_ratio = med["warm pinned"] / med["vendored"]
    cold_ratio = med["cold pinned"] / (med["helm pull x50"] + med["vendored"])
    checks = [
        (requests["warm pinned"] == 0, f"warm pinned makes 0 requests (made {requests['warm pinned']})"),
        (warm_ratio <= 1.2, f"warm pinned / vendored = {warm_ratio:.2f} (target <= 1.2)"),
        (cold_ratio <= 1.5, f"cold pinned / (helm pull + vendored) = {cold_ratio:.2f} (target <= 1.5)"),
    ]
    print(f"cold ranged / (helm pull + vendored) = {med['cold ranged'] / (med['helm pull x50'] + med['vendored']):.2f}; "
          f"warm ranged / vendored = {med['warm ranged'] / med['vendored']:.2f} ({requests['warm ranged']} requests: "
          "index revalidation)")  # fmt: skip
    for ok, label in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
