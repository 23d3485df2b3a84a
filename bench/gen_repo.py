"""Generate a synthetic GitOps repository and a matching cluster snapshot with known, injected drifts.

The repository mixes plain folders, Kustomize overlays and Helm charts (about 50 objects per app); the snapshot
is what an API server would hold after Argo CD applied every object server-side (server defaults, managed
fields, tracking annotations, status — see synth.py), plus a deterministic set of hand changes of the kinds
people make. ``expected.json`` lists each injected drift as (app, resource, status).

    python bench/gen_repo.py OUT_DIR [--apps 200] [--components 10]
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synth import live_from_desired
from gitops_check.cluster.snapshot import build_snapshot, write_snapshot
from gitops_check.discover.dispatch import DiscoverOptions, discover
from gitops_check.discover.project import load_project
from gitops_check.identity import KindScopes, assign_keys
from gitops_check.model.live import SecretHashing
from gitops_check.model.objects import GroupKind
from gitops_check.pipeline.rendering import render_tree
from gitops_check.project.config import RenderOptions
from gitops_check.render.base import ToolFinder
from gitops_check.sources.git import open_repo

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_AUTHOR_DATE": "2026-11-26T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-11-26T00:00:00Z",
}


def _component_docs(app: str, c: int, image_tag: str = "1.0.0", secret: bool = True) -> list[dict[str, Any]]:
    name = f"{app}-c{c:02d}"
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": app}
    docs = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "labels": labels}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-config", "labels": labels},
         "data": {"LOG_LEVEL": "info", "FEATURE_X": "true", "TIMEOUT": "30s"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-creds", "labels": labels},
         "type": "Opaque", "stringData": {"username": _opaque("user", name), "password": _opaque("pw", f"{name}-{c}")}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
         "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"serviceAccountName": name, "containers": [{
                                   "name": "app", "image": f"registry.example.com/{app}/svc{c}:{image_tag}",
                                   "ports": [{"name": "http", "containerPort": 8080}],
                                   "envFrom": [{"configMapRef": {"name": f"{name}-config"}}],
                                   "env": [{"name": "COMPONENT", "value": name},
                                           {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{name}-creds", "key": "password"}}}],
                                   "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1000m", "memory": "0.5Gi"}},
                                   "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}}}]}}}},
    ]  # fmt: skip
    return [d for d in docs if secret or d["kind"] != "Secret"]


def _opaque(kind: str, seed: str) -> str:
    """A random-looking Secret value: never equal to (or part of) an object's name, which the report's scrubber
    would then hide wherever it appears (the benchmark compares reports)."""
    return hashlib.sha256(f"{kind}/{seed}".encode()).hexdigest()[: 20 if kind == "user" else 24]


def _dump(docs: list[dict[str, Any]], style: str = "block") -> str:
    """Manifests as repositories hold them: block YAML (``block``, as kubectl and kustomize write it), or each
    document as JSON (``json``, the fleets of the benchmark's first sessions)."""
    if style == "json":
        return "".join("---\n" + json.dumps(d, indent=1) + "\n" for d in docs)
    # Wide lines: a long string folded over two lines would be a style no manifest writer uses.
    return "".join(
        "---\n" + yaml.dump(d, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1 << 20)
        for d in docs
    )


class _Dumper(yaml.CSafeDumper):
    """PyYAML's dumper without anchors for values a document shares (its labels): manifests spell them out."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


HELM_TEMPLATE = """{{- range .Values.components }}
{{- $name := printf "%s-c%02d" $.Release.Name (int .id) }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $name }}
  labels: {app.kubernetes.io/name: {{ $name }}, app.kubernetes.io/part-of: {{ $.Release.Name }}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $name }}-config
  labels: {app.kubernetes.io/name: {{ $name }}, app.kubernetes.io/part-of: {{ $.Release.Name }}}
data:
  LOG_LEVEL: {{ $.Values.logLevel | quote }}
  FEATURE_X: "true"
  TIMEOUT: 30s
{{- if $.Values.secrets }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}-creds
  labels: {app.kubernetes.io/name: {{ $name }}, app.kubernetes.io/part-of: {{ $.Release.Name }}}
type: Opaque
stringData:
  username: {{ printf "user/%s" $name | sha256sum | trunc 20 | quote }}
  password: {{ printf "pw/%s" $name | sha256sum | trunc 24 | quote }}
{{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels: {app.kubernetes.io/name: {{ $name }}, app.kubernetes.io/part-of: {{ $.Release.Name }}}
spec:
  selector: {app.kubernetes.io/name: {{ $name }}}
  ports:
    - {name: http, port: 80, targetPort: http}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels: {app.kubernetes.io/name: {{ $name }}, app.kubernetes.io/part-of: {{ $.Release.Name }}}
spec:
  replicas: {{ $.Values.replicas }}
  selector:
    matchLabels: {app.kubernetes.io/name: {{ $name }}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: {{ $name }}, app.kubernetes.io/part-of: {{ $.Release.Name }}}
    spec:
      serviceAccountName: {{ $name }}
      containers:
        - name: app
          image: "{{ $.Values.image.repository }}/svc{{ .id }}:{{ $.Values.image.tag }}"
          ports:
            - {name: http, containerPort: 8080}
          env:
            - {name: COMPONENT, value: {{ $name }}}
          resources:
            {{- toYaml $.Values.resources | nindent 12 }}
{{- end }}
"""


def write_repo(
    root: Path, apps: int, components: int, secret_every: int = 1, style: str = "block"
) -> list[dict[str, Any]]:
    """Write the repository; returns the project-file app entries. ``secret_every``: one app in that many holds
    plain Secrets (the others reference Secrets made elsewhere, as with Sealed Secrets or External Secrets);
    ``style``: how manifests are written (``_dump``)."""
    entries = []
    kinds = ["plain", "kust", "helm"]
    for i in range(apps):
        kind = kinds[i % 3]
        name = f"{kind}-{i:03d}"
        secret = i % secret_every == 0
        ns = f"ns-{name}"
        if kind == "plain":
            folder = root / "apps" / name
            folder.mkdir(parents=True)
            for c in range(components):
                (folder / f"component-{c:02d}.yaml").write_text(
                    _dump(_component_docs(name, c, secret=secret), style)
                )
            entries.append({"name": name, "path": f"apps/{name}", "tool": "directory", "namespace": ns})
        elif kind == "kust":
            base = root / "apps" / name / "base"
            overlay = root / "apps" / name / "overlays" / "prod"
            base.mkdir(parents=True)
            overlay.mkdir(parents=True)
            files = []
            for c in range(components):
                (base / f"component-{c:02d}.yaml").write_text(
                    _dump(_component_docs(name, c, secret=secret), style)
                )
                files.append(f"component-{c:02d}.yaml")
            (base / "kustomization.yaml").write_text(json.dumps({"resources": files}, indent=1))
            images = [
                {"name": f"registry.example.com/{name}/svc{c}", "newTag": "1.0.1"} for c in range(components)
            ]
            (overlay / "kustomization.yaml").write_text(
                json.dumps({"namespace": ns, "resources": ["../../base"], "images": images}, indent=1)
            )
            entries.append(
                {"name": name, "path": f"apps/{name}/overlays/prod", "tool": "kustomize", "namespace": ns}
            )
        else:
            chart = root / "charts" / name
            (chart / "templates").mkdir(parents=True)
            (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n")
            values = {
                "replicas": 2,
                "logLevel": "info",
                "image": {"repository": f"registry.example.com/{name}", "tag": "1.0.0"},
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                "components": [{"id": c} for c in range(components)],
                "secrets": secret,
            }
            (chart / "values.yaml").write_text(json.dumps(values, indent=1))
            (chart / "values-prod.yaml").write_text("replicas: 3\n")
            (chart / "templates" / "all.yaml").write_text(HELM_TEMPLATE)
            entries.append(
                {"name": name, "path": f"charts/{name}", "tool": "helm", "namespace": ns,
                 "helm": {"releaseName": name, "valueFiles": ["values.yaml", "values-prod.yaml"]}}
            )  # fmt: skip
    (root / ".gitops-check.yaml").write_text(json.dumps({"version": 1, "apps": entries}, indent=1))
    return entries


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=root, env={**GIT_ENV, "PATH": "/usr/bin:/bin"}, check=True, capture_output=True
    )


def render_desired(root: Path) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """(app, namespace, key, body) for every object the repository renders, using gitops-check's renderers."""
    repo = open_repo(root)
    options = RenderOptions(workers=4)
    with tempfile.TemporaryDirectory() as tmp:
        ws = repo.materialize("HEAD", Path(tmp) / "tree")
        found = discover(ws, load_project(ws), DiscoverOptions())
        rendered, _ = render_tree(found, ws, options, DiscoverOptions(), ToolFinder(options))
    out = []
    for r in rendered:
        if r.output is None:
            raise SystemExit(f"render of {r.app.name} failed: {r.error}")
        for m in assign_keys(r.app, r.output.objects, KindScopes()).manifests:
            out.append((r.app.name, r.app.destination.namespace or "default", m.key, m.body))
    return out


def _owned(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["metadata"]["managedFields"][0]["fieldsV1"]


def _hand_entry(manager: str, fields: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
    entry = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def inject(
    live: dict[Any, dict[str, Any]], owners: dict[Any, str], rng: random.Random
) -> list[dict[str, str]]:
    """Change the live objects the way people do; returns the expected findings."""
    expected: list[dict[str, str]] = []
    keys = sorted(live, key=str)
    by_kind: dict[str, list[Any]] = {}
    for k in keys:
        by_kind.setdefault(k.kind, []).append(k)

    def pick(kind: str) -> Any:
        k = rng.choice(by_kind[kind])
        by_kind[kind].remove(k)
        return k

    def expect(key: Any, status: str, what: str) -> None:
        expected.append({"app": owners[key], "resource": str(key), "status": status, "drift": what})

    for _ in range(10):  # kubectl edit of an image
        k = pick("Deployment")
        obj = live[k]
        c = obj["spec"]["template"]["spec"]["containers"][0]
        c["image"] = c["image"].rsplit(":", 1)[0] + ":hotfix"
        _owned(obj)["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}'].pop("f:image", None)
        obj["metadata"]["managedFields"].append(_hand_entry("kubectl-edit", {"f:spec": {"f:template": {"f:spec": {
            "f:containers": {'k:{"name":"app"}': {"f:image": {}}}}}}}))  # fmt: skip
        expect(k, "changed", "image edited")
    for _ in range(5):  # kubectl scale
        k = pick("Deployment")
        live[k]["spec"]["replicas"] = 7
        _owned(live[k])["f:spec"].pop("f:replicas", None)
        live[k]["metadata"]["managedFields"].append(
            _hand_entry("kubectl", {"f:spec": {"f:replicas": {}}}, "scale")
        )
        expect(k, "changed", "scaled")
    for _ in range(5):  # ConfigMap value
        k = pick("ConfigMap")
        live[k]["data"]["LOG_LEVEL"] = "debug"
        live[k]["metadata"]["managedFields"].append(
            _hand_entry("kubectl-edit", {"f:data": {"f:LOG_LEVEL": {}}})
        )
        expect(k, "changed", "config value edited")
    for _ in range(5):  # a label removed from Git after the agent applied it
        k = pick("Service")
        live[k]["metadata"]["labels"]["tier"] = "legacy"
        _owned(live[k])["f:metadata"]["f:labels"]["f:tier"] = {}
        expect(k, "changed", "label removed from Git")
    for _ in range(5):  # a label added by hand
        k = pick("ServiceAccount")
        live[k]["metadata"].setdefault("labels", {})["debug"] = "true"
        live[k]["metadata"]["managedFields"].append(
            _hand_entry("kubectl-label", {"f:metadata": {"f:labels": {"f:debug": {}}}})
        )
        expect(k, "changed", "label added by hand")
    for _ in range(5):  # Secret value rotated by hand
        k = pick("Secret")
        live[k]["data"]["password"] = base64.b64encode(b"rotated-by-hand").decode()
        expect(k, "changed", "secret value changed")
    for _ in range(5):  # deleted from the cluster
        k = pick("ConfigMap")
        del live[k]
        expect(k, "added", "deleted from the cluster")
    for i in range(5):  # left behind: owned by the app, gone from Git
        k = pick("Service")
        extra = copy.deepcopy(live[k])
        name = f"{k.name}-old{i}"
        extra["metadata"]["name"] = name
        extra["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] = (
            f"{owners[k]}:/Service:{k.namespace}/{name}"
        )
        new_key = type(k)(k.group, k.kind, k.namespace, name)
        live[new_key] = extra
        owners[new_key] = owners[k]
        expect(new_key, "removed", "would be pruned")
    return expected


def generate(
    out: Path,
    apps: int = 200,
    components: int = 10,
    seed: int = 42,
    secret_every: int = 1,
    style: str = "block",
) -> dict[str, Any]:
    repo = out / "repo"
    if repo.exists():
        raise SystemExit(f"{repo} exists; remove it first")
    repo.mkdir(parents=True)
    write_repo(repo, apps, components, secret_every, style)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "synthetic")
    desired = render_desired(repo)
    live: dict[Any, dict[str, Any]] = {}
    owners: dict[Any, str] = {}
    for app, _ns, key, body in desired:
        live[key] = live_from_desired(body, app=app, namespace=key.namespace)
        owners[key] = app
    expected = inject(live, owners, random.Random(seed))
    kinds = sorted({(GroupKind(k.group, k.kind), True) for k in live})
    namespaces = sorted({k.namespace for k in live if k.namespace})
    snapshot = build_snapshot(
        live.values(),
        kinds=kinds,
        namespaces=namespaces,
        unreadable={},
        meta={"takenAt": "2026-11-26T00:00:00Z", "cluster": "synthetic", "tool": "bench/gen_repo.py"},
        hashing=SecretHashing("hmac-sha256", "be" * 16),
    )
    write_snapshot(out / "snapshot.json", snapshot)
    info = {
        "apps": apps,
        "objects": len(desired),
        "live_objects": len(live),
        "expected": expected,
        "style": style,
    }
    (out / "expected.json").write_text(json.dumps(info, indent=1))
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--components", type=int, default=10)
    parser.add_argument(
        "--style", choices=("block", "json"), default="block", help="how manifests are written"
    )
    args = parser.parse_args()
    info = generate(args.out, args.apps, args.components, style=args.style)
    print(
        f"{info['apps']} apps, {info['objects']} objects, {len(info['expected'])} injected drifts -> {args.out}"
    )


if __name__ == "__main__":
    main()
