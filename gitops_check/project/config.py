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
from gitops_check.model.app import App, IgnoreRule
from gitops_check.model.source import KustomizeBuild, PluginCommand, PluginDefinition
from gitops_check.project.appspec import parse_app, parse_ignore_rules
from gitops_check.project.fields import Ctx, boolean, mapping, sequence, string, strings
from gitops_check.remote.policy import NetworkPolicy

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
    # ``--kustomize-build-options``: Argo CD's kustomize.buildOptions when the repository's argocd-cm does not set
    # them (or to override it); None: not given.
    kustomize_build: KustomizeBuild | None = None
    # ``--allow-kustomize-exec``: KRM exec functions (--enable-alpha-plugins / --enable-exec) may run.
    allow_kustomize_exec: bool = False
    # ``--plugin FILE`` / GITOPS_CHECK_PLUGINS: Argo CD config management plugins (never from the repository).
    plugins: tuple[PluginDefinition, ...] = ()
    timeout: float = 300.0
    workers: int = 4
    # The project file's ``render.helm`` / ``render.kustomize``: a build the commit *requires* (``helm4``,
    # ``helm-v3.22.0``), checked against the binary the job chose; it never chooses one (see ToolFinder).
    helm_required: str | None = None
    kustomize_required: str | None = None
    # Where charts, artifacts and other repositories may be fetched from (the job's policy, see remote/policy.py).
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    # Fields given on the command line (or their environment variables): the project file's ``render``
    # section does not override them (``with_project_render``).
    explicit: frozenset[str] = frozenset()


# Generated Applications beyond these are "not checked" with their count (a 400x400 matrix once took 50 s and
# 728 MB); the job may raise them (--max-appset-apps, --max-generated-apps), the commit cannot.
DEFAULT_MAX_APPSET_APPS = 1000
DEFAULT_MAX_GENERATED_APPS = 5000


@dataclass(frozen=True)
class JobOptions:
    """What only the job (its command line or environment) decides, never the checked commit: it is untrusted."""

    # Environment variables the project file's ``fromEnv`` may read (--allow-env): (name, value) pairs.
    environment: tuple[tuple[str, str], ...] = ()
    # A repository where no app is found is "not checked" (exit 2) unless the job says that is fine.
    allow_empty: bool = False
    max_appset_apps: int = DEFAULT_MAX_APPSET_APPS  # per ApplicationSet
    max_generated_apps: int = DEFAULT_MAX_GENERATED_APPS  # all ApplicationSets of a run together


@dataclass(frozen=True)
class DiffOptions:
    appliers: tuple[str, ...] = DEFAULT_APPLIERS
    manual_managers: tuple[str, ...] = DEFAULT_MANUAL_MANAGERS
    ignore: tuple[IgnoreRule, ...] = ()
    # Report live objects that belong to an app but are not in Git ("would be pruned").
    detect_pruning: bool = True
    # A kind that could not be listed in an app's namespace hides what would be pruned there: the app is "not
    # checked" unless the job accepts that explicitly (--accept-unreadable-prune-kinds; then a warning).
    accept_unreadable_prune_kinds: bool = False


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


TOP_KEYS = {
    "version", "apps", "ignoreDifferences", "render", "appliers", "manualManagers", "discovery", "clusters",
    "sync", "hygiene", "live",
}  # fmt: skip


def parse_project(text: str | bytes, file: str = PROJECT_FILE) -> ProjectConfig:
    data = yamlio.load_one(text, file)
    ctx = Ctx(file)
    top = mapping(data, ctx, TOP_KEYS)
    version = top.get("version", 1)
    if version != 1:
        raise ctx.error(f"unsupported project file version {version!r} (this gitops-check reads version 1)")
    apps = [
        parse_app(raw, Ctx(file, f"apps[{i}]"))
        for i, raw in enumerate(sequence(top.get("apps"), ctx.sub("apps")))
    ]
    seen: set[str] = set()
    for app in apps:
        if app.name in seen:
            raise ctx.error(f"two apps are named {app.name!r}; app names must be unique")
        seen.add(app.name)
    render = mapping(top.get("render"), ctx.sub("render"), set(RENDER_KEYS))
    appliers = top.get("appliers")
    manual = top.get("manualManagers")
    live = mapping(top.get("live"), ctx.sub("live"), {"pruneKinds"})
    return ProjectConfig(
        path=file,
        apps=tuple(apps),
        render=render,
        ignore=parse_ignore_rules(top.get("ignoreDifferences"), file),
        appliers=strings(appliers, ctx.sub("appliers")) if appliers is not None else None,
        manual_managers=strings(manual, ctx.sub("manualManagers")) if manual is not None else None,
        discovery=mapping(top.get("discovery"), ctx.sub("discovery")),
        clusters=top.get("clusters"),
        sync=mapping(top.get("sync"), ctx.sub("sync")),
        raw=top,
        prune_kinds=strings(live["pruneKinds"], ctx.sub("live.pruneKinds")) if "pruneKinds" in live else None,
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
    "helm": "helm_required",
    "kustomize": "kustomize_required",
    "network": "network",
}
# The project file comes from the checked commit, so a pull request could change it: it cannot choose a binary
# at all (that is --helm/--kustomize or their environment variables, the job's choice). ``render.helm: helm4``
# only *requires* the job's helm to be a 4.x build (``helm-v3.22.0``: exactly that version); a mismatch makes the
# apps using that tool "not checked" with what to pass. Only a name of that shape is accepted, never a path.
_BINARY_NAMES = {
    "helm": re.compile(r"helm[A-Za-z0-9._-]*"),
    "kustomize": re.compile(r"kustomize[A-Za-z0-9._-]*"),
}
_BINARY_EXAMPLES = {"helm": "helm, helm3, helm-v3.22.0", "kustomize": "kustomize, kustomize-v5.8.1"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _version_text(value: Any, ctx: Ctx) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ctx.error(
            f"write it as a string ('{value}'): unquoted, YAML reads a version like 1.30 as the number 1.3"
        )
    text = string(value, ctx, required=True) or ""
    if not text.strip():
        raise ctx.error("is empty")
    return text.strip()


def parse_duration_seconds(value: Any, ctx: Ctx) -> float:
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


def _render_defaults(section: Mapping[str, Any], ctx: Ctx) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in section.items():
        c = ctx.sub(str(key))
        if value is None:
            continue
        if key == "kubeVersion":
            out["kube_version"] = _version_text(value, c)
        elif key == "apiVersions":
            values = [value] if isinstance(value, str) else sequence(value, c)
            out["api_versions"] = tuple(_version_text(v, c.sub(f"[{i}]")) for i, v in enumerate(values))
        elif key == "allowRemoteBases":
            # The commit can only restrict: ``true`` here widens nothing (only --allow-remote-bases does).
            out["allow_remote_bases"] = boolean(value, c)
        elif key == "timeout":
            out["timeout"] = parse_duration_seconds(value, c)
        elif key == "network":
            section = mapping(value, c, {"offline", "allowHosts"})
            hosts = section.get("allowHosts")
            out["network"] = {
                "offline": boolean(section.get("offline", False), c.sub("offline")),
                "allow_hosts": strings(hosts, c.sub("allowHosts")) if hosts is not None else None,
            }
        elif key == "workers":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
                raise c.error(f"expected a whole number from 1 to 64, got {value!r}")
            out["workers"] = value
        else:  # helm, kustomize
            name = string(value, c, required=True) or ""
            if not _BINARY_NAMES[key].fullmatch(name):
                raise c.error(
                    f"{name!r} is not allowed here: name the {key} build this repository requires "
                    f"({_BINARY_EXAMPLES[key]}), not a path or another program; the job chooses the binary "
                    f"with --{key} or GITOPS_CHECK_{key.upper()}"
                )
            out[RENDER_KEYS[key]] = name
    return out


# Settings where the project file (untrusted) may only lower what the job allows: never more time or processes.
_ONLY_LOWER = ("timeout", "workers")


def with_project_render(options: RenderOptions, project: ProjectConfig | None) -> RenderOptions:
    """``options`` with the project file's ``render`` section filled in where the command line gave nothing.

    ``timeout`` and ``workers`` from the project file only ever lower the job's values.
    """
    if project is None or not project.render_defaults:
        return options
    defaults = {k: v for k, v in project.render_defaults.items() if k not in options.explicit}
    for name in _ONLY_LOWER:
        if name in defaults:
            defaults[name] = min(defaults[name], getattr(options, name))
    # Widening what is fetched belongs to the job: the commit may switch remote bases off, never on.
    if "allow_remote_bases" in project.render_defaults:
        defaults["allow_remote_bases"] = options.allow_remote_bases and bool(
            project.render_defaults["allow_remote_bases"]
        )
    network = project.render_defaults.get("network")
    if isinstance(network, dict):
        defaults["network"] = options.network.restricted(
            offline=bool(network.get("offline")), allow_hosts=network.get("allow_hosts")
        )
    return dataclasses.replace(options, **defaults) if defaults else options


# ---------------------------------------------------------------------------------------------------------------
# kustomize build options (Argo CD's ``kustomize.buildOptions`` in argocd-cm, or ``--kustomize-build-options``)


_FLAGS = {
    "--enable-helm": "enable_helm",
    "--enable-alpha-plugins": "alpha_plugins",
    "--enable-exec": "enable_exec",
    "--enable-managedby-label": "managed_by_label",
}
_VALUED = ("--load-restrictor", "--load_restrictor", "--reorder", "--helm-kube-version", "--helm-api-versions",
           "--helm-command")  # fmt: skip
_NO_OUTPUT_CHANGE = ("--stack-trace", "--helm-debug")
_KUBE_VERSION = re.compile(r"v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.-]+)?")
_API_VERSION = re.compile(r"[A-Za-z0-9.-]+(/[A-Za-z0-9.-]+)*")


def parse_kustomize_build_options(text: str, origin: str) -> KustomizeBuild:
    """Argo CD splits ``kustomize.buildOptions`` on white space (``strings.Fields``) and appends it to ``kustomize
    build``; here each option is understood, and anything not understood is a ConfigError naming it."""
    from gitops_check.errors import ConfigError

    tokens = text.split()
    flags: dict[str, Any] = {}
    apis: list[str] = []
    ignored: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, eq, value = token.partition("=")
        if name in _FLAGS and not eq:
            flags[_FLAGS[name]] = True
        elif name in _NO_OUTPUT_CHANGE:
            pass
        elif name in _VALUED:
            if not eq:
                if i + 1 >= len(tokens):
                    raise ConfigError(f"{origin}: {name} needs a value")
                i += 1
                value = tokens[i]
            if name in ("--load-restrictor", "--load_restrictor"):
                if value not in ("LoadRestrictionsNone", "LoadRestrictionsRootOnly"):
                    raise ConfigError(f"{origin}: unknown load restrictor {value!r}")
                flags["load_restrictor_none"] = value == "LoadRestrictionsNone"
            elif name == "--reorder":
                if value not in ("legacy", "none"):
                    raise ConfigError(f"{origin}: --reorder takes legacy or none, not {value!r}")
                flags["reorder"] = value
            elif name == "--helm-kube-version":
                if not _KUBE_VERSION.fullmatch(value):
                    raise ConfigError(f"{origin}: --helm-kube-version {value!r} is not a Kubernetes version")
                flags["helm_kube_version"] = value
            elif name == "--helm-api-versions":
                if not _API_VERSION.fullmatch(value):
                    raise ConfigError(f"{origin}: --helm-api-versions {value!r} is not an API version")
                apis.append(value)
            else:  # --helm-command picks a binary: the job's helm (--helm) is used instead
                ignored.append(name)
        else:
            raise ConfigError(
                f"{origin}: kustomize build option {token!r} is not supported by gitops-check (it understands "
                "--enable-helm, --load-restrictor, --enable-alpha-plugins, --enable-exec, --reorder, "
                "--enable-managedby-label, --helm-kube-version, --helm-api-versions, --helm-command)"
            )
        i += 1
    return KustomizeBuild(**flags, helm_api_versions=tuple(apis), ignored=tuple(ignored), origin=origin)


# ---------------------------------------------------------------------------------------------------------------
# Config management plugin definitions (plugin.yaml), given by the job


def parse_plugin_definitions(text: str | bytes, file: str) -> list[PluginDefinition]:
    """Every ``ConfigManagementPlugin`` document of a plugin.yaml file (Argo CD's sidecar format)."""
    out = []
    for doc in yamlio.load_documents(text, file):
        ctx = Ctx(file, f"document at line {doc.line}")
        body = mapping(doc.data, ctx, {"apiVersion", "kind", "metadata", "spec"})
        if body.get("kind") != "ConfigManagementPlugin":
            raise ctx.error(f"kind {body.get('kind')!r} is not ConfigManagementPlugin")
        meta = mapping(body.get("metadata"), ctx.sub("metadata"))
        name = string(meta.get("name"), ctx.sub("metadata.name"), required=True) or ""
        spec = mapping(body.get("spec"), ctx.sub("spec"))
        version = string(spec.get("version"), ctx.sub("spec.version"))
        generate = _plugin_command(spec.get("generate"), ctx.sub("spec.generate"))
        if generate is None:
            raise ctx.sub("spec.generate").error("is required")
        discover = mapping(spec.get("discover"), ctx.sub("spec.discover"))
        find = mapping(discover.get("find"), ctx.sub("spec.discover.find"))
        out.append(
            PluginDefinition(
                name=f"{name}-{version}" if version else name,
                generate=generate,
                init=_plugin_command(spec.get("init"), ctx.sub("spec.init")),
                discover_file_name=string(discover.get("fileName"), ctx.sub("spec.discover.fileName"))
                or None,
                discover_glob=string(find.get("glob"), ctx.sub("spec.discover.find.glob")) or None,
                discover_command=_plugin_command(find, ctx.sub("spec.discover.find"))
                if find.get("command")
                else None,
                file=file,
            )
        )
    return out


def _plugin_command(value: Any, ctx: Ctx) -> PluginCommand | None:
    if value is None:
        return None
    raw = mapping(value, ctx)
    command = strings(raw.get("command"), ctx.sub("command"))
    if not command:
        raise ctx.sub("command").error("is empty")
    return PluginCommand(tuple(command), strings(raw.get("args"), ctx.sub("args")) if raw.get("args") else ())


def required_build_matches(required: str, tool: str, version: str) -> bool:
    """Whether ``version`` (``v3.22.0``) satisfies the project file's ``render.helm``/``render.kustomize`` value.

    ``helm`` accepts any build; ``helm4`` / ``helm-4`` / ``helm-v4`` a 4.x; ``helm-v3.22`` any 3.22.x;
    ``helm-v3.22.0`` exactly that. A name with no version in it (``helm-custom``) matches only any build.
    """
    rest = required[len(tool) :].lstrip("-_").removeprefix("v")
    wanted = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", rest)
    if wanted is None:
        return True
    have = version.removeprefix("v").split(".")
    return all(w is None or (i < len(have) and have[i] == w) for i, w in enumerate(wanted.groups()))
