"""A repository's files at one revision (or its working tree) as a plain folder renderers can read.

Everything is done by the git binary, through one small runner (``_Git``: the environment, the locale, typed
failures), the way helm and kustomize are run: no Python git library, whose import alone cost more than the
processes it spared (bench/bench_git.py). It reads the repository without changing it: a revision is written
into a separate folder from the object database (``git ls-tree`` plus one streamed ``git cat-file --batch``),
so the user's checkout, index and stash stay as they were. The working tree is
copied, including uncommitted and untracked-but-not-ignored files, because that is what a developer wants
checked before committing.

Blobs are written raw, as stored: no ``export-ignore``/``export-subst`` (which ``git archive`` would apply)
and no smudge filters (which could fetch Git LFS objects over the network).
"""

from __future__ import annotations

import base64
import os
import posixpath
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import urlsplit

from gitops_check.errors import SourceError
from gitops_check.model.rendered import DISCOVERY_MARKERS, Workspace

_TYPE_COMMIT = "commit"  # a gitlink (submodule) inside a tree
_MODE_SYMLINK = "120000"
_MODE_EXECUTABLE = "100755"
_CHUNK = 1 << 20
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# A shallow clone is deepened by 50 commits, then 100, 200...; past this, the whole history is fetched.
_FIRST_DEEPEN = 50
_MAX_DEEPEN = 1600
# Keep git away from the network and from prompts, whatever the user's configuration says; English messages.
_GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1", "GIT_OPTIONAL_LOCKS": "0",
    "LANGUAGE": "C", "LC_ALL": "C",
}  # fmt: skip
_TIMEOUT = 600.0


class GitFailed(SourceError):
    """A git command exited with an error; ``stderr`` is its last words."""

    def __init__(self, message: str, *, stderr: str, code: int):
        super().__init__(message)
        self.stderr = stderr
        self.code = code


@dataclass(frozen=True)
class _Git:
    """Runs git in one repository: our environment on top of the job's, stderr kept for the message."""

    cwd: Path
    display: str

    def argv(self, args: Iterable[str]) -> list[str]:
        return [_git_exe(), *args]

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, **_GIT_ENV, **(extra or {})}

    def run(self, *args: str, env: dict[str, str] | None = None, stdin: IO[bytes] | None = None) -> bytes:
        try:
            done = subprocess.run(
                self.argv(args), cwd=self.cwd, env=self.env(env), stdin=stdin if stdin is not None else
                subprocess.DEVNULL, capture_output=True, timeout=_TIMEOUT, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise SourceError(f"git {args[0]} timed out in {self.display}") from None
        except OSError as e:
            raise SourceError(f"cannot run git ({_git_exe()}): {e.strerror}; install git") from None
        if done.returncode != 0:
            stderr = _tail(done.stderr)
            raise GitFailed(
                f"git {args[0]} failed in {self.display}: {stderr or f'exit code {done.returncode}'}",
                stderr=stderr,
                code=done.returncode,
            )
        return done.stdout

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """A long-running git with pipes on stdin and stdout (``cat-file --batch``)."""
        try:
            return subprocess.Popen(
                self.argv(args), cwd=self.cwd, env=self.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )  # fmt: skip
        except OSError as e:
            raise SourceError(f"cannot run git ({_git_exe()}): {e.strerror}; install git") from None


def display_path(path: Path) -> str:
    """``./rel`` for a folder under the current directory, its name for the current directory, else absolute."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return str(path)
    return f"./{rel.as_posix()}" if rel.parts else path.resolve().name


@dataclass(frozen=True)
class _Entry:
    mode: str
    oid: str
    path: str  # posix, relative to the GitOps root


@dataclass(frozen=True)
class _Listed:
    """One line of ``git ls-tree -r -t``."""

    mode: str
    kind: str  # blob | tree | commit
    oid: str
    full_path: str  # relative to the repository root
    path: str  # relative to the GitOps root


class NotARepository(SourceError):
    """The folder is in no git repository (``sources.folder`` can still read it as it is)."""


def open_repo(path: str | Path, *, display: str | None = None) -> RepoHandle:
    """Open the repository containing ``path`` (like git itself, parent folders are searched).

    When ``path`` is a folder inside the repository, that folder is the GitOps root: only its files are
    materialized and every path (project file, app paths, changed paths) is relative to it.
    """
    p = Path(path)
    shown = display or display_path(p)
    if not p.exists():
        raise SourceError(f"repository folder {shown} does not exist")
    folder = p if p.is_dir() else p.parent
    try:
        out = _Git(folder, shown).run(
            "rev-parse",
            "--is-bare-repository",
            "--absolute-git-dir",
            "--is-inside-work-tree",
            "--show-prefix",
        )
    except GitFailed as e:
        if "not a git repository" in e.stderr:
            raise NotARepository(
                f"not a git repository: {shown} (run git init, or point --repo at a clone)"
            ) from None
        raise
    bare, git_dir, inside, prefix = [*out.decode().split("\n"), "", "", "", ""][:4]
    root: Path | None = None
    prefix = prefix.strip().strip("/")
    if bare.strip() != "true" and inside.strip() == "true":
        root = folder.resolve()
        for _ in PurePosixPath(prefix).parts:
            root = root.parent
    return RepoHandle(Path(git_dir.strip()), root, shown, prefix if root is not None else "")


class RepoHandle:
    """Read-only access to one repository. Safe to use from several threads."""

    def __init__(self, git_dir: Path, root: Path | None, display: str, prefix: str = ""):
        self.display = display
        # The GitOps root inside the repository ("" for the top level), posix, no trailing slash.
        self.prefix = prefix
        self.root = root  # the working tree; None for a bare repository
        self.git_dir = git_dir
        self._git = _Git(root or git_dir, display)
        # Facts that never change for a given commit id: asked once per handle.
        self._commits: dict[str, str] = {}  # full commit SHA -> itself, once git confirmed it is a commit
        self._listings: dict[str, list[_Listed]] = {}  # commit SHA -> ls-tree -r -t below the GitOps root
        self._written: dict[Path, str] = {}  # folder this handle materialized -> the commit written there
        # Fetching what a shallow or partial clone lacks: one fetch at a time, what was fetched, the last failure.
        self._fetch_lock = threading.Lock()
        self._fetched: list[str] = []
        self._fetch_failed = ""

    def __repr__(self) -> str:
        return f"RepoHandle({self.display!r})"

    def remote_urls(self) -> list[str]:
        """URLs of the repository's remotes: Applications pointing at any of them mean this repository."""
        urls: list[str] = []
        try:
            names = self._git.run("remote").decode(errors="replace").split()
        except SourceError:
            return urls
        for name in names:
            try:  # every URL of the remote, url.<base>.insteadOf applied, as git fetches them
                urls.extend(
                    self._git.run("remote", "get-url", "--all", name).decode(errors="replace").split()
                )
            except SourceError:
                continue
        return urls

    # ------------------------------------------------------------------------------------------ revisions

    def resolve(self, rev: str) -> str:
        """The full commit SHA for any revision git understands (SHA, short SHA, branch, tag, HEAD~2, origin/main)."""
        text = rev.strip()
        if not text:
            raise SourceError(f"empty revision for {self.display}")
        known = self._commits.get(text)
        if known is not None:
            return known
        sha = ""
        if not text.startswith("-"):  # never an option (rev-parse's --end-of-options needs git 2.30)
            try:
                sha = self._git_text("rev-parse", "--verify", "--quiet", f"{text}^{{commit}}")
            except SourceError:
                sha = ""
        if len(sha) < 40 and _FULL_SHA.fullmatch(text) and self._fetch_commit(text):
            sha = self._git_text("rev-parse", "--verify", "--quiet", f"{text}^{{commit}}")
        if len(sha) < 40:
            hint = f" ({self._fetch_failed})" if self._fetch_failed else ""
            raise SourceError(f"unknown revision {rev!r} in {self.display}; fetch it or check the name{hint}")
        self._commits[sha] = sha  # a commit id names the same commit forever; branch names do not
        return sha

    def merge_base(self, a: str, b: str) -> str:
        """The best common ancestor of two revisions (what a pull request is compared against).

        In a shallow clone the two histories may not meet yet: both are deepened from the remote, doubling the
        depth each time, until they do (or the whole history is there).
        """
        sha_a, sha_b = self.resolve(a), self.resolve(b)
        depth = _FIRST_DEEPEN
        while True:
            base = self._merge_base(sha_a, sha_b)
            if base or not self._shallow():
                break
            if depth > _MAX_DEEPEN:
                if not self._fetch(["--unshallow", "origin", sha_a, sha_b], "fetch the whole history"):
                    break
                continue
            if not self._fetch(
                [f"--deepen={depth}", "origin", sha_a, sha_b], f"deepen the history by {depth}"
            ):
                break
            depth *= 2
        if not base:
            hint = f" ({self._fetch_failed})" if self._fetch_failed else ""
            raise SourceError(
                f"{a} and {b} have no common history in {self.display}; fetch more history{hint}"
            )
        return base

    def _merge_base(self, sha_a: str, sha_b: str) -> str:
        try:
            return self._git_bytes("merge-base", sha_a, sha_b).decode().strip()
        except SourceError:
            return ""  # exit code 1: none found (yet)

    # ------------------------------------------------------------------------------------------ fetching

    def _shallow(self) -> bool:
        return (self.git_dir / "shallow").is_file()

    def _partial(self) -> bool:
        return self._config("remote.origin.promisor") == "true"

    def _config(self, key: str) -> str:
        try:
            return self._git_bytes("config", "--get", key).decode().strip()
        except SourceError:
            return ""

    def _fetch_commit(self, sha: str) -> bool:
        """A commit a shallow or partial clone (CI's default checkout) lacks, fetched alone from ``origin``."""
        if not (self._shallow() or self._partial()):
            return False  # a full clone that lacks it: the name is wrong, or the user has to fetch
        depth = ["--depth=1"] if self._shallow() else []  # a full-history partial clone stays unshallow
        return self._fetch([*depth, "origin", sha], f"fetch {sha[:12]}")

    def _fetch(self, args: list[str], what: str) -> bool:
        """``git fetch`` from ``origin`` of exactly what is asked; False (and the reason kept) when it fails.

        Credentials are the job's: the checkout's own configuration (actions/checkout keeps its token there,
        GitLab puts the job token into the remote URL), or on GitHub Actions the ``GITHUB_TOKEN`` of the job as
        a header given through the environment (never on the command line).
        """
        with self._fetch_lock:
            try:
                self._git_bytes(
                    "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "--no-tags",
                    "--no-write-fetch-head", "--recurse-submodules=no", *args, env=self._fetch_env(),
                )  # fmt: skip
            except SourceError as e:
                self._fetch_failed = f"could not {what} from origin: {e.message}"
                return False
        self._fetched.append(what)
        return True

    def _fetch_env(self) -> dict[str, str]:
        env = {"GIT_TERMINAL_PROMPT": "0"}
        token = os.environ.get("GITHUB_TOKEN", "").strip()
        server = urlsplit(os.environ.get("GITHUB_SERVER_URL") or "https://github.com")
        url = urlsplit(self._config("remote.origin.url"))
        if (
            os.environ.get("GITHUB_ACTIONS") == "true"
            and token
            and url.scheme == "https"
            and url.hostname == server.hostname
            and not url.username
            and not self._config_regexp(r"^http\..*extraheader$")
        ):
            basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            env.update({
                "GIT_CONFIG_COUNT": "1",
                "GIT_CONFIG_KEY_0": f"http.{server.scheme}://{server.hostname}/.extraheader",
                "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
            })  # fmt: skip
        return env

    def _config_regexp(self, pattern: str) -> str:
        try:
            return self._git_bytes("config", "--get-regexp", pattern).decode().strip()
        except SourceError:
            return ""

    def _fetch_missing_blobs(self, sha: str) -> None:
        """In a partial clone (``--filter=blob:none``), the blobs of the GitOps root at ``sha`` that are not here
        yet, fetched in one request (git would otherwise fetch them one by one as they are read)."""
        if not self._partial():
            return
        scope = ["--", self.prefix] if self.prefix else []
        listed = self._git_bytes("rev-list", "--objects", "--missing=print", sha, *scope)
        missing = [line[1:] for line in listed.decode().split("\n") if line.startswith("?")]
        if missing:
            with tempfile.TemporaryFile() as ids:
                ids.write("".join(f"{oid}\n" for oid in missing).encode())
                ids.flush()
                ids.seek(0)
                self._fetch_stdin(ids, f"fetch {len(missing)} missing files")

    def _fetch_stdin(self, ids: IO[bytes], what: str) -> None:
        with self._fetch_lock:
            try:
                self._git.run(
                    "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
                    "--recurse-submodules=no", "--filter=blob:none", "--stdin", "origin",
                    env=self._fetch_env(), stdin=ids,
                )  # fmt: skip
                self._fetched.append(what)
            except GitFailed as e:
                self._fetch_failed = f"could not {what} from origin: {e.stderr[-300:]}"
            except SourceError as e:
                self._fetch_failed = f"could not {what} from origin: {e.message}"

    def tree_ids(self, rev: str, paths: Iterable[str]) -> dict[str, str | None]:
        """Git object id (tree or blob) of each path at ``rev``; None for paths that do not exist there."""
        index = self.tree_index(rev)
        return {path: (index.get(_norm_rel(path)) or (None, None))[1] for path in paths}

    def worktree_is_head(self) -> bool:
        """Whether the working tree below the GitOps root holds exactly HEAD's files (nothing changed, added or
        untracked; ignored files do not count, as ``materialize`` does not copy them)."""
        self._require_worktree()
        status = self._git_bytes(
            "status", "--porcelain", "-z", "--untracked-files=all", "--", self.prefix or ".",
            env={"GIT_OPTIONAL_LOCKS": "0"},  # a status may refresh (write) the index; never in the checked repo
        )  # fmt: skip
        return not status

    def refs_text(self) -> bytes:
        """Every ref and the object it names (``git for-each-ref``), HEAD first: what revision names resolve to."""
        head = self._git_bytes("rev-parse", "--verify", "--quiet", "HEAD")
        return head + self._git_bytes("for-each-ref", "--format=%(objectname) %(refname)")

    def tree_index(self, rev: str) -> dict[str, tuple[str, str]]:
        """Every entry under the GitOps root at ``rev``, folders included: path -> (mode, object id).

        One ``git ls-tree`` for the whole tree (kept per commit), so looking up thousands of paths costs one
        process. ``""`` is the root folder itself; paths are relative to the GitOps root.
        """
        sha = self.resolve(rev)
        root = self._git_text(
            "rev-parse", "--verify", "--quiet", f"{sha}:{self.prefix}" if self.prefix else f"{sha}^{{tree}}"
        )
        out: dict[str, tuple[str, str]] = {"": ("040000", root)}
        for entry in self._listing(sha):
            out[entry.path] = (entry.mode, entry.oid)
        return out

    def _listing(self, sha: str) -> list[_Listed]:
        """``git ls-tree -r -t`` of a commit below the GitOps root (paths relative to it), folders included."""
        known = self._listings.get(sha)
        if known is not None:
            return known
        scope = [sha, "--", self.prefix] if self.prefix else [sha]
        head = self.prefix + "/" if self.prefix else ""
        out: list[_Listed] = []
        for raw in self._git_bytes("ls-tree", "-r", "-t", "-z", "--full-tree", *scope).split(b"\0"):
            if not raw:
                continue
            meta, _, path_b = raw.partition(b"\t")
            path = os.fsdecode(path_b)
            if not path.startswith(head) or path == head:
                continue
            mode, kind, oid = meta.decode().split()
            out.append(_Listed(mode, kind, oid, path, path[len(head) :]))
        self._listings[sha] = out
        return out

    def changed_paths(self, base: str, head: str | None) -> set[str]:
        """Paths that differ between two revisions (renames count as delete + add).

        ``head`` None compares with the working tree, untracked files included. That uses a copy of the
        index, because ``git diff`` refreshes the index it reads.
        """
        base_sha = self.resolve(base)
        if head is not None:
            raw = self._git_bytes(
                "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", base_sha, self.resolve(head)
            )
            return self._strip_prefix(_split_z(raw))
        self._require_worktree()
        with tempfile.TemporaryDirectory(prefix="gitops-check-index-") as tmp:
            index = Path(tmp) / "index"
            real_index = self.git_dir / "index"
            if real_index.exists():
                shutil.copyfile(real_index, index)
            env = {"GIT_INDEX_FILE": str(index)}
            raw = self._git_bytes(
                "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", base_sha, env=env
            )
            untracked = self._git_bytes("ls-files", "-o", "--exclude-standard", "-z", env=env)
        return self._strip_prefix(_split_z(raw) | {p for p in _split_z(untracked) if not p.endswith("/")})

    def _strip_prefix(self, paths: Iterable[str]) -> set[str]:
        """Repository-relative paths -> GitOps-root-relative ones; paths outside the root are dropped."""
        if not self.prefix:
            return set(paths)
        head = self.prefix + "/"
        return {p[len(head) :] for p in paths if p.startswith(head)}

    # ------------------------------------------------------------------------------------------ files

    def materialize(self, rev: str | None, dest: Path, *, like: Workspace | None = None) -> Workspace:
        """Write the files of ``rev`` (None: the working tree) into ``dest``, which must be empty or absent.

        ``like``: a workspace this handle materialized for another commit, unchanged since. Its files are copied
        (one ``cp -a``, a process of its own) and only the paths that differ are written, which costs much less
        when the two commits share most files. Without ``cp``, or when the copy fails, everything is written.
        """
        dest.mkdir(parents=True, exist_ok=True)
        if any(dest.iterdir()):
            raise SourceError(f"workspace folder {dest} is not empty")
        if rev is None:
            warnings = self._copy_worktree(dest)
            return Workspace(
                root=dest,
                label=f"{self.display} (working tree)",
                revision=None,
                repo_path=self.root,
                warnings=tuple(warnings),
            )
        sha = self.resolve(rev)
        copied = self._write_like(sha, dest, like) if like is not None else None
        unmarked: set[str] | None = None
        if copied is None:
            unmarked = set()
            warnings = self._write_revision(sha, dest, unmarked)
        else:
            warnings = copied
        self._written[dest] = sha
        return Workspace(
            root=dest,
            label=f"{self.display}@{sha[:7]}",
            revision=sha,
            repo_path=self.root,
            warnings=tuple(warnings),
            unmarked=frozenset(unmarked) if unmarked is not None else None,
        )

    def _write_revision(self, sha: str, dest: Path, unmarked: set[str] | None = None) -> list[str]:
        blobs, warnings = self._blobs(sha)
        if blobs:
            self._fetch_missing_blobs(sha)
            self._write_blobs(blobs, dest, unmarked)
        return warnings

    def _blobs(self, sha: str) -> tuple[list[_Entry], list[str]]:
        """The files (and symlinks) of a commit to write, checked for unsafe paths; submodules as warnings."""
        blobs: list[_Entry] = []
        warnings: list[str] = []
        for listed in self._listing(sha):
            if listed.kind == "tree":
                continue
            _check_tree_path(listed.full_path, self.display)
            if listed.kind == _TYPE_COMMIT:
                warnings.append(f"submodule {listed.path} skipped: gitops-check does not read submodules")
            elif listed.kind == "blob":
                blobs.append(_Entry(listed.mode, listed.oid, listed.path))
        return blobs, warnings

    def _write_like(self, sha: str, dest: Path, like: Workspace) -> list[str] | None:
        """``like``'s files copied into ``dest``, then what differs at ``sha`` removed and written; None: not done."""
        cp = shutil.which("cp")
        if like.revision is None or self._written.get(like.root) != like.revision or cp is None:
            return None
        blobs, warnings = self._blobs(sha)
        before = {e.path: e for e in self._blobs(like.revision)[0]}
        try:
            subprocess.run(
                [cp, "-a", f"{like.root}{os.sep}.", str(dest)], check=True, capture_output=True, timeout=600
            )
        except (OSError, subprocess.SubprocessError):
            _empty(dest)
            return None
        now = {e.path for e in blobs}
        for entry in before.values():
            if entry.path not in now:
                _remove_file(dest, entry.path)
        missing = [e for e in blobs if before.get(e.path) != e]
        for entry in missing:
            if entry.path in before:
                os.unlink(dest / entry.path)  # changed content or mode: written again below
        if missing:
            self._fetch_missing_blobs(sha)
            self._write_blobs(missing, dest)
        return warnings

    def _write_blobs(self, blobs: list[_Entry], dest: Path, unmarked: set[str] | None = None) -> None:
        """Write the files; ``unmarked`` receives the paths of the (small, regular) files holding none of
        ``DISCOVERY_MARKERS``, read here anyway, so discovery need not read them again."""
        proc = self._git.start("cat-file", "--batch")
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        stdin: IO[bytes] = proc.stdin
        stdout: IO[bytes] = proc.stdout
        stderr: IO[bytes] = proc.stderr

        def feed() -> None:
            # A thread, so a full stdout pipe can never block git while we are still writing object ids.
            try:
                for entry in blobs:
                    stdin.write(entry.oid.encode() + b"\n")
                stdin.close()
            except (BrokenPipeError, ValueError, OSError):
                pass  # git died or we stopped reading; the reader reports why

        feeder = threading.Thread(target=feed, name="git-cat-file-feed", daemon=True)
        feeder.start()
        # Plain strings and os-level calls: thousands of small files, so per-file overhead is the cost.
        root = str(dest)
        made: set[str] = set()
        ok = False
        try:
            for entry in blobs:
                header = stdout.readline().split()
                if len(header) != 3 or header[1] != b"blob":
                    raise SourceError(
                        f"cannot read {entry.path} ({entry.oid}) from {self.display}: "
                        "the object is missing (shallow or partial clone?); fetch it"
                    )
                size = int(header[2])
                target = os.path.join(root, entry.path)
                parent = os.path.dirname(target)
                if parent not in made:
                    os.makedirs(parent, exist_ok=True)
                    made.add(parent)
                if entry.mode == _MODE_SYMLINK:
                    os.symlink(os.fsdecode(b"".join(_read_chunks(stdout, size))), target)
                    stdout.read(1)  # the newline after each object
                    continue
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                try:
                    if size < _CHUNK:
                        data = stdout.read(size + 1)  # with the newline after each object
                        if len(data) != size + 1:
                            raise SourceError("git cat-file ended early")
                        _write_all(fd, memoryview(data)[:size])
                        if unmarked is not None and not any(m in data for m in DISCOVERY_MARKERS):
                            unmarked.add(entry.path)
                    else:
                        for chunk in _read_chunks(stdout, size):
                            _write_all(fd, chunk)
                        stdout.read(1)
                finally:
                    os.close(fd)
                if entry.mode == _MODE_EXECUTABLE:
                    os.chmod(target, 0o755)
            ok = True
        finally:
            if not ok:
                proc.kill()
            feeder.join()
            stdout.close()
            # Read before waiting, so a git writing much to stderr cannot block on the pipe.
            failure = _tail(stderr.read()) if ok else ""
            stderr.close()
            code = proc.wait()
            # After kill() the exit code reports the signal: the error being raised (which object is
            # missing) is the one to show, so only a failure of a completed read is reported.
            if ok and code != 0:
                raise SourceError(f"git cat-file failed in {self.display}: {failure or f'exit code {code}'}")

    def _copy_worktree(self, dest: Path) -> list[str]:
        root = self._require_worktree()
        listing = self._git_bytes(
            "ls-files", "-c", "-o", "--exclude-standard", "-z", "--", self.prefix or "."
        )
        warnings: list[str] = []
        made: set[Path] = set()
        for path in sorted(self._strip_prefix(_split_z(listing))):
            if path.endswith("/"):
                warnings.append(f"nested git repository {path.rstrip('/')} skipped")
                continue
            src = root / self.prefix / path
            try:
                st = os.lstat(src)
            except FileNotFoundError:
                continue  # tracked but deleted in the working tree
            if stat.S_ISDIR(st.st_mode):
                warnings.append(f"submodule {path} skipped: gitops-check does not read submodules")
                continue
            target = dest / path
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), target)
            elif stat.S_ISREG(st.st_mode):
                shutil.copyfile(src, target, follow_symlinks=False)
                if st.st_mode & 0o111:
                    os.chmod(target, 0o755)
        return warnings

    # ------------------------------------------------------------------------------------------ git

    def _require_worktree(self) -> Path:
        if self.root is None:
            raise SourceError(
                f"{self.display} is a bare repository (no working tree); pass a revision to check"
            )
        return self.root

    def _git_bytes(self, *args: str, env: dict[str, str] | None = None) -> bytes:
        return self._git.run(*args, env=env)

    def _git_text(self, *args: str, check_what: str | None = None) -> str:
        try:
            return self._git_bytes(*args).decode().strip()
        except SourceError as e:
            if check_what:
                raise SourceError(f"cannot compute {check_what} in {self.display}: {e.message}") from e
            raise


def _git_exe() -> str:
    return "git"


def _tail(raw: bytes) -> str:
    return raw.decode(errors="replace").strip()[-1500:]


def _split_z(raw: bytes) -> set[str]:
    return {os.fsdecode(p) for p in raw.split(b"\0") if p}


def _norm_rel(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)


def _check_tree_path(path: str, display: str) -> None:
    """Refuse tree entries git itself would refuse to check out (a crafted repository could contain them)."""
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") or p.lower() == ".git" for p in parts):
        raise SourceError(f"{display} contains an unsafe path {path!r}; refusing to write it")


def _remove_file(dest: Path, rel: str) -> None:
    """Remove ``dest/rel`` and the folders that it leaves empty (git has no empty folders)."""
    os.unlink(dest / rel)
    parent = posixpath.dirname(rel)
    while parent:
        try:
            os.rmdir(dest / parent)
        except OSError:
            return  # not empty
        parent = posixpath.dirname(parent)


def _empty(dest: Path) -> None:
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_chunks(stream: IO[bytes], size: int) -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            raise SourceError("git cat-file ended early")
        left -= len(chunk)
        yield chunk
