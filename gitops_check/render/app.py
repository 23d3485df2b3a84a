"""Rendering one app: every source, each from its workspace (this repository, another one, a fetched chart),
with the tool Argo CD would pick, through a dispatch table of renderers (``table.BUILTIN_RENDERERS``)."""

from __future__ import annotations

from collections.abc import Mapping

from gitops_check import repourl
from gitops_check.errors import FetchError, GitopsCheckError, RenderError
from gitops_check.model.app import App
from gitops_check.model.rendered import Workspace
from gitops_check.model.source import Source, Tool
from gitops_check.project.config import RenderOptions
from gitops_check.remote.charts import remote_for
from gitops_check.render import plugin, remote
from gitops_check.render.base import (
    Renderer,
    RenderOutput,
    SharedWork,
    SourceContext,
    SymlinkGuard,
    ToolFinder,
    detect_tool,
    is_null_list,
    normalize_path,
    resolve_inside,
)
from gitops_check.render.table import BUILTIN_RENDERERS


def render_app(
    app: App,
    ws: Workspace,
    options: RenderOptions,
    *,
    tools: ToolFinder | None = None,
    repos: Mapping[str, Workspace] | None = None,
    renderers: Mapping[str, Renderer] = BUILTIN_RENDERERS,
    symlinks: SymlinkGuard | None = None,
    shared: SharedWork | None = None,
) -> RenderOutput:
    """Render every source of ``app``; sources from other repositories need ``repos`` (URL -> workspace).

    The renders of one run share ``tools``, ``symlinks`` (a workspace's bad symlinks are removed when first
    seen, and only the guard that saw them can tell the next app about them) and ``shared`` (a chart folder's
    dependencies are prepared once, and every app rendering it reports what was fetched).
    """
    run = _Run(
        options, tools or ToolFinder(options), repos or {}, renderers, symlinks or SymlinkGuard(),
        shared or SharedWork(),
    )  # fmt: skip
    out = RenderOutput()
    try:
        refs = run.ref_workspaces(app, ws)
        for source in app.sources:
            if source.ref and normalize_path(source.path) == ".":
                continue  # Argo CD: a source that only names a ref provides value files, it renders nothing
            part = run.render_source(app, source, ws, refs)
            out.objects.extend(o for o in part.objects if not is_null_list(o.body))
            out.warnings.extend(part.warnings)
            out.resolved.extend(part.resolved)
    except GitopsCheckError as e:
        e.located(app=app.name)
        raise
    return out


class _Run:
    """What the sources of one ``render_app`` call share."""

    def __init__(
        self,
        options: RenderOptions,
        tools: ToolFinder,
        repos: Mapping[str, Workspace],
        renderers: Mapping[str, Renderer],
        symlinks: SymlinkGuard,
        shared: SharedWork,
    ) -> None:
        self.options = options
        self.tools = tools
        self.repos = repos
        self.renderers = renderers
        self.symlinks = symlinks
        self.shared = shared

    def render_source(
        self, app: App, source: Source, ws: Workspace, refs: Mapping[str, Workspace]
    ) -> RenderOutput:
        if source.unsupported is not None:
            raise RenderError(f"not checked: {source.unsupported.reason}")
        if source.chart or source.oci is not None:
            with remote.fetched(source, self.options) as (fetched_ws, path, described):
                out = self.render_folder(app, source, fetched_ws, path, refs)
            out.resolved.insert(0, described)
            return out
        resolved: list[str] = []
        src_ws = self.source_workspace(source, ws, resolved)
        out = self.render_folder(app, source, src_ws, normalize_path(source.path), refs)
        out.resolved[:0] = resolved
        return out

    def render_folder(
        self, app: App, source: Source, src_ws: Workspace, path: str, refs: Mapping[str, Workspace]
    ) -> RenderOutput:
        """Render ``path`` of ``src_ws`` with the source's tool (detected when not given)."""
        self.symlinks.check(src_ws, path)
        folder = resolve_inside(src_ws.root, path, "path")
        if not folder.is_dir():
            if folder.exists():
                raise RenderError(f"path {path} is not a folder at {src_ws.label}")
            raise RenderError(f"path {path} does not exist at {src_ws.label}")
        ctx = SourceContext(
            app=app, source=source, ws=src_ws, path=path, folder=folder, options=self.options, tools=self.tools,
            symlinks=self.symlinks, shared=self.shared, refs=refs,
        )  # fmt: skip
        tool = source.tool
        if tool is Tool.AUTO:
            tool = Tool.PLUGIN if _plugin_discovered(ctx) else detect_tool(folder)
        renderer = self.renderers.get(tool.value)
        if renderer is None:
            known = ", ".join(sorted(self.renderers))
            raise RenderError(f"no renderer for tool {tool.value!r} (known: {known})")
        return renderer(ctx)

    def source_workspace(self, source: Source, ws: Workspace, resolved: list[str] | None = None) -> Workspace:
        """This repository, a --repo-map clone (which wins), or the other repository fetched at the revision."""
        if source.repo is None:
            return ws
        found = self.repos.get(source.repo)
        if found is not None:
            return found
        if source.repo_url:
            try:
                fetched = remote_for(self.options.network).git.fetch(source.repo_url, source.target_revision)
            except FetchError as e:
                raise RenderError(
                    f"not checked: {e.message} ({repourl.not_available_hint(source.repo_url)})"
                ) from None
            if resolved is not None:
                resolved.append(fetched.describe())
            return Workspace(root=fetched.folder, label=fetched.describe(), revision=fetched.commit)
        raise RenderError(
            f"source repository {source.repo} is not available; "
            + repourl.not_available_hint(source.repo_url or source.repo)
        )

    def ref_workspaces(self, app: App, ws: Workspace) -> dict[str, Workspace]:
        refs: dict[str, Workspace] = {}
        for source in app.sources:
            if not source.ref:
                continue
            if source.repo is None:
                refs[source.ref] = ws
            elif source.repo in self.repos:
                refs[source.ref] = self.repos[source.repo]
            elif source.repo_url:
                refs[source.ref] = self.source_workspace(source, ws)
        return refs


def _plugin_discovered(ctx: SourceContext) -> bool:
    """Argo CD tries the plugins' discover rules before its own tool detection (only the job's plugins here)."""
    if not ctx.options.plugins or ctx.source.plugin is None:
        return False
    return plugin.discovered(ctx) is not None
