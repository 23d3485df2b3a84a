"""Argo CD config management plugins (CMP sidecars), run from definitions the job gives, never the commit's.

What the repo server does, kept here: an Application names a plugin (``<metadata.name>-<spec.version>``, or the
bare name without a version) or leaves it to discovery, where the first plugin whose ``discover`` rule matches
the app folder wins (``fileName``: Go's filepath.Glob; ``find.glob``: go-zglob, ``**`` spanning folders;
``find.command`` printing anything); a
source with no tool tries discovery before Helm/Kustomize detection. The plugin gets the whole repository,
runs ``init`` then ``generate`` in the app folder, and its stdout is the manifests (YAML or JSON documents).

The commands come from the job, but they run over the commit's files: in a throwaway copy of the workspace
(so nothing they write reaches another app), in their own process group with the render timeout, with a bare
environment (PATH and the locale; the commit may not read the job's) plus what the sidecar sets: ``ARGOCD_APP_*``, ``KUBE_VERSION``,
``KUBE_API_VERSIONS``, ``ARGOCD_ENV_<name>`` from the Application's plugin env, and ``ARGOCD_APP_PARAMETERS``
/ ``PARAM_<NAME>`` (``_<index>`` for arrays, ``_<KEY>`` for maps) from its parameters.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitops_check import proc, yamlio
from gitops_check.errors import RenderError
from gitops_check.gosemantics import globs
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject
from gitops_check.model.source import PluginDefinition, PluginSource
from gitops_check.render.base import RenderOutput, SourceContext

_INVALID_PARAM_CHARS = re.compile(r"[^A-Z0-9_]")
_PASSED_ENV = ("PATH", "LANG", "LC_ALL", "TZ")


def render_plugin(ctx: SourceContext) -> RenderOutput:
    spec = ctx.source.plugin or PluginSource(explicit=True)
    with _throwaway_copy(ctx) as (copy_root, app_dir):
        plugin = _select(ctx, spec, app_dir)
        env = plugin_env(ctx, spec, copy_root.parent)
        what = f"config management plugin {plugin.name} for app {ctx.app.name} ({ctx.path})"
        if plugin.init is not None:
            _run(ctx, plugin.init.argv, f"{what}: init", app_dir, env, copy_root)
        stdout = _run(ctx, plugin.generate.argv, f"{what}: generate", app_dir, env, copy_root)
    origin = Origin(ctx.app.name, ctx.path, None)
    where = f"output of plugin {plugin.name} for {ctx.path}"
    return RenderOutput(
        objects=[RawObject(d.data, origin) for d in yamlio.load_yaml_documents(stdout, where)]
    )


def discovered(ctx: SourceContext) -> PluginDefinition | None:
    """The plugin the repo server would pick for a source without a tool, by discover rules; None: no match.

    ``find.command`` rules run in a throwaway copy, like generation.
    """
    candidates = [p for p in ctx.options.plugins if p.discovers]
    if not candidates or ctx.source.plugin is None:
        return None
    static = [p for p in candidates if not p.discover_command or p.discover_file_name or p.discover_glob]
    if len(static) == len(candidates):
        return next((p for p in candidates if _matches(ctx, p, ctx.folder)), None)
    with _throwaway_copy(ctx) as (_, app_dir):
        return next((p for p in candidates if _matches(ctx, p, app_dir)), None)


def _select(ctx: SourceContext, spec: PluginSource, app_dir: Path) -> PluginDefinition:
    given = ctx.options.plugins
    if spec.name:
        found = next((p for p in given if p.name == spec.name), None)
        if found is None:
            known = ", ".join(p.name for p in given) or "none given"
            raise RenderError(
                f"not checked: the app uses the config management plugin {spec.name}, and the job gave no "
                f"definition of it (given: {known}); pass its plugin.yaml with --plugin FILE or GITOPS_CHECK_PLUGINS"
            )
        return found
    found = next((p for p in given if p.discovers and _matches(ctx, p, app_dir)), None)
    if found is None:
        raise RenderError(
            "not checked: the app uses a config management plugin chosen by discovery, and no plugin the job "
            "gave (--plugin FILE or GITOPS_CHECK_PLUGINS) has a discover rule matching its folder"
            if given
            else "not checked: the app uses a config management plugin; gitops-check runs one only from a "
            "definition the job gives: pass its plugin.yaml with --plugin FILE or GITOPS_CHECK_PLUGINS"
        )
    return found


def _matches(ctx: SourceContext, plugin: PluginDefinition, app_dir: Path) -> bool:
    if plugin.discover_file_name:  # Go's filepath.Glob: path.Match per segment, dot files included
        pattern = posixpath.normpath(plugin.discover_file_name)
        depth = pattern.count("/")
        return any(globs.path_match(pattern, rel) for rel in _entries(app_dir, depth))
    if plugin.discover_glob:  # mattn/go-zglob: ``**`` spans folders
        regex = globs.doublestar_regex(posixpath.normpath(plugin.discover_glob))
        return regex is not None and any(regex.fullmatch(rel) for rel in _entries(app_dir, None))
    if plugin.discover_command:
        what = f"discover command of plugin {plugin.name} for app {ctx.app.name}"
        env = plugin_env(ctx, ctx.source.plugin or PluginSource(), app_dir)
        return bool(_run(ctx, plugin.discover_command.argv, what, app_dir, env, app_dir).strip())
    return False


def _entries(root: Path, depth: int | None) -> list[str]:
    """Files and folders below ``root`` (relative, posix), ``depth`` folders deep only when given; no symlinks
    followed."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        level = 0 if rel_dir == "." else rel_dir.count("/") + 1
        for name in (*dirnames, *filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if depth is None or level == depth:
                out.append(rel)
        if depth is not None and level >= depth:
            dirnames[:] = []
    return out


def plugin_env(ctx: SourceContext, spec: PluginSource, home: Path) -> dict[str, str]:
    """What Argo CD's sidecar sets for the app, over a bare environment: the commands run the commit's files, and
    the commit may not read the job's environment (only PATH and the locale pass; HOME is the throwaway copy's)."""
    revision = ctx.ws.revision or ""
    env = {k: v for k, v in os.environ.items() if k in _PASSED_ENV}
    env["HOME"] = str(home)
    env.update(dict(spec.build_env))
    env.update({
        "ARGOCD_APP_REVISION": revision,
        "ARGOCD_APP_REVISION_SHORT": revision[:7],
        "ARGOCD_APP_REVISION_SHORT_8": revision[:8],
        "KUBE_VERSION": (ctx.options.kube_version or "").lstrip("v"),
        "KUBE_API_VERSIONS": ",".join(ctx.options.api_versions),
    })  # fmt: skip
    env.update({f"ARGOCD_ENV_{name}": value for name, value in spec.env})
    env.update(parameter_env(json.loads(spec.parameters)))
    return env


def parameter_env(parameters: list[Mapping[str, Any]]) -> dict[str, str]:
    """ARGOCD_APP_PARAMETERS and PARAM_<NAME>[_<index>|_<KEY>], as Argo CD's Parameters.Environ builds them."""
    if not parameters:
        return {}
    out = {"ARGOCD_APP_PARAMETERS": json.dumps(parameters, separators=(",", ":"))}
    for param in parameters:
        base = f"PARAM_{_escaped(str(param['name']))}"
        if "string" in param:
            out[base] = str(param["string"])
        for key, value in (param.get("map") or {}).items():
            out[f"{base}_{_escaped(str(key))}"] = str(value)
        for i, value in enumerate(param.get("array") or ()):
            out[f"{base}_{i}"] = str(value)
    return out


def _escaped(name: str) -> str:
    return _INVALID_PARAM_CHARS.sub("_", name.upper())


def _run(
    ctx: SourceContext, argv: list[str], what: str, cwd: Path, env: Mapping[str, str], root: Path
) -> str:
    try:
        return proc.run_isolated(argv, what=what, cwd=cwd, env=env, timeout=ctx.options.timeout)
    except RenderError as e:
        raise RenderError(e.message.replace(str(root) + "/", "").replace(str(root), ".")) from None


class _throwaway_copy:
    """A private copy of the workspace (the repo server hands plugins the whole repository), removed afterwards.

    The workspace's symlinks leaving it were removed before any render (base.SymlinkGuard), so the copy
    holds none either.
    """

    def __init__(self, ctx: SourceContext):
        self.ctx = ctx
        self.tmp: str | None = None

    def __enter__(self) -> tuple[Path, Path]:
        self.tmp = tempfile.mkdtemp(prefix="gitops-check-plugin-")
        root = Path(self.tmp) / "repo"
        shutil.copytree(self.ctx.ws.root, root, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        return root, root / self.ctx.path

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
