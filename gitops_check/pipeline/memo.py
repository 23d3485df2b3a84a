"""The run memo: a ``diff`` against snapshots whose every input is byte-identical to a run recorded before gets
that run's result back, without discovering, reading the snapshot, rendering or diffing anything.

It lives beside the render cache (``<cache-dir>/memo``) and follows its rules: on exactly when the render cache is,
refused inside the checked checkout, JSON only (never pickle), entries written to a temporary file and renamed,
an entry that cannot be read is a miss (and is deleted), never an error, and a size bound (least recently used
entries go first). Deleting the folder is always safe.

**The key.** A stale "in sync" is the one answer the tool must never give, so the key covers everything the
result depends on, and a run whose inputs cannot all be pinned down is not memoized at all (``MemoKey.why_not``):

- this format's version; gitops-check's version, a digest of its installed source files (a development install
  changes without a version bump), the Python version and its dependencies' versions;
- every resolved option of the check (``CheckRequest``: render, job, diff options, apps, shard, repository
  mapping...), the values ``--allow-env`` lets the project file read included;
- the commit: its id (which pins its tree, submodule commits included) and the GitOps root in it; a working tree
  only when it holds exactly HEAD's files; the repository's remote URLs (they decide which Applications point at
  it); with ``--honour-target-revision`` every ref, since branch names resolve anew; each ``--repo-map`` clone's
  HEAD. A folder outside git is not memoized;
- every snapshot file's bytes (sha256 in 1 MiB chunks; a folder: every file below it);
- each tool binary the run may call (helm, kustomize, kubectl, git, the goTemplate helper, go): real path, size,
  mtime; go-jsonnet's version;
- the environment variables a run or its tools read (``ENV_PREFIXES``, ``ENV_NAMES``);
- the render cache's salt: the key is an HMAC keyed by it, so neither key nor the digests kept in an entry say
  anything about an environment value to someone without the cache folder.

**What is stored** is the shard *part* (``report.parts``, written by the caller): what ``merge`` reads, so holding
no Secret value. Only complete offline runs are stored (``not_stored_because``): exit 0 or 1, no error, nothing
"not checked", nothing fetched or taken from the fetch cache (a chart version range or a branch of another
repository may resolve differently tomorrow), no job-defined plugin or kustomize exec function (they run programs
that may read anything), no cluster from the project file's ``clusters:`` (its snapshot file is not in the key).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import hmac
import importlib.metadata
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gitops_check
from gitops_check import __version__, proc
from gitops_check.errors import GitopsCheckError
from gitops_check.model.result import CheckResult
from gitops_check.pipeline.check import CheckRequest
from gitops_check.remote import charts
from gitops_check.render import jsonnet
from gitops_check.render.base import ToolFinder
from gitops_check.render.cache import RenderCache, cache_entries, open_cache, write_entry
from gitops_check.sources.folder import open_tree
from gitops_check.sources.git import RepoHandle

FORMAT = "gitops-check-run-memo"
VERSION = 1
FOLDER = "memo"
MAX_ENTRIES = 8
SHARE_OF_CACHE = 4  # memo entries take at most 1/4 of --cache-max-size (a 5,000-app result is ~60 MB)
_CHUNK = 1 << 20

# What a run or the tools it starts read from the environment. Not the whole environment: CI systems set
# per-job values (CI_JOB_ID, GITHUB_RUN_ID) that would make every run miss.
ENV_PREFIXES = (
    "GITOPS_CHECK_",
    "HELM_",
    "KUSTOMIZE_",
    "KUBECTL_",
    "XDG_",
    "GIT_",
    "LC_",
    "ARGOCD_",
    "JSONNET_",
)
ENV_NAMES = frozenset({
    "HOME", "PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "CI_NODE_INDEX",
    "CI_NODE_TOTAL", "KUBE_VERSION",
})  # fmt: skip
# Binaries a run may start besides the job's helm/kustomize/kubectl choice.
_OTHER_BINARIES = ("git", "go")
_GOTEMPLATE = "gitops-check-gotemplate"


@dataclass(frozen=True)
class MemoKey:
    """The key of one run's inputs, or why the run is not memoized; ``shown``: the inputs named for the log."""

    digest: str | None
    why_not: str | None = None
    shown: tuple[tuple[str, str], ...] = ()
    # Checked again once the run is over: the commit it reported, the snapshot files' size and mtime, the tools.
    commit: str = ""
    stamps: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Hit:
    part: str  # the stored part file's text (``report.parts.load_part``)
    shown: tuple[tuple[str, str], ...]  # the inputs, as the run that stored it named them
    key: str


class RunMemo:
    """The memo folder of one render cache, and the key of this run's inputs."""

    def __init__(
        self, cache: RenderCache, request: CheckRequest, snapshots: Mapping[str, str], command: Any = None
    ):
        self.root = cache.root / FOLDER
        self.max_bytes = max(cache.max_bytes // SHARE_OF_CACHE, 1)
        self.request = request
        self.snapshots = dict(snapshots)
        self.key = run_key(request, snapshots, cache.hashing.salt, command)

    def why_not_kept(self, result: CheckResult, *, other_clusters: Sequence[str] = ()) -> str | None:
        """Why this run's result must not be reused (None: it may be). ``other_clusters``: clusters the project
        file's ``clusters:`` made sources for (their snapshot files are not in the key)."""
        why = self.key.why_not or not_stored_because(result, other_clusters=other_clusters)
        if why is None and changed_during_run(self.key, self.request, self.snapshots, result):
            why = "an input changed while the run read it"
        return why

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.json"

    def get(self) -> Hit | None:
        """The stored result of a run with the same inputs; None when there is none or it cannot be read."""
        digest = self.key.digest
        if digest is None:
            return None
        path = self._path(digest)
        try:
            text = path.read_text(encoding="utf-8")
            header_text, _, part = text.partition("\n")
            header = json.loads(header_text)
            if (
                header.get("format") != FORMAT
                or header.get("version") != VERSION
                or header.get("key") != digest
            ):
                raise ValueError("not an entry of this key")
            shown = tuple((str(k), str(v)) for k, v in header["inputs"])
            if hashlib.sha256(part.encode()).hexdigest() != header["sha256"]:
                raise ValueError("damaged")  # a truncated or altered file, even one that is still valid JSON
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            self.forget()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: trimmed last
        return Hit(part, shown, digest)

    def forget(self) -> None:
        """Delete this key's entry (damaged: a later run writes it again)."""
        if self.key.digest is not None:
            with contextlib.suppress(OSError):
                self._path(self.key.digest).unlink()

    def put(self, part: str) -> bool:
        """Store a part file's text under this run's key; False when nothing was stored."""
        digest = self.key.digest
        if digest is None:
            return False
        part = part if part.endswith("\n") else part + "\n"
        header = {
            "format": FORMAT,
            "version": VERSION,
            "key": digest,
            "inputs": [list(i) for i in self.key.shown],
            "sha256": hashlib.sha256(part.encode()).hexdigest(),
        }
        path = self._path(digest)
        if not write_entry(path, json.dumps(header, separators=(",", ":")) + "\n", part):
            return False
        self.trim(keep=path)
        return True

    def trim(self, *, keep: Path | None = None) -> int:
        """Delete least recently used entries beyond ``MAX_ENTRIES`` or the size bound (``keep``, the entry just
        written, always stays); returns how many went."""
        entries = cache_entries(self.root)
        entries.sort(reverse=True)  # newest first
        total = 0
        removed = 0
        for count, (_, size, path) in enumerate(entries, 1):
            total += size
            if path != keep and (count > MAX_ENTRIES or total > self.max_bytes):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
                total -= size
        return removed


def open_memo(
    request: CheckRequest, snapshots: Mapping[str, str], said: list[str], *, command: Any = None
) -> RunMemo | None:
    """The memo for a run against ``snapshots`` (cluster name, "" for the plain one -> path), when the render
    cache is on; None when it is off or refused (``said``: why). ``command``: the command's own option objects
    that the request does not carry (how the snapshots are read: ``--assume-complete-snapshot``...), keyed too."""
    if request.cache_dir is None:
        return None
    cache = open_cache(request.cache_dir, request.repo, request.cache_max_bytes, said)
    if cache is None:
        return None
    return RunMemo(cache, request, snapshots, command)


# ---------------------------------------------------------------------------------------------------------------
# The key


class _NotMemoized(Exception):
    """An input that cannot be pinned down: the run is not memoized."""


def run_key(request: CheckRequest, snapshots: Mapping[str, str], salt: str, command: Any = None) -> MemoKey:
    """The key of every input of a run; ``MemoKey.why_not`` when one cannot be pinned down."""
    shown: list[tuple[str, str]] = []
    try:
        if request.default_source is not None and not snapshots:
            raise _NotMemoized("only runs against snapshot files are memoized")
        if request.render.allow_remote_bases:
            raise _NotMemoized("--allow-remote-bases: kustomize fetches remote bases itself")
        if request.render.plugins:
            raise _NotMemoized("config management plugins run programs that may read anything")
        if request.render.allow_kustomize_exec:
            raise _NotMemoized("--allow-kustomize-exec: KRM functions run programs that may read anything")
        program = _program()
        shown.append(("gitops-check", f"{__version__} (sources {program['sources'][:12]})"))
        repository = _repository(request, shown)
        files: dict[str, str] = {}
        stamps = _stamps(request, snapshots)
        for name, path in sorted(snapshots.items()):
            files[name] = _file_digest(Path(path))
            shown.append((f"snapshot {name}".strip(), f"{path} sha256:{files[name][:16]}"))
        tools = _tools(request)
        shown.extend((f"tool {name}", value) for name, value in tools.items() if value)
    except _NotMemoized as e:
        return MemoKey(None, str(e))
    except (GitopsCheckError, OSError) as e:
        return MemoKey(None, f"an input cannot be read ({getattr(e, 'message', None) or e})")
    material = {
        "memo": [FORMAT, VERSION],
        "program": program,
        "options": _options(request),
        "command": _plain(command),
        "repository": repository,
        "snapshots": files,
        "tools": tools,
        "environment": sorted(_environment().items()),
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    digest = hmac.new(salt.encode(), text.encode(), hashlib.sha256).hexdigest()
    return MemoKey(digest, None, tuple(shown), repository["commit"], stamps)


def _stamps(request: CheckRequest, snapshots: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """What would show that an input changed while the run read it: snapshot files' size and mtime, the tools."""
    out = [(f"tool {name}", value) for name, value in _tools(request).items()]
    for path in sorted(snapshots.values()):
        root = Path(path)
        files = [root] if not root.is_dir() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            st = file.stat()
            out.append((str(file), f"{st.st_size} {st.st_mtime_ns}"))
    return tuple(out)


def changed_during_run(
    key: MemoKey, request: CheckRequest, snapshots: Mapping[str, str], result: CheckResult
) -> bool:
    """Whether an input changed between the key and the end of the run (then its result is not kept)."""
    if result.source is not None and result.source.revision != key.commit:
        return True
    try:
        return _stamps(request, snapshots) != key.stamps
    except (GitopsCheckError, OSError):
        return True


def _options(request: CheckRequest) -> Any:
    """Every resolved option of the check, as plain data (the LiveSources themselves are keyed by their files)."""
    return _plain({
        "repo": str(request.repo), "revision": request.revision, "render": request.render,
        "diff": request.diff, "only_apps": request.only_apps,
        "repo_map": {url: str(path) for url, path in request.repo_map.items()}, "repo_urls": request.repo_urls,
        "honour_target_revision": request.honour_target_revision, "strict": request.strict, "job": request.job,
        "shard": request.shard, "fail_on_manual": request.fail_on_manual, "cache_dir": str(request.cache_dir),
        "named_clusters": sorted(request.named_sources), "default_cluster": request.default_source is not None,
        "factory": request.source_factory is not None,
    })  # fmt: skip


def _plain(value: Any) -> Any:
    """A value as JSON-ready data, the same text for the same value (sets sorted, dataclasses by field)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "@": type(value).__name__,
            **{f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return sorted([json.dumps(_plain(k), sort_keys=True), _plain(v)] for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return sorted(json.dumps(_plain(v), sort_keys=True, default=str) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _program() -> dict[str, Any]:
    """gitops-check itself: version, a digest of its installed files, Python's version, its dependencies'."""
    root = Path(gitops_check.__file__).resolve().parent
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(dirpath) / name
            h.update(str(path.relative_to(root)).encode() + b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return {
        "version": __version__,
        "sources": h.hexdigest(),
        "python": sys.version,
        "dependencies": _dependency_versions(),
        "jsonnet": jsonnet.version(),
    }


def _dependency_versions() -> dict[str, str | None]:
    try:
        requires = importlib.metadata.requires("gitops-check") or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    names = {m.group(0) for r in requires if "extra ==" not in r and (m := re.match(r"[A-Za-z0-9_.-]+", r))}
    out: dict[str, str | None] = {}
    for name in sorted(names | {"PyYAML", "jq", "gojsonnet", "click"}):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _repository(request: CheckRequest, shown: list[tuple[str, str]]) -> dict[str, Any]:
    """The commit checked (or a working tree holding exactly HEAD's files), and the other repositories read."""
    repo = open_tree(request.repo)
    if not isinstance(repo, RepoHandle):
        raise _NotMemoized(
            f"{request.repo} is not a git repository (its files would have to be read to key them)"
        )
    if request.revision is None:
        if not repo.worktree_is_head():
            raise _NotMemoized("the working tree has changes (commit them, or check a revision)")
        commit, where = repo.resolve("HEAD"), "working tree"
    else:
        commit, where = repo.resolve(request.revision), "commit"
    shown.append((where, f"{commit[:12]} of {repo.display}" + (f" ({repo.prefix})" if repo.prefix else "")))
    out: dict[str, Any] = {
        "display": repo.display, "prefix": repo.prefix, "where": where, "commit": commit,
        "remotes": sorted(repo.remote_urls()),
    }  # fmt: skip
    if request.honour_target_revision:  # Applications name branches and tags, which move
        out["refs"] = hashlib.sha256(repo.refs_text()).hexdigest()
    mapped: dict[str, Any] = {}
    for url, path in sorted(request.repo_map.items()):
        clone = open_tree(path)
        if not isinstance(clone, RepoHandle):
            raise _NotMemoized(f"--repo-map {url}={path} is not a git repository")
        mapped[url] = [clone.display, clone.prefix, clone.resolve("HEAD")]
    out["mapped"] = mapped
    return out


def _file_digest(path: Path) -> str:
    """sha256 of a file's bytes in 1 MiB chunks; a folder: of every file below it, with its relative path."""
    h = hashlib.sha256()
    if path.is_dir():
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for name in sorted(filenames):
                file = Path(dirpath) / name
                h.update(str(file.relative_to(path)).encode() + b"\0")
                _hash_file(file, h)
        return h.hexdigest()
    _hash_file(path, h)
    return h.hexdigest()


def _hash_file(path: Path, h: Any) -> None:
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    h.update(b"\0")


def _tools(request: CheckRequest) -> dict[str, str]:
    """Each binary the run may start, as real path, size and mtime (a rebuilt binary changes them)."""
    finder = ToolFinder(request.render)
    found: dict[str, str | None] = {}
    for name in ("helm", "kustomize", "kubectl"):
        tool = finder.find(name)
        found[name] = tool.path if tool else None
    for name in _OTHER_BINARIES:
        found[name] = shutil.which(name)
    found[_GOTEMPLATE] = shutil.which(_GOTEMPLATE)
    helper = os.environ.get("GITOPS_CHECK_GOTEMPLATE")
    found[f"{_GOTEMPLATE} (GITOPS_CHECK_GOTEMPLATE)"] = shutil.which(helper) if helper else None
    with contextlib.suppress(OSError):
        for built in sorted(proc.tool_cache_dir().glob(f"{_GOTEMPLATE}*")):
            found[f"{_GOTEMPLATE} ({built.name})"] = str(built)
    return {name: _identity(path) if path else "" for name, path in found.items()}


def _identity(path: str) -> str:
    real = os.path.realpath(path)
    st = os.stat(real)
    return f"{real} {st.st_size} {st.st_mtime_ns}"


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}


# ---------------------------------------------------------------------------------------------------------------
# What is stored


def not_stored_because(result: CheckResult, *, other_clusters: Sequence[str] = ()) -> str | None:
    """Why this run's result must not be reused (None: it may). ``other_clusters``: clusters the project file's
    ``clusters:`` made sources for (their snapshot files are not in the key)."""
    if result.exit_code() not in (0, 1) or result.incomplete:
        return "the run did not check everything"
    if result.errors or any(a.errors or a.failed for a in result.apps):
        return "the run had errors"
    if result.syncs or result.baseline is not None:
        return "the run did more than a check"
    if other_clusters:
        return f"clusters from the project file's clusters: were read ({', '.join(sorted(other_clusters))})"
    if result.stats.get("fetch_requests", 0) or charts.used() or any(a.resolved for a in result.apps):
        return "remote sources were used (a version range or a branch may resolve differently next time)"
    return None
