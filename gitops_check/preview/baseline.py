"""What already differs in the cluster: the base commit's render of the apps a change touches, against the cluster.

It goes through ``check.compare_rendered``, exactly as ``gitops-check diff`` would compare the base commit, so
the section reads and counts like a diff. Renders are compared with their real Secret values: a fresh base render
is kept unsealed in memory for this, and an app whose base render came from the cache with Secrets in it is
rendered again.
"""

from __future__ import annotations

from collections.abc import Mapping

from gitops_check.errors import GitopsCheckError
from gitops_check.model.result import AppResult, CheckResult
from gitops_check.preview.plan import Entry, Planner, Side
from gitops_check.preview.request import PreviewRequest
from gitops_check.render.app import render_app


def compare_base_with_cluster(
    request: PreviewRequest,
    sides: Mapping[str, Side],
    entries: list[Entry],
    apps: list[AppResult],
    planner: Planner,
) -> CheckResult:
    """The cluster against the base render of every app this change touches (changed or removed)."""
    # Only previews with a cluster need these (and what they import): kept out of every other run's start-up.
    from gitops_check.cluster.select import ClusterResolver, parse_clusters
    from gitops_check.pipeline.comparison import compare_rendered
    from gitops_check.pipeline.rendering import Rendered

    touched = {a.app.name for a in apps if a.drifted and a.change != "added"}
    base = sides["base"]
    rendered: list[Rendered] = []
    for entry in entries:
        state = entry.base
        if entry.name not in touched or state is None or state.output is None:
            continue
        raw = state.raw
        if raw is None and any(is_secret(o.body) for o in state.output.objects):
            # A cached render holds Secret hashes only; comparing with the cluster needs the values.
            try:
                raw = render_app(state.app, base.tree.ws, request.render, tools=planner.tools,
                                 repos=base.options.repo_map, symlinks=planner.symlinks,
                                 shared=planner.shared)  # fmt: skip
                planner.renders += 1
            except GitopsCheckError as e:
                rendered.append(Rendered(state.app, error=e))
                continue
        rendered.append(Rendered(state.app, raw or state.output, seconds=state.seconds))
    project = base.project
    clusters = parse_clusters(project.clusters, project.path or "") if project else []
    resolver = ClusterResolver(
        request.default_source, clusters, request.source_factory, named=request.named_sources
    )
    baseline = CheckResult(apps=[], target=base.tree.ws.label, against="", mode="diff")
    compare_rendered(request.diff, rendered, resolver, project, baseline)
    return baseline


def is_secret(body: object) -> bool:
    return isinstance(body, dict) and body.get("kind") == "Secret"
