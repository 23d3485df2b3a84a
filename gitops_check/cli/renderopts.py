"""The rendering and job-policy option groups: how apps are rendered and fetched, and what only the job decides.

Both come from the job's command line or environment only; the checked commit can narrow rendering through its
project file (``config.with_project_render``) but never widen it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from gitops_check.cli.base import apply_options
from gitops_check.errors import ConfigError, GitopsCheckError
from gitops_check.model.source import KustomizeBuild, PluginDefinition
from gitops_check.project.config import (
    DEFAULT_MAX_APPSET_APPS,
    DEFAULT_MAX_GENERATED_APPS,
    JobOptions,
    RenderOptions,
    parse_kustomize_build_options,
    parse_plugin_definitions,
)
from gitops_check.remote.policy import NetworkPolicy


@dataclass(frozen=True)
class RenderArgs:
    """The values of ``render_options``."""

    helm_binary: str | None
    kustomize_binary: str | None
    kube_version: str | None
    api_versions: tuple[str, ...]
    allow_remote_bases: bool
    workers: int
    kustomize_build_options: str | None
    plugin_files: tuple[str, ...]
    allow_kustomize_exec: bool
    offline: bool
    allow_hosts: tuple[str, ...]
    fetch_ca_file: str | None
    fetch_cache_dir: str | None
    fetch_cache_max_size: int
    max_download_size: int
    fetch_timeout: float
    index_ttl: float


@dataclass(frozen=True)
class JobArgs:
    """The values of ``job_options``."""

    allow_env: tuple[str, ...]
    allow_empty: bool
    max_appset_apps: int
    max_generated_apps: int


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


def build_job_options(args: JobArgs) -> JobOptions:
    """The job's own decisions; only the variables named with --allow-env are read from the environment."""
    names = sorted({n for given in args.allow_env for n in given.replace(",", " ").split()})
    return JobOptions(
        environment=tuple((n, os.environ[n]) for n in names if n in os.environ),
        allow_empty=args.allow_empty,
        max_appset_apps=args.max_appset_apps,
        max_generated_apps=args.max_generated_apps,
    )


def build_render_options(args: RenderArgs) -> RenderOptions:
    """RenderOptions from the options; ``explicit`` names those the user gave (command line or environment), which
    the project file's ``render`` section then does not override (``config.with_project_render``)."""
    given = {  # RenderOptions field (= click parameter name) -> its value here
        "helm_binary": args.helm_binary,
        "kustomize_binary": args.kustomize_binary,
        "kube_version": args.kube_version,
        "api_versions": args.api_versions,
        "allow_remote_bases": args.allow_remote_bases,
        "workers": args.workers,
    }
    return RenderOptions(
        helm_binary=args.helm_binary,
        kustomize_binary=args.kustomize_binary,
        kube_version=args.kube_version,
        api_versions=tuple(args.api_versions),
        allow_remote_bases=args.allow_remote_bases,
        workers=args.workers,
        kustomize_build=_kustomize_build(args.kustomize_build_options),
        allow_kustomize_exec=args.allow_kustomize_exec,
        plugins=_plugins(args.plugin_files),
        network=network_policy(args),
        explicit=frozenset(name for name, value in given.items() if _given(name, value)),
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


def network_policy(args: RenderArgs) -> NetworkPolicy:
    """The job's network policy from the render options (command line or environment only)."""
    from gitops_check.remote.charts import reset

    reset()  # credentials and indexes are read afresh for each run
    hosts = tuple(h for value in args.allow_hosts for h in value.replace(",", " ").split())
    return NetworkPolicy(
        offline=args.offline,
        allow_hosts=hosts,
        ca_file=args.fetch_ca_file,
        cache_dir=args.fetch_cache_dir,
        cache_max_bytes=args.fetch_cache_max_size * 1024 * 1024,
        max_download=args.max_download_size * 1024 * 1024,
        timeout=float(args.fetch_timeout),
        index_ttl=float(args.index_ttl),
    )


def _given(param: str, value: Any) -> bool:
    """The option was given on the command line or through its environment variable (not a default)."""
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    source = ctx.get_parameter_source(param) if ctx is not None else None
    if source is None:  # not called from a command: a value that is set counts as given
        return value not in (None, (), False)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
