"""The cluster option groups: which snapshot file(s) (``--snapshot``) or live cluster (``--live``) a check compares
with, and how the live cluster is read and compared; turning them into ``LiveSource``s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gitops_check.cli.base import apply_options, fail
from gitops_check.errors import GitopsCheckError, InputError
from gitops_check.model.live import LiveSource
from gitops_check.project.config import DiffOptions

if TYPE_CHECKING:
    from gitops_check.cluster.live import LiveCluster
    from gitops_check.cluster.select import ClusterEntry


@dataclass(frozen=True)
class KubeArgs:
    """``--kubeconfig`` and ``--context``: which kubeconfig context."""

    kubeconfig: str | None
    kube_context: str | None


@dataclass(frozen=True)
class ClusterArgs:
    """The values of ``snapshot_options`` and ``live_options``, which commands comparing with a cluster take
    together (``snapshot`` takes the live ones it offers, the others fixed: ``CAPTURE_FIXED``)."""

    snapshot: tuple[str, ...]
    assume_complete_snapshot: bool
    live: bool
    kube: KubeArgs
    server_side: bool | None
    field_manager: str | None
    live_workers: int
    accept_unreadable_prune_kinds: bool
    dry_run_all: bool


def snapshot_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Which snapshot file(s) a check compares with."""
    return apply_options(fn, [_snapshot_option(), _complete_option()], "Cluster")


def _complete_option() -> Callable[..., Any]:
    return click.option(
        "--assume-complete-snapshot",
        is_flag=True,
        help="Treat kinds absent from a kubectl-made snapshot as captured (missing objects = drift, not 'not checked').",
    )


def _snapshot_option() -> Callable[..., Any]:
    return click.option(
        "--snapshot",
        "snapshot",
        multiple=True,
        metavar="[NAME=]FILE",
        help="Compare with this snapshot file or folder; NAME=FILE for the cluster apps name NAME (repeatable: "
        "one per cluster). A plain FILE serves in-cluster apps and the cluster the snapshot says it was taken from.",
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


def build_diff_options(cluster: ClusterArgs) -> DiffOptions:
    return DiffOptions(accept_unreadable_prune_kinds=cluster.accept_unreadable_prune_kinds)


def live_cluster(
    cluster: ClusterArgs, *, name: str, kubeconfig: str | None, context: str | None
) -> LiveCluster:
    """A live cluster source from the --live option group's values."""
    from gitops_check.cluster.live import LiveCluster, LiveOptions
    from gitops_check.project.config import DEFAULT_APPLIERS

    server_side = cluster.server_side
    mode = "auto" if server_side is None else "server" if server_side else "client"
    options = LiveOptions(
        kubeconfig=kubeconfig,
        context=context,
        mode=mode,
        field_manager=cluster.field_manager,
        appliers=frozenset(DEFAULT_APPLIERS),
        workers=cluster.live_workers,
        dry_run_all=cluster.dry_run_all,
    )
    return LiveCluster(options, name=name)


def entry_source(entry: ClusterEntry, cluster: ClusterArgs) -> LiveSource:
    """The source for a cluster named in the project file's ``clusters:``: its snapshot, or with --live its
    kubeconfig context."""
    from gitops_check.cluster.snapshot import SnapshotSource

    if cluster.live and (entry.context or entry.kubeconfig):
        return live_cluster(cluster, name=entry.name, kubeconfig=entry.kubeconfig or cluster.kube.kubeconfig,
                            context=entry.context)  # fmt: skip
    if entry.snapshot:
        return SnapshotSource(
            entry.snapshot, assume_complete=cluster.assume_complete_snapshot, name=entry.name
        )
    need = "context or kubeconfig (for --live)" if cluster.live else "snapshot file"
    fail(f"cluster {entry.name} in the project file has no {need}")


def live_source(cluster: ClusterArgs) -> LiveSource | None:
    """The cluster named on the command line: --snapshot FILE or --live (with --kubeconfig/--context)."""
    from gitops_check.cluster.snapshot import SnapshotSource

    kube = cluster.kube
    if cluster.live:
        if cluster.snapshot:
            fail("--live and --snapshot exclude each other")
        return live_cluster(cluster, name="live", kubeconfig=kube.kubeconfig, context=kube.kube_context)
    for flag, given in (("--server-side/--client-side", cluster.server_side is not None),
                        ("--kubeconfig", kube.kubeconfig), ("--context", kube.kube_context)):  # fmt: skip
        if given:
            fail(f"{flag} only applies with --live")
    plain, named = _snapshots(cluster)
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
        return SnapshotSource(plain[0], assume_complete=cluster.assume_complete_snapshot)
    return None


def named_sources(cluster: ClusterArgs) -> dict[str, LiveSource]:
    """``--snapshot NAME=FILE``: the snapshot of the cluster apps name NAME."""
    from gitops_check.cluster.snapshot import SnapshotSource

    _, named = _snapshots(cluster)
    if named and cluster.live:
        fail("--live and --snapshot exclude each other")
    complete = cluster.assume_complete_snapshot
    return {name: SnapshotSource(path, assume_complete=complete, name=name) for name, path in named.items()}


def snapshot_paths(cluster: ClusterArgs) -> tuple[list[str], dict[str, str]]:
    """The ``--snapshot`` files: those without a cluster name, and by cluster name."""
    return _snapshots(cluster)


def _snapshots(cluster: ClusterArgs) -> tuple[list[str], dict[str, str]]:
    from gitops_check.cluster.select import parse_named_snapshots

    try:
        return parse_named_snapshots(cluster.snapshot)
    except GitopsCheckError as e:
        fail(e.message)
