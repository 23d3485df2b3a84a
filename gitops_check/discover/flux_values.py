"""Values Flux reads from ConfigMaps and Secrets: ``postBuild.substituteFrom`` and HelmRelease ``valuesFrom``.

Flux reads them from the cluster when it reconciles. gitops-check renders before it reads any cluster, so it
looks for each object, in this order:

1. among the objects the parent Kustomization renders at this commit (what the cluster will hold once that
   Kustomization is synced; a change to them in a pull request is what the check should show);
2. in the project file, ``discovery.flux.objects`` (values the cluster holds but CI cannot read: a snapshot
   keeps only hashes of Secret values). Values may come from environment variables, so secrets need not be
   committed — but only from variables the job lists with ``--allow-env`` (the commit is untrusted: a
   ``fromEnv`` of its own choosing must not read ``GITHUB_TOKEN``), and such values are always kept out of
   reports like Secret values, whatever kind the entry says;
3. in the cluster the app is compared with (snapshot or live), through ``DiscoverOptions.cluster_lookup``.

An object found nowhere is treated as Flux does (``optional``: no values; otherwise the app is not checked, with
the reason). Values that come from a Secret are ``SecretText``, which renderers keep out of reports.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitops_check import yamlio
from gitops_check.discover.strvals import StrvalsError, parse_into, parse_literal_into
from gitops_check.errors import ConfigError, GitopsCheckError, InputError
from gitops_check.gosemantics.maps import merge_maps
from gitops_check.model.app import Destination
from gitops_check.model.objects import JSON, ResourceKey, SecretText
from gitops_check.project.config import ProjectConfig

HASH_PREFIX = "gitops-check-hash:"
_OBJECT_KEYS = {"kind", "namespace", "name", "data", "fromEnv"}


class ValuesError(Exception):
    """A referenced object or key cannot be resolved; the app is not checked. Messages never hold values."""


@dataclass(frozen=True)
class FluxSettings:
    """The project file's ``discovery.flux`` section."""

    objects: Mapping[tuple[str, str, str], Mapping[str, str]] = field(default_factory=dict)
    strict_substitution: bool = False
    # Objects whose ``fromEnv`` names an environment variable that is not set: (kind, ns, name) -> variable.
    missing_env: Mapping[tuple[str, str, str], str] = field(default_factory=dict)


def parse_settings(project: ProjectConfig | None, env: Mapping[str, str] | None = None) -> FluxSettings:
    """The ``discovery.flux`` section; ``env`` holds only the variables the job allowed (--allow-env)."""
    section = project.discovery.get("flux") if project is not None else None
    if not isinstance(section, dict):
        return FluxSettings()
    file = project.path if project is not None and project.path else ".gitops-check.yaml"
    unknown = sorted(set(section) - {"objects", "strictSubstitution"})
    if unknown:
        raise ConfigError(
            f"discovery.flux: unknown key {unknown[0]!r} (allowed: objects, strictSubstitution)", file=file
        )
    environ = env or {}
    objects: dict[tuple[str, str, str], dict[str, str]] = {}
    missing: dict[tuple[str, str, str], str] = {}
    raw = section.get("objects") or []
    if not isinstance(raw, list):
        raise ConfigError("discovery.flux.objects: expected a list", file=file)
    for i, entry in enumerate(raw):
        where = f"discovery.flux.objects[{i}]"
        if not isinstance(entry, dict) or set(entry) - _OBJECT_KEYS:
            raise ConfigError(
                f"{where}: expected a mapping with {', '.join(sorted(_OBJECT_KEYS))}", file=file
            )
        kind = str(entry.get("kind", ""))
        if kind not in ("ConfigMap", "Secret") or not entry.get("name") or not entry.get("namespace"):
            raise ConfigError(f"{where}: needs kind (ConfigMap or Secret), namespace and name", file=file)
        wrap: Callable[[str], str] = SecretText if kind == "Secret" else str
        ident = (kind, str(entry["namespace"]), str(entry["name"]))
        data: dict[str, str] = {}
        for key, value in (entry.get("data") or {}).items():
            data[str(key)] = wrap(str(value))
        for key, var in (entry.get("fromEnv") or {}).items():
            if str(var) in environ:
                # Secret whatever the kind says: a commit must not turn an allowed token into a printed value.
                data[str(key)] = SecretText(environ[str(var)])
            else:
                missing[ident] = str(var)  # only the apps that use this object are not checked
        objects[ident] = data
    strict = section.get("strictSubstitution", False)
    if not isinstance(strict, bool):
        raise ConfigError("discovery.flux.strictSubstitution: expected true or false", file=file)
    return FluxSettings(objects, strict, missing)


ClusterLookup = Callable[[Destination, ResourceKey], JSON | None]


@dataclass
class ObjectSource:
    """Where ConfigMap/Secret data comes from, in the documented order."""

    rendered: Sequence[Any] = ()  # bodies the parent rendered
    rendered_namespace: str = "default"  # where the parent puts objects that name no namespace
    settings: FluxSettings = field(default_factory=FluxSettings)
    cluster: ClusterLookup | None = None
    cluster_name: str = "the cluster"
    destination: Destination = field(default_factory=Destination)  # the cluster Flux runs in

    def where(self) -> str:
        return self.cluster_name if self.cluster is not None else "a cluster (none was given to read it from)"

    def data(self, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        """The object's data (Secret values decoded, as SecretText), or None when it exists nowhere."""
        wrap: Callable[[str], str] = SecretText if kind == "Secret" else str
        for body in self.rendered:
            if _is(body, kind, namespace, name, self.rendered_namespace):
                if "sops" in body:
                    break  # encrypted in Git: its values can only come from elsewhere
                return _data_of(body, kind, wrap, f"{kind} {namespace}/{name} (rendered at this commit)")
        given = self.settings.objects.get((kind, namespace, name))
        var = self.settings.missing_env.get((kind, namespace, name))
        if var is not None:
            raise ValuesError(
                f"{kind} {namespace}/{name}: environment variable {var} (discovery.flux.objects, fromEnv) is not "
                f"set or not allowed: the job must pass --allow-env {var} (or list it in GITOPS_CHECK_ALLOW_ENV)"
            )
        if given is not None:
            return dict(given)
        if self.cluster is None:
            return None
        try:
            live = self.cluster(self.destination, ResourceKey("", kind, namespace, name))
        except GitopsCheckError as e:
            raise ValuesError(
                f"{kind} {namespace}/{name} could not be read from {self.cluster_name}: {e}"
            ) from None
        if live is None:
            return None
        return _data_of(live, kind, wrap, f"{kind} {namespace}/{name} in {self.cluster_name}")


def _is(body: Any, kind: str, namespace: str, name: str, default_namespace: str) -> bool:
    if not isinstance(body, dict) or body.get("kind") != kind or body.get("apiVersion") != "v1":
        return False
    metadata = body.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("name") != name:
        return False
    return (metadata.get("namespace") or default_namespace) == namespace


def _data_of(body: dict[str, Any], kind: str, wrap: Callable[[str], str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if kind == "Secret":
        for key, value in (body.get("data") or {}).items():
            text = "" if value is None else str(value)
            if text.startswith(HASH_PREFIX):
                raise ValuesError(
                    f"{what}: the snapshot keeps only hashes of Secret values; give the values under "
                    "discovery.flux.objects in .gitops-check.yaml (fromEnv keeps them out of Git)"
                )
            try:
                out[str(key)] = wrap(base64.b64decode("".join(text.split()), validate=True).decode())
            except (binascii.Error, ValueError, UnicodeDecodeError):
                raise ValuesError(f"{what}: data.{key} is not base64-encoded text") from None
        for key, value in (body.get("stringData") or {}).items():
            out[str(key)] = wrap("" if value is None else str(value))
        return out
    for key, value in (body.get("data") or {}).items():
        out[str(key)] = "" if value is None else str(value)
    return out


# ---------------------------------------------------------------------------------------------------------------
# postBuild


def substitute_variables(post_build: Any, namespace: str, source: ObjectSource) -> dict[str, str] | None:
    """The variables for ``postBuild``: substituteFrom in order (later wins), then ``substitute`` over them.

    None when there is no postBuild; Flux substitutes nothing when the result is empty.
    """
    if not isinstance(post_build, dict):
        return None
    variables: dict[str, str] = {}
    for i, ref in enumerate(post_build.get("substituteFrom") or []):
        if not isinstance(ref, dict):
            raise ValuesError(f"postBuild.substituteFrom[{i}] is not a mapping")
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if kind not in ("ConfigMap", "Secret"):
            raise ValuesError(f"postBuild.substituteFrom[{i}]: kind {kind!r} is not ConfigMap or Secret")
        data = source.data(kind, namespace, name)
        if data is None:
            if ref.get("optional") is True:
                continue
            raise ValuesError(
                f"postBuild.substituteFrom: {kind} {namespace}/{name} is not rendered by the parent, not in "
                f"discovery.flux.objects and not in {source.where()} (mark it optional, or give its values)"
            )
        for key, value in data.items():
            variables[key] = _strip_newlines(value)
    for key, value in (post_build.get("substitute") or {}).items():
        variables[str(key)] = str(value).replace("\n", "")
    return variables


def _strip_newlines(value: str) -> str:
    stripped = value.replace("\n", "")
    return SecretText(stripped) if isinstance(value, SecretText) else stripped


# ---------------------------------------------------------------------------------------------------------------
# HelmRelease values


def helm_values(spec: Mapping[str, Any], namespace: str, source: ObjectSource) -> dict[str, Any]:
    """helm-controller's merge: valuesFrom in order (targetPath entries written into the map with Helm's --set
    parser), then the inline values over everything, sharing nested maps as Go does (fluxcd/pkg/chartutil)."""
    raw = spec.get("values")
    inline: dict[str, Any] = copy.deepcopy(raw) if isinstance(raw, dict) else {}
    result: dict[str, Any] = {}
    fetched: dict[tuple[str, str], dict[str, str] | None] = {}
    for i, ref in enumerate(spec.get("valuesFrom") or []):
        if not isinstance(ref, dict):
            raise ValuesError(f"valuesFrom[{i}] is not a mapping")
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        key = str(ref.get("valuesKey") or "values.yaml")
        what = f"valuesFrom {kind} {namespace}/{name}"
        if kind not in ("ConfigMap", "Secret"):
            raise ValuesError(f"{what}: unsupported kind (ConfigMap or Secret)")
        if (kind, name) not in fetched:
            fetched[(kind, name)] = source.data(kind, namespace, name)
        data = fetched[(kind, name)]
        if data is None or key not in data:
            if ref.get("optional") is True:
                continue
            missing = "not found" if data is None else f"has no key {key!r}"
            raise ValuesError(
                f"{what} {missing} (not rendered by the parent, not in discovery.flux.objects, not in "
                f"{source.where()}); mark it optional or give its values"
            )
        value = data[key]
        secret = isinstance(value, SecretText)
        target = str(ref.get("targetPath") or "")
        if target:
            result = merge_maps(result, inline)
            _replace_path_value(
                result, target, value, literal=ref.get("literal") is True, secret=secret, what=what
            )
            continue
        result = merge_maps(result, _read_values(value, secret, f"{what} key {key}"))
    return merge_maps(result, inline)


def _read_values(text: str, secret: bool, where: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = yamlio.load_one(str(text), where)
    except InputError as e:
        detail = "" if secret else f": {e.message}"
        raise ValuesError(f"{where} is not valid YAML{detail}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValuesError(f"{where} is not a map of values")
    return _mark(data) if secret else data


def _mark(value: Any) -> Any:
    if isinstance(value, str):
        return SecretText(value)
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark(v) for v in value]
    return value


def _replace_path_value(
    values: dict[str, Any], path: str, value: str, *, literal: bool, secret: bool, what: str
) -> None:
    """fluxcd/pkg/chartutil ReplacePathValue: quoted values are strings (quotes trimmed), others typed."""
    wrap: Callable[[str], str] = SecretText if secret else str
    try:
        if literal:
            parse_literal_into(f"{path}={value}", values, wrap=wrap)
        elif len(value) > 0 and value[0] in "'\"" and value[-1] in "'\"" and value[0] == value[-1]:
            parse_into(f"{path}={value.strip(chr(39) + chr(34))}", values, as_string=True, wrap=wrap)
        else:
            parse_into(f"{path}={value}", values, wrap=wrap)
    except StrvalsError as e:
        detail = "the value comes from a Secret, so the parser's message is not shown" if secret else str(e)
        raise ValuesError(f"{what}: cannot merge it at targetPath {path}: {detail}") from None
