"""A corpus of realistic objects over 35 built-in kinds plus a CRD with list-map keys, an atomic struct and
defaults, for the proof that gitops-check reads an untouched cluster as in sync (tests/cluster/test_exact_corpus.py).

Written with the fields people use: downward API, probes, volumes of every common type, affinity, topology
spread, tolerations, int-or-string ports, quantities in non-canonical spellings, security contexts.
"""

from __future__ import annotations

from typing import Any

CRD_GROUP = "corpus.example.com"


def _pod_spec(i: int, *, restart: str | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app",
        "image": f"registry.example.com/app:1.{i}.0" if i % 3 else "registry.example.com/app",
        "args": ["--port=8080", f"--worker={i}"],
        "ports": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "protocol": "UDP"}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
            {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "requests.memory", "divisor": "1Mi"}},
            },
            {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "settings-0", "key": "color"}}},
            {"name": "PLAIN", "value": "12:30"},
        ],
        "envFrom": [{"configMapRef": {"name": "settings-0"}}],
        "resources": {
            "requests": {"cpu": "0.1", "memory": "64Mi"},
            "limits": {"cpu": "1000m", "memory": "0.125Gi"},
        },
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 5},
        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5},
        "startupProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "failureThreshold": 30},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "config", "mountPath": "/etc/app", "readOnly": True},
            {"name": "info", "mountPath": "/etc/podinfo"},
        ],
    }
    spec: dict[str, Any] = {
        "containers": [container],
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}],
        "securityContext": {"runAsUser": 1000, "fsGroup": 2000},
        "volumes": [
            {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "config", "configMap": {"name": "settings-0", "defaultMode": 0o440}},
            {
                "name": "info",
                "downwardAPI": {
                    "items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu",
                                                              "divisor": "1m"}},
                    ]
                },
            },
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token",
                                                                                 "expirationSeconds": 3600}}]}},
        ],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                        "labelSelector": {"matchLabels": {"app": f"app-{i}"}}}}
                ]
            },
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In",
                                                                 "values": ["linux"]}]}]
                }
            },
        },
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": {"app": f"app-{i}"}}}
        ],
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "app", "effect": "NoSchedule"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "serviceAccountName": f"sa-{i}",
    }  # fmt: skip
    if restart:
        spec["restartPolicy"] = restart
    return spec


def _template(i: int, **kw: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": f"app-{i}"}}, "spec": _pod_spec(i, **kw)}


def _namespaced(i: int) -> list[dict[str, Any]]:
    sel = {"matchLabels": {"app": f"app-{i}"}}
    n = f"c{i}"
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"settings-{i}"},
         "data": {"color": "blue", "time": "12:30", "ratio": "1e3", "empty": ""}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"creds-{i}"}, "type": "Opaque",
         "stringData": {"password": f"s3cret-{i}"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"web-{i}"},
         "spec": {"selector": {"app": f"app-{i}"},
                  "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                            {"name": "metrics", "port": 9090, "protocol": "UDP"}]}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"sa-{i}"},
         "automountServiceAccountToken": False},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pod-{i}"}, "spec": _pod_spec(i)},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": f"data-{i}"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": f"quota-{i}"},
         "spec": {"hard": {"pods": "10", "requests.cpu": "4", "requests.memory": "8Gi"}}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": f"limits-{i}"},
         "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                              "defaultRequest": {"cpu": "0.1", "memory": "128Mi"}}]}},
        {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": f"rc-{i}"},
         "spec": {"replicas": 1, "selector": {"app": f"app-{i}"}, "template": _template(i)}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": f"external-{i}"},
         "subsets": [{"addresses": [{"ip": f"10.1.0.{i + 1}"}], "ports": [{"port": 5432, "name": "pg"}]}]},
        {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": f"tpl-{i}"}, "template": _template(i)},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{i}"},
         "spec": {"replicas": 2, "selector": sel, "template": _template(i),
                  "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": f"db-{i}"},
         "spec": {"serviceName": f"web-{i}", "selector": sel, "template": _template(i),
                  "volumeClaimTemplates": [{"metadata": {"name": "pgdata"},
                                            "spec": {"accessModes": ["ReadWriteOnce"],
                                                     "resources": {"requests": {"storage": "1Gi"}}}}]}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": f"agent-{i}"},
         "spec": {"selector": sel, "template": _template(i)}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": f"rs-{i}"},
         "spec": {"replicas": 1, "selector": sel, "template": _template(i)}},
        {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": f"rev-{i}"},
         "revision": i + 1, "data": {"spec": {"template": {"metadata": {"labels": {"app": f"app-{i}"}}}}}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": f"migrate-{i}"},
         "spec": {"backoffLimit": 2, "template": _template(i, restart="Never")}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": f"report-{i}"},
         "spec": {"schedule": "0 3 * * *", "successfulJobsHistoryLimit": 5,
                  "jobTemplate": {"spec": {"template": _template(i, restart="OnFailure")}}}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": f"app-{i}"},
         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"app-{i}"},
                  "minReplicas": 2, "maxReplicas": 10,
                  "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                                                                "target": {"type": "Utilization",
                                                                           "averageUtilization": 70}}}]}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": f"app-{i}"},
         "spec": {"maxUnavailable": 1, "selector": sel}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": f"app-{i}"},
         "spec": {"podSelector": sel, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}],
                               "ports": [{"protocol": "TCP", "port": 8080}, {"port": "http"}]}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": f"web-{i}"},
         "spec": {"rules": [{"host": f"web-{i}.example.com",
                             "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                 "backend": {"service": {"name": f"web-{i}",
                                                                         "port": {"name": "http"}}}}]}}],
                  "tls": [{"hosts": [f"web-{i}.example.com"], "secretName": f"tls-{i}"}]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": f"reader-{i}"},
         "rules": [{"apiGroups": [""], "resources": ["configmaps", "pods"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": f"reader-{i}"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"reader-{i}"},
         "subjects": [{"kind": "ServiceAccount", "name": f"sa-{i}"}]},
        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": f"leader-{i}"},
         "spec": {"holderIdentity": f"app-{i}", "leaseDurationSeconds": 15}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": f"external-{i}",
                                                                                   "labels": {"kubernetes.io/service-name": f"external-{i}"}},
         "addressType": "IPv4", "endpoints": [{"addresses": [f"10.1.0.{i + 1}"]}],
         "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]},
        {"apiVersion": "storage.k8s.io/v1", "kind": "CSIStorageCapacity", "metadata": {"name": f"cap-{n}"},
         "storageClassName": "standard", "capacity": "100Gi"},
    ]  # fmt: skip


def _cluster_scoped(variant: str, i: int) -> list[dict[str, Any]]:
    n = f"{variant}-{i}"
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": f"corpus-{n}"},
         "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": f"corpus-{n}"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"corpus-{n}"},
         "subjects": [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]},
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": f"corpus-{n}"},
         "value": 1000 + i, "description": "corpus"},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": f"corpus-{n}"},
         "provisioner": "example.com/disk", "parameters": {"type": "ssd"}, "allowVolumeExpansion": True},
        {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": f"corpus-{n}"},
         "spec": {"controller": "example.com/ingress"}},
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"corpus-{n}"},
         "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                  "hostPath": {"path": f"/mnt/{n}"}, "persistentVolumeReclaimPolicy": "Retain"}},
        {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": f"corpus-{n}"},
         "handler": "runc", "overhead": {"podFixed": {"memory": "64Mi", "cpu": "0.25"}}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": f"corpus-{n}.example.com"},
         "spec": {"attachRequired": False, "podInfoOnMount": True}},
    ]  # fmt: skip


def crd() -> dict[str, Any]:
    """Backends: endpoints keyed by host and port (no "name"), an atomic target with a defaulted field, defaults."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"backends.{CRD_GROUP}"},
        "spec": {
            "group": CRD_GROUP,
            "names": {"kind": "Backend", "plural": "backends", "singular": "backend"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                    "type": "object",
                    "properties": {
                        "endpoints": {
                            "type": "array", "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["host", "port"],
                            "items": {"type": "object", "required": ["host", "port"], "properties": {
                                "host": {"type": "string"}, "port": {"type": "integer"},
                                "weight": {"type": "integer", "default": 1}}},
                        },
                        "target": {
                            "type": "object", "x-kubernetes-map-type": "atomic",
                            "properties": {"name": {"type": "string"},
                                           "apiVersion": {"type": "string", "default": "v1"}},
                        },
                        "retries": {"type": "integer", "default": 3},
                        "timeout": {"x-kubernetes-int-or-string": True},
                        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    },
                }}}},
            }],
        },
    }  # fmt: skip


def custom_resources(i: int) -> list[dict[str, Any]]:
    return [
        {"apiVersion": f"{CRD_GROUP}/v1", "kind": "Backend", "metadata": {"name": f"backend-{i}-{j}"},
         "spec": {"endpoints": [{"host": "a.example.com", "port": 443}, {"host": "a.example.com", "port": 80,
                                                                          "weight": 3}],
                  "target": {"name": f"web-{i}"}, "timeout": "30s" if j else 30, "tags": ["b", "a"]}}
        for j in range(2)
    ]  # fmt: skip


def corpus(variant: str, copies: int = 3) -> list[dict[str, Any]]:
    """``copies`` sets of every kind (35 kinds: 3 sets give 105 objects) plus the CRD's custom resources."""
    out: list[dict[str, Any]] = []
    for i in range(copies):
        out += _namespaced(i) + _cluster_scoped(variant, i) + custom_resources(i)
    return out
