"""Other Git repositories, fetched as the agents fetch them: only the revision needed, into the shared cache.

A bare repository per URL lives in the cache (``git/<key>``); each revision is fetched shallow (``--depth 1``)
and written into a folder with ``git checkout`` under a private index, so the cache's repository is never
touched by a checkout. git runs as the job configured it (credential helpers, ``GIT_ASKPASS``, netrc work as
usual), plus: no prompts, only https/http/ssh transports (never ``file://`` or ``ext::``), no redirects (every
host must pass the network policy, which sees only the URL), and a credential from ``GITOPS_CHECK_CRED_*``
bound to the URL's prefix handed over as an ``http.<prefix>.extraHeader`` through the environment (never on
the command line, where other users of the machine could read it).

Revisions: Argo CD's ``targetRevision`` (``HEAD`` or empty, a branch, a tag, a commit SHA, or a semver
constraint matched against tags) and Flux's ``spec.ref`` (``commit`` > ``name`` > ``semver`` > ``tag`` >
``branch``, default branch ``master``), expressed as one revision string by ``flux_revision``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_check.errors import FetchError
from gitops_check.remote import semver
from gitops_check.remote.cache import Cache, key_of
from gitops_check.remote.credentials import Credentials
from gitops_check.remote.policy import NetworkPolicy, check_url, redact

_SHA = re.compile(r"^[0-9a-f]{40}$")
_SCP = re.compile(r"^(?:[^@/:]+@)?([^/:]+):(?!//)(.+)$")


@dataclass(frozen=True)
class FetchedRepo:
    url: str  # redacted
    revision: str  # as asked
    commit: str
    folder: Path

    def describe(self) -> str:
        wanted = self.revision or "HEAD"
        return f"{self.url} {wanted} -> {self.commit[:12]}"


def flux_revision(ref: dict[str, Any] | None) -> str:
    """Flux GitRepository ``spec.ref`` as one revision string (its precedence: commit, name, semver, tag, branch)."""
    ref = ref or {}
    if ref.get("commit"):
        return str(ref["commit"])
    if ref.get("name"):
        return str(ref["name"])
    if ref.get("semver"):
        return f"semver:{ref['semver']}"
    if ref.get("tag"):
        return f"refs/tags/{ref['tag']}"
    return f"refs/heads/{ref.get('branch') or 'master'}"


def _as_url(url: str) -> str:
    """scp-like ``git@host:org/repo`` -> ``ssh://git@host/org/repo`` for the policy check."""
    if "://" in url:
        return url
    m = _SCP.match(url)
    return f"ssh://{m.group(1)}/{m.group(2)}" if m else url


class GitFetcher:
    def __init__(self, policy: NetworkPolicy, cache: Cache, credentials: Credentials):
        self.policy = policy
        self.cache = cache
        self.credentials = credentials
        self._done: dict[tuple[str, str], FetchedRepo] = {}
        self._lock = threading.Lock()
        self._tmp = Path(tempfile.mkdtemp(prefix="gitops-check-repos-"))

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def fetch(self, url: str, revision: str | None) -> FetchedRepo:
        """The repository at ``revision``, written into a folder of this run (once per URL and revision)."""
        wanted = (revision or "").strip()
        with self._lock:
            found = self._done.get((url, wanted))
        if found is not None:
            return found
        shown = redact(url)
        check_url(
            self.policy, _as_url(url), what="fetching a Git repository", schemes=("http", "https", "ssh")
        )
        bare = self.cache.root / "git" / key_of("git", redact(url))[:32]
        with self.cache.locked(key_of("git", url)):
            if not (bare / "HEAD").is_file():
                bare.mkdir(parents=True, exist_ok=True)
                self._git(["init", "--bare", "--quiet", str(bare)], shown)
            commit = self._fetch_revision(bare, url, wanted, shown)
            folder = self._tmp / key_of(url, commit)[:16]
            if not folder.exists():
                work = Path(tempfile.mkdtemp(dir=self._tmp, prefix=".checkout-"))
                index = work.parent / (work.name + ".index")
                self._git(["--git-dir", str(bare), "--work-tree", str(work), "checkout", "--quiet", commit, "--", "."],
                          shown, env={"GIT_INDEX_FILE": str(index)})  # fmt: skip
                index.unlink(missing_ok=True)
                os.replace(work, folder)
        os.utime(bare)
        fetched = FetchedRepo(shown, wanted, commit, folder)
        with self._lock:
            self._done[(url, wanted)] = fetched
        return fetched

    def _fetch_revision(self, bare: Path, url: str, wanted: str, shown: str) -> str:
        if _SHA.match(wanted):
            if self._has(bare, wanted):
                return wanted  # a commit is immutable: a warm cache needs no request
            self._fetch(bare, url, wanted, shown)
            return wanted
        if wanted.startswith("semver:"):
            ref = self._semver_tag(url, wanted.removeprefix("semver:"), shown)
        elif wanted in ("", "HEAD"):
            ref = "HEAD"
        else:
            ref = wanted
            if not wanted.startswith("refs/") and not self._ref_exists(url, wanted, shown):
                try:
                    ref = self._semver_tag(url, wanted, shown)  # Argo CD: a constraint over tags
                except FetchError:
                    raise FetchError(
                        f"{shown}: revision {wanted} is not a branch, tag or commit there"
                    ) from None
        self._fetch(bare, url, ref, shown)
        return self._git(["--git-dir", str(bare), "rev-parse", "FETCH_HEAD^{commit}"], shown).strip()

    def _has(self, bare: Path, commit: str) -> bool:
        proc = subprocess.run(["git", "--git-dir", str(bare), "cat-file", "-e", f"{commit}^{{commit}}"],
                              capture_output=True, env=self._env(None), check=False)  # fmt: skip
        return proc.returncode == 0

    def _fetch(self, bare: Path, url: str, ref: str, shown: str) -> None:
        self._git(
            ["--git-dir", str(bare), "fetch", "--quiet", "--depth", "1", "--no-tags", url, ref],
            shown,
            url=url,
        )

    def _remote_refs(self, url: str, shown: str) -> dict[str, str]:
        out = self._git(["ls-remote", url], shown, url=url)
        refs = {}
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            refs[name] = sha
        return refs

    def _ref_exists(self, url: str, name: str, shown: str) -> bool:
        refs = self._remote_refs(url, shown)
        return any(r in refs for r in (name, f"refs/heads/{name}", f"refs/tags/{name}"))

    def _semver_tag(self, url: str, constraint: str, shown: str) -> str:
        try:
            semver.Constraint.parse(constraint)  # a bad constraint is named before the remote is asked
        except semver.SemverError as e:
            raise FetchError(f"{shown}: {constraint!r} is not a semver constraint ({e})") from None
        tags = [
            n.removeprefix("refs/tags/") for n in self._remote_refs(url, shown) if n.startswith("refs/tags/")
        ]
        try:
            best = semver.pick(constraint, (t for t in tags if not t.endswith("^{}")))
        except semver.NoMatch as e:
            raise FetchError(
                f"{shown}: no tag matches {constraint}"
                + (f"; nearest tags: {', '.join(e.nearest)}" if e.nearest else "")
            ) from None
        return f"refs/tags/{best}"

    def _env(self, url: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPS_CHECK_CRED_")}
        env.update({
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ALLOW_PROTOCOL": "https:http:ssh",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.followRedirects",
            "GIT_CONFIG_VALUE_0": "false",
        })  # fmt: skip
        credential = self.credentials.for_url(url) if url and "://" in url else None
        if credential is not None:
            env["GIT_CONFIG_COUNT"] = "2"
            env["GIT_CONFIG_KEY_1"] = f"http.{url}.extraHeader"
            env["GIT_CONFIG_VALUE_1"] = f"Authorization: {credential.header()}"
        if self.policy.ca_file:
            env["GIT_SSL_CAINFO"] = self.policy.ca_file
        return env

    def _git(
        self, args: list[str], shown: str, *, url: str | None = None, env: dict[str, str] | None = None
    ) -> str:
        full_env = {**self._env(url), **(env or {})}
        try:
            proc = subprocess.run(["git", *args], capture_output=True, text=True, env=full_env,
                                  timeout=max(60.0, self.policy.timeout * 10), check=False)  # fmt: skip
        except FileNotFoundError:
            raise FetchError("git is not installed (needed to fetch other Git repositories)") from None
        except subprocess.TimeoutExpired:
            raise FetchError(f"{shown}: git timed out") from None
        if proc.returncode != 0:
            detail = redact(
                proc.stderr.strip().splitlines()[-1]
                if proc.stderr.strip()
                else f"exit code {proc.returncode}"
            )
            if url is not None:
                detail = detail.replace(url, shown)
            credential = self.credentials.for_url(url) if url and "://" in url else None
            hint = (
                f" (the credential {credential.label} was sent)"
                if (credential and "401" in proc.stderr)
                or (credential and "Authentication failed" in proc.stderr)
                else ""
            )
            raise FetchError(
                f"{shown}: git {args[2] if args[0] == '--git-dir' else args[0]} failed: {detail}{hint}"
            )
        return proc.stdout
