"""Make a realistic live object out of a desired one, as a kube-apiserver would store it after an apply.

Used by the benchmarks to build large snapshots without a cluster: server defaults per kind, metadata the
server sets, managedFields of a server-side apply by the GitOps agent (fieldsV1 derived from the applied
object with Kubernetes' merge keys), the Argo CD tracking annotation, and a status.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from gitops_check.diff.compare import KEY_DEFAULTS, LIST_MAP_KEYS, SET_LISTS

CONTAINER_DEFAULTS = {
    "imagePullPolicy": "IfNotPresent",
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}
POD_DEFAULTS = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}


def _uid(seed: str) -> str:
    h = hashlib.sha1(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def fields_v1(obj: Any, name: str | None = None) -> dict[str, Any]:
    """The fieldsV1 trie an Apply of ``obj`` records (merge-keyed lists as ``k:``, sets as ``v:``)."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k in ("apiVersion", "kind") and name is None:
                continue
            if name is None and k == "metadata":
                meta = {f: v[f] for f in ("labels", "annotations") if f in v}
                if meta:
                    out["f:metadata"] = fields_v1(meta, "metadata")
                continue
            out["f:" + k] = fields_v1(v, k) if isinstance(v, (dict, list)) else {}
        return out
    if isinstance(obj, list):
        if name in SET_LISTS:
            return {".": {}, **{"v:" + json.dumps(v): {} for v in obj}}
        keys = LIST_MAP_KEYS.get(name or "")
        if name == "ports" and obj and isinstance(obj[0], dict):
            keys = ("containerPort", "protocol") if "containerPort" in obj[0] else ("port", "protocol")
        if keys and all(isinstance(i, dict) for i in obj):
            out = {}
            for item in obj:
                key = {k: item.get(k, KEY_DEFAULTS.get(k)) for k in keys}
                out["k:" + json.dumps(key, sort_keys=True, separators=(",", ":"))] = {
                    ".": {},
                    **fields_v1(item, "item"),
                }
            return out
        return {}  # atomic list: owned as a whole
    return {}


def _pod_spec_defaults(spec: dict[str, Any]) -> None:
    for k, v in POD_DEFAULTS.items():
        spec.setdefault(k, copy.deepcopy(v))
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        for k, v in CONTAINER_DEFAULTS.items():
            c.setdefault(k, v)
        for p in c.get("ports", []):
            p.setdefault("protocol", "TCP")
        c.setdefault("resources", {})
        for probe in ("readinessProbe", "livenessProbe"):
            if probe in c:
                c[probe].setdefault("timeoutSeconds", 1)
                c[probe].setdefault("periodSeconds", 10)
                c[probe].setdefault("successThreshold", 1)
                c[probe].setdefault("failureThreshold", 3)
    for vol in spec.get("volumes", []):
        if "configMap" in vol:
            vol["configMap"].setdefault("defaultMode", 420)
        if "secret" in vol:
            vol["secret"].setdefault("defaultMode", 420)


def apply_defaults(obj: dict[str, Any]) -> None:
    kind = obj.get("kind")
    spec = obj.get("spec")
    if kind in ("Deployment", "StatefulSet", "DaemonSet") and isinstance(spec, dict):
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("replicas", 1)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault(
                "strategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            )
        template = spec.get("template", {})
        template.setdefault("metadata", {})["creationTimestamp"] = None
        _pod_spec_defaults(template.setdefault("spec", {}))
    elif kind == "Service" and isinstance(spec, dict):
        digest = int(hashlib.sha1(json.dumps(obj["metadata"], sort_keys=True).encode()).hexdigest()[:6], 16)
        ip = f"10.{(digest >> 16) % 256}.{(digest >> 8) % 256}.{digest % 256}"
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("clusterIP", ip)
        spec.setdefault("clusterIPs", [ip])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports", []):
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p.get("port"))
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        import base64

        string_data = obj.pop("stringData", None) or {}
        data = obj.setdefault("data", {})
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
    elif kind == "HorizontalPodAutoscaler" and isinstance(spec, dict):
        spec.setdefault("behavior", {"scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}})  # fmt: skip


def live_from_desired(
    desired: dict[str, Any], *, app: str, namespace: str | None, manager: str = "argocd-controller"
) -> dict[str, Any]:
    obj = copy.deepcopy(desired)
    meta = obj.setdefault("metadata", {})
    if namespace:
        meta["namespace"] = namespace
    group = obj["apiVersion"].rpartition("/")[0]
    tracking = f"{app}:{group}/{obj['kind']}:{namespace or ''}/{meta['name']}"
    meta.setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = tracking
    applied_fields = fields_v1(obj)
    apply_defaults(obj)
    seed = f"{obj['kind']}/{namespace}/{meta['name']}"
    meta["uid"] = _uid(seed)
    meta["resourceVersion"] = str(int(hashlib.sha1(seed.encode()).hexdigest()[:6], 16))
    meta["creationTimestamp"] = "2026-11-20T08:00:00Z"
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
        meta["generation"] = 1
        meta["annotations"]["deployment.kubernetes.io/revision"] = "1"
        obj["status"] = {"observedGeneration": 1, "replicas": obj["spec"].get("replicas", 1),
                         "readyReplicas": obj["spec"].get("replicas", 1)}  # fmt: skip
    meta["managedFields"] = [
        {"manager": manager, "operation": "Apply", "apiVersion": obj["apiVersion"], "time": "2026-11-20T08:00:00Z",
         "fieldsType": "FieldsV1", "fieldsV1": applied_fields},
    ]  # fmt: skip
    if "status" in obj:
        meta["managedFields"].append(
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": obj["apiVersion"],
             "subresource": "status", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}}
        )  # fmt: skip
    return obj
