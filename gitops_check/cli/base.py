"""Pieces shared by the commands: exit codes, option groups, report writing, building request objects."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from gitops_check import redact
from gitops_check.errors import ConfigError, GitopsCheckError, InputError
from gitops_check.model.live import LiveSource
from gitops_check.model.result import CheckResult
from gitops_check.model.source import KustomizeBuild, PluginDefinition
from gitops_check.project.config import (
    DEFAULT_MAX_APPSET_APPS,
    DEFAULT_MAX_GENERATED_APPS,
    DiffOptions,
    JobOptions,
    RenderOptions,
    parse_kustomize_build_options,
    parse_plugin_definitions,
)
from gitops_check.remote.policy import NetworkPolicy

if TYPE_CHECKING:
    from gitops_check.cluster.live import LiveCluster
    from gitops_check.pipeline.shards import Shard
    from gitops_check.report.links import FileLinks

EXIT_IN_SYNC, EXIT_DRIFT, EXIT_INCOMPLETE = 0, 1, 2


class Failure(click.ClickException):
    exit_code = EXIT_INCOMPLETE


def say(text: str, *, err: bool = True) -> None:
    """A message that may quote repository strings, for the log: escaped, continuation lines indented."""
    from gitops_check.report.text import log_lines

    click.echo(log_lines(text), err=err)


def fail(message: str) -> NoReturn:
    raise Failure(message)


def write_file(path: str, text: str, what: str, *, json_document: bool = False) -> None:
    """Write a report atomically (a new file renamed over the old one): an interrupted run never leaves half a
    report, and a symlink planted where the report goes is replaced, not followed. A failure is a clear error
    (exit 2), not a traceback."""
    import tempfile

    target = Path(path)
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # The last step before it is written; JSON string by string, so it stays JSON.
            f.write(redact.scrub_json(text) if json_document else redact.scrub(text))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        tmp = None
    except OSError as e:
        raise InputError(f"cannot write the {what} report: {e.strerror}", file=path) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


OUTPUT_OPTIONS = ("junit", "markdown", "markdown_full", "json_path")


def clear_outputs(
    kw: dict[str, Any], *, parts_dir: str | None = None, ours: Callable[[str], bool] = lambda name: False
) -> None:
    """Remove the report files this run is asked to write, before it starts: a run that stops half way must not
    leave the previous run's reports behind to be read as its result."""
    paths = [Path(kw[name]) for name in OUTPUT_OPTIONS if kw.get(name)]
    if parts_dir:
        folder = Path(parts_dir)
        if folder.is_dir() and not folder.is_symlink():
            paths += [p for p in folder.iterdir() if ours(p.name)]
    for path in paths:
        try:
            if path.is_symlink() or path.is_file():
                path.unlink()
        except OSError as e:
            raise InputError(f"cannot remove the previous report: {e.strerror}", file=str(path)) from None


def apply_options(
    fn: Callable[..., Any], options: list[Callable[..., Any]], section: str | None = None
) -> Callable[..., Any]:
    """Apply click option decorators in the order written; ``section``: the heading they are listed under in
    ``--help`` (see ``SectionedCommand``)."""
    params = fn.params if isinstance(fn, click.Command) else getattr(fn, "__click_params__", [])
    before = len(params)
    for option in reversed(options):
        fn = option(fn)
    if section is not None:
        params = fn.params if isinstance(fn, click.Command) else getattr(fn, "__click_params__", [])
        for param in params[before:]:
            setattr(param, HELP_SECTION, section)
    return fn


HELP_SECTION = "gitops_check_help_section"
# Headings of --help, in this order; options of no section come last under "Other options".
SECTIONS = ("Repository", "Rendering", "Job policy", "Cluster", "Reports", "CI", "Sync")


def in_section(
    section: str, *options: Callable[..., Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator applying ``options`` under the ``--help`` heading ``section``."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        return apply_options(fn, list(options), section)

    return decorate


class SectionedCommand(click.Command):
    """A command whose ``--help`` lists its options by section (render, cluster, reports, sync, CI...) instead of
    one list of sixty, without a dependency for it."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        grouped: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                grouped.setdefault(getattr(param, HELP_SECTION, "Other options"), []).append(record)
        order = [*SECTIONS, *sorted(set(grouped) - {*SECTIONS, "Other options"}), "Other options"]
        for title in order:
            if grouped.get(title):
                with formatter.section(title):
                    formatter.write_dl(grouped[title])


def repo_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Which repository and revision, and which apps."""
    return apply_options(fn, [
        click.option("--repo", "repo", default=".", show_default=True, type=click.Path(file_okay=False),
                     help="The GitOps repository, or a folder inside one (its files only)."),
        click.option("--rev", "rev", default=None, help="Revision to check: SHA, branch, tag, HEAD~2. Default: HEAD."),
        click.option("--working-tree", is_flag=True, help="Check the working tree, uncommitted changes included."),
        click.option("--app", "apps", multiple=True, help="Only these apps (repeatable)."),
        click.option("--repo-map", "repo_map", multiple=True, metavar="URL=PATH",
                     help="A local clone of another repository Applications point at (repeatable)."),
        click.option("--repo-url", "repo_urls", multiple=True, metavar="URL",
                     help="Another URL that means this repository (its remotes are known already)."),
        click.option("--honour-target-revision", is_flag=True,
                     help="Render Applications that point at this repository at their own targetRevision "
                          "instead of the checked commit."),
    ], "Repository")  # fmt: skip


def render_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """How apps are rendered."""
    return apply_options(fn, [
        click.option("--helm", "helm_binary", envvar="GITOPS_CHECK_HELM", help="helm binary to use."),
        click.option("--kustomize", "kustomize_binary", envvar="GITOPS_CHECK_KUSTOMIZE", help="kustomize binary."),
        click.option("--kube-version", default=None, help="Kubernetes version Helm charts see (.Capabilities)."),
        click.option("--api-versions", multiple=True, help="Extra API versions for Helm's .Capabilities (repeatable)."),
        click.option("--allow-remote-bases/--no-allow-remote-bases", default=False,
                     help="Let Kustomize fetch remote bases (needs the network). Default: the project file's "
                          "render.allowRemoteBases, else no."),
        click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
                     help="Apps rendered in parallel."),
        click.option("--kustomize-build-options", "kustomize_build_options", metavar="OPTIONS",
                     envvar="GITOPS_CHECK_KUSTOMIZE_BUILD_OPTIONS",
                     help="Argo CD's kustomize.buildOptions (e.g. '--enable-helm'), for Argo CD and project apps; "
                          "wins over an argocd-cm in the repository."),
        click.option("--plugin", "plugin_files", multiple=True, envvar="GITOPS_CHECK_PLUGINS",
                     type=click.Path(dir_okay=False, exists=True), metavar="FILE",
                     help="An Argo CD config management plugin definition (plugin.yaml) to run for apps that use "
                          "it (repeatable; GITOPS_CHECK_PLUGINS: paths separated by ':'). Never read from the "
                          "repository."),
        click.option("--allow-kustomize-exec", is_flag=True, envvar="GITOPS_CHECK_ALLOW_KUSTOMIZE_EXEC",
                     help="Let kustomize run KRM exec functions when build options enable them "
                          "(--enable-alpha-plugins / --enable-exec): they run programs named by the repository."),
        click.option("--offline", is_flag=True, envvar="GITOPS_CHECK_OFFLINE",
                     help="Fetch nothing: apps from Helm/OCI/other Git repositories are not checked (exit 2)."),
        click.option("--allow-host", "allow_hosts", multiple=True, envvar="GITOPS_CHECK_ALLOW_HOSTS", metavar="PATTERN",
                     help="Only fetch from hosts matching PATTERN (host or host:port, * wildcards; repeatable). "
                          "Naming a host exactly also allows it on a loopback or private address."),
        click.option("--fetch-ca-file", "fetch_ca_file", type=click.Path(dir_okay=False, exists=True), envvar="GITOPS_CHECK_FETCH_CA_FILE",
                     help="CA bundle for HTTPS chart repositories and registries (default: the system's)."),
        click.option("--fetch-cache-dir", "fetch_cache_dir", type=click.Path(file_okay=False), envvar="GITOPS_CHECK_FETCH_CACHE_DIR",
                     help="Cache of fetched charts and artifacts (default: ~/.cache/gitops-check/remote)."),
        click.option("--fetch-cache-max-size", type=click.IntRange(1), default=2048, show_default=True,
                     envvar="GITOPS_CHECK_FETCH_CACHE_MAX_MB", metavar="MIB",
                     help="Bound of that cache; least recently used entries are removed beyond it."),
        click.option("--max-download-size", type=click.IntRange(1), default=256, show_default=True,
                     envvar="GITOPS_CHECK_MAX_DOWNLOAD_MB", metavar="MIB", help="Largest download accepted, in MiB."),
        click.option("--fetch-timeout", type=click.FloatRange(1), default=30.0, show_default=True,
                     envvar="GITOPS_CHECK_FETCH_TIMEOUT", help="Seconds per network request."),
        click.option("--index-ttl", type=click.FloatRange(0), default=0.0, show_default=True,
                     envvar="GITOPS_CHECK_INDEX_TTL",
                     help="Seconds a cached index.yaml is used without asking the server (0: revalidate each run)."),
    ], "Rendering")  # fmt: skip


def job_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What only the job decides, never the checked commit (see docs/security.md)."""
    return apply_options(fn, [
        click.option("--allow-env", "allow_env", multiple=True, metavar="NAME", envvar="GITOPS_CHECK_ALLOW_ENV",
                     help="An environment variable the project file's fromEnv may read (repeatable; the "
                          "environment variable takes names separated by spaces). Default: none."),
        click.option("--allow-empty", is_flag=True,
                     help="A repository where no app is found exits 0 instead of 2 (\"no apps found\")."),
        click.option("--max-appset-apps", type=click.IntRange(1), default=DEFAULT_MAX_APPSET_APPS,
                     show_default=True, help="Applications one ApplicationSet may generate; beyond: not checked."),
        click.option("--max-generated-apps", type=click.IntRange(1), default=DEFAULT_MAX_GENERATED_APPS,
                     show_default=True, help="Applications all ApplicationSets of a run may generate together."),
    ], "Job policy")  # fmt: skip


def build_diff_options(kw: dict[str, Any]) -> DiffOptions:
    return DiffOptions(accept_unreadable_prune_kinds=bool(kw.get("accept_unreadable_prune_kinds")))


def build_job_options(kw: dict[str, Any]) -> JobOptions:
    """The job's own decisions; only the variables named with --allow-env are read from the environment."""
    names = sorted({n for given in kw.get("allow_env") or () for n in given.replace(",", " ").split()})
    return JobOptions(
        environment=tuple((n, os.environ[n]) for n in names if n in os.environ),
        allow_empty=bool(kw.get("allow_empty")),
        max_appset_apps=kw.get("max_appset_apps") or DEFAULT_MAX_APPSET_APPS,
        max_generated_apps=kw.get("max_generated_apps") or DEFAULT_MAX_GENERATED_APPS,
    )


def live_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Which live cluster, and how it is compared (see docs/live.md)."""
    return apply_options(fn, [
        click.option("--live", is_flag=True, help="Compare with the live cluster (kubeconfig context or in-cluster)."),
        click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None,
                     help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)."),
        click.option("--context", "kube_context", default=None, help="kubeconfig context (default: current)."),
        click.option("--server-side/--client-side", "server_side", default=None,
                     help="Server-side apply dry-run of every object (default when permitted), or the offline "
                          "comparison of the listed objects only (no dry-run permission needed)."),
        click.option("--field-manager", default=None,
                     help="Field manager of the dry-run (default: the app's agent, e.g. argocd-controller)."),
        click.option("--live-workers", type=click.IntRange(1, 64), default=8, show_default=True,
                     help="Parallel API requests (lists and dry-runs)."),
        click.option("--accept-unreadable-prune-kinds", is_flag=True,
                     help="A kind that cannot be listed in an app's namespace (so what would be pruned there is "
                          "unknown) is a warning instead of making the app not checked."),
        click.option("--dry-run-all", is_flag=True,
                     help="Dry-run every object, also applies that provably change nothing (see docs/live.md)."),
    ], "Cluster")  # fmt: skip


def live_cluster(
    kw: dict[str, Any], *, name: str, kubeconfig: str | None, context: str | None
) -> LiveCluster:
    """A live cluster source from the --live option group's values."""
    from gitops_check.cluster.live import LiveCluster, LiveOptions
    from gitops_check.project.config import DEFAULT_APPLIERS

    server_side = kw.get("server_side")
    mode = "auto" if server_side is None else "server" if server_side else "client"
    options = LiveOptions(
        kubeconfig=kubeconfig,
        context=context,
        mode=mode,
        field_manager=kw.get("field_manager"),
        appliers=frozenset(DEFAULT_APPLIERS),
        workers=kw.get("live_workers") or 8,
        dry_run_all=bool(kw.get("dry_run_all")),
    )
    return LiveCluster(options, name=name)


def entry_source(entry: Any, kw: dict[str, Any]) -> LiveSource:
    """The source for a cluster named in the project file's ``clusters:``: its snapshot, or with --live its
    kubeconfig context."""
    from gitops_check.cluster.snapshot import SnapshotSource

    if kw.get("live") and (entry.context or entry.kubeconfig):
        return live_cluster(kw, name=entry.name, kubeconfig=entry.kubeconfig or kw.get("kubeconfig"),
                             context=entry.context)  # fmt: skip
    if entry.snapshot:
        return SnapshotSource(entry.snapshot, assume_complete=kw.get("assume_complete_snapshot", False),
                              name=entry.name)  # fmt: skip
    need = "context or kubeconfig (for --live)" if kw.get("live") else "snapshot file"
    fail(f"cluster {entry.name} in the project file has no {need}")


def report_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Where reports go, and where they are posted in CI."""
    fn = apply_options(fn, [
        click.option("--junit", type=click.Path(dir_okay=False), help="Write a JUnit XML report here."),
        click.option("--markdown", type=click.Path(dir_okay=False),
                     help="Write a Markdown report (PR comment sized, see --markdown-limit) here."),
        click.option("--markdown-full", type=click.Path(dir_okay=False),
                     help="Write the complete Markdown report, without a size limit, here."),
        click.option("--markdown-limit", type=click.IntRange(1000), default=65536, show_default=True,
                     help="Maximum characters of the --markdown report."),
        click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the JSON report here."),
        click.option("--color/--no-color", default=None, help="Colour the terminal diff (default: when stdout is a TTY)."),
        click.option("-v", "--verbose", is_flag=True,
                     help="Also list resources that are in sync, and print each stage's time to stderr."),
        click.option("--progress/--no-progress", "progress", default=None,
                     help="Show progress on stderr (default: on a terminal outside CI; in CI logs, with -v)."),
    ], "Reports")  # fmt: skip
    return apply_options(fn, [
        click.option("--comment", type=click.Choice(["github", "gitlab", "auto"]), default=None,
                     help="Post the report as sticky pull/merge request comment(s), updated on every run (docs/ci.md)."),
        click.option("--comment-key", metavar="KEY",
                     help="Which sticky comment to update (default: the command, plus the folder when not the root)."),
        click.option("--github-summary", is_flag=True,
                     help="In GitHub Actions: write the job summary and annotate what could not be checked."),
    ], "CI")  # fmt: skip


# render option (click parameter name) -> RenderOptions field
_RENDER_PARAMS = {
    "helm_binary": "helm_binary",
    "kustomize_binary": "kustomize_binary",
    "kube_version": "kube_version",
    "api_versions": "api_versions",
    "allow_remote_bases": "allow_remote_bases",
    "workers": "workers",
}


def build_render_options(kw: dict[str, Any]) -> RenderOptions:
    """RenderOptions from the options; ``explicit`` names those the user gave (command line or environment), which
    the project file's ``render`` section then does not override (``config.with_project_render``)."""
    return RenderOptions(
        helm_binary=kw["helm_binary"],
        kustomize_binary=kw["kustomize_binary"],
        kube_version=kw["kube_version"],
        api_versions=tuple(kw["api_versions"]),
        allow_remote_bases=kw["allow_remote_bases"],
        workers=kw["workers"],
        kustomize_build=_kustomize_build(kw.get("kustomize_build_options")),
        allow_kustomize_exec=bool(kw.get("allow_kustomize_exec")),
        plugins=_plugins(kw.get("plugin_files") or ()),
        network=network_policy(kw),
        explicit=frozenset(field for param, field in _RENDER_PARAMS.items() if _given(param, kw)),
    )


def _plugins(files: Sequence[str]) -> tuple[PluginDefinition, ...]:
    out: list[PluginDefinition] = []
    for file in files:
        try:
            out.extend(parse_plugin_definitions(Path(file).read_bytes(), file))
        except OSError as e:
            raise click.BadParameter(f"cannot read {file}: {e.strerror}", param_hint="--plugin") from None
        except GitopsCheckError as e:
            raise click.BadParameter(str(e), param_hint="--plugin") from None
    return tuple(out)


def _kustomize_build(text: str | None) -> KustomizeBuild | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_kustomize_build_options(text, "--kustomize-build-options")
    except ConfigError as e:
        raise click.BadParameter(e.message, param_hint="--kustomize-build-options") from None


def network_policy(kw: dict[str, Any]) -> NetworkPolicy:
    """The job's network policy from the render options (command line or environment only)."""
    from gitops_check.remote.charts import reset

    reset()  # credentials and indexes are read afresh for each run
    hosts = tuple(h for value in kw.get("allow_hosts") or () for h in value.replace(",", " ").split())
    return NetworkPolicy(
        offline=bool(kw.get("offline")),
        allow_hosts=hosts,
        ca_file=kw.get("fetch_ca_file"),
        cache_dir=kw.get("fetch_cache_dir"),
        cache_max_bytes=int(kw.get("fetch_cache_max_size") or 2048) * 1024 * 1024,
        max_download=int(kw.get("max_download_size") or 256) * 1024 * 1024,
        timeout=float(kw.get("fetch_timeout") or 30.0),
        index_ttl=float(kw.get("index_ttl") or 0.0),
    )


def _given(param: str, kw: dict[str, Any]) -> bool:
    """The option was given on the command line or through its environment variable (not a default)."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source(param) if ctx is not None else None
    if source is None:  # not called from a command: a value that is set counts as given
        return kw.get(param) not in (None, (), False)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def revision(rev: str | None, working_tree: bool) -> str | None:
    if rev and working_tree:
        fail("--rev and --working-tree exclude each other")
    if working_tree:
        return None
    return rev or "HEAD"


def parse_repo_map(values: tuple[str, ...]) -> dict[str, Path]:
    out = {}
    for value in values:
        url, sep, path = value.partition("=")
        if not sep or not url or not path:
            fail(f"--repo-map expects URL=PATH, got {value!r}")
        out[url] = Path(path)
    return out


def live_source(kw: dict[str, Any]) -> LiveSource | None:
    """The cluster named on the command line: --snapshot FILE or --live (with --kubeconfig/--context)."""
    from gitops_check.cluster.snapshot import SnapshotSource

    if kw.get("live"):
        if kw.get("snapshot"):
            fail("--live and --snapshot exclude each other")
        return live_cluster(kw, name="live", kubeconfig=kw.get("kubeconfig"), context=kw.get("kube_context"))
    for flag, given in (("--server-side/--client-side", kw.get("server_side") is not None),
                        ("--kubeconfig", kw.get("kubeconfig")), ("--context", kw.get("kube_context"))):  # fmt: skip
        if given:
            fail(f"{flag} only applies with --live")
    plain, named = _snapshots(kw)
    if len(plain) > 1:
        fail(
            f"{len(plain)} snapshots without a cluster name: give each with --snapshot NAME=FILE (NAME: the cluster "
            "its apps name)"
        )
    for path in (*plain, *named.values()):
        if not Path(path).exists():
            raise InputError(
                "snapshot file does not exist: nothing was rendered; check the path or write one with "
                "gitops-check snapshot",
                file=path,
            )
    if plain:
        return SnapshotSource(plain[0], assume_complete=kw.get("assume_complete_snapshot", False))
    return None


def named_sources(kw: dict[str, Any]) -> dict[str, LiveSource]:
    """``--snapshot NAME=FILE``: the snapshot of the cluster apps name NAME."""
    from gitops_check.cluster.snapshot import SnapshotSource

    _, named = _snapshots(kw)
    if named and kw.get("live"):
        fail("--live and --snapshot exclude each other")
    complete = kw.get("assume_complete_snapshot", False)
    return {name: SnapshotSource(path, assume_complete=complete, name=name) for name, path in named.items()}


def _snapshots(kw: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    from gitops_check.cluster.select import parse_named_snapshots

    value = kw.get("snapshot") or ()
    values = (value,) if isinstance(value, str) else tuple(value)
    try:
        return parse_named_snapshots(values)
    except GitopsCheckError as e:
        fail(e.message)


def shard_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """One check spread over several CI jobs, joined by ``gitops-check merge``."""
    return apply_options(fn, [
        click.option("--shard", metavar="K/N",
                     help="Check only the apps of shard K of N (default: $CI_NODE_INDEX/$CI_NODE_TOTAL in GitLab "
                          "parallel jobs); join the parts with `gitops-check merge`."),
        click.option("--part", "part_path", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Write this run's result for `gitops-check merge` here."),
    ], section="CI")  # fmt: skip


def resolve_shard(kw: dict[str, Any]) -> Shard | None:
    """``--shard`` wins; else GitLab's parallel job variables; None: the whole check."""
    from gitops_check.pipeline.shards import parse_shard, shard_from_env

    try:
        shard = parse_shard(kw["shard"]) if kw.get("shard") else shard_from_env(os.environ)
    except GitopsCheckError as e:
        raise click.BadParameter(e.message, param_hint="--shard") from None
    return shard if shard is None or shard.total > 1 else None


def start_progress(kw: dict[str, Any]) -> None:
    """Progress on stderr for this run, as ``--progress``/``-v``, the terminal and the CI environment decide."""
    from gitops_check import progress

    ci = os.environ.get("CI", "").lower() in ("true", "1") or bool(os.environ.get("GITHUB_ACTIONS"))
    mode = progress.wanted(
        kw.get("progress"), verbose=bool(kw.get("verbose")), tty=_is_tty(sys.stderr), ci=ci
    )
    progress.install(None if mode == "off" else progress.Reporter(sys.stderr, live=mode == "live"))


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def emit_reports(result: CheckResult, kw: dict[str, Any]) -> None:
    """Write the report files asked for, then print the terminal report."""
    from gitops_check import progress
    from gitops_check.report.terminal import render_terminal, should_color

    progress.install(None)  # its line is erased before the report
    if kw.get("part_path"):
        from gitops_check.report.parts import dump_part

        write_file(kw["part_path"], dump_part(result, kw.get("resolved_shard")), "part")

    if kw.get("junit"):
        from gitops_check.report.junit import render_junit

        write_file(kw["junit"], render_junit(result), "JUnit")
    if kw.get("markdown") or kw.get("markdown_full"):
        from gitops_check.report.markdown import render_markdown, render_markdown_full

        links = file_links(result)
        if kw.get("markdown"):
            text = render_markdown(result, limit=kw["markdown_limit"], links=links)
            write_file(kw["markdown"], text, "Markdown")
        if kw.get("markdown_full"):
            write_file(kw["markdown_full"], render_markdown_full(result, links=links), "Markdown")
    if kw.get("json_path"):
        from gitops_check.report.jsonout import render_json

        write_file(kw["json_path"], render_json(result), "JSON", json_document=True)
    color = kw["color"] if kw.get("color") is not None else should_color(sys.stdout, os.environ)
    text = render_terminal(result, color=color, verbose=bool(kw.get("verbose")))
    publisher = ci_publisher(result, kw)
    if publisher:
        publisher.before_report()
    click.echo(text, nl=not text.endswith("\n"))
    if publisher:
        publisher.after_report()


def file_links(result: CheckResult) -> FileLinks | None:
    """Links to files at the commit checked, when the job runs in GitHub Actions or GitLab CI for that repository."""
    from gitops_check.report.links import file_links as links_in

    return links_in(result.source, os.environ)


def ci_publisher(result: CheckResult, kw: dict[str, Any]) -> Any:
    """``--comment`` / ``--github-summary``: a ResultPublisher wrapped around the terminal report, or None."""
    if not kw.get("comment") and not kw.get("github_summary"):
        return None
    from gitops_check.publish.result import ResultPublisher
    from gitops_check.report.markdown import render_markdown, render_markdown_parts

    links = file_links(result)
    return ResultPublisher(
        result,
        repo=Path(kw.get("repo") or "."),
        parts=lambda limit, url: render_markdown_parts(result, limit=limit, details_url=url, links=links),
        fitted=lambda limit, url: render_markdown(result, limit=limit, details_url=url, links=links),
        whole=lambda limit: render_markdown(result, limit=limit, unit="bytes", links=links),
        comment=kw.get("comment"),
        key=kw.get("comment_key"),
        github_summary=bool(kw.get("github_summary")),
        env=dict(os.environ),
        out=click.echo,
        err=say,
    )
