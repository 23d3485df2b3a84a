#!/usr/bin/env python3
"""Generate gitops_check/data/kube-schema.json, the bundled schema of Kubernetes' built-in kinds.

Starts the test kube-apiserver (scripts/tools.py ensure kube-apiserver etcd), reads its OpenAPI v3 (every
group-version it serves), and learns the defaults the server fills in that the OpenAPI does not state
(``fieldRef.apiVersion: v1``, ``successfulJobsHistoryLimit: 3``, ...) by dry-running the objects of
scripts/kube_schema_probes.yaml and the proof corpus of the tests (tests/helpers/corpus.py) and comparing what
went in with what came out. A scalar field the server added
is a default of its type when every occurrence of that type in every probe agrees on the value; anything
conditional (an allocated clusterIP, a targetPort copied from port) disagrees somewhere and is dropped.
Then compacts it all (gitops_check/kubeschema/compact.py).

    .venv/bin/python scripts/gen_kube_schema.py [--out gitops_check/data/kube-schema.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitops_check.kubeschema import compact  # noqa: E402
from tests.helpers.cluster import TestCluster, cluster_binaries  # noqa: E402
from tests.helpers.corpus import CRD_GROUP as CORPUS_GROUP  # noqa: E402
from tests.helpers.corpus import corpus  # noqa: E402

PROBES = ROOT / "scripts" / "kube_schema_probes.yaml"
DEFAULT_KEY = compact.LEARNED_DEFAULT
ADDED_KEY = compact.LEARNED_ADDED
# Subtrees of an object whose added fields are the server's bookkeeping, not defaults (embedded templates' own
# status, like a volume claim template's phase, is learned).
SKIPPED_FIELDS = frozenset({"metadata", "status"})
# Filled in from other fields or allocated, not defaults: every probe may agree by chance.
NOT_DEFAULTS = frozenset({
    ("io.k8s.api.core.v1.ServiceSpec", "clusterIP"),
    ("io.k8s.api.core.v1.ServiceSpec", "healthCheckNodePort"),
    ("io.k8s.api.core.v1.ServicePort", "nodePort"),
    ("io.k8s.api.core.v1.ServicePort", "targetPort"),
    ("io.k8s.api.core.v1.PodSpec", "priority"),  # from priorityClassName (Priority admission)
    ("io.k8s.api.core.v1.PodSpec", "preemptionPolicy"),
})  # fmt: skip


def fetch_schemas(cluster: TestCluster) -> dict[str, Any]:
    index = cluster.request("GET", "/openapi/v3").json()
    schemas: dict[str, Any] = {}
    for name, entry in sorted(index["paths"].items()):
        if name.startswith("apis/apiextensions") and "crd" in name:
            continue
        doc = cluster.request("GET", entry["serverRelativeURL"]).json()
        schemas.update((doc.get("components") or {}).get("schemas") or {})
    return schemas


def _ref(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    for part in schema.get("allOf") or ():
        ref = ref or part.get("$ref")
    return ref.removeprefix("#/components/schemas/") if isinstance(ref, str) else None


class Learner:
    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas
        self.seen: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.appended: dict[tuple[str, str], set[str]] = defaultdict(set)

    def walk(self, sent: Any, got: Any, type_name: str | None, *, root: bool = True) -> None:
        schema = self.schemas.get(type_name or "")
        if not isinstance(schema, dict) or not isinstance(got, dict):
            return
        props = schema.get("properties") or {}
        sent = sent if isinstance(sent, dict) else {}
        for field, value in got.items():
            sub = props.get(field)
            if (root and field in SKIPPED_FIELDS) or field == "metadata" or not isinstance(sub, dict):
                continue
            if field not in sent and not isinstance(value, (dict, list)):
                if (type_name, field) not in NOT_DEFAULTS:
                    self.seen[(type_name or "", field)].add(json.dumps(value))
            elif field in sent and not isinstance(value, (dict, list)):
                # Present in the probe: not observed as a default, but still an occurrence of the type.
                continue
            if (
                isinstance(value, list)
                and isinstance(sent.get(field), list)
                and len(value) > len(sent[field])
            ):
                extra = [item for item in value if item not in sent[field]]
                self.appended[(type_name or "", field)].add(json.dumps(extra, sort_keys=True))
            self._descend(sent.get(field), value, sub)

    def _descend(self, sent: Any, got: Any, sub: dict[str, Any]) -> None:
        ref = _ref(sub)
        if ref is not None:
            self.walk(sent, got, ref, root=False)
        elif isinstance(got, list) and isinstance(sent, list) and isinstance(sub.get("items"), dict):
            # Only elements the probe sent: an element the server adds (admission's default tolerations) is
            # not a default of its fields.
            for sent_item, item in zip(sent, got, strict=False):
                self._descend(sent_item, item, sub["items"])

    def defaults(self) -> dict[tuple[str, str], Any]:
        return {key: json.loads(next(iter(v))) for key, v in sorted(self.seen.items()) if len(v) == 1}

    def added(self) -> dict[tuple[str, str], list[Any]]:
        """Elements the server appends to a list (every time it appends, the same ones)."""
        return {key: json.loads(next(iter(v))) for key, v in sorted(self.appended.items()) if len(v) == 1}


def _json_stream(text: str) -> list[dict[str, Any]]:
    """kubectl -o json prints one JSON object per created object, one after the other."""
    decoder = json.JSONDecoder()
    out, pos = [], 0
    while pos < len(text.rstrip()):
        obj, end = decoder.raw_decode(text, pos)
        out.extend(obj["items"] if obj.get("kind") == "List" else [obj])
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def gvk_types(schemas: dict[str, Any]) -> dict[tuple[str, str], str]:
    out = {}
    for name, schema in schemas.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            group = gvk.get("group", "")
            out[(f"{group}/{gvk['version']}" if group else gvk["version"], gvk["kind"])] = name
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "gitops_check" / "data" / "kube-schema.json")
    args = parser.parse_args()
    apiserver, etcd = cluster_binaries()
    with TestCluster(apiserver, etcd) as cluster:
        version = cluster.version()["gitVersion"]
        schemas = fetch_schemas(cluster)
        cluster.kubectl("create", "namespace", "probe")
        # The probes, then the proof corpus of the tests (its built-in kinds; custom resources aside).
        sent = [d for d in yaml.safe_load_all(PROBES.read_text()) if d]
        sent += [o for o in corpus("probe") if not o["apiVersion"].startswith(CORPUS_GROUP)]
        probes = Path(cluster.workdir) / "probes.yaml"
        probes.write_text("# probes\n" + "\n---\n".join(json.dumps(o) for o in sent) + "\n")
        out = cluster.kubectl(
            "create", "--dry-run=server", "-o", "json", "-n", "probe", "-f", str(probes), timeout=180
        )
    items = _json_stream(out.stdout)
    types = gvk_types(schemas)
    learner = Learner(schemas)
    for want, got in zip(sent, items, strict=True):
        learner.walk(want, got, types[(got["apiVersion"], got["kind"])])
    learned = learner.defaults()
    for (type_name, field), value in learned.items():
        schemas[type_name]["properties"][field][DEFAULT_KEY] = value
    for (type_name, field), items in learner.added().items():
        schemas[type_name]["properties"][field][ADDED_KEY] = items
        print(f"  {type_name.rpartition('.')[2]}.{field}: the server appends {json.dumps(items)}")
    doc = compact.from_openapi(schemas)
    doc["kubernetes"] = version
    args.out.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
    print(
        f"{args.out}: {len(doc['kinds'])} kinds, {len(doc['types'])} types, {len(learned)} learned defaults,"
        f" {args.out.stat().st_size} bytes, from {version}"
    )
    for (type_name, field), value in learned.items():
        print(f"  {type_name.rpartition('.')[2]}.{field} = {json.dumps(value)}")


if __name__ == "__main__":
    main()
