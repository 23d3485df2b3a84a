"""``gitops-check snapshot``: capture the live cluster into a snapshot file that later checks compare with.

What is captured: with ``--for-repo`` exactly what a live check of that repository's apps would read (their
kinds in their namespaces, plus the prune kinds); otherwise ``--kinds`` in ``--namespace`` (default: the
common GitOps kinds in all namespaces). Both may be combined. Exit code 0 when the file was written (kinds
that could not be read are recorded in it and listed as warnings: a diff against it reports their objects as
"not checked"), 2 when nothing could be captured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from gitops_check.cli.base import fail, from_kwargs, say
from gitops_check.cli.clusteropts import ClusterArgs, live_cluster
from gitops_check.cli.renderopts import RenderArgs, build_render_options, render_options
from gitops_check.cli.repoopts import parse_repo_map, revision
from gitops_check.errors import ClusterError

# The cluster options a capture does not offer: it compares nothing and only lists.
CAPTURE_FIXED: dict[str, Any] = {
    "snapshot": (),
    "assume_complete_snapshot": False,
    "server_side": None,
    "field_manager": None,
    "accept_unreadable_prune_kinds": False,
    "dry_run_all": False,
}


@dataclass(frozen=True)
class CaptureArgs:
    """Everything ``gitops-check snapshot`` is given (its cluster options with ``CAPTURE_FIXED``)."""

    cluster: ClusterArgs
    output: str
    namespaces: tuple[str, ...]
    kinds: tuple[str, ...]
    for_repo: str | None
    rev: str | None
    working_tree: bool
    apps: tuple[str, ...]
    repo_map: tuple[str, ...]
    cluster_name: str | None
    rendering: RenderArgs


@click.command("snapshot")
@click.option("--live", is_flag=True, help="Capture the live cluster (required; the only source for now).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
              help="Snapshot file to write (.json, or .json.gz to compress).")  # fmt: skip
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None, help="kubeconfig file.")
@click.option("--context", "kube_context", default=None, help="kubeconfig context (default: current).")
@click.option("--namespace", "-n", "namespaces", multiple=True,
              help="Namespace to capture (repeatable; default: all, or the repository's with --for-repo).")  # fmt: skip
@click.option("--kinds", "kinds", multiple=True,
              help="Kinds to capture, comma-separated or repeated (Deployment, deployments.apps, all).")  # fmt: skip
@click.option("--for-repo", "for_repo", type=click.Path(file_okay=False), default=None,
              help="Capture what this repository's apps touch (rendered as gitops-check diff would).")  # fmt: skip
@click.option("--rev", "rev", default=None, help="Revision of --for-repo to render (default: HEAD).")
@click.option("--working-tree", is_flag=True, help="Render --for-repo's working tree.")
@click.option("--app", "apps", multiple=True, help="Only these apps of --for-repo (repeatable).")
@click.option("--repo-map", "repo_map", multiple=True, metavar="URL=PATH", help="As for diff.")
@click.option("--cluster", "cluster_name", default=None,
              help="With --for-repo: the project-file cluster (clusters: name) this context is; default: the "
                   "apps deployed in-cluster.")  # fmt: skip
@click.option("--live-workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Parallel list requests.")  # fmt: skip
@render_options
def snapshot_command(**kw: Any) -> None:
    """Capture the live cluster into a snapshot file (Secret values stored as keyed hashes only)."""
    from gitops_check.cluster.capture import DEFAULT_KINDS, read_kinds, read_scope, to_snapshot
    from gitops_check.cluster.snapshot import write_snapshot

    args = from_kwargs(CaptureArgs, kw, **CAPTURE_FIXED)
    cluster = args.cluster
    if not cluster.live:
        fail("say what to capture: --live (the cluster of --kubeconfig/--context)")
    live = live_cluster(cluster, name=args.cluster_name or "live", kubeconfig=cluster.kube.kubeconfig,
                        context=cluster.kube.kube_context)  # fmt: skip
    live.prefetch()
    kinds = [k.strip() for value in args.kinds for k in value.split(",") if k.strip()]
    namespaces = list(args.namespaces)
    warnings: list[str] = []
    if args.for_repo:
        scope, warnings = _repo_scope(args, args.for_repo, live)
        if kinds or namespaces:
            from dataclasses import replace

            from gitops_check.model.objects import GroupKind

            extra = {(GroupKind(r.group, r.kind), ns) for r in _resolve(live, kinds) for ns in
                     (namespaces or sorted(scope.namespaces)) if r.namespaced}  # fmt: skip
            scope = replace(scope, kinds=scope.kinds | extra, namespaces=scope.namespaces | set(namespaces))
        state = read_scope(live, scope)
    else:
        state = read_kinds(live, kinds or list(DEFAULT_KINDS), namespaces or None)
    captured = to_snapshot(live, state)
    try:
        write_snapshot(args.output, captured.snapshot)
    except OSError as e:
        fail(f"cannot write the snapshot {args.output}: {e.strerror}")
    for warning in [*warnings, *captured.warnings]:
        say(f"warning: {warning}")
    cov = state.coverage
    count = len(cov.namespaces or ())
    where = (
        f"{count} namespace{'' if count == 1 else 's'}" if cov.namespaces is not None else "all namespaces"
    )
    click.echo(
        f"wrote {args.output}: {len(state.objects)} objects of {len(cov.kinds or ())} kinds in {where} "
        f"({state.requests} API requests)"
    )


def _resolve(live: Any, kinds: list[str]) -> list[Any]:
    _, resources = live.connection()
    out = []
    for name in kinds:
        found = resources.lookup(name)
        if found is None:
            raise ClusterError(f"kind {name!r} is not served by the cluster (see kubectl api-resources)")
        out.append(found)
    return out


def _repo_scope(args: CaptureArgs, for_repo: str, live: Any) -> tuple[Any, list[str]]:
    """The ReadScope a live check of the repository would read from this cluster, and what was left out."""
    from gitops_check.cluster.select import DEFAULT
    from gitops_check.pipeline.check import CheckRequest, render_repo
    from gitops_check.pipeline.comparison import group_by_cluster

    class Elsewhere:  # apps of other project-file clusters: grouped apart, never read
        def __init__(self, name: str):
            self.name = name

        def prefetch(self) -> None:
            pass

        def load(self, scope: Any) -> Any:
            raise AssertionError("not read")

        def whole_state(self) -> None:
            return None

        def predictor(self) -> None:
            return None

    request = CheckRequest(
        repo=Path(for_repo),
        revision=revision(args.rev, args.working_tree),
        default_source=live,
        source_factory=lambda entry: Elsewhere(entry.name),
        render=build_render_options(args.rendering),
        only_apps=tuple(args.apps),
        repo_map=parse_repo_map(args.repo_map),
    )
    done = render_repo(request)
    groups = group_by_cluster(done.rendered, done.resolver)
    key = args.cluster_name or DEFAULT
    warnings = [f"{e.app}: {e.message} (its objects may be missing from the snapshot)" for e in done.errors]
    for r in done.rendered:
        if r.error is not None:
            warnings.append(
                f"{r.app.name} could not be rendered ({r.error.message}): its kinds are not captured"
            )
    for other, rendered in sorted(groups.apps.items()):
        if other != key:
            names = ", ".join(sorted(r.app.name for r in rendered))
            warnings.append(
                f"apps of cluster {other} are not captured ({names}): capture that cluster with --cluster {other}"
            )
    if key not in groups.apps:
        raise ClusterError(f"no app of {for_repo} is deployed to cluster {key}")
    return groups.read_scope(key, done.project), warnings


COMMANDS = [snapshot_command]
