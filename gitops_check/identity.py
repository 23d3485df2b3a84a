"""Object identity: which rendered documents are valid objects, their ResourceKey, and kind scope.

A kind is cluster-scoped or namespaced; the built-in table covers Kubernetes' own kinds and popular CRDs, and
CRDs found in a render, a snapshot or API discovery extend it. Namespaced objects without a namespace get the
app's destination namespace, as Argo CD and Flux do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gitops_check import redact, yamlio
from gitops_check.model.app import App
from gitops_check.model.objects import GroupKind, Manifest, Origin, ResourceKey, split_api_version
from gitops_check.model.rendered import RawObject

_CLUSTER_SCOPED: dict[str, tuple[str, ...]] = {
    "": ("Namespace", "Node", "PersistentVolume", "ComponentStatus"),
    "rbac.authorization.k8s.io": ("ClusterRole", "ClusterRoleBinding"),
    "apiextensions.k8s.io": ("CustomResourceDefinition",),
    "apiregistration.k8s.io": ("APIService",),
    "storage.k8s.io": ("StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "VolumeAttributesClass"),
    "admissionregistration.k8s.io": (
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    ),
    "scheduling.k8s.io": ("PriorityClass",),
    "node.k8s.io": ("RuntimeClass",),
    "policy": ("PodSecurityPolicy",),
    "certificates.k8s.io": ("CertificateSigningRequest", "ClusterTrustBundle"),
    "flowcontrol.apiserver.k8s.io": ("FlowSchema", "PriorityLevelConfiguration"),
    "networking.k8s.io": ("IngressClass", "IPAddress", "ServiceCIDR"),
    "resource.k8s.io": ("DeviceClass", "ResourceSlice"),
    "authorization.k8s.io": ("SelfSubjectAccessReview", "SelfSubjectRulesReview", "SubjectAccessReview"),
    "authentication.k8s.io": ("TokenReview", "SelfSubjectReview"),
    "storagemigration.k8s.io": ("StorageVersionMigration",),
    # Popular CRDs, so a render without their CRD still gets the scope right.
    "cert-manager.io": ("ClusterIssuer",),
    "gateway.networking.k8s.io": ("GatewayClass",),
    "external-secrets.io": ("ClusterSecretStore", "ClusterExternalSecret"),
    "kyverno.io": ("ClusterPolicy", "ClusterCleanupPolicy"),
    "constraints.gatekeeper.sh": (),
    "templates.gatekeeper.sh": ("ConstraintTemplate",),
    "monitoring.coreos.com": (),
    "karpenter.sh": ("NodePool", "NodeClaim"),
    "karpenter.k8s.aws": ("EC2NodeClass",),
    "snapshot.storage.k8s.io": ("VolumeSnapshotClass", "VolumeSnapshotContent"),
}

_NAMESPACED: dict[str, tuple[str, ...]] = {
    "": (
        "Pod", "Service", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim", "Endpoints", "Event",
        "LimitRange", "ResourceQuota", "ReplicationController", "PodTemplate", "Binding",
    ),
    "apps": ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ControllerRevision"),
    "batch": ("Job", "CronJob"),
    "autoscaling": ("HorizontalPodAutoscaler",),
    "networking.k8s.io": ("Ingress", "NetworkPolicy"),
    "policy": ("PodDisruptionBudget",),
    "rbac.authorization.k8s.io": ("Role", "RoleBinding"),
    "discovery.k8s.io": ("EndpointSlice",),
    "coordination.k8s.io": ("Lease",),
    "events.k8s.io": ("Event",),
    "storage.k8s.io": ("CSIStorageCapacity",),
    "argoproj.io": ("Application", "ApplicationSet", "AppProject", "Rollout"),
    "kustomize.toolkit.fluxcd.io": ("Kustomization",),
    "helm.toolkit.fluxcd.io": ("HelmRelease",),
    "source.toolkit.fluxcd.io": ("GitRepository", "HelmRepository", "HelmChart", "OCIRepository", "Bucket"),
    "cert-manager.io": ("Certificate", "Issuer"),
    "monitoring.coreos.com": ("ServiceMonitor", "PodMonitor", "PrometheusRule", "Prometheus", "Alertmanager"),
    "bitnami.com": ("SealedSecret",),
    "external-secrets.io": ("ExternalSecret", "SecretStore"),
    "gateway.networking.k8s.io": ("Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant"),
}  # fmt: skip


def builtin_scopes() -> dict[GroupKind, bool]:
    scopes = {GroupKind(g, k): False for g, kinds in _CLUSTER_SCOPED.items() for k in kinds}
    scopes.update({GroupKind(g, k): True for g, kinds in _NAMESPACED.items() for k in kinds})
    return scopes


@dataclass
class KindScopes:
    """Kind -> namespaced? Built-in table, extended by CRDs and discovery; later additions win."""

    table: dict[GroupKind, bool] = field(default_factory=builtin_scopes)

    def learn(self, gk: GroupKind, namespaced: bool) -> None:
        self.table[gk] = namespaced

    def learn_crd(self, body: Any) -> None:
        if not isinstance(body, dict) or body.get("kind") != "CustomResourceDefinition":
            return
        spec = body.get("spec") or {}
        names = spec.get("names") or {}
        if isinstance(spec, dict) and isinstance(names, dict) and names.get("kind") and spec.get("group"):
            self.table[GroupKind(str(spec["group"]), str(names["kind"]))] = spec.get("scope") != "Cluster"

    def namespaced(self, gk: GroupKind) -> bool | None:
        return self.table.get(gk)


class ObjectProblem(Exception):
    """A document that is not a valid Kubernetes object; carries the origin for the report."""

    def __init__(self, message: str, origin: Origin):
        super().__init__(message)
        self.message = message
        self.origin = origin


def flatten_lists(objects: Iterable[RawObject]) -> Iterator[RawObject]:
    """``kind: List`` (and ``*List``) documents become their items, as kubectl and Argo CD do."""
    for obj in objects:
        body = obj.body
        if (
            isinstance(body, dict)
            and isinstance(body.get("kind"), str)
            and body["kind"].endswith("List")
            and isinstance(body.get("items"), list)
            and "metadata" not in body.get("spec", {})
        ):
            yield from flatten_lists(RawObject(item, obj.origin) for item in body["items"])
        else:
            yield obj


def validate(obj: RawObject) -> dict[str, Any]:
    body = obj.body
    if not isinstance(body, dict):
        raise ObjectProblem(
            f"document is a {type(body).__name__}, not a Kubernetes object (a mapping)", obj.origin
        )
    missing = [f for f in ("apiVersion", "kind") if not isinstance(body.get(f), str) or not body.get(f)]
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        missing.append("metadata.name")
    elif not metadata.get("name"):
        missing.append(
            "metadata.name" + (" (generateName cannot be diffed)" if metadata.get("generateName") else "")
        )
    if missing:
        what = body.get("kind") if isinstance(body.get("kind"), str) else "document"
        raise ObjectProblem(f"{what} lacks {', '.join(missing)}", obj.origin)
    if yamlio.depth_exceeds(body):
        raise ObjectProblem(
            f"{body['kind']} is nested more than {yamlio.MAX_DEPTH} levels deep; not checked", obj.origin
        )
    return body


def key_for(
    body: dict[str, Any], default_namespace: str | None, scopes: KindScopes
) -> tuple[ResourceKey, str | None]:
    """The key of a valid object, and a note when its kind's scope had to be guessed."""
    group, _ = split_api_version(body["apiVersion"])
    kind = body["kind"]
    metadata = body["metadata"]
    namespaced = scopes.namespaced(GroupKind(group, kind))
    note = None
    if namespaced is None:
        namespaced = True
        note = f"scope of kind {GroupKind(group, kind)} unknown (no CRD found): assumed namespaced"
    namespace = (metadata.get("namespace") or default_namespace or "default") if namespaced else None
    return ResourceKey(
        group, kind, str(namespace) if namespace is not None else None, str(metadata["name"])
    ), note


@dataclass
class KeyedApp:
    manifests: list[Manifest]
    problems: list[ObjectProblem]
    notes: dict[ResourceKey, str]


def assign_keys(app: App, objects: Iterable[RawObject], scopes: KindScopes) -> KeyedApp:
    """Validate and key an app's rendered documents. Invalid documents and duplicates become problems."""
    manifests: dict[ResourceKey, Manifest] = {}
    problems: list[ObjectProblem] = []
    notes: dict[ResourceKey, str] = {}
    default_ns = app.destination.namespace
    for obj in flatten_lists(objects):
        try:
            body = validate(obj)
        except ObjectProblem as p:
            problems.append(p)
            continue
        key, note = key_for(body, default_ns, scopes)
        if key in manifests:
            first = manifests[key].origin
            problems.append(ObjectProblem(f"{key} is defined twice (first at {first})", obj.origin))
            continue
        redact.add_secret_object(body)  # Secrets in Git: scrubbed from every output (gitops_check.redact)
        manifests[key] = Manifest(key, body, obj.origin)
        if note:
            notes[key] = note
    return KeyedApp(list(manifests.values()), problems, notes)
