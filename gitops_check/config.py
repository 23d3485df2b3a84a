"""The project file (``.gitops-check.yaml``) and the option objects passed to the core.

The project file is validated strictly: an unknown key is an error naming the key and the entry, because a
typo that silently disables an ignore rule or a value file produces a wrong verdict.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_check import yamlio
from gitops_check.errors import ConfigError
from gitops_check.model import (
    App,
    Destination,
    DirectoryOptions,
    HelmOptions,
    HelmParameter,
    IgnoreRule,
    KustomizeOptions,
    Source,
    Tool,
    Tracking,
    TrackingMethod,
)

PROJECT_FILE = ".gitops-check.yaml"
PROJECT_FILE_ALIASES = (".gitops-check.yaml", ".gitops-check.yml")

# Field managers that apply what Git says; a live-only field they own was removed from Git (drift).
DEFAULT_APPLIERS = (
    "argocd-controller",
    "kustomize-controller",
    "helm-controller",
    "kubectl",
    "kubectl-client-side-apply",
    "helm",
    "gitops-check",
)
# Field managers of hand edits; a live-only field they own is reported as a manual change.
DEFAULT_MANUAL_MANAGERS = (
    "kubectl-edit",
    "kubectl-label",
    "kubectl-annotate",
    "kubectl-patch",
    "kubectl-set",
    "kubectl-replace",
    "kubectl-create",
)


@dataclass(frozen=True)
class RenderOptions:
    """How apps are rendered; comes from CLI options and the project file's ``render`` section."""

    helm_binary: str | None = None
    kustomize_binary: str | None = None
    kubectl_binary: str | None = None
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()
    allow_remote_bases: bool = False
    timeout: float = 300.0
    workers: int = 4
    # Fields given on the command line (or their environment variables): the project file's ``render``
    # section does not override them (``with_project_render``).
    explicit: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DiffOptions:
    appliers: tuple[str, ...] = DEFAULT_APPLIERS
    manual_managers: tuple[str, ...] = DEFAULT_MANUAL_MANAGERS
    ignore: tuple[IgnoreRule, ...] = ()
    # Report live objects that belong to an app but are not in Git ("would be pruned").
    detect_pruning: bool = True


@dataclass(frozen=True)
class ProjectConfig:
    path: str | None  # None when the repository has no project file
    apps: tuple[App, ...] = ()
    render: Mapping[str, Any] = field(default_factory=dict)
    ignore: tuple[IgnoreRule, ...] = ()
    appliers: tuple[str, ...] | None = None
    manual_managers: tuple[str, ...] | None = None
    discovery: Mapping[str, Any] = field(default_factory=dict)
    clusters: Any = None  # the raw ``clusters:`` list; cluster.select.parse_clusters validates it
    sync: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    # ``live: {pruneKinds: [...]}``: kinds listed in the apps' namespaces for pruning (None: the reader's default).
    prune_kinds: tuple[str, ...] | None = None
    # The ``render`` section, validated, as RenderOptions field names -> values (only the keys it sets).
    render_defaults: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------------
# Small validation helpers: every message names the file and the place inside it.


class _Ctx:
    def __init__(self, file: str, where: str = ""):
        self.file = file
        self.where = where

    def sub(self, part: str) -> _Ctx:
        return _Ctx(
            self.file,
            f"{self.where}.{part}" if self.where and not part.startswith("[") else self.where + part,
        )

    def error(self, message: str) -> ConfigError:
        place = f"{self.where}: " if self.where else ""
        return ConfigError(f"{place}{message}", file=self.file)


def _mapping(value: Any, ctx: _Ctx, allowed: set[str] | None = None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.error(f"expected a mapping, got {type(value).__name__}")
    if allowed is not None:
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise ctx.error(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return value


def _list(value: Any, ctx: _Ctx) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ctx.error(f"expected a list, got {type(value).__name__}")
    return value


def _str(value: Any, ctx: _Ctx, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ctx.error("is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ctx.error(f"expected a string, got {type(value).__name__}")
    return str(value)


def _strs(value: Any, ctx: _Ctx) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(_str(v, ctx.sub(f"[{i}]"), required=True) or "" for i, v in enumerate(_list(value, ctx)))


def _bool(value: Any, ctx: _Ctx, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ctx.error(f"expected true or false, got {value!r}")


def _str_map(value: Any, ctx: _Ctx) -> dict[str, str]:
    return {str(k): str(v) for k, v in _mapping(value, ctx).items()}


# ---------------------------------------------------------------------------------------------------------------
# Shared with Argo CD discovery: the ignoreDifferences format.


def parse_ignore_rules(value: Any, file: str, where: str = "ignoreDifferences") -> tuple[IgnoreRule, ...]:
    ctx = _Ctx(file, where)
    rules = []
    allowed = {
        "group",
        "kind",
        "name",
        "namespace",
        "jsonPointers",
        "jqPathExpressions",
        "managedFieldsManagers",
    }
    for i, raw in enumerate(_list(value, ctx)):
        c = ctx.sub(f"[{i}]")
        entry = _mapping(raw, c, allowed)
        rule = IgnoreRule(
            group=_str(entry.get("group"), c.sub("group")),
            kind=_str(entry.get("kind"), c.sub("kind")),
            name=_str(entry.get("name"), c.sub("name")),
            namespace=_str(entry.get("namespace"), c.sub("namespace")),
            json_pointers=_strs(entry.get("jsonPointers"), c.sub("jsonPointers")),
            jq_path_expressions=_strs(entry.get("jqPathExpressions"), c.sub("jqPathExpressions")),
            managed_fields_managers=_strs(entry.get("managedFieldsManagers"), c.sub("managedFieldsManagers")),
        )
        for pointer in rule.json_pointers:
            if pointer and not pointer.startswith("/"):
                raise c.error(f"JSON pointer {pointer!r} must start with '/'")
        rules.append(rule)
    return tuple(rules)


def parse_set_values(value: Any, ctx: _Ctx, *, force_string: bool) -> tuple[HelmParameter, ...]:
    """``set:`` as a mapping ({image.tag: v1}) or a list of ``name=value`` strings, like ``helm --set``."""
    params = []
    if isinstance(value, dict):
        for k, v in value.items():
            text = "true" if v is True else "false" if v is False else str(v)
            params.append(HelmParameter(str(k), text, force_string))
    else:
        for i, item in enumerate(_list(value, ctx)):
            text = _str(item, ctx.sub(f"[{i}]"), required=True) or ""
            if "=" not in text:
                raise ctx.sub(f"[{i}]").error(f"expected name=value, got {text!r}")
            name, _, val = text.partition("=")
            params.append(HelmParameter(name, val, force_string))
    return tuple(params)


def _helm(value: Any, ctx: _Ctx) -> HelmOptions:
    allowed = {
        "releaseName", "namespace", "valueFiles", "values", "set", "setString", "setFile", "skipCrds",
        "skipTests", "ignoreMissingValueFiles", "kubeVersion", "apiVersions",
    }  # fmt: skip
    h = _mapping(value, ctx, allowed)
    inline = h.get("values")
    values: tuple[dict[str, Any], ...] = ()
    if isinstance(inline, str):
        parsed = yamlio.load_one(inline, f"{ctx.file} ({ctx.where}.values)")
        values = (parsed,) if isinstance(parsed, dict) else ()
    elif inline is not None:
        values = (_mapping(inline, ctx.sub("values")),)
    return HelmOptions(
        release_name=_str(h.get("releaseName"), ctx.sub("releaseName")),
        namespace=_str(h.get("namespace"), ctx.sub("namespace")),
        value_files=_strs(h.get("valueFiles"), ctx.sub("valueFiles")),
        values=values,
        parameters=parse_set_values(h.get("set"), ctx.sub("set"), force_string=False)
        + parse_set_values(h.get("setString"), ctx.sub("setString"), force_string=True),
        file_parameters=tuple(_str_map(h.get("setFile"), ctx.sub("setFile")).items()),
        skip_crds=_bool(h.get("skipCrds"), ctx.sub("skipCrds")),
        skip_tests=_bool(h.get("skipTests"), ctx.sub("skipTests")),
        ignore_missing_value_files=_bool(
            h.get("ignoreMissingValueFiles"), ctx.sub("ignoreMissingValueFiles")
        ),
        kube_version=_str(h.get("kubeVersion"), ctx.sub("kubeVersion")),
        api_versions=_strs(h.get("apiVersions"), ctx.sub("apiVersions")),
    )


def parse_kustomize_options(value: Any, ctx: _Ctx) -> KustomizeOptions:
    allowed = {
        "namePrefix", "nameSuffix", "namespace", "images", "commonLabels", "commonAnnotations",
        "forceCommonLabels", "forceCommonAnnotations", "replicas", "patches", "components",
    }  # fmt: skip
    k = _mapping(value, ctx, allowed)
    replicas = []
    for i, r in enumerate(_list(k.get("replicas"), ctx.sub("replicas"))):
        rc = ctx.sub(f"replicas[{i}]")
        entry = _mapping(r, rc, {"name", "count"})
        try:
            count = int(entry.get("count"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise rc.error("count must be an integer") from None
        replicas.append((_str(entry.get("name"), rc.sub("name"), required=True) or "", count))
    return KustomizeOptions(
        name_prefix=_str(k.get("namePrefix"), ctx.sub("namePrefix")),
        name_suffix=_str(k.get("nameSuffix"), ctx.sub("nameSuffix")),
        namespace=_str(k.get("namespace"), ctx.sub("namespace")),
        images=_strs(k.get("images"), ctx.sub("images")),
        common_labels=_str_map(k.get("commonLabels"), ctx.sub("commonLabels")),
        common_annotations=_str_map(k.get("commonAnnotations"), ctx.sub("commonAnnotations")),
        force_common_labels=_bool(k.get("forceCommonLabels"), ctx.sub("forceCommonLabels")),
        force_common_annotations=_bool(k.get("forceCommonAnnotations"), ctx.sub("forceCommonAnnotations")),
        replicas=tuple(replicas),
        patches=tuple(
            _mapping(p, ctx.sub(f"patches[{i}]")) for i, p in enumerate(_list(k.get("patches"), ctx))
        ),
        components=_strs(k.get("components"), ctx.sub("components")),
    )


def _directory(value: Any, ctx: _Ctx) -> DirectoryOptions:
    d = _mapping(value, ctx, {"recurse", "include", "exclude"})
    return DirectoryOptions(
        recurse=_bool(d.get("recurse"), ctx.sub("recurse")),
        include=_globs(d.get("include"), ctx.sub("include")),
        exclude=_globs(d.get("exclude"), ctx.sub("exclude")),
    )


def _globs(value: Any, ctx: _Ctx) -> tuple[str, ...]:
    """Argo CD accepts one glob or ``{a,b}``; lists are accepted too."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and text.endswith("}"):
            return tuple(p.strip() for p in text[1:-1].split(",") if p.strip())
        return (text,) if text else ()
    return _strs(value, ctx)


def _tracking(value: Any, ctx: _Ctx, app_name: str) -> Tracking:
    t = _mapping(value, ctx, {"method", "labelKey", "instance", "selector"})
    method_text = _str(t.get("method"), ctx.sub("method")) or "annotation"
    try:
        method = TrackingMethod(method_text)
    except ValueError:
        raise ctx.sub("method").error(
            f"unknown tracking method {method_text!r} (annotation, label, annotation+label)"
        ) from None
    selector_raw = t.get("selector")
    if isinstance(selector_raw, str):
        selector = parse_selector(selector_raw, ctx.sub("selector"))
    else:
        selector = _str_map(selector_raw, ctx.sub("selector"))
    return Tracking(
        method=method,
        label_key=_str(t.get("labelKey"), ctx.sub("labelKey")) or "app.kubernetes.io/instance",
        app_instance=_str(t.get("instance"), ctx.sub("instance")) or app_name,
        selector=selector,
    )


def parse_selector(text: str, ctx: _Ctx) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part or "!=" in part:
            raise ctx.error(f"only equality selectors (key=value) are supported, got {part!r}")
        k, _, v = part.replace("==", "=").partition("=")
        out[k.strip()] = v.strip()
    return out


APP_KEYS = {
    "name", "path", "tool", "namespace", "helm", "kustomize", "directory", "ignoreDifferences", "tracking",
    "labels", "repo", "chart", "targetRevision", "appliers",
}  # fmt: skip


def parse_app(raw: Any, ctx: _Ctx) -> App:
    entry = _mapping(raw, ctx, APP_KEYS)
    name = _str(entry.get("name"), ctx.sub("name"), required=True) or ""
    ctx = _Ctx(ctx.file, f"{ctx.where} ({name})")
    path = _str(entry.get("path"), ctx.sub("path"), required=True) or ""
    tool_text = _str(entry.get("tool"), ctx.sub("tool")) or "auto"
    try:
        tool = Tool(tool_text)
    except ValueError:
        raise ctx.sub("tool").error(
            f"unknown tool {tool_text!r} (auto, directory, kustomize, helm)"
        ) from None
    source = Source(
        path=path.strip("/") or ".",
        tool=tool,
        repo=_str(entry.get("repo"), ctx.sub("repo")),
        helm=_helm(entry.get("helm"), ctx.sub("helm")),
        kustomize=parse_kustomize_options(entry.get("kustomize"), ctx.sub("kustomize")),
        directory=_directory(entry.get("directory"), ctx.sub("directory")),
        chart=_str(entry.get("chart"), ctx.sub("chart")),
        target_revision=_str(entry.get("targetRevision"), ctx.sub("targetRevision")),
    )
    return App(
        name=name,
        sources=(source,),
        destination=Destination(namespace=_str(entry.get("namespace"), ctx.sub("namespace"))),
        ignore=parse_ignore_rules(entry.get("ignoreDifferences"), ctx.file, f"{ctx.where}.ignoreDifferences"),
        tracking=_tracking(entry.get("tracking"), ctx.sub("tracking"), name),
        origin=f"{ctx.file}: apps entry {name!r}",
        kind="project",
        labels=_str_map(entry.get("labels"), ctx.sub("labels")),
        appliers=_strs(entry.get("appliers"), ctx.sub("appliers")),
    )


TOP_KEYS = {
    "version", "apps", "ignoreDifferences", "render", "appliers", "manualManagers", "discovery", "clusters",
    "sync", "hygiene", "live",
}  # fmt: skip


def parse_project(text: str | bytes, file: str = PROJECT_FILE) -> ProjectConfig:
    data = yamlio.load_one(text, file)
    ctx = _Ctx(file)
    top = _mapping(data, ctx, TOP_KEYS)
    version = top.get("version", 1)
    if version != 1:
        raise ctx.error(f"unsupported project file version {version!r} (this gitops-check reads version 1)")
    apps = [
        parse_app(raw, _Ctx(file, f"apps[{i}]"))
        for i, raw in enumerate(_list(top.get("apps"), ctx.sub("apps")))
    ]
    seen: set[str] = set()
    for app in apps:
        if app.name in seen:
            raise ctx.error(f"two apps are named {app.name!r}; app names must be unique")
        seen.add(app.name)
    render = _mapping(top.get("render"), ctx.sub("render"), set(RENDER_KEYS))
    appliers = top.get("appliers")
    manual = top.get("manualManagers")
    live = _mapping(top.get("live"), ctx.sub("live"), {"pruneKinds"})
    return ProjectConfig(
        path=file,
        apps=tuple(apps),
        render=render,
        ignore=parse_ignore_rules(top.get("ignoreDifferences"), file),
        appliers=_strs(appliers, ctx.sub("appliers")) if appliers is not None else None,
        manual_managers=_strs(manual, ctx.sub("manualManagers")) if manual is not None else None,
        discovery=_mapping(top.get("discovery"), ctx.sub("discovery")),
        clusters=top.get("clusters"),
        sync=_mapping(top.get("sync"), ctx.sub("sync")),
        raw=top,
        prune_kinds=_strs(live["pruneKinds"], ctx.sub("live.pruneKinds")) if "pruneKinds" in live else None,
        render_defaults=_render_defaults(render, ctx.sub("render")),
    )


# ---------------------------------------------------------------------------------------------------------------
# The ``render`` section: defaults for RenderOptions that command-line options override.

# project file key -> RenderOptions field
RENDER_KEYS = {
    "kubeVersion": "kube_version",
    "apiVersions": "api_versions",
    "allowRemoteBases": "allow_remote_bases",
    "timeout": "timeout",
    "workers": "workers",
    "helm": "helm_binary",
    "kustomize": "kustomize_binary",
}
# The project file comes from the checked commit, so a pull request could change it: it may only pick among
# installed helm/kustomize builds by name (helm3, helm-v3.22.0), never a path or another program (``sh`` would run
# a file named ``template`` from the chart folder). Anything else goes on the command line (--helm/--kustomize).
_BINARY_NAMES = {
    "helm": re.compile(r"helm[A-Za-z0-9._-]*"),
    "kustomize": re.compile(r"kustomize[A-Za-z0-9._-]*"),
}
_BINARY_EXAMPLES = {"helm": "helm, helm3, helm-v3.22.0", "kustomize": "kustomize, kustomize-v5.8.1"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _version_text(value: Any, ctx: _Ctx) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ctx.error(
            f"write it as a string ('{value}'): unquoted, YAML reads a version like 1.30 as the number 1.3"
        )
    text = _str(value, ctx, required=True) or ""
    if not text.strip():
        raise ctx.error("is empty")
    return text.strip()


def parse_duration_seconds(value: Any, ctx: _Ctx) -> float:
    """Seconds from a number or a Go-style duration (``90s``, ``5m``, ``1m30s``); positive."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip() and _DURATION.sub("", value.strip()) == "":
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(value.strip()))
    else:
        raise ctx.error(f"expected seconds or a duration such as 90s, 5m or 1m30s, got {value!r}")
    if seconds <= 0:
        raise ctx.error(f"must be more than 0, got {value!r}")
    return seconds


def _render_defaults(section: Mapping[str, Any], ctx: _Ctx) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in section.items():
        c = ctx.sub(str(key))
        if value is None:
            continue
        if key == "kubeVersion":
            out["kube_version"] = _version_text(value, c)
        elif key == "apiVersions":
            items = [value] if isinstance(value, str) else _list(value, c)
            out["api_versions"] = tuple(_version_text(v, c.sub(f"[{i}]")) for i, v in enumerate(items))
        elif key == "allowRemoteBases":
            out["allow_remote_bases"] = _bool(value, c)
        elif key == "timeout":
            out["timeout"] = parse_duration_seconds(value, c)
        elif key == "workers":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
                raise c.error(f"expected a whole number from 1 to 64, got {value!r}")
            out["workers"] = value
        else:  # helm, kustomize
            name = _str(value, c, required=True) or ""
            if not _BINARY_NAMES[key].fullmatch(name):
                raise c.error(
                    f"{name!r} is not allowed here: name an installed {key} build found on PATH or in the tool "
                    f"cache ({_BINARY_EXAMPLES[key]}), not a path or another program; pass a path with --{key} "
                    f"or GITOPS_CHECK_{key.upper()} instead"
                )
            out[RENDER_KEYS[key]] = name
    return out


def with_project_render(options: RenderOptions, project: ProjectConfig | None) -> RenderOptions:
    """``options`` with the project file's ``render`` section filled in where the command line gave nothing."""
    if project is None or not project.render_defaults:
        return options
    defaults = {k: v for k, v in project.render_defaults.items() if k not in options.explicit}
    return dataclasses.replace(options, **defaults) if defaults else options
