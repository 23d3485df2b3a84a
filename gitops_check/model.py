"""Plain data shared by every stage of the pipeline.

Stages pass these frozen dataclasses to each other and nothing else: no click, kubernetes or git objects cross
a stage boundary. Manifest bodies are ordinary dicts (JSON-like); by convention nobody mutates a body they did
not create.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gitops_check import redact

JSON = dict[str, Any]


class SecretText(str):
    """A string that came from a Kubernetes Secret (Flux substituteFrom/valuesFrom): ``repr`` never shows it.

    Renderers keep such values out of anything but Secret data, so no report can print them.
    """

    __slots__ = ()

    def __new__(cls, value: object = "") -> SecretText:
        made = super().__new__(cls, value)
        redact.add(made)  # every output of the run scrubs it, whatever path it takes there
        return made

    def __repr__(self) -> str:
        return "SecretText('*****')"


# ---------------------------------------------------------------------------------------------------------------
# Identity


@dataclass(frozen=True, order=True, slots=True)
class ResourceKey:
    """Identity of a Kubernetes object. ``group`` is "" for the core group; ``namespace`` None when cluster-scoped."""

    group: str
    kind: str
    namespace: str | None
    name: str

    @property
    def group_kind(self) -> GroupKind:
        return GroupKind(self.group, self.kind)

    def __str__(self) -> str:
        """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped): the name users see everywhere."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    @property
    def qualified(self) -> str:
        """Like ``str()`` but with the API group, for places where two kinds could share a name."""
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"


@dataclass(frozen=True, order=True, slots=True)
class GroupKind:
    group: str
    kind: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ("apps", "v1"); ``v1`` -> ("", "v1")."""
    group, _, version = api_version.rpartition("/")
    return group, version


# ---------------------------------------------------------------------------------------------------------------
# What discovery finds


@dataclass(frozen=True)
class Origin:
    """Where an object or an app came from, for error messages and reports."""

    app: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if not self.file:
            return self.app
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Manifest:
    key: ResourceKey
    body: JSON
    origin: Origin


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


@dataclass(frozen=True)
class Destination:
    namespace: str | None = None
    server: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class IgnoreRule:
    """Argo CD ``ignoreDifferences`` entry; empty selectors match everything."""

    group: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()

    def matches(self, key: ResourceKey) -> bool:
        return (
            (self.group is None or self.group == key.group or (self.group == "core" and key.group == ""))
            and (self.kind is None or self.kind == key.kind)
            and (self.name is None or self.name == key.name)
            and (self.namespace is None or self.namespace == key.namespace)
        )


class TrackingMethod(enum.StrEnum):
    ANNOTATION = "annotation"
    LABEL = "label"
    ANNOTATION_LABEL = "annotation+label"


@dataclass(frozen=True)
class Tracking:
    """How live objects that belong to an app are recognised, so objects removed from Git show as 'would be pruned'."""

    method: TrackingMethod = TrackingMethod.ANNOTATION
    label_key: str = "app.kubernetes.io/instance"
    # Name written in tracking annotations/labels; defaults to the app name.
    app_instance: str | None = None
    # Flux ownership labels (kustomize.toolkit.fluxcd.io/name, /namespace), when the app is a Flux Kustomization.
    flux_owner: tuple[str, str] | None = None
    # Helm release ownership (meta.helm.sh/release-name, /release-namespace).
    helm_release: tuple[str, str] | None = None
    # Extra label selector from the project file (``key=value,key2=value2``).
    selector: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncPolicy:
    """The agent's automatic sync settings (Argo CD ``spec.syncPolicy.automated``), for hygiene checks."""

    automated: bool = False
    prune: bool = False
    self_heal: bool = False


@dataclass(frozen=True)
class App:
    """Something rendered as one unit: a project-file entry, an Argo CD Application or a Flux object."""

    name: str
    sources: tuple[Source, ...]
    destination: Destination = field(default_factory=Destination)
    ignore: tuple[IgnoreRule, ...] = ()
    tracking: Tracking = field(default_factory=Tracking)
    origin: str = ""  # human-readable: where the app was declared or how it was found
    kind: str = "project"  # project | auto | argocd | flux-kustomization | flux-helmrelease
    # Free-form flags for hygiene checks and sync (e.g. {"production": True}).
    labels: Mapping[str, str] = field(default_factory=dict)
    # Field managers whose ownership of a field means "the agent applied it" (for removed-field detection).
    appliers: tuple[str, ...] = ()
    # Managers whose fields the agent takes over before it applies, so it removes what they set that Git does not
    # have: (name prefix, operation) pairs, main resource only. kustomize-controller transfers kubectl's,
    # before-first-apply's and its own pre-SSA fields to itself (fluxcd/pkg/ssa cleanupMetadata).
    taken_over: tuple[tuple[str, str], ...] = ()
    # How the agent syncs it on its own; None when not known or not applicable (project-file apps).
    sync_policy: SyncPolicy | None = None
    # The agent's own object (the Argo CD Application, the Flux Kustomization / HelmRelease; not the destination):
    # its namespace and name, where sync asks the agent. None for project-file apps.
    agent_namespace: str | None = None
    agent_name: str | None = None

    @property
    def agent_kind(self) -> str | None:
        """``Application``, ``Kustomization`` or ``HelmRelease`` when the app is an agent's object, else None."""
        return AGENT_KINDS.get(self.kind) if self.agent_name else None


# App.kind -> the kind of the agent's object
AGENT_KINDS = {
    "argocd": "Application",
    "flux-kustomization": "Kustomization",
    "flux-helmrelease": "HelmRelease",
}


# ---------------------------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True)
class Workspace:
    """A repository's files at one revision, materialized in a folder renderers may read (never the user's checkout)."""

    root: Path
    label: str  # "./k8s-manifests@1a2b3c4" or "./k8s-manifests (working tree)"
    revision: str | None = None  # full commit SHA; None for the working tree
    repo_path: Path | None = None  # the repository the files came from
    warnings: tuple[str, ...] = ()  # what materializing skipped (submodules, nested repositories)


@dataclass(frozen=True)
class RawObject:
    """One document as a renderer produced it, before validation and identity (``identity.assign_keys``)."""

    body: Any
    origin: Origin
    # Secret values the renderer filled in from a Kubernetes Secret (Flux substituteFrom / valuesFrom), as
    # ``data.<key>`` / ``stringData.<key>``: Git holds a reference there, not the value (hygiene's plain-secret).
    secret_sourced: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RenderResult:
    app: App
    manifests: tuple[Manifest, ...]
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------------------------
# The live side


@dataclass(frozen=True)
class Coverage:
    """What a snapshot or a live read actually looked at.

    ``kinds`` None means unknown: only kinds that appear in the snapshot count as covered. ``namespaces`` None
    means all namespaces were captured.
    """

    kinds: frozenset[GroupKind] | None = None
    namespaces: frozenset[str] | None = None
    complete: bool = False  # the user vouches that every kind was captured

    def covers(self, key: ResourceKey, present_kinds: frozenset[GroupKind]) -> bool:
        gk = key.group_kind
        if not self.complete:
            kinds = self.kinds if self.kinds is not None else present_kinds
            if gk not in kinds:
                return False
        if key.namespace is not None and self.namespaces is not None:
            return key.namespace in self.namespaces
        return True


@dataclass(frozen=True)
class SecretHashing:
    """How Secret values in a snapshot were hashed (a snapshot never holds them in clear)."""

    algorithm: str  # "hmac-sha256"
    salt: str  # hex; combined with an optional key from the environment
    keyed: bool = False  # True when a key from GITOPS_CHECK_SNAPSHOT_KEY was mixed in


@dataclass(frozen=True)
class LiveState:
    """The cluster as read live or from a snapshot: objects by key, plus what was covered and what failed."""

    objects: Mapping[ResourceKey, JSON]
    coverage: Coverage = field(default_factory=Coverage)
    # Kinds (with namespace, or None for all) that could not be read, with the reason.
    unreadable: Mapping[tuple[GroupKind, str | None], str] = field(default_factory=dict)
    # Scope of kinds learned from discovery or CRDs: True when namespaced.
    scopes: Mapping[GroupKind, bool] = field(default_factory=dict)
    source: str = ""  # "snapshot cluster.json (taken 2026-11-20T10:00:00Z from prod)" / "live cluster prod"
    secret_hashing: SecretHashing | None = None
    server_version: str | None = None
    requests: int = 0  # API requests sent to read it (0 for snapshots)
    # What the reader wants the user to know (e.g. pruning not checked for a kind).
    warnings: tuple[str, ...] = ()
    # The cluster's schema for kinds the bundled one lacks, compact (gitops_check.kubeschema.compact).
    schema: JSON | None = None
    # The cluster a snapshot says it was taken from (its metadata.cluster / metadata.server), when it says.
    cluster: str | None = None
    server: str | None = None

    @functools.cached_property
    def _present_kinds(self) -> frozenset[GroupKind]:
        return frozenset(GroupKind(k.group, k.kind) for k in self.objects)

    def present_kinds(self) -> frozenset[GroupKind]:
        """Kinds with at least one object (computed once: objects never change after loading)."""
        return self._present_kinds


@dataclass(frozen=True)
class ReadScope:
    """What the apps compared with one cluster touch: the live reader lists exactly these (kind, namespace) pairs.

    ``namespace`` None in a pair means a cluster-scoped kind. ``namespaces`` are the apps' destination
    namespaces, where objects to prune may live even when Git no longer has any object of their kind.
    """

    kinds: frozenset[tuple[GroupKind, str | None]] = frozenset()
    namespaces: frozenset[str] = frozenset()
    # The API version Git uses for each kind (the most common one when several), so a live reader lists in it.
    versions: Mapping[GroupKind, str] = field(default_factory=dict)
    # Kinds listed in ``namespaces`` for pruning even when Git renders none (None: the reader's default set).
    prune_kinds: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Prediction:
    """What applying an app's objects would leave in the cluster, from a server-side apply dry-run.

    ``objects`` are complete objects to compare exactly with the live ones; objects in ``errors`` are not
    checked; objects in neither are compared by the offline engine (e.g. dry-run not permitted for them).
    """

    objects: Mapping[ResourceKey, JSON] = field(default_factory=dict)
    errors: Mapping[ResourceKey, str] = field(default_factory=dict)
    notes: Mapping[ResourceKey, str] = field(default_factory=dict)  # e.g. "namespace x does not exist yet"
    warnings: tuple[str, ...] = ()
    requests: int = 0


class Predictor(Protocol):
    """Predicts, through the API server, what an apply would produce (a live cluster in a server-side mode)."""

    def predict(
        self, batch: Sequence[tuple[App, Sequence[Manifest]]], live: LiveState
    ) -> Mapping[str, Prediction]:
        """One Prediction per app name of ``batch``, all sent with bounded parallelism."""


class LiveSource(Protocol):
    """A cluster to compare with: a snapshot file or a live API server."""

    name: str

    def prefetch(self) -> None:
        """Start work that does not depend on the scope (a snapshot loads while apps render)."""

    def load(self, scope: ReadScope) -> LiveState:
        """The cluster's objects for ``scope``; raises GitopsCheckError when it cannot be read at all."""

    def predictor(self) -> Predictor | None:
        """What predicts applies in this cluster, whose apps then wait for their batch; None: the offline engine
        alone compares them (a snapshot, a live cluster in client-side mode)."""


# ---------------------------------------------------------------------------------------------------------------
# Diff results


class Status(enum.StrEnum):
    ADDED = "added"  # in Git, not in the cluster: a sync would create it
    CHANGED = "changed"
    REMOVED = "removed"  # in the cluster, owned by the app, not in Git: a sync would prune it
    UNCHANGED = "unchanged"
    ERROR = "error"  # not checked


class ChangeKind(enum.StrEnum):
    VALUE = "value"  # Git and cluster disagree on a value Git sets
    ADDED = "added"  # Git sets it, the cluster lacks it
    REMOVED = "removed"  # the cluster has it, the applier set it earlier, Git no longer does
    MANUAL = "manual"  # the cluster has it, set by hand (kubectl edit/label/...); a sync would keep it


@dataclass(frozen=True)
class Change:
    """One differing field. ``path`` is display-ready (``spec.template.spec.containers[name=app].image``).

    ``old`` is the cluster's value, ``new`` Git's; for Secret data both are redaction markers, never values.
    """

    kind: ChangeKind
    path: str
    old: Any = None
    new: Any = None
    manager: str | None = None  # for MANUAL/REMOVED: which field manager set the live value
    # VALUE only: Git leaves the field out and ``new`` is what the server fills in (a sync resets it).
    server_default: bool = False


@dataclass(frozen=True)
class ResourceDiff:
    key: ResourceKey
    app: str
    status: Status
    changes: tuple[Change, ...] = ()
    # Normalized, redacted views used to print a diff: ``desired`` is what Git wants, ``live`` what the cluster has,
    # both reduced to the fields that matter. None when the object is absent on that side.
    desired: JSON | None = None
    live: JSON | None = None
    message: str | None = None  # for ERROR: why it was not checked; else an optional note
    origin: Origin | None = None
    notes: tuple[str, ...] = ()  # e.g. "also rendered by app foo", "kind scope unknown, assumed namespaced"

    @property
    def by_hand(self) -> bool:
        """Changed only by hand, in fields Git does not manage (a label added with kubectl): a sync would keep
        every one of them, so this is not drift; reported as its own category ("changed by hand")."""
        return (
            self.status is Status.CHANGED
            and bool(self.changes)
            and all(c.kind is ChangeKind.MANUAL for c in self.changes)
        )

    @property
    def is_drift(self) -> bool:
        return self.status in (Status.ADDED, Status.CHANGED, Status.REMOVED) and not self.by_hand


@dataclass(frozen=True)
class AppError:
    """An app (or one of its parts) that could not be checked; it turns the exit code to 2."""

    app: str
    message: str
    file: str | None = None
    line: int | None = None
    stage: str = "render"  # discover | render | cluster | diff


SKIP_HOOK = "Skip"  # argocd.argoproj.io/hook: Skip: never applied


@dataclass(frozen=True)
class Hook:
    """A rendered hook: what it is, when the agent runs it, where it came from."""

    kind: str
    namespace: str | None
    name: str  # ``metadata.name``, or ``generateName`` followed by ``*``
    phases: tuple[str, ...]  # Argo CD phases (PreSync, PostSync, Skip...) or Helm hook events under Flux
    origin: Origin

    def __str__(self) -> str:
        where = f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"
        return f"{where} ({', '.join(self.phases) or 'never run'})"

    @property
    def skipped(self) -> bool:
        """Never applied: ``hook: Skip``, or a hook with no phase the agent runs (Argo CD ignores it)."""
        return self.phases in ((SKIP_HOOK,), ())


@dataclass
class AppResult:
    app: App
    diffs: list[ResourceDiff] = field(default_factory=list)
    errors: list[AppError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    render_seconds: float = 0.0
    # What was fetched from outside the repository: "podinfo 6.x -> 6.14.1 (sha256:…) from https://…".
    resolved: list[str] = field(default_factory=list)
    # Preview only: "added" / "removed" when the whole app appears or disappears with the change.
    change: str | None = None
    # Hooks the agent runs at sync (diff/hooks.py): reported apart, never compared or pruned.
    hooks: list[Hook] = field(default_factory=list)
    # The cluster the app was compared with (None: not compared with any).
    cluster: str | None = None
    # Preview only: why the app could not be rendered, when the change does not touch what it reads (the same
    # content key at both commits). Listed as "not checked, untouched by this change"; not an error.
    untouched: str | None = None

    def count(self, status: Status) -> int:
        return sum(1 for d in self.diffs if d.status is status)

    @property
    def drifted(self) -> bool:
        return any(d.is_drift for d in self.diffs)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(d.status is Status.ERROR for d in self.diffs)

    @property
    def by_hand(self) -> int:
        """Resources changed only by hand (see ResourceDiff.by_hand)."""
        return sum(1 for d in self.diffs if d.by_hand)


class SyncState(enum.StrEnum):
    """How a sync asked of the in-cluster agent (Argo CD, Flux) ended, as far as gitops-check saw it."""

    SUCCEEDED = "succeeded"  # finished: Argo CD Succeeded + Synced + Healthy; Flux request handled + Ready
    REQUESTED = "requested"  # asked for, not waited for (--no-wait)
    PLANNED = "planned"  # printed only (--plan): nothing was sent
    FAILED = "failed"  # the agent says it failed: operation Failed/Error, Ready=False
    DEGRADED = "degraded"  # the sync ran but the app's health is Degraded
    TIMEOUT = "timeout"  # no verdict from the agent within --timeout
    ERROR = "error"  # could not ask or could not read the answer (API, credentials, not found, suspended)
    REFUSED = "refused"  # a guard rail stopped it before anything was sent

    @property
    def exit_code(self) -> int:
        """0 done (or nothing asked), 1 the agent reports failure, 2 could not ask or could not tell."""
        if self in (SyncState.FAILED, SyncState.DEGRADED):
            return 1
        if self in (SyncState.TIMEOUT, SyncState.ERROR, SyncState.REFUSED):
            return 2
        return 0


@dataclass(frozen=True)
class SyncOutcome:
    """One app's sync request and its result; ``request`` is exactly what was (or would have been) sent."""

    app: str
    target: str  # "Application argocd/payments", "Kustomization flux-system/apps"
    via: str  # "Argo CD API https://argocd.example.com", "Kubernetes API https://10.0.0.1:6443"
    state: SyncState
    message: str = ""
    revision: str | None = None
    resources: tuple[ResourceKey, ...] = ()  # only these were synced; empty: the whole app
    request: str = ""
    seconds: float = 0.0
    sync_status: str | None = None  # Argo CD: Synced / OutOfSync; Flux: the Ready condition's status
    health: str | None = None  # Argo CD: Healthy / Degraded / Progressing...
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return self.state.exit_code


@dataclass(frozen=True)
class Finding:
    """A GitOps hygiene problem in what Git declares (not drift): a warning, a failure under ``--strict``.

    Messages never quote Secret values.
    """

    rule: str  # plain-secret | prune-in-production | self-heal-required
    app: str
    message: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class CheckedSource:
    """The commit a result is about, so reports can link files at it: its full id, the GitOps root inside the
    repository ("" for the top), and the canonical URLs that name the repository (its remotes, --repo-url)."""

    revision: str
    root: str = ""
    urls: frozenset[str] = frozenset()


@dataclass
class CheckResult:
    """Everything a reporter needs; reporters read nothing else."""

    apps: list[AppResult]
    target: str  # "commit 1a2b3c4 of ./repo" / "working tree of ./repo"
    against: str  # LiveState.source
    errors: list[AppError] = field(default_factory=list)  # run-level (discovery, cluster) errors
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # informational: what discovery found, and how
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    mode: str = "diff"  # diff | preview
    # Syncs asked of the agent after the check (``diff --sync-on-drift``, ``sync``); empty otherwise.
    syncs: list[SyncOutcome] = field(default_factory=list)
    # Preview with a cluster: the cluster compared with the base commit's render of the apps the change touches
    # (what already differed before it), reported apart; None otherwise.
    baseline: CheckResult | None = None
    # Hygiene findings; with ``strict`` they make the run fail (exit 1, like drift) instead of only warning.
    findings: list[Finding] = field(default_factory=list)
    strict: bool = False
    # ``--fail-on manual``: resources changed only by hand make the run fail (exit 1) like drift.
    fail_on_manual: bool = False
    # The commit checked (preview: the head commit); None for a working tree.
    source: CheckedSource | None = None

    @property
    def diffs(self) -> list[ResourceDiff]:
        return [d for a in self.apps for d in a.diffs]

    @property
    def drifted(self) -> bool:
        return any(a.drifted for a in self.apps)

    @property
    def incomplete(self) -> bool:
        if self.baseline is not None and self.baseline.incomplete:
            return True
        return bool(self.errors) or any(a.failed for a in self.apps)

    def totals(self) -> dict[Status, int]:
        out = {s: 0 for s in Status}
        for d in self.diffs:
            out[d.status] += 1
        return out

    def exit_code(self) -> int:
        """0 in sync, 1 drift, 2 could not check everything (wins over 1).

        With syncs, a sync the agent failed counts as 1 and one that could not be asked or confirmed as 2.
        Under ``strict``, hygiene findings count as 1: everything was checked and Git needs fixing; with
        ``fail_on_manual``, so do resources changed by hand.
        """
        by_hand = self.fail_on_manual and any(a.by_hand for a in self.apps)
        failing = self.drifted or by_hand or (self.strict and bool(self.findings))
        code = 2 if self.incomplete else 1 if failing else 0
        return max([code, *(s.exit_code for s in self.syncs)])
