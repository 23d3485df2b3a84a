"""``kustomize build`` of an app folder, with Argo CD's ``spec.source.kustomize`` overrides.

Argo CD applies the overrides by running ``kustomize edit set/add ...`` in its checkout before building, which
*replaces* the folder's own ``namePrefix``, image entries and so on. A wrapper kustomization that lists the
folder as a resource would instead stack them (prefix ``b-`` over ``a-`` gives ``b-a-x``, not ``b-x``; an image
the folder renames is no longer matched), so we do what Argo CD does: edit a copy of the kustomization file,
with ``kustomize edit``'s semantics re-implemented here (``kubectl kustomize`` has no ``edit``). The copy is
a sibling folder at the same depth, so relative references (``../base``) keep working and the workspace's
original folder, which other apps may use as a base, is never changed.

Remote bases (git URLs, ``github.com/...``) need the network and are refused unless allowed.

Which file holds each object (a base's file too) is computed from the kustomization tree for the plain build
(``kustomize_origins``: exact or nothing). Where it cannot be, kustomize itself says it: a wrapper kustomization
with nothing but the app folder as resource and ``buildMetadata: [originAnnotations]`` adds no transformer, so
the objects are the plain build's, plus an origin annotation we read and remove (``_build_with_origins``); that
costs kustomize about three times the CPU of the plain build, so it is the fallback.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitops_check import proc, redact, scratch, yamlio
from gitops_check.errors import FetchError, GitopsCheckError, RenderError
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject
from gitops_check.model.source import KUSTOMIZATION_FILES, KustomizeBuild, KustomizeOptions
from gitops_check.remote.policy import check_remote_target
from gitops_check.remote.policy import redact as redact_url
from gitops_check.render.base import RenderOutput, SourceContext
from gitops_check.render.helm import checked_release_name
from gitops_check.render.kustomize_origins import Places, origin_at, plan_origins

# Fields whose entries may name another kustomization folder or a remote target.
_REFERENCE_FIELDS = ("resources", "bases", "components")
# Fields whose entries may be remote files (kustomize loads them with the same loader).
_FILE_FIELDS = ("crds", "configurations", "generators", "transformers", "validators")
_SCHEMES = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DOMAIN_FIRST_SEGMENT = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?$")


def render_kustomize(ctx: SourceContext) -> RenderOutput:
    kfile = find_kustomization(ctx.folder)
    # The job's --kustomize-build-options win over argocd-cm's: the job knows the Argo CD it checks for.
    build = ctx.options.kustomize_build or ctx.source.kustomize_build
    out = RenderOutput()
    if build is not None:
        _check_build_options(ctx, build, out.warnings)
    if kfile is not None:
        tree = Kustomizations(ctx, kfile)  # walked once, by the first check, and replayed for the others
        # Whatever the settings, references stay inside the repository; only remote ones may be allowed.
        check_remote_bases(tree, allow_remote=ctx.options.allow_remote_bases)
        register_generated_secrets(tree)
        if build is not None and build.load_restrictor_none:
            check_load_paths(tree)
        check_helm_charts(tree, build, out.resolved)
    overrides = ctx.source.kustomize
    where = f"kustomize output for {ctx.path}"
    fallback = Origin(ctx.app.name, ctx.path, None)
    with _build_folder(ctx, kfile, overrides) as folder:
        plan = plan_origins(ctx, folder, build) if kfile is not None else None
        stdout = run_build(ctx, folder, build=build) if plan is not None else None
        if plan is not None and stdout is not None:
            docs = [d.data for d in yamlio.load_yaml_documents(stdout, where)]
            planned = plan.assign(docs, ctx.app.name, _places(ctx, folder), fallback)
            if planned is not None:
                out.objects = planned
                return out
        traced, tried = _build_with_origins(ctx, kfile, folder, build)
        if traced is not None:
            out.objects = traced
            return out
        if stdout is None:
            stdout = run_build(ctx, folder, build=build)
        if tried:  # the plain build works where the wrapped one did not: a kustomize without build metadata
            ctx.tools.note_lacking(_tool_key(ctx), _ORIGINS_FEATURE)
    out.objects = [RawObject(d.data, fallback) for d in yamlio.load_yaml_documents(stdout, where)]
    return out


def _places(ctx: SourceContext, folder: Path) -> Places:
    return Places(os.path.realpath(folder), os.path.realpath(ctx.folder), ctx.real_root)


ORIGIN_ANNOTATION = "config.kubernetes.io/origin"


# A kustomize (or kubectl) that failed the wrapped build an app's plain build passed is not asked again in the run.
_ORIGINS_FEATURE = "kustomize build with origin annotations"


def _tool_key(ctx: SourceContext) -> str:
    tool = ctx.tools.find("kustomize") or ctx.tools.find("kubectl")
    return tool.path if tool is not None else ""


def _build_with_origins(
    ctx: SourceContext, kfile: Path | None, folder: Path, build: KustomizeBuild | None
) -> tuple[list[RawObject] | None, bool]:
    """The build with each object's origin: the file holding it (a base's too), from kustomize's own origin
    annotations, asked for by a wrapper kustomization in a temporary folder that lists the app folder as its only
    resource (no transformer, so the objects are the same; the annotation is removed again). None when that is not
    possible (no kustomization, a Component, one that asks for build metadata itself) or the wrapped build fails,
    so the caller builds the folder directly and reports that build's own error. Second: whether it was tried."""
    if kfile is None or ctx.tools.lacks(_tool_key(ctx), _ORIGINS_FEATURE):
        return None, False
    try:
        content = load_kustomization(kfile, ctx.relative_to_ws(kfile))
    except RenderError:
        return None, False
    if "buildMetadata" in content or str(content.get("kind") or "Kustomization") != "Kustomization":
        return None, False
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gitops-check-origin-", dir=scratch.parent()) as tmp:
        wrapper = os.path.realpath(tmp)
        built = os.path.realpath(folder)
        (Path(wrapper) / "kustomization.yaml").write_text(
            yamlio.dump_yaml(
                {"resources": [os.path.relpath(built, wrapper)], "buildMetadata": ["originAnnotations"]}
            )
        )
        try:
            stdout = run_build(ctx, Path(wrapper), build=build)
        except RenderError:
            return None, True
        docs = yamlio.load_yaml_documents(stdout, f"kustomize output for {ctx.path}")
        places = _places(ctx, folder)
        fallback = Origin(ctx.app.name, ctx.path, None)
        return [
            RawObject(d.data, _take_origin(ctx.app.name, d.data, wrapper, places) or fallback) for d in docs
        ], True


def _take_origin(app: str, body: Any, wrapper: str, places: Places) -> Origin | None:
    """Removes the origin annotation from ``body``; the file (relative to the workspace) it names, when that is a
    file of the workspace; None otherwise (a generated object, a remote base)."""
    meta = body.get("metadata") if isinstance(body, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if (
        not isinstance(meta, dict)
        or not isinstance(annotations, dict)
        or ORIGIN_ANNOTATION not in annotations
    ):
        return None
    text = str(annotations.pop(ORIGIN_ANNOTATION))
    if not annotations:
        del meta["annotations"]
    path = _origin_path(text)
    if path is None:
        return None
    return origin_at(app, os.path.normpath(os.path.join(wrapper, path)), places)


def _origin_path(text: str) -> str | None:
    """``path`` of kustomize's origin annotation (``path: ../base/x.yaml``), None for a remote one (``repo:``) or
    a generated object (``configuredIn:``). Plain ``key: value`` lines are read directly (one per object, so
    thousands per run); anything quoted or nested goes through the YAML loader."""
    if "repo:" in text or "configuredIn:" in text:
        return None
    first = text.split("\n", 1)[0]
    if first.startswith("path: ") and not first[6:].startswith(("'", '"', "{", "[", "|", ">")):
        return first[6:].strip() or None
    try:
        data = yamlio.load_one(text.encode(), "origin annotation")
    except GitopsCheckError:
        return None
    path = data.get("path") if isinstance(data, dict) else None
    return path if isinstance(path, str) and path else None


def _check_build_options(ctx: SourceContext, build: KustomizeBuild, warnings: list[str]) -> None:
    if build.exec_functions and not ctx.options.allow_kustomize_exec:
        flags = [
            f
            for f, on in (
                ("--enable-alpha-plugins", build.alpha_plugins),
                ("--enable-exec", build.enable_exec),
            )
            if on
        ]
        raise RenderError(
            f"not checked: {build.origin} enables KRM functions ({', '.join(flags)}), which run programs named by "
            "the repository; gitops-check runs them only when the job allows it (--allow-kustomize-exec)"
        )
    for option in build.ignored:
        warnings.append(f"{build.origin}: {option} ignored; gitops-check's helm (--helm) is used")


def find_kustomization(folder: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def run_build(
    ctx: SourceContext, folder: Path, *, load_anywhere: bool = False, build: KustomizeBuild | None = None
) -> str:
    """``kustomize build`` of ``folder`` (the app folder or an edited copy of it); errors show repository paths.

    ``load_anywhere`` lifts kustomize's rule that files must sit below the kustomization (Flux builds with
    ``LoadRestrictionsNone``); the caller checks that they stay inside the repository. ``build``: the agent's
    build options (Argo CD's kustomize.buildOptions), already checked by the caller.
    """
    argv = _build_command(ctx)
    if load_anywhere:
        argv.append("--load-restrictor=LoadRestrictionsNone")
    if build is not None:
        argv.extend(build.argv())
        if build.enable_helm:
            argv.extend(["--helm-command", ctx.tools.require("helm").path])
    argv += ["--", str(folder)]  # a path, never an option
    try:
        return proc.run(
            argv,
            what=f"kustomize build for app {ctx.app.name} ({ctx.path})",
            cwd=ctx.ws.root,
            # Remote bases are cloned by git: never through file:// or ext:: (check_remote_target checks the
            # URLs; this also holds for whatever a remote base itself refers to).
            env={"GIT_ALLOW_PROTOCOL": "https:http:ssh", "GIT_TERMINAL_PROMPT": "0"},
            timeout=ctx.options.timeout,
        )
    except RenderError as e:
        raise type(e)(_clean(e.message, ctx, folder)) from e


def _build_command(ctx: SourceContext) -> list[str]:
    kustomize = ctx.tools.find("kustomize")
    if kustomize is not None or ctx.options.kustomize_required:
        return [
            ctx.tools.require("kustomize").path,
            "build",
        ]  # require: checks the project file's render.kustomize
    kubectl = ctx.tools.find("kubectl")
    if kubectl is not None:
        return [kubectl.path, "kustomize"]
    ctx.tools.require("kustomize")  # raises ToolMissingError with the hint
    raise AssertionError("unreachable")


def _clean(message: str, ctx: SourceContext, folder: Path) -> str:
    """Tool messages mention our temporary paths; show repository paths instead."""
    text = message.replace(str(folder), str(ctx.folder))
    root = str(Path(os.path.realpath(ctx.ws.root)))
    return text.replace(root + "/", "").replace(str(ctx.ws.root) + "/", "")


# ---------------------------------------------------------------------------------------------------------------
# Remote bases


Reached = tuple[Path, str, dict[str, Any]]  # a kustomization file, its name shown to users, its content


class Kustomizations:
    """``kfile`` and every local kustomization it references (resources, bases, components), each once, in a
    fixed order: (file, name shown to users, content). The checks before a build each go through them.

    Walked once per app and replayed for every check (each used to walk and parse the tree again). The walk goes
    only as far as the first check has asked, so a check that raises on an entry (remote, outside the workspace)
    still does so before the walk follows or reads anything further, and an error of the walk itself (an invalid
    kustomization file) is raised again at the same place to every later check. Replaying is exact while the
    folders stay as they were: the workspace is written before rendering, and the only writes between these
    checks are charts ``check_helm_charts`` fetches into it, after which that check walks on afresh (``after``).
    """

    def __init__(self, ctx: SourceContext, kfile: Path) -> None:
        self.ctx = ctx
        self.kfile = kfile
        # Each kustomization with what the walk still had pending when it came to it (for ``after``).
        self._found: list[tuple[Reached, tuple[Path, ...]]] = []
        self._inside: dict[str, bool] = {}
        self._walk = _walk(ctx, [kfile], set(), self.inside)
        self._error: Exception | None = None

    def inside(self, path: Path) -> bool:
        """``ctx.inside(path)``, remembered: the walk and the checks ask about the same references (only until
        ``after``, which asks the folders as they are then)."""
        key = str(path)
        found = self._inside.get(key)
        if found is None:
            found = self._inside[key] = self.ctx.inside(path)
        return found

    def __iter__(self) -> Iterator[Reached]:
        index = 0
        while index < len(self._found) or self._advance():
            yield self._found[index][0]
            index += 1

    def _advance(self) -> bool:
        if self._error is not None:
            raise self._error
        try:
            self._found.append(next(self._walk))
        except StopIteration:
            return False
        except Exception as e:  # the generator is over: keep its error for the next check
            self._error = e
            raise
        return True

    def after(self, index: int) -> Iterator[Reached]:
        """What a walk stopped right after the ``index``-th kustomization yields from there, reading the folders
        as they are now: its references are looked up again, and so is everything after it."""
        (current, _, data), pending = self._found[index]
        seen = {reached[0] for reached, _ in self._found[: index + 1]}
        for reached, _ in _walk(self.ctx, list(pending), seen, self.ctx.inside, (current, data)):
            yield reached


def _walk(
    ctx: SourceContext,
    pending: list[Path],
    seen: set[Path],
    inside: Callable[[Path], bool],
    resume: tuple[Path, dict[str, Any]] | None = None,
) -> Iterator[tuple[Reached, tuple[Path, ...]]]:
    """Depth first from ``pending`` (a stack); a kustomization's references are followed after its caller is
    done with it. ``resume``: the kustomization the walk stopped at, whose references come first."""
    if resume is not None:
        pending.extend(_references(inside, *resume))
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        shown = ctx.relative_to_ws(current)
        data = load_kustomization(current, shown)
        yield (current, shown, data), tuple(pending)
        pending.extend(_references(inside, current, data))


def _references(inside: Callable[[Path], bool], current: Path, data: Mapping[str, Any]) -> list[Path]:
    """The kustomization files of the local folders ``current`` refers to, inside the workspace, in order."""
    base_dir = current.parent
    found = []
    for field_name in _REFERENCE_FIELDS:
        entries = data.get(field_name)
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, str) or is_remote(entry, base_dir):
                continue
            target = Path(os.path.normpath(base_dir / entry.strip()))
            if inside(target) and target.is_dir():
                nested = find_kustomization(target)
                if nested is not None:
                    found.append(nested)
    return found


def check_remote_bases(tree: Kustomizations, *, allow_remote: bool = False) -> None:
    """Refuse remote resources (unless ``allow_remote``) and local ones outside the repository, in the
    kustomization or any local base it references, recursively."""
    ctx = tree.ctx
    for current, shown, data in tree:
        base_dir = current.parent
        for field_name in (*_REFERENCE_FIELDS, *_FILE_FIELDS):
            entries = data.get(field_name)
            if not isinstance(entries, list):
                continue
            for entry in entries:
                if not isinstance(entry, str):
                    continue  # inline generator/transformer configs
                if is_remote(entry, base_dir):
                    if not allow_remote:
                        raise RenderError(
                            f"remote kustomize base {redact_url(entry)} in {shown}: needs the network; allow with "
                            "--allow-remote-bases"
                        )
                    try:
                        check_remote_target(ctx.options.network, entry)
                    except FetchError as e:
                        raise RenderError(
                            f"not checked: remote kustomize base in {shown}: {e.message}"
                        ) from None
                    continue
                target = Path(os.path.normpath(base_dir / entry))
                if not tree.inside(target):
                    raise RenderError(
                        f"{field_name} entry {entry} in {shown} is outside the repository; refusing it"
                    )


def register_generated_secrets(tree: Kustomizations) -> None:
    """``secretGenerator`` values (literals, env files, files) are Secret values: kustomize quotes them in its
    own error texts, so every output scrubs them (gitops_check.redact)."""
    ctx = tree.ctx
    for current, _, data in tree:
        generators = data.get("secretGenerator")
        for gen in generators if isinstance(generators, list) else ():
            if not isinstance(gen, dict):
                continue
            for literal in _strings(gen.get("literals")):
                value = literal.partition("=")[2]
                redact.add_all((literal, value, value.strip("\"'")))  # kustomize quotes a bad one whole
            env_files = [*_strings(gen.get("envs")), *_strings([gen.get("env")])]
            for entry in env_files:
                for line in _generator_file(ctx, current.parent, entry).splitlines():
                    redact.add(line.partition("=")[2].strip())
            for entry in _strings(gen.get("files")):
                text = _generator_file(
                    ctx, current.parent, entry.rpartition("=")[2] if "=" in entry else entry
                )
                redact.add(text)
                redact.add(text.strip())


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _generator_file(ctx: SourceContext, base_dir: Path, entry: str) -> str:
    path = Path(os.path.normpath(base_dir / entry.strip()))
    try:
        if not ctx.inside(path) or not path.is_file() or path.stat().st_size > yamlio.MAX_FILE_BYTES:
            return ""
        return path.read_text(errors="replace")
    except OSError:
        return ""


def load_kustomization(path: Path, shown: str) -> dict[str, Any]:
    """A kustomization file as a mapping (empty file: {}); anything else is a RenderError."""
    data = yamlio.load_one(path.read_bytes(), shown)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RenderError(f"{shown} is not a kustomization (expected a mapping)")
    return data


def is_remote(entry: str, base_dir: Path) -> bool:
    """kustomize's view: URLs and git specs are remote; otherwise a path that exists locally is local."""
    text = entry.strip()
    if _SCHEMES.match(text) or text.startswith(("git::", "git@", "gh:", "ssh:")):
        return True
    if any(q in text for q in ("?ref=", "?version=", "?submodules=", "?timeout=")):
        return True
    if (base_dir / text).exists():
        return False
    first = text.split("/", 1)[0]
    return "/" in text and bool(_DOMAIN_FIRST_SEGMENT.match(first))


# ---------------------------------------------------------------------------------------------------------------
# helmCharts (kustomize's Helm chart inflation)


def helm_chart_entries(tree: Kustomizations) -> Iterator[tuple[Path, str, dict[str, Any], Any]]:
    """(kustomization file, its name shown, the helmCharts entry, helmGlobals) of every reachable kustomization."""
    for current, shown, data in tree:
        for entry, globals_ in _chart_entries(data):
            yield current, shown, entry, globals_


def _chart_entries(data: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    charts = data.get("helmCharts")
    for entry in charts if isinstance(charts, list) else ():
        yield entry if isinstance(entry, dict) else {}, data.get("helmGlobals")


def check_helm_charts(
    tree: Kustomizations, build: KustomizeBuild | None, resolved: list[str] | None = None
) -> None:
    """``helmCharts`` inflate only with ``--enable-helm`` (Argo CD fails without it, like kustomize); a chart
    from a repository that is not vendored is fetched under the job's network policy into the folder kustomize
    looks in (so kustomize never runs ``helm pull`` itself), and every file the inflation reads must be inside
    the repository."""
    for index, (current, shown, data) in enumerate(tree):
        if _check_charts_of(tree.ctx, current, shown, data, build, resolved):
            # A chart folder was fetched into the workspace, and the references after it may lead there: the
            # rest of the walk reads the folders as they are now.
            for current, shown, data in tree.after(index):
                _check_charts_of(tree.ctx, current, shown, data, build, resolved)
            return


def _check_charts_of(
    ctx: SourceContext,
    current: Path,
    shown: str,
    data: Mapping[str, Any],
    build: KustomizeBuild | None,
    resolved: list[str] | None,
) -> bool:
    """``check_helm_charts`` for one kustomization; whether a chart folder was missing and has been fetched."""
    fetched = False
    for entry, globals_ in _chart_entries(data):
        name = str(entry.get("name") or "")
        if entry.get("releaseName"):
            # kustomize passes it to helm as a bare argument: "--post-renderer=..." would become an option.
            checked_release_name(str(entry["releaseName"]))
        if build is None or not build.enable_helm:
            where = build.origin if build is not None else "kustomize.buildOptions (argocd-cm)"
            raise RenderError(
                f"{shown} inflates the Helm chart {name or '?'} (helmCharts), which needs --enable-helm in "
                f"{where}; Argo CD fails the same way. Add it there, or pass --kustomize-build-options "
                "'--enable-helm' when the argocd-cm that sets it is not in this repository"
            )
        home_text = (
            str((globals_ or {}).get("chartHome") or "charts") if isinstance(globals_, dict) else "charts"
        )
        home = _inside(ctx, current.parent, home_text, f"helmGlobals.chartHome of {shown}")
        repo = str(entry.get("repo") or "")
        version = str(entry.get("version") or "")
        # kustomize's absChartHome: a versioned chart from a repository lives in <chartHome>/<name>-<version>.
        folder = home / f"{name}-{version}" / name if repo and version else home / name
        if not folder.is_dir():
            if not repo:
                continue  # kustomize reports "no repo specified for pull, no chart found"
            described = _fetch_inflated_chart(ctx, shown, repo, name, version, folder)
            fetched = True
            if resolved is not None:
                resolved.append(described)
        for key in ("valuesFile",):
            if isinstance(entry.get(key), str) and entry[key]:
                _inside(ctx, current.parent, entry[key], f"helmCharts {key} of {shown}")
        for extra in entry.get("additionalValuesFiles") or ():
            if isinstance(extra, str):
                _inside(ctx, current.parent, extra, f"helmCharts additionalValuesFiles of {shown}")
    return fetched


# Locks per folder on disk (process-wide on purpose: they guard files against this process's writers, whichever
# run they serve; the folder itself remembers what was done).
_INFLATE_LOCKS: dict[Path, threading.Lock] = {}


def _fetch_inflated_chart(
    ctx: SourceContext, shown: str, repo: str, name: str, version: str, folder: Path
) -> str:
    """The chart kustomize would pull, fetched with ``remote.charts.fetch_chart`` into ``folder`` (once)."""
    import tempfile

    from gitops_check.remote.charts import fetch_chart

    with _FOLDER_LOCKS_GUARD:
        lock = _INFLATE_LOCKS.setdefault(folder, threading.Lock())
    with lock:
        if folder.is_dir():
            return f"{name} {version or '(newest)'} from {redact_url(repo)} (fetched for another app)"
        if not ctx.inside(folder.parent.parent):
            raise RenderError(
                f"helmCharts of {shown}: the chart folder is outside the repository; refusing it"
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".fetch-") as tmp:
            try:
                fetched = fetch_chart(repo, name, version or None, Path(tmp), policy=ctx.options.network)
            except FetchError as e:
                raise RenderError(
                    f"not checked: {shown} inflates the Helm chart {name} {version or '(newest)'} from "
                    f"{redact_url(repo)} into {ctx.relative_to_ws(folder)}: {e.message}"
                ) from None
            os.replace(fetched.folder, folder)
        return fetched.describe()


def _inside(ctx: SourceContext, base: Path, text: str, what: str) -> Path:
    target = Path(os.path.normpath(base / text.strip()))
    if text.strip().startswith("/") or _SCHEMES.match(text.strip()) or not ctx.inside(target):
        raise RenderError(f"{what} ({text}) is outside the repository; refusing it")
    return target


# ---------------------------------------------------------------------------------------------------------------
# Argo CD overrides, applied the way `kustomize edit` applies them


_FOLDER_LOCKS: dict[Path, threading.Lock] = {}  # process-wide on purpose, like _INFLATE_LOCKS
_FOLDER_LOCKS_GUARD = threading.Lock()


@contextmanager
def _build_folder(ctx: SourceContext, kfile: Path | None, overrides: KustomizeOptions) -> Iterator[Path]:
    if overrides.is_empty():
        yield ctx.folder
        return
    if kfile is None:
        raise RenderError(
            f"path {ctx.path} has no kustomization file, so its kustomize overrides cannot be applied"
        )
    shown = ctx.relative_to_ws(kfile)
    edited = apply_overrides(load_kustomization(kfile, shown), overrides, shown)
    with with_kustomization(
        ctx, kfile.name, edited, prepare=lambda folder: _check_components(folder, overrides, shown)
    ) as folder:
        yield folder


@contextmanager
def with_kustomization(
    ctx: SourceContext,
    file_name: str,
    content: Mapping[str, Any],
    prepare: Callable[[Path], None] | None = None,
) -> Iterator[Path]:
    """The app folder with its kustomization file ``file_name`` replaced by (or created as) ``content``.

    A sibling copy at the same depth, so relative references keep working and the workspace's folder, which
    other apps may use as a base, never changes. The repository root has no sibling inside the workspace: it is
    edited in place, one app at a time, and restored. ``prepare`` runs on the folder before the file is written.
    """
    text = yamlio.dump_yaml(dict(content))
    if ctx.folder == Path(os.path.realpath(ctx.ws.root)):
        kfile = ctx.folder / file_name
        with _folder_lock(ctx.folder):
            original = kfile.read_bytes() if kfile.is_file() else None
            try:
                if prepare is not None:
                    prepare(ctx.folder)
                kfile.write_text(text)
                yield ctx.folder
            finally:
                if original is None:
                    kfile.unlink(missing_ok=True)
                else:
                    kfile.write_bytes(original)
        return
    copy_dir = ctx.folder.parent / f".{ctx.folder.name}.gitops-check-{secrets.token_hex(4)}"
    try:
        shutil.copytree(ctx.folder, copy_dir, symlinks=True)
        if prepare is not None:
            prepare(copy_dir)
        (copy_dir / file_name).write_text(text)
        yield copy_dir
    finally:
        shutil.rmtree(copy_dir, ignore_errors=True)


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    with _FOLDER_LOCKS_GUARD:
        lock = _FOLDER_LOCKS.setdefault(folder, threading.Lock())
    with lock:
        yield


def _check_components(folder: Path, overrides: KustomizeOptions, shown: str) -> None:
    for component in overrides.components:
        if not is_remote(component, folder) and not (folder / component).exists():
            raise RenderError(f"component {component} (kustomize.components) not found next to {shown}")


def apply_overrides(kustomization: Mapping[str, Any], o: KustomizeOptions, shown: str) -> dict[str, Any]:
    """A copy of ``kustomization`` edited like Argo CD's sequence of ``kustomize edit`` commands."""
    k = copy.deepcopy(dict(kustomization))
    if o.name_prefix:
        k["namePrefix"] = o.name_prefix
    if o.name_suffix:
        k["nameSuffix"] = o.name_suffix
    if o.images:
        k["images"] = _set_images(k.get("images"), o.images)
    if o.replicas:
        k["replicas"] = _set_replicas(k.get("replicas"), o.replicas)
    if o.common_labels:
        k["commonLabels"] = _add_metadata(
            k.get("commonLabels"), o.common_labels, o.force_common_labels, "label", shown
        )
    if o.common_annotations:
        k["commonAnnotations"] = _add_metadata(
            k.get("commonAnnotations"), o.common_annotations, o.force_common_annotations, "annotation", shown
        )
    if o.namespace:
        k["namespace"] = o.namespace
    if o.patches:
        existing = k.get("patches") or []
        if not isinstance(existing, list):
            raise RenderError(f"'patches' in {shown} is not a list, so Argo CD's patches cannot be appended")
        k["patches"] = [*existing, *(copy.deepcopy(dict(p)) for p in o.patches)]
    if o.components:
        components = list(k.get("components") or [])
        for component in o.components:
            if component not in components:
                components.append(component)
        k["components"] = components
    return k


def _add_metadata(
    existing: Any, values: Mapping[str, str], force: bool, kind: str, shown: str
) -> dict[str, str]:
    out = {str(a): str(b) for a, b in (existing or {}).items()} if isinstance(existing, dict) else {}
    for key, value in values.items():
        if key in out and not force:
            option = "forceCommonLabels" if kind == "label" else "forceCommonAnnotations"
            raise RenderError(
                f"kustomize edit add {kind}: {kind} {key} already in kustomization file {shown}; "
                f"set {option} to overwrite it (Argo CD fails the same way)"
            )
        out[key] = value
    return out


_IMAGE_TAG = re.compile(r"^(.*):([a-zA-Z0-9._-]*|\*)$")
_PRESERVE = "*"


def parse_image(arg: str) -> dict[str, str]:
    """``kustomize edit set image`` argument -> images entry (name, newName, newTag, digest)."""

    def overwrite(text: str, allow_name_only: bool) -> tuple[str, str, str]:
        if "@" in text:
            name, _, digest = text.partition("@")
            return name, "", digest.split("@")[0]
        m = _IMAGE_TAG.match(text)
        if m:
            return m.group(1), m.group(2), ""
        if text and allow_name_only:
            return text, "", ""
        raise RenderError(
            f"invalid kustomize image override {arg!r}; use <image>=<newimage>:<newtag>, <image>=<newimage>@<digest>, "
            "<image>=<newimage>, <image>:<newtag> or <image>@<digest>"
        )

    parts = arg.split("=")
    if len(parts) == 2:
        new_name, tag, digest = overwrite(parts[1], True)
        entry = {"name": parts[0], "newName": new_name, "newTag": tag, "digest": digest}
    else:
        name, tag, digest = overwrite(arg, False)
        entry = {"name": name, "newTag": tag, "digest": digest}
    return {k: v for k, v in entry.items() if v}


def _set_images(existing: Any, args: tuple[str, ...]) -> list[dict[str, Any]]:
    wanted: dict[str, dict[str, Any]] = {}
    for arg in args:
        img = parse_image(arg)
        wanted[img["name"]] = img
    for current in existing if isinstance(existing, list) else []:
        if not isinstance(current, dict) or "name" not in current:
            continue
        name = str(current["name"])
        if name in wanted:
            img = wanted[name]
            for field_name in ("newName", "newTag", "digest"):
                if img.get(field_name) == _PRESERVE:
                    img[field_name] = current.get(field_name, "")
            continue
        wanted[name] = dict(current)
    images = []
    for img in wanted.values():
        images.append({k: v for k, v in img.items() if v and v != _PRESERVE})
    return sorted(images, key=lambda i: str(i["name"]))


def _set_replicas(existing: Any, args: tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
    wanted: dict[str, dict[str, Any]] = {name: {"name": name, "count": count} for name, count in args}
    for current in existing if isinstance(existing, list) else []:
        if isinstance(current, dict) and "name" in current and str(current["name"]) not in wanted:
            wanted[str(current["name"])] = dict(current)
    return sorted(wanted.values(), key=lambda r: str(r["name"]))


def check_load_paths(tree: Kustomizations) -> None:
    """Every file a reachable kustomization loads must be inside the workspace (kustomize will not check it)."""
    for current, shown, data in tree:
        base = current.parent
        for field_name, entry in _path_entries(data):
            if is_remote(entry, base):
                continue  # check_remote_bases decides about remote entries
            target = Path(os.path.normpath(base / entry))
            if entry.startswith("/") or not tree.inside(target):
                raise RenderError(
                    f"{field_name} entry {entry} in {shown} is outside the repository; refusing it"
                )


def _path_entries(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for field_name in ("resources", "bases", "components", "crds", "configurations", "generators",
                       "transformers", "validators", "patchesStrategicMerge"):  # fmt: skip
        for entry in _list(data.get(field_name)):
            if isinstance(entry, str) and "\n" not in entry:
                yield field_name, entry.strip()
    for field_name in ("patches", "patchesJson6902", "replacements"):
        for entry in _list(data.get(field_name)):
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                yield field_name, entry["path"].strip()
    for field_name in ("configMapGenerator", "secretGenerator"):
        for gen in _list(data.get(field_name)):
            if not isinstance(gen, dict):
                continue
            for item in (*_list(gen.get("files")), *_list(gen.get("envs")), gen.get("env")):
                if isinstance(item, str) and item:
                    yield field_name, item.rpartition("=")[2].strip()
    openapi = data.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield "openapi", openapi["path"]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
