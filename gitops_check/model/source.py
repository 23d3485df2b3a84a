"""How one input of an app is rendered: ``Source`` (a folder of a repository, an OCI artifact or a chart) and
the options of each tool (Helm, Kustomize, jsonnet, directories, config management plugins).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from gitops_check.model.objects import JSON

# The names kustomize takes for a folder's kustomization file, in the order it tries them.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class HelmParameter:
    name: str
    value: str
    force_string: bool = False


@dataclass(frozen=True)
class HelmOptions:
    release_name: str | None = None
    namespace: str | None = None
    value_files: tuple[str, ...] = ()
    # Inline values, applied after the value files in order (Argo CD: values then valuesObject).
    values: tuple[JSON, ...] = ()
    parameters: tuple[HelmParameter, ...] = ()
    # (name, path) pairs: helm --set-file.
    file_parameters: tuple[tuple[str, str], ...] = ()
    skip_crds: bool = False
    skip_tests: bool = False
    ignore_missing_value_files: bool = False
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class KustomizeOptions:
    """Argo CD's ``spec.source.kustomize`` / Flux's Kustomization overrides, applied on top of kustomization.yaml."""

    name_prefix: str | None = None
    name_suffix: str | None = None
    namespace: str | None = None
    images: tuple[str, ...] = ()
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    force_common_labels: bool = False
    force_common_annotations: bool = False
    replicas: tuple[tuple[str, int], ...] = ()
    patches: tuple[JSON, ...] = ()
    components: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return self == KustomizeOptions()


@dataclass(frozen=True)
class KustomizeBuild:
    """``kustomize build`` options, parsed into what they mean: nothing from a repository reaches the command line
    as text. ``exec_functions`` (``--enable-alpha-plugins`` / ``--enable-exec``) run programs, so the job must
    allow them (``--allow-kustomize-exec``)."""

    enable_helm: bool = False
    load_restrictor_none: bool = False
    alpha_plugins: bool = False
    enable_exec: bool = False
    reorder: str | None = None  # legacy | none
    managed_by_label: bool = False
    helm_kube_version: str | None = None
    helm_api_versions: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()  # options that do not change the output here (--helm-command: ours is used)
    origin: str = (
        ""  # where they were set, for messages ("kustomize.buildOptions in argocd-cm (argocd/cm.yaml)")
    )

    @property
    def exec_functions(self) -> bool:
        return self.alpha_plugins or self.enable_exec

    def argv(self) -> list[str]:
        """The options as kustomize arguments (values validated when parsed)."""
        out: list[str] = []
        if self.enable_helm:
            out.append("--enable-helm")
        if self.load_restrictor_none:
            out.append("--load-restrictor=LoadRestrictionsNone")
        if self.alpha_plugins:
            out.append("--enable-alpha-plugins")
        if self.enable_exec:
            out.append("--enable-exec")
        if self.reorder:
            out.append(f"--reorder={self.reorder}")
        if self.managed_by_label:
            out.append("--enable-managedby-label")
        if self.helm_kube_version:
            out.append(f"--helm-kube-version={self.helm_kube_version}")
        out.extend(f"--helm-api-versions={v}" for v in self.helm_api_versions)
        return out


@dataclass(frozen=True)
class JsonnetVar:
    """An Argo CD jsonnet ``extVars`` / ``tlas`` entry: a string, or jsonnet code when ``code``."""

    name: str
    value: str
    code: bool = False


@dataclass(frozen=True)
class JsonnetOptions:
    ext_vars: tuple[JsonnetVar, ...] = ()
    tlas: tuple[JsonnetVar, ...] = ()
    libs: tuple[str, ...] = ()  # import paths, relative to the repository root


@dataclass(frozen=True)
class DirectoryOptions:
    recurse: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    jsonnet: JsonnetOptions = field(default_factory=JsonnetOptions)


class Tool(enum.StrEnum):
    AUTO = "auto"
    DIRECTORY = "directory"
    KUSTOMIZE = "kustomize"
    HELM = "helm"
    # Flux semantics (render/flux.py, render/flux_helm.py): a Kustomization's build with its overrides and
    # postBuild substitution, and a HelmRelease's chart with its merged values.
    FLUX_KUSTOMIZE = "flux-kustomize"
    FLUX_HELM = "flux-helm"
    # An Argo CD config management plugin, run from a definition the job gives (render/plugin.py).
    PLUGIN = "plugin"


@dataclass(frozen=True)
class PluginCommand:
    command: tuple[str, ...]
    args: tuple[str, ...] = ()

    @property
    def argv(self) -> list[str]:
        return [*self.command, *self.args]


@dataclass(frozen=True)
class PluginDefinition:
    """An Argo CD ``ConfigManagementPlugin`` (plugin.yaml), from the job's command line or environment only."""

    name: str  # metadata.name, plus "-<spec.version>" when it has one (what an Application names)
    generate: PluginCommand
    init: PluginCommand | None = None
    # discover: fileName glob, find.glob (``**`` allowed), find.command (any output means a match)
    discover_file_name: str | None = None
    discover_glob: str | None = None
    discover_command: PluginCommand | None = None
    file: str = ""  # where the definition was read

    @property
    def discovers(self) -> bool:
        return bool(self.discover_file_name or self.discover_glob or self.discover_command)


@dataclass(frozen=True)
class PluginSource:
    """An Argo CD source's ``plugin`` block; ``name`` None: any plugin whose discover rules match."""

    name: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # ARGOCD_ENV_<name>, values after $ARGOCD_APP_* substitution
    parameters: str = "[]"  # the Application's plugin.parameters as JSON (ARGOCD_APP_PARAMETERS)
    # ARGOCD_APP_* the repo server sets, without the revision (filled in at render time from the workspace)
    build_env: tuple[tuple[str, str], ...] = ()
    explicit: bool = False  # the Application has a plugin block (not only auto-discovery)


@dataclass(frozen=True)
class OCIArtifact:
    """A Flux OCIRepository (or an OCI chart reference): where it is and which manifest and layer to take."""

    url: str  # oci://registry/repository
    tag: str | None = None
    semver: str | None = None
    semver_filter: str | None = None
    digest: str | None = None
    media_type: str | None = None  # layerSelector.mediaType; None: the first layer
    operation: str = (
        "extract"  # layerSelector.operation: extract (a tar.gz of files) or copy (a chart archive)
    )
    insecure: bool = False  # plain HTTP


@dataclass(frozen=True)
class Source:
    """One input of an app: a folder of a repository rendered with one tool."""

    path: str  # relative to the repository root, "" or "." for the root
    tool: Tool = Tool.AUTO
    repo: str | None = None  # None: the repository being checked
    # The other repository's URL as written (``repo`` is its canonical form): fetched at ``target_revision`` when
    # --repo-map does not map it.
    repo_url: str | None = None
    helm: HelmOptions = field(default_factory=HelmOptions)
    kustomize: KustomizeOptions = field(default_factory=KustomizeOptions)
    directory: DirectoryOptions = field(default_factory=DirectoryOptions)
    chart: str | None = None  # a chart from a Helm repository (needs the network)
    target_revision: str | None = None
    ref: str | None = None  # Argo CD multi-source: names this source for "$ref/..." value files
    # Flux postBuild substitution variables, applied after the build; None when not configured.
    substitute: Mapping[str, str] | None = None
    # Argo CD: kustomize build options from argocd-cm for this source (its kustomize version); None: the job's
    # --kustomize-build-options, else none.
    kustomize_build: KustomizeBuild | None = None
    # Argo CD: the plugin block (Tool.PLUGIN), or for a source without a tool, what plugin discovery needs.
    plugin: PluginSource | None = None
    # The files come from an OCI artifact (Flux OCIRepository), not from a Git repository.
    oci: OCIArtifact | None = None
    # Why this source cannot be rendered (a config management plugin, an option gitops-check cannot reproduce);
    # the app is still known, with what it reads, so a preview can tell whether a change touches it.
    unsupported: Unsupported | None = None


@dataclass(frozen=True)
class Unsupported:
    """A source discovery understood well enough to know what it reads, but that cannot be rendered."""

    reason: str
    # sha256 of the source exactly as declared: any change to it (plugin parameters, options) changes the key.
    spec: str
