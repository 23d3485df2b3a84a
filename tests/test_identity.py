from __future__ import annotations

from gitops_check.identity import KindScopes, assign_keys
from gitops_check.model.app import App, Destination
from gitops_check.model.objects import Origin, ResourceKey
from gitops_check.model.rendered import RawObject


def _raw(body: object, line: int = 1) -> RawObject:
    return RawObject(body, Origin("a", "f.yaml", line))


def test_keys_defaults_and_cluster_scope() -> None:
    app = App("a", (), destination=Destination(namespace="shop"))
    objs = [
        _raw({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}),
        _raw({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "namespace": "ignored"}}),
        _raw({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "other"}}]}),
    ]  # fmt: skip
    keyed = assign_keys(app, objs, KindScopes())
    assert [m.key for m in keyed.manifests] == [
        ResourceKey("apps", "Deployment", "shop", "web"),
        ResourceKey("", "Namespace", None, "shop"),
        ResourceKey("", "ConfigMap", "other", "c"),
    ]
    assert not keyed.problems


def test_crd_scope_learned_and_unknown_kind_noted() -> None:
    scopes = KindScopes()
    scopes.learn_crd({"kind": "CustomResourceDefinition",
                      "spec": {"group": "example.com", "scope": "Cluster", "names": {"kind": "Widget"}}})  # fmt: skip
    app = App("a", (), destination=Destination(namespace="shop"))
    keyed = assign_keys(app, [
        _raw({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
        _raw({"apiVersion": "other.io/v1", "kind": "Gadget", "metadata": {"name": "g"}}),
    ], scopes)  # fmt: skip
    assert keyed.manifests[0].key.namespace is None
    assert keyed.manifests[1].key.namespace == "shop"
    assert "Gadget.other.io unknown" in keyed.notes[keyed.manifests[1].key]


def test_invalid_documents_and_duplicates_are_problems_with_origin() -> None:
    app = App("a", ())
    keyed = assign_keys(app, [
        _raw(["not", "a", "mapping"], 1),
        _raw({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, 5),
        _raw({"kind": "ConfigMap", "metadata": {"name": "x"}}, 9),
        _raw({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, 12),
        _raw({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, 20),
    ], KindScopes())  # fmt: skip
    messages = [(p.origin.line, p.message) for p in keyed.problems]
    assert messages == [
        (1, "document is a list, not a Kubernetes object (a mapping)"),
        (5, "ConfigMap lacks metadata.name"),
        (9, "ConfigMap lacks apiVersion"),
        (20, "ConfigMap/default/x is defined twice (first at f.yaml:12)"),
    ]
