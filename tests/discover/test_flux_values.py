"""discover.flux_values and discover.strvals: where Flux's substituteFrom/valuesFrom values come from, and merge order.

The merge cases are fluxcd/pkg/chartutil's own (values_test.go); strvals cases are Helm's documented --set forms.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gitops_check.discover.flux_values import (
    FluxSettings,
    ObjectSource,
    ValuesError,
    helm_values,
    parse_settings,
    substitute_variables,
)
from gitops_check.discover.strvals import StrvalsError, parse_into, parse_literal_into
from gitops_check.errors import ClusterError, ConfigError
from gitops_check.model.app import Destination
from gitops_check.model.objects import JSON, ResourceKey, SecretText
from gitops_check.project.config import parse_project


def cm(name: str, data: dict[str, str], namespace: str | None = "apps") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def secret(name: str, data: dict[str, str], namespace: str = "apps") -> dict[str, Any]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": encoded,
    }


# ---------------------------------------------------------------------------------------------------------------
# strvals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("outer.inner=value", {"outer": {"inner": "value"}}),
        ("name={a,b,c}", {"name": ["a", "b", "c"]}),
        (r"name=value1\,value2", {"name": "value1,value2"}),
        ("a.b=true,c=null,d=0,e=007,f=-12", {"a": {"b": True}, "c": None, "d": 0, "e": "007", "f": -12}),
        ("merge.at[2]=value", {"merge": {"at": [None, None, "value"]}}),
        (r"nodeSelector.kubernetes\.io/role=master", {"nodeSelector": {"kubernetes.io/role": "master"}}),
        ("a[0].b=1,a[0].c=2", {"a": [{"b": 1, "c": 2}]}),
        ("a[1][2]=x", {"a": [None, [None, None, "x"]]}),
        ("a=", {"a": ""}),
    ],
)
def test_strvals(text: str, expected: dict[str, Any]) -> None:
    out: dict[str, Any] = {}
    parse_into(text, out)
    assert out == expected


def test_strvals_string_and_literal() -> None:
    out: dict[str, Any] = {}
    parse_into("a.b=true,c=1", out, as_string=True)
    assert out == {"a": {"b": "true"}, "c": "1"}
    literal: dict[str, Any] = {}
    parse_literal_into("conf.file=x,y={z}=1", literal)
    assert literal == {"conf": {"file": "x,y={z}=1"}}


@pytest.mark.parametrize("text", ["a=b,c", "a.b", "a={x,y", "a[x]=1", "a[-1]=1"])
def test_strvals_errors(text: str) -> None:
    with pytest.raises(StrvalsError):
        parse_into(text, {})


def test_strvals_changes_existing_lists_in_place() -> None:
    """Like Go slices: an existing index is set in place (helm-controller's merge order relies on it)."""
    values = {"nested": {"configuration": ["list", "item", "option"]}}
    shared = values["nested"]["configuration"]
    parse_into("nested.configuration[0]=value", values)
    assert shared == ["value", "item", "option"]


# ---------------------------------------------------------------------------------------------------------------
# HelmRelease values: chartutil's cases


def values_of(
    refs: list[dict[str, Any]], inline: dict[str, Any] | None, objects: list[Any]
) -> dict[str, Any]:
    spec: dict[str, Any] = {"valuesFrom": refs}
    if inline is not None:
        spec["values"] = inline
    return helm_values(spec, "apps", ObjectSource(rendered=objects))


def test_values_merge_in_order_inline_last() -> None:
    objects = [
        cm("values", {"values.yaml": "flat: value\nnested:\n  configuration: value\n"}),
        secret("values", {"values.yaml": "flat:\n  nested: value\nnested: value\n"}),
    ]
    got = values_of(
        [{"kind": "ConfigMap", "name": "values"}, {"kind": "Secret", "name": "values"}],
        {"other": "values"},
        objects,
    )
    assert got == {"flat": {"nested": "value"}, "nested": "value", "other": "values"}
    assert isinstance(got["nested"], SecretText)  # from the Secret
    assert not isinstance(got["other"], SecretText)


def test_target_path() -> None:
    got = values_of(
        [{"kind": "Secret", "name": "values", "valuesKey": "single", "targetPath": "merge.at.specific.path"}],
        None,
        [secret("values", {"single": "value"})],
    )
    assert got == {"merge": {"at": {"specific": {"path": "value"}}}}
    assert isinstance(got["merge"]["at"]["specific"]["path"], SecretText)


def test_target_path_precedence_over_all() -> None:
    """chartutil's "target path precedence over all": the targetPath value survives later refs and inline values."""
    objects = [
        cm(
            "values", {"values.yaml": "flat: value\nnested:\n  configuration:\n  - one\n  - two\n  - three\n"}
        ),
        secret("values", {"key": "value"}),
    ]
    got = values_of(
        [
            {"kind": "Secret", "name": "values", "valuesKey": "key", "targetPath": "nested.configuration[0]"},
            {"kind": "ConfigMap", "name": "values"},
        ],
        {"nested": {"configuration": ["list", "item", "option"]}},
        objects,
    )
    assert got == {"flat": "value", "nested": {"configuration": ["value", "item", "option"]}}


def test_target_path_against_inline_values_follows_the_code_not_the_docs() -> None:
    """chartutil writes a targetPath value into maps it shares with the inline values, so whether the value
    survives the final merge depends on the layout, exactly as in the controller."""
    objects = [cm("v", {"k": "from-ref"})]
    inline = {"top": "inline", "tls": {"crt": "inline"}}
    nested = values_of(
        [{"kind": "ConfigMap", "name": "v", "valuesKey": "k", "targetPath": "tls.crt"}], inline, objects
    )
    assert nested == {"top": "inline", "tls": {"crt": "from-ref"}}  # written into the shared map: it wins
    top = values_of(
        [{"kind": "ConfigMap", "name": "v", "valuesKey": "k", "targetPath": "top"}], inline, objects
    )
    assert top["top"] == "inline"  # the top-level map is a copy: inline values are merged over it
    both = values_of(
        [
            {"kind": "ConfigMap", "name": "v", "valuesKey": "k", "targetPath": "top"},
            {"kind": "ConfigMap", "name": "v", "valuesKey": "k", "targetPath": "tls.crt"},
        ],
        inline,
        objects,
    )
    assert both == {"top": "inline", "tls": {"crt": "inline"}}  # the second merge copied tls before the write


def test_target_path_for_list_item_and_quoting() -> None:
    objects = [
        cm(
            "values",
            {"values.yaml": "flat: value\nnested:\n  configuration:\n  - list\n  - item\n  - option\n"},
        ),
        cm("other", {"plain": "true", "quoted": '"true"', "file": "a,b=c"}),
    ]
    got = values_of(
        [
            {"kind": "ConfigMap", "name": "values"},
            {
                "kind": "ConfigMap",
                "name": "other",
                "valuesKey": "plain",
                "targetPath": "nested.configuration[1]",
            },
            {"kind": "ConfigMap", "name": "other", "valuesKey": "quoted", "targetPath": "asString"},
            {
                "kind": "ConfigMap",
                "name": "other",
                "valuesKey": "file",
                "targetPath": "conf",
                "literal": True,
            },
        ],
        {"other": "values"},
        objects,
    )
    assert got == {
        "flat": "value",
        "nested": {"configuration": ["list", True, "option"]},
        "other": "values",
        "asString": "true",
        "conf": "a,b=c",
    }


def test_missing_references() -> None:
    with pytest.raises(ValuesError, match="valuesFrom Secret apps/missing not found"):
        values_of([{"kind": "Secret", "name": "missing"}], None, [])
    assert values_of([{"kind": "Secret", "name": "missing", "optional": True}], None, []) == {}
    with pytest.raises(ValuesError, match="has no key 'nonexisting'"):
        values_of(
            [{"kind": "ConfigMap", "name": "values", "valuesKey": "nonexisting"}], None, [cm("values", {})]
        )
    with pytest.raises(ValuesError, match="unsupported kind"):
        values_of([{"kind": "Unsupported", "name": "x"}], None, [])
    with pytest.raises(ValuesError, match="not a map of values"):
        values_of(
            [{"kind": "ConfigMap", "name": "values"}], None, [cm("values", {"values.yaml": "\ninvalid"})]
        )


def test_errors_never_show_secret_values() -> None:
    objects = [secret("values", {"values.yaml": "a: [unclosed secret-value", "bad": "x,secret-value"})]
    for ref in (
        {"kind": "Secret", "name": "values"},
        {"kind": "Secret", "name": "values", "valuesKey": "bad", "targetPath": "a.b"},
    ):
        with pytest.raises(ValuesError) as caught:
            values_of([ref], None, objects)
        assert "secret-value" not in str(caught.value)


# ---------------------------------------------------------------------------------------------------------------
# postBuild


def test_substitute_from_in_order_and_inline_wins() -> None:
    source = ObjectSource(
        rendered=[cm("one", {"a": "1", "b": "1\n"}), secret("two", {"b": "2", "token": "t0k\n"})],
    )
    post = {
        "substituteFrom": [{"kind": "ConfigMap", "name": "one"}, {"kind": "Secret", "name": "two"}],
        "substitute": {"a": "inline", "multi": "x\ny"},
    }
    got = substitute_variables(post, "apps", source)
    assert got == {"a": "inline", "b": "2", "token": "t0k", "multi": "xy"}  # newlines dropped, as Flux does
    assert got is not None
    assert isinstance(got["token"], SecretText) and isinstance(got["b"], SecretText)
    assert not isinstance(got["a"], SecretText)
    assert "t0k" not in repr(got)


def test_substitute_from_missing_and_optional() -> None:
    assert substitute_variables(None, "apps", ObjectSource()) is None
    post = {"substituteFrom": [{"kind": "ConfigMap", "name": "absent", "optional": True}]}
    assert substitute_variables(post, "apps", ObjectSource()) == {}
    with pytest.raises(ValuesError, match="ConfigMap apps/absent is not rendered by the parent"):
        substitute_variables(
            {"substituteFrom": [{"kind": "ConfigMap", "name": "absent"}]}, "apps", ObjectSource()
        )


def test_rendered_objects_without_namespace_take_the_parents() -> None:
    source = ObjectSource(rendered=[cm("vars", {"a": "1"}, namespace=None)], rendered_namespace="team")
    post = {"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]}
    assert substitute_variables(post, "team", source) == {"a": "1"}
    with pytest.raises(ValuesError):
        substitute_variables(post, "apps", source)


def test_order_rendered_then_project_then_cluster() -> None:
    asked: list[tuple[Destination, ResourceKey]] = []

    def cluster(dest: Destination, key: ResourceKey) -> JSON | None:
        asked.append((dest, key))
        return cm(key.name, {"from": "cluster"})

    settings = FluxSettings(objects={("ConfigMap", "apps", "given"): {"from": "project"}})
    rendered = [cm("rendered", {"from": "git"})]
    source = ObjectSource(rendered, settings=settings, cluster=cluster, destination=Destination(name="prod"))
    assert source.data("ConfigMap", "apps", "rendered") == {"from": "git"}
    assert source.data("ConfigMap", "apps", "given") == {"from": "project"}
    assert source.data("ConfigMap", "apps", "elsewhere") == {"from": "cluster"}
    assert asked == [(Destination(name="prod"), ResourceKey("", "ConfigMap", "apps", "elsewhere"))]


def test_cluster_problems() -> None:
    def hashed(dest: Destination, key: ResourceKey) -> JSON | None:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": key.name},
            "data": {"k": "gitops-check-hash:v1:ab"},
        }

    with pytest.raises(ValuesError, match="keeps only hashes of Secret values"):
        ObjectSource(cluster=hashed).data("Secret", "apps", "s")

    def unreadable(dest: Destination, key: ResourceKey) -> JSON | None:
        raise ClusterError("forbidden")

    with pytest.raises(ValuesError, match="could not be read from the cluster: forbidden"):
        ObjectSource(cluster=unreadable).data("ConfigMap", "apps", "c")


def test_sops_encrypted_secret_in_git_is_not_used() -> None:
    encrypted = {**secret("s", {"k": "ENC[AES256_GCM,data:...]"}), "sops": {"version": "3.9"}}
    assert ObjectSource(rendered=[encrypted]).data("Secret", "apps", "s") is None


# ---------------------------------------------------------------------------------------------------------------
# The project file section


def test_project_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    project = parse_project(
        """
version: 1
discovery:
  flux:
    strictSubstitution: true
    objects:
      - {kind: ConfigMap, namespace: flux-system, name: vars, data: {region: eu}}
      - {kind: Secret, namespace: flux-system, name: creds, fromEnv: {token: TOKEN_VAR}}
"""
    )
    settings = parse_settings(project, env={"TOKEN_VAR": "from-env"})
    assert settings.strict_substitution is True
    assert settings.objects[("ConfigMap", "flux-system", "vars")] == {"region": "eu"}
    token = settings.objects[("Secret", "flux-system", "creds")]["token"]
    assert token == "from-env" and isinstance(token, SecretText)
    unset = parse_settings(project, env={})
    with pytest.raises(
        ValuesError, match=r"Secret flux-system/creds: environment variable TOKEN_VAR \(discovery"
    ):
        ObjectSource(settings=unset).data("Secret", "flux-system", "creds")
    assert ObjectSource(settings=unset).data("ConfigMap", "flux-system", "vars") == {"region": "eu"}


@pytest.mark.parametrize(
    "section",
    [
        "{objects: [{kind: Pod, namespace: a, name: b}]}",
        "{objects: [{kind: Secret, name: b}]}",
        "{objects: [{kind: Secret, namespace: a, name: b, values: {}}]}",
        "{strictSubstitution: yes-please}",
        "{unknown: 1}",
    ],
)
def test_project_settings_errors(section: str) -> None:
    project = parse_project(f"version: 1\ndiscovery:\n  flux: {section}\n")
    with pytest.raises(ConfigError, match=r"discovery\.flux"):
        parse_settings(project, env={})
