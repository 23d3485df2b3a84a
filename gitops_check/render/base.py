"""Rendering an app: pick the tool for each source like Argo CD does, run it, collect raw documents.

Renderers are small callables registered by name (``directory``, ``kustomize``, ``helm``), so Argo CD or
Flux specific ones can be added without touching this module. Everything here works on a workspace (a
materialized copy of the repository, never the user's checkout) and refuses paths that leave it: Argo CD
had several CVEs for exactly that (value files and symlinks pointing at other files of the repo server).
"""

from __future__ import annotations

import os
import posixpath
import re
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol, TypeVar, cast

from gitops_check import proc, repourl
from gitops_check.errors import RenderError, ToolMissingError
from gitops_check.model.app import App
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.source import KUSTOMIZATION_FILES, Source, Tool
from gitops_check.project.config import RenderOptions, required_build_matches

# ---------------------------------------------------------------------------------------------------------------
# Results and the renderer protocol


@dataclass
class RenderOutput:
    objects: list[RawObject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What was fetched from outside the repository, one line each (remote.charts.ResolvedChart.describe()).
    resolved: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SourceContext:
    """Everything a renderer needs for one source of one app."""

    app: App
    source: Source
    ws: Workspace  # the workspace holding this source's files
    path: str  # the source folder relative to ws.root, posix, "." for the root
    folder: Path  # absolute folder, already checked to be inside ws.root
    options: RenderOptions
    tools: ToolFinder
    symlinks: SymlinkGuard  # the run's: a workspace another source refers to is checked through it too
    shared: SharedWork  # the run's: work done once for every app (a chart folder's dependencies)
    # Argo CD multi-source: ``$name`` -> the workspace of the source with ``ref: name``.
    refs: Mapping[str, Workspace] = field(default_factory=dict)

    def rel(self, *parts: str) -> str:
        """A path under the source folder, relative to the repository root (for origins and messages)."""
        joined = posixpath.join(self.path, *parts) if parts else self.path
        return posixpath.normpath(joined)

    def relative_to_ws(self, path: Path) -> str:
        """``path`` (inside the workspace) relative to its root, posix; for origins and messages."""
        normalized = Path(os.path.normpath(path))
        for root in (self.ws.root, Path(self.real_root)):
            try:
                return normalized.relative_to(root).as_posix()
            except ValueError:
                continue
        return str(path)

    @cached_property
    def real_root(self) -> str:
        """The workspace root's real path, resolved once per source rather than on every check (it was a tenth of
        a fleet's render CPU): the folder holding the workspace is neither moved nor relinked while its apps
        render; only files and folders below it are added (fetched charts, chart dependencies)."""
        return os.path.realpath(self.ws.root)

    def inside(self, path: Path | str) -> bool:
        """``is_inside(self.ws.root, path)``: ``path``, symlinks resolved, is the workspace root or below it."""
        return within(self.real_root, os.path.realpath(path))


class Renderer(Protocol):
    def __call__(self, ctx: SourceContext) -> RenderOutput: ...


def is_null_list(body: object) -> bool:
    """Argo CD drops ``items: null`` lists (``kind: ConfigMapList`` with no items) instead of failing on them."""
    return (
        isinstance(body, dict)
        and "items" in body
        and body["items"] is None
        and not {"spec", "status"} & set(body)
    )


def ref_workspace(ctx: SourceContext, name: str) -> Workspace:
    """The workspace behind ``$name`` in a value file path, or a RenderError saying why there is none."""
    found = ctx.refs.get(name)
    if found is not None:
        return found
    for source in ctx.app.sources:
        if source.ref == name:
            raise RenderError(
                f"source repository {source.repo} is not available; "
                + repourl.not_available_hint(source.repo_url or source.repo or "")
            )
    raise RenderError(f"no source of app {ctx.app.name} has ref {name!r} (used as ${name} in a value file)")


# ---------------------------------------------------------------------------------------------------------------
# Tool detection


def detect_tool(folder: Path) -> Tool:
    """Argo CD's rule: a file named ``*Chart.yaml`` makes it Helm, a kustomization file Kustomize.

    Argo CD walks the folder's entries in lexical (byte) order and the last match wins, so Kustomize wins
    over ``Chart.yaml``; we replicate that exactly, quirks included.
    """
    found = Tool.DIRECTORY
    try:
        names = sorted(os.listdir(folder))
    except OSError as e:
        raise RenderError(f"cannot list {folder}: {e.strerror}") from e
    for name in names:
        if (folder / name).is_dir() and not (folder / name).is_symlink():
            continue
        if name.endswith("Chart.yaml"):
            found = Tool.HELM
        if name in KUSTOMIZATION_FILES:
            found = Tool.KUSTOMIZE
    return found


# ---------------------------------------------------------------------------------------------------------------
# Path safety


def normalize_path(path: str) -> str:
    """Source paths as written in config ("", "./", "apps/web/") -> "." or "apps/web"."""
    text = path.strip()
    if not text:
        return "."
    if text.startswith("/"):
        return text  # resolve_inside refuses it with a clear message
    return posixpath.normpath(text)


def resolve_inside(root: Path, rel_path: str, what: str) -> Path:
    """``root/rel_path`` after checking it stays inside ``root``, symlinks resolved; else a RenderError.

    Refuses absolute paths, ``..`` escapes and paths whose symlinks (at any level) resolve outside.
    The returned path is the real (symlink-free) path.
    """
    text = rel_path.strip()
    if text.startswith("/") or os.path.isabs(text):
        raise RenderError(f"{what} {rel_path} is absolute; use a path relative to the repository root")
    norm = posixpath.normpath(text or ".")
    if norm == ".." or norm.startswith("../"):
        raise RenderError(f"{what} {rel_path} points outside the repository (..); refusing to read it")
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(root / norm))
    if real != real_root and real_root not in real.parents:
        raise RenderError(
            f"{what} {rel_path} resolves outside the repository through a symlink (to {real}); refusing to read it"
        )
    return real


def is_inside(root: Path, path: Path) -> bool:
    return within(os.path.realpath(root), os.path.realpath(path))


def within(real_root: str, real: str) -> bool:
    """Whether ``real`` is ``real_root`` or below it; both real paths (``os.path.realpath``: absolute, normalized,
    no trailing separator but for the root ``/``), so comparing text is comparing their parts."""
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


class SymlinkGuard:
    """Refuses an app whose folder holds a symlink that is absolute or leaves the workspace; one per run.

    Argo CD's repo server checks the whole repository after checkout and fails every app of a repository
    that has one. gitops-check reports it for the app whose folder holds it, so one bad symlink does not hide
    the results of every other app, and removes such symlinks from its private copy of the files the first
    time it looks, so no renderer of any app can follow one (an app reading it through a base then fails with
    "file not found"). The target is walked step by step so it may never leave the root, even temporarily.
    What it found is remembered per workspace, so every app of a run sharing the guard is told even after the
    links are gone: share one guard between the renders of a run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[Workspace, dict[str, str]] = {}

    def check(self, ws: Workspace, under: str = ".") -> None:
        with self._lock:
            problems = self._found.get(ws)
            if problems is None:
                root = Path(os.path.abspath(ws.root))
                problems = self._found[ws] = _find_bad_symlinks(root)
                for rel in problems:
                    os.unlink(root / rel)
        prefix = "" if under in (".", "") else under.rstrip("/") + "/"
        for rel, problem in sorted(problems.items()):
            if not prefix or rel.startswith(prefix) or prefix.startswith(rel + "/"):
                raise RenderError(problem)


_T = TypeVar("_T")


class SharedWork:
    """Work the renders of a run do once per key, and its result, for every app that needs it: a chart folder's
    dependencies are built or fetched once, and every app rendering the chart reports what was fetched. One per
    run, shared by its renders like ``SymlinkGuard``; a failure is not remembered (the next app tries again).
    Keys are in different hands: each user puts its own name first (``("helm dependencies", ws, folder)``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._done: dict[Hashable, object] = {}

    def once(self, key: Hashable, work: Callable[[], _T]) -> _T:
        """``work()``'s result, run by the first caller with ``key``; the others wait for it (one lock per key, so
        different keys proceed in parallel)."""
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._done:
                    return cast(_T, self._done[key])
            result = work()
            with self._lock:
                self._done[key] = result
            return result


def _find_bad_symlinks(root: Path) -> dict[str, str]:
    """Symlinks whose target leaves ``root``: written outside (absolute, ``..`` past the root) or *resolving*
    outside. The second matters because ``..`` after a symlink goes to the link target's parent, not to the
    parent written: ``x -> .`` then ``../x/x/x/../../..`` looks inside on paper and is outside for the kernel
    (Helm's ``.Files.Get`` read a file that way). So the real path of every link is resolved too, every
    intermediate link followed as the kernel would."""
    found: dict[str, str] = {}
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in (*dirnames, *filenames):
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                continue
            target = os.readlink(full)
            rel = Path(os.path.relpath(full, root)).as_posix()
            if os.path.isabs(target):
                found[rel] = (
                    f"symlink {rel} points to the absolute path {target}; like Argo CD, gitops-check refuses "
                    "out-of-bounds symlinks: make it relative and inside the repository"
                )
                continue
            current = os.path.dirname(full)
            for part in target.split("/"):
                current = os.path.normpath(os.path.join(current, part))
                if current != str(root) and not current.startswith(str(root) + os.sep):
                    found[rel] = (
                        f"symlink {rel} points outside the repository ({target}); like Argo CD, gitops-check "
                        "refuses out-of-bounds symlinks: remove it or point it inside"
                    )
                    break
            if rel in found:
                continue
            real = os.path.realpath(full)
            if real != real_root and not real.startswith(real_root + os.sep):
                found[rel] = (
                    f"symlink {rel} ({target}) resolves outside the repository through other symlinks; "
                    "gitops-check refuses out-of-bounds symlinks: remove it or point it inside"
                )
    return found


# ---------------------------------------------------------------------------------------------------------------
# Finding helm / kustomize / kubectl


@dataclass(frozen=True)
class _ToolSpec:
    env_var: str
    option: str
    hint: str
    version_args: tuple[str, ...]


TOOL_SPECS: dict[str, _ToolSpec] = {
    "helm": _ToolSpec(
        "GITOPS_CHECK_HELM", "--helm", "install Helm 3 or 4, put it on PATH or pass --helm / GITOPS_CHECK_HELM",
        ("version", "--short"),
    ),
    "kustomize": _ToolSpec(
        "GITOPS_CHECK_KUSTOMIZE", "--kustomize",
        "install kustomize 5 (or kubectl, which includes it), put it on PATH or pass --kustomize / "
        "GITOPS_CHECK_KUSTOMIZE",
        ("version",),
    ),
    "kubectl": _ToolSpec(
        "GITOPS_CHECK_KUBECTL", "--kubectl", "install kubectl, put it on PATH or pass --kubectl / GITOPS_CHECK_KUBECTL",
        ("version", "--client"),
    ),
}  # fmt: skip

_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)[^\s\"']*")


class ToolFinder:
    """Finds binaries (option, then environment variable, then PATH, then the tool cache) and their versions.

    Lookups and versions are cached; one finder may be shared by the worker threads of a run.
    """

    def __init__(self, options: RenderOptions | None = None, *, runner: Callable[..., str] | None = None):
        opts = options or RenderOptions()
        self._explicit = {
            "helm": opts.helm_binary,
            "kustomize": opts.kustomize_binary,
            "kubectl": opts.kubectl_binary,
        }
        # What the project file requires (never chooses): checked against the binary the job chose.
        self._required = {"helm": opts.helm_required, "kustomize": opts.kustomize_required}
        self._timeout = opts.timeout
        self._run = runner or proc.run
        self._lock = threading.Lock()
        self._found: dict[str, proc.Tool | None] = {}
        self._versions: dict[str, str] = {}
        self._lacking: set[tuple[str, str]] = set()  # (binary path, feature) this run saw fail

    def find(self, name: str) -> proc.Tool | None:
        with self._lock:
            if name in self._found:
                return self._found[name]
        spec = TOOL_SPECS.get(name)
        tool = proc.find_tool(name, explicit=self._explicit.get(name), env_var=spec.env_var if spec else None)
        with self._lock:
            self._found[name] = tool
        return tool

    def note_lacking(self, binary: str, feature: str) -> None:
        """Remember for the rest of the run that ``binary`` (a path) failed at ``feature``, so it is not asked again."""
        with self._lock:
            self._lacking.add((binary, feature))

    def lacks(self, binary: str, feature: str) -> bool:
        with self._lock:
            return (binary, feature) in self._lacking

    def require(self, name: str) -> proc.Tool:
        tool = self._located(name)
        required = self._required.get(name)
        if required:
            version = self.version(name)
            if not required_build_matches(required, name, version):
                raise ToolMissingError(
                    f"the project file requires {name} build {required!r} (render.{name}), but this job's {name} "
                    f"is {version} ({tool.path}); the job chooses binaries: pass --{name} or "
                    f"GITOPS_CHECK_{name.upper()} with a matching build"
                )
        return tool

    def _located(self, name: str) -> proc.Tool:
        tool = self.find(name)
        if tool is None:
            spec = TOOL_SPECS.get(name)
            hint = spec.hint if spec else f"install {name} or put it on PATH"
            raise ToolMissingError(f"{name} not found: {hint}")
        return tool

    def version(self, name: str) -> str:
        """The tool's version as ``vX.Y.Z`` (kubectl: its built-in kustomize is not included)."""
        tool = self._located(name)
        with self._lock:
            if tool.path in self._versions:
                return self._versions[tool.path]
        spec = TOOL_SPECS.get(name)
        args = spec.version_args if spec else ("version",)
        text = self._run([tool.path, *args], what=f"{name} version", timeout=min(self._timeout, 60))
        match = _VERSION_RE.search(text)
        if not match:
            raise RenderError(f"cannot tell the version of {tool.path} from {text.strip()[:200]!r}")
        version = f"v{match.group(1)}.{match.group(2)}.{match.group(3)}"
        with self._lock:
            self._versions[tool.path] = version
        return version

    def major(self, name: str) -> int:
        return int(self.version(name)[1:].split(".")[0])
