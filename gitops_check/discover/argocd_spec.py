"""An Argo CD Application object as an App: every field that changes what gets rendered, and how it is tracked.

Mirrors the repo server: an explicit ``helm``/``kustomize``/``directory`` block picks the tool (two blocks are
an error), otherwise the folder's files decide; the Helm release name defaults to the Application's name;
``valuesObject`` replaces ``values``; Helm parameters, value file paths, Kustomize images and common labels go
through Argo CD's ``$ARGOCD_APP_*`` substitution (an unknown ``$VAR`` becomes empty, ``$$`` is a ``$``).
Applications outside the control-plane namespace ("apps in any namespace") are tracked as ``<ns>_<name>``.

Fields that would change the output but cannot be reproduced (config management plugins, some kustomize
label options) make the app "not checked" rather than rendered differently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_check import repourl, yamlio
from gitops_check.errors import ConfigError, InputError
from gitops_check.model.app import App, Destination, SyncPolicy, Tracking, TrackingMethod
from gitops_check.model.source import (
    DirectoryOptions,
    HelmOptions,
    HelmParameter,
    JsonnetOptions,
    JsonnetVar,
    KustomizeBuild,
    KustomizeOptions,
    OCIArtifact,
    PluginSource,
    Source,
    Tool,
    Unsupported,
)
from gitops_check.project.appspec import parse_ignore_rules
from gitops_check.project.config import parse_kustomize_build_options

LABEL_PREFIXES = ("gitops-check/", "gitops-check.io/")


@dataclass(frozen=True)
class ArgoSettings:
    """What mapping an Application needs to know about the Argo CD instance and this checkout."""

    control_namespace: str = "argocd"
    tracking_method: TrackingMethod = TrackingMethod.ANNOTATION
    label_key: str = "app.kubernetes.io/instance"
    this_repo_urls: frozenset[str] = frozenset()
    # (repoURL as written, targetRevision) -> Source.repo: None for this repository at the checked commit.
    repo_key: Callable[[str, str | None], str | None] | None = None
    # Source.repo -> the commit its files come from ("" when unknown), for $ARGOCD_APP_REVISION.
    revision_of: Callable[[str | None], str] = field(default=lambda _repo: "")
    # argocd-cm's kustomize settings when the repository holds an argocd-cm; None otherwise.
    kustomize: KustomizeSettings | None = None


@dataclass(frozen=True)
class KustomizeSettings:
    """argocd-cm's ``kustomize.buildOptions``, and the kustomize versions it registers
    (``kustomize.path.<v>`` or ``kustomize.version.<v>``, with ``kustomize.buildOptions.<v>``)."""

    where: str
    build_options: str | None = None
    versions: Mapping[str, str | None] = field(default_factory=dict)  # version -> its build options text
    paths: Mapping[str, str] = field(default_factory=dict)  # version -> the binary argocd-cm names


def kustomize_settings(data: Mapping[str, Any], where: str) -> KustomizeSettings:
    paths: dict[str, str] = {}
    versions: dict[str, str | None] = {}
    for key, value in data.items():
        for prefix in ("kustomize.path.", "kustomize.version."):
            if str(key).startswith(prefix):
                paths[str(key)[len(prefix) :]] = str(value)
    for version in paths:
        text = data.get(f"kustomize.buildOptions.{version}")
        versions[version] = str(text) if text is not None else None
    default = data.get("kustomize.buildOptions")
    return KustomizeSettings(
        where=where,
        build_options=str(default) if default is not None else None,
        versions=versions,
        paths=paths,
    )


def _kustomize_build(raw: Mapping[str, Any], settings: ArgoSettings, where: str) -> KustomizeBuild | None:
    """Argo CD's KustomizeSettings.GetOptions: the Application's kustomize version picks that version's build
    options (an unregistered version fails the app), otherwise the default ones."""
    k = raw.get("kustomize")
    version = _opt_str(k.get("version")) if isinstance(k, dict) else None
    cm = settings.kustomize
    if cm is None:
        return None  # no argocd-cm in the repository: the job's --kustomize-build-options, if any
    if version is not None:
        if version not in cm.versions:
            raise ConfigError(
                f"{where}.kustomize.version: kustomize version {version} is not registered in argocd-cm "
                f"({cm.where}); Argo CD fails the same way: add kustomize.path.{version}"
            )
        text = cm.versions[version]
        origin = f"kustomize.buildOptions.{version} in argocd-cm ({cm.where})"
    else:
        text = cm.build_options
        origin = f"kustomize.buildOptions in argocd-cm ({cm.where})"
    if text is None:
        return None
    return parse_kustomize_build_options(text, origin)


def application_to_app(
    doc: Mapping[str, Any], origin: str, settings: ArgoSettings, namespace: str | None
) -> App:
    """Map one Application; raises ConfigError (one line, what to do) for one that cannot be checked."""
    meta = doc.get("metadata") or {}
    spec = doc.get("spec")
    name = str(meta.get("name") or "")
    if not name:
        raise ConfigError("Application has no metadata.name")
    if not isinstance(spec, dict):
        raise ConfigError(f"Application {name} has no spec")
    ns = str(meta.get("namespace") or namespace or settings.control_namespace)
    in_control = ns == settings.control_namespace
    instance = name if in_control else f"{ns}_{name}"
    app_name = name if in_control else f"{ns}/{name}"
    dest_raw = spec.get("destination") or {}
    destination = Destination(
        namespace=_opt_str(dest_raw.get("namespace")),
        server=_opt_str(dest_raw.get("server")),
        name=_opt_str(dest_raw.get("name")),
    )
    raw_sources = spec.get("sources") or ([spec["source"]] if spec.get("source") else [])
    if not raw_sources or not all(isinstance(s, dict) for s in raw_sources):
        raise ConfigError(f"Application {app_name} has no source (spec.source or spec.sources)")
    sources = tuple(
        _source(
            s,
            name,
            instance,
            destination,
            spec,
            settings,
            f"spec.sources[{i}]" if spec.get("sources") else "spec.source",
        )
        for i, s in enumerate(raw_sources)
    )
    try:
        ignore = parse_ignore_rules(spec.get("ignoreDifferences"), origin, "spec.ignoreDifferences")
    except ConfigError as e:
        raise ConfigError(f"Application {app_name}: {e.message}") from None
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    labels.update(
        {
            str(k): str(v)
            for k, v in (meta.get("annotations") or {}).items()
            if str(k).startswith(LABEL_PREFIXES)
        }
    )
    return App(
        name=app_name,
        sources=sources,
        destination=destination,
        ignore=ignore,
        tracking=Tracking(
            method=settings.tracking_method, label_key=settings.label_key, app_instance=instance
        ),
        origin=origin,
        kind="argocd",
        labels=labels,
        sync_policy=_sync_policy(spec.get("syncPolicy")),
        agent_namespace=ns,
        agent_name=name,
    )


def _opt_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _sync_policy(raw: Any) -> SyncPolicy:
    automated = raw.get("automated") if isinstance(raw, dict) else None
    if not isinstance(automated, dict) or automated.get("enabled") is False:
        return SyncPolicy()
    return SyncPolicy(
        automated=True, prune=bool(automated.get("prune")), self_heal=bool(automated.get("selfHeal"))
    )


def _source(
    raw: Mapping[str, Any],
    name: str,
    instance: str,
    destination: Destination,
    spec: Mapping[str, Any],
    settings: ArgoSettings,
    where: str,
) -> Source:
    url = str(raw.get("repoURL") or "")
    revision = _opt_str(raw.get("targetRevision"))
    chart = _opt_str(raw.get("chart"))
    if chart:
        repo: str | None = url
    else:
        repo = settings.repo_key(url, revision) if settings.repo_key else repourl.canonical(url)
    path = str(raw.get("path") or "").strip() or "."
    try:
        return _renderable_source(raw, name, instance, destination, spec, settings, where, repo, revision)
    except ConfigError as e:
        # Still an app: what it reads (its folder, its repository, the declaring file) is known, so a preview
        # can tell an untouched one from one the change touches; rendering it says why it is not checked.
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
        return Source(
            path=path, repo=repo, chart=chart, target_revision=revision, ref=_opt_str(raw.get("ref")),
            unsupported=Unsupported(e.message, digest),
        )  # fmt: skip


def _renderable_source(
    raw: Mapping[str, Any],
    name: str,
    instance: str,
    destination: Destination,
    spec: Mapping[str, Any],
    settings: ArgoSettings,
    where: str,
    repo: str | None,
    revision: str | None,
) -> Source:
    url = str(raw.get("repoURL") or "")
    explicit = [k for k in ("helm", "kustomize", "directory", "plugin") if raw.get(k) is not None]
    if len(explicit) > 1:
        raise ConfigError(f"{where}: multiple application sources defined: {', '.join(explicit)}")
    chart = _opt_str(raw.get("chart"))
    env = _build_env(instance, destination, spec, raw, url, revision, settings.revision_of(repo))
    tool = Tool.HELM if chart else Tool(explicit[0]) if explicit else Tool.AUTO
    build = None if chart else _kustomize_build(raw, settings, where)
    plugin = None
    if tool is Tool.PLUGIN:
        plugin = _plugin(raw["plugin"], env, f"{where}.plugin")
    elif tool is Tool.AUTO:  # the repo server tries plugins' discover rules before its own detection
        plugin = PluginSource(build_env=_without_revision(env))
    oci = _oci_source(url, revision) if not chart and url.strip().startswith("oci://") else None
    return Source(
        path=str(raw.get("path") or "").strip() or ".",
        tool=tool,
        repo=repo,
        helm=_helm(raw.get("helm") or {}, name, env, where, _ref_names(spec)),
        kustomize=_kustomize(raw.get("kustomize") or {}, env, where),
        directory=_directory(raw.get("directory") or {}, env, where),
        chart=chart,
        target_revision=revision,
        ref=_opt_str(raw.get("ref")),
        kustomize_build=build,
        plugin=plugin,
        repo_url=url if repo is not None and not chart and "@" not in repo and not oci else None,
        oci=oci,
    )


def _without_revision(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in env.items() if not k.startswith("ARGOCD_APP_REVISION"))


def _plugin(p: Any, env: Mapping[str, str], where: str) -> PluginSource:
    """Argo CD's plugin block: ``env`` becomes ARGOCD_ENV_<name> (values through $ARGOCD_APP_* substitution),
    ``parameters`` ARGOCD_APP_PARAMETERS and PARAM_<NAME>."""
    if not isinstance(p, dict):
        raise ConfigError(f"{where}: expected a mapping")
    entries = []
    for i, item in enumerate(p.get("env") or []):
        if not isinstance(item, dict) or not item.get("name"):
            raise ConfigError(f"{where}.env[{i}]: each entry needs a name")
        entries.append((str(item["name"]), envsubst(str(item.get("value") or ""), env)))
    params = []
    for i, item in enumerate(p.get("parameters") or []):
        if not isinstance(item, dict) or not item.get("name"):
            raise ConfigError(f"{where}.parameters[{i}]: each entry needs a name")
        param: dict[str, Any] = {"name": str(item["name"])}
        if item.get("string") is not None:
            param["string"] = str(item["string"])
        if isinstance(item.get("array"), list):
            param["array"] = [str(v) for v in item["array"]]
        if isinstance(item.get("map"), dict):
            param["map"] = {str(k): str(v) for k, v in item["map"].items()}
        params.append(param)
    return PluginSource(
        name=_opt_str(p.get("name")),
        env=tuple(entries),
        parameters=json.dumps(params, separators=(",", ":")),
        build_env=_without_revision(env),
        explicit=True,
    )


def _oci_source(url: str, revision: str | None) -> OCIArtifact:
    """Argo CD OCI sources (``repoURL: oci://...`` with ``path``): ``targetRevision`` is a digest, a tag or a
    semver constraint over the tags; the artifact's first layer holds the files."""
    text = (revision or "").strip()
    if text.startswith("sha256:"):
        return OCIArtifact(url=url.strip(), digest=text)
    if text and any(c in text for c in "*xX^~<>=| ") and not text.isalnum():
        return OCIArtifact(url=url.strip(), semver=text)
    return OCIArtifact(url=url.strip(), tag=text or "latest")


def _build_env(
    instance: str,
    destination: Destination,
    spec: Mapping[str, Any],
    raw: Mapping[str, Any],
    url: str,
    target: str | None,
    revision: str,
) -> dict[str, str]:
    return {
        "ARGOCD_APP_NAME": instance,
        "ARGOCD_APP_NAMESPACE": destination.namespace or "",
        "ARGOCD_APP_PROJECT_NAME": str(spec.get("project") or ""),
        "ARGOCD_APP_REVISION": revision,
        "ARGOCD_APP_REVISION_SHORT": revision[:7],
        "ARGOCD_APP_REVISION_SHORT_8": revision[:8],
        "ARGOCD_APP_SOURCE_PATH": str(raw.get("path") or ""),
        "ARGOCD_APP_SOURCE_REPO_URL": url,
        "ARGOCD_APP_SOURCE_TARGET_REVISION": target or "",
    }


def envsubst(text: str, env: Mapping[str, str]) -> str:
    """Go's os.Expand with Argo CD's mapping: known variables, ``$$`` -> ``$``, anything else empty."""
    out: list[str] = []
    i = j = 0
    while j < len(text):
        if text[j] == "$" and j + 1 < len(text):
            out.append(text[i:j])
            name, width = _shell_name(text[j + 1 :])
            if name == "" and width == 0:
                out.append("$")
            elif name:
                out.append("$" if name == "$" else env.get(name, ""))
            j += width
            i = j + 1
        j += 1
    return "".join(out) + text[i:]


_SPECIAL = set("*#$@!?-0123456789")


def _shell_name(s: str) -> tuple[str, int]:
    if s[0] == "{":
        if len(s) > 2 and s[1] in _SPECIAL and s[2] == "}":
            return s[1], 3
        close = s.find("}", 1)
        if close == 1:
            return "", 2
        if close < 0:
            return "", 1
        return s[1:close], close + 1
    if s[0] in _SPECIAL:
        return s[0], 1
    i = 0
    while i < len(s) and (s[i] == "_" or (s[i].isascii() and s[i].isalnum())):
        i += 1
    return s[:i], i


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(str(v) for v in value)


def _ref_names(spec: Mapping[str, Any]) -> frozenset[str]:
    """``$name`` of every multi-source ``ref``: value files starting with one are references, not substituted."""
    sources = spec.get("sources")
    return frozenset(
        f"${s['ref']}" for s in sources if isinstance(s, dict) and s.get("ref")
    ) if isinstance(sources, list) else frozenset()  # fmt: skip


def _value_file(text: str, env: Mapping[str, str], refs: frozenset[str]) -> str:
    """Argo CD checks for a ``$ref/`` reference on the raw path and substitutes variables only in the others."""
    return text if text.split("/", 1)[0] in refs else envsubst(text, env)


def _helm(
    h: Mapping[str, Any], name: str, env: Mapping[str, str], where: str, refs: frozenset[str] = frozenset()
) -> HelmOptions:
    if not isinstance(h, dict):
        raise ConfigError(f"{where}.helm: expected a mapping")
    values: tuple[dict[str, Any], ...] = ()
    if isinstance(h.get("valuesObject"), dict):
        values = (h["valuesObject"],)
    elif h.get("values"):
        text = h["values"]
        try:
            parsed = yamlio.load_one(text, f"{where}.helm.values") if isinstance(text, str) else text
        except InputError as e:
            raise ConfigError(f"{where}.helm.values is not valid YAML: {e.message}") from None
        if parsed is not None and not isinstance(parsed, dict):
            raise ConfigError(f"{where}.helm.values must be a YAML mapping")
        values = (parsed,) if parsed else ()
    params = []
    for p in h.get("parameters") or []:
        if not isinstance(p, dict) or not p.get("name"):
            raise ConfigError(f"{where}.helm.parameters: each entry needs a name")
        value = p.get("value")
        text = (
            "" if value is None else ("true" if value is True else "false" if value is False else str(value))
        )
        params.append(HelmParameter(str(p["name"]), envsubst(text, env), bool(p.get("forceString"))))
    file_params = []
    for p in h.get("fileParameters") or []:
        if not isinstance(p, dict) or not p.get("name") or not p.get("path"):
            raise ConfigError(f"{where}.helm.fileParameters: each entry needs a name and a path")
        file_params.append((str(p["name"]), envsubst(str(p["path"]), env)))
    return HelmOptions(
        release_name=_opt_str(h.get("releaseName")) or name,
        namespace=_opt_str(h.get("namespace")),
        value_files=tuple(
            _value_file(v, env, refs) for v in _strs(h.get("valueFiles"), f"{where}.helm.valueFiles")
        ),
        values=values,
        parameters=tuple(params),
        file_parameters=tuple(file_params),
        skip_crds=bool(h.get("skipCrds")),
        skip_tests=bool(h.get("skipTests")),
        ignore_missing_value_files=bool(h.get("ignoreMissingValueFiles")),
        kube_version=_opt_str(h.get("kubeVersion")),
        api_versions=_strs(h.get("apiVersions"), f"{where}.helm.apiVersions"),
    )


def _kustomize(k: Mapping[str, Any], env: Mapping[str, str], where: str) -> KustomizeOptions:
    if not isinstance(k, dict):
        raise ConfigError(f"{where}.kustomize: expected a mapping")
    for option in ("labelWithoutSelector", "labelIncludeTemplates"):
        if k.get(option):
            raise ConfigError(f"{where}.kustomize.{option} is not supported by gitops-check yet")
    replicas = []
    for r in k.get("replicas") or []:
        try:
            replicas.append((str(r["name"]), int(str(r["count"]))))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(
                f"{where}.kustomize.replicas: each entry needs a name and an integer count"
            ) from None
    annotations = {str(a): str(b) for a, b in (k.get("commonAnnotations") or {}).items()}
    if k.get("commonAnnotationsEnvsubst"):
        annotations = {a: envsubst(b, env) for a, b in annotations.items()}
    patches = k.get("patches") or []
    if not isinstance(patches, list) or not all(isinstance(p, dict) for p in patches):
        raise ConfigError(f"{where}.kustomize.patches: expected a list of patches")
    return KustomizeOptions(
        name_prefix=_opt_str(k.get("namePrefix")),
        name_suffix=_opt_str(k.get("nameSuffix")),
        namespace=_opt_str(k.get("namespace")),
        images=tuple(envsubst(i, env) for i in _strs(k.get("images"), f"{where}.kustomize.images")),
        common_labels={str(a): envsubst(str(b), env) for a, b in (k.get("commonLabels") or {}).items()},
        common_annotations=annotations,
        force_common_labels=bool(k.get("forceCommonLabels")),
        force_common_annotations=bool(k.get("forceCommonAnnotations")),
        replicas=tuple(replicas),
        patches=tuple(patches),
        components=_strs(k.get("components"), f"{where}.kustomize.components"),
    )


def _directory(d: Mapping[str, Any], env: Mapping[str, str], where: str) -> DirectoryOptions:
    if not isinstance(d, dict):
        raise ConfigError(f"{where}.directory: expected a mapping")
    return DirectoryOptions(
        recurse=bool(d.get("recurse")),
        include=_globs(d.get("include")),
        exclude=_globs(d.get("exclude")),
        jsonnet=_jsonnet(d.get("jsonnet") or {}, env, f"{where}.directory.jsonnet"),
    )


def _jsonnet(j: Any, env: Mapping[str, str], where: str) -> JsonnetOptions:
    """Argo CD substitutes ``$ARGOCD_APP_*`` in extVars and tlas values (makeJsonnetVM)."""
    if not isinstance(j, dict):
        raise ConfigError(f"{where}: expected a mapping")

    def variables(key: str) -> tuple[JsonnetVar, ...]:
        raw = j.get(key) or []
        if not isinstance(raw, list):
            raise ConfigError(f"{where}.{key}: expected a list of {{name, value, code}}")
        out = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not item.get("name"):
                raise ConfigError(f"{where}.{key}[{i}]: each entry needs a name")
            value = item.get("value")
            text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
            out.append(JsonnetVar(str(item["name"]), envsubst(text, env), bool(item.get("code"))))
        return tuple(out)

    return JsonnetOptions(
        ext_vars=variables("extVars"), tlas=variables("tlas"), libs=_strs(j.get("libs"), f"{where}.libs")
    )


def _globs(value: Any) -> tuple[str, ...]:
    """Argo CD takes one glob or ``{a,b}``."""
    text = str(value or "").strip()
    if text.startswith("{") and text.endswith("}"):
        return tuple(p.strip() for p in text[1:-1].split(",") if p.strip())
    return (text,) if text else ()
