"""``helm template`` of a chart folder, with the options Argo CD passes.

Argo CD's order and precedence: value files in the order given (paths relative to the chart folder, ``/x``
relative to the repository root, ``$ref/x`` relative to another source's repository), then the inline values
(written to a temporary file), then ``--set``/``--set-string``/``--set-file``. A value file that leaves the
repository is refused, a missing one is an error unless ``ignoreMissingValueFiles``.

Local dependencies (``file://``) missing from ``charts/`` are built with ``helm dependency build`` inside the
workspace (a temporary copy, never the user's checkout), once per chart folder even when several apps share the
chart. Dependencies from chart repositories (HTTP or OCI) are fetched under the job's network policy at the
version Chart.lock pins, else the highest matching the constraint (``remote.charts.resolve_chart``).

Works with Helm 3 and Helm 4 (same flags; Helm 4 adds a blank line after each document and logs errors
as ``level=ERROR msg=...`` lines before its ``Error:`` line, which we drop from messages).
"""

from __future__ import annotations

import bisect
import glob
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitops_check import proc, scratch, yamlio
from gitops_check.errors import InputError, RenderError
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject, Workspace
from gitops_check.model.source import HelmOptions
from gitops_check.render.base import (
    RenderOutput,
    SourceContext,
    ref_workspace,
    resolve_inside,
)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_GLOB_CHARS = re.compile(r"[*?\[]")
_SOURCE_COMMENT = "# Source: "


def render_helm(ctx: SourceContext) -> RenderOutput:
    helm = ctx.tools.require("helm")
    opts = ctx.source.helm
    out = RenderOutput()
    # Once per chart folder of the run; what was fetched is reported by every app rendering the chart.
    out.resolved.extend(
        ctx.shared.once(("helm dependencies", ctx.ws, ctx.folder), lambda: _dependencies(ctx, helm))
    )
    with tempfile.TemporaryDirectory(prefix="gitops-check-helm-", dir=scratch.parent()) as tmp:
        release = checked_release_name(opts.release_name or ctx.app.name)
        # Every value from the repository is attached to its flag (``--flag=value``) and the positional
        # arguments follow ``--``: nothing the commit writes can become an option of its own (a release name
        # ``--post-renderer=/bin/sh`` once ran a shell on the rendered manifests).
        argv = [helm.path, "template"]
        # Always explicit: without --namespace helm takes the current kubeconfig context's namespace (or
        # HELM_NAMESPACE), which would make the render depend on the machine it runs on.
        argv.append(f"--namespace={opts.namespace or ctx.app.destination.namespace or 'default'}")
        argv.append("--skip-crds" if opts.skip_crds else "--include-crds")
        if opts.skip_tests:
            argv.append("--skip-tests")
        kube_version = opts.kube_version or ctx.options.kube_version
        if kube_version:
            # Passed as given: Helm 3 and 4 accept the same forms ("1.29", "v1.29.3") but differ on suffixes
            # ("1.29.3-gke.1": Helm 3 gives .Capabilities.KubeVersion.Version "v1.29.3", Helm 4 keeps the suffix),
            # and Argo CD passes it unchanged to whichever helm it bundles.
            argv.append(f"--kube-version={kube_version}")
        for api_version in opts.api_versions or ctx.options.api_versions:
            argv.append(f"--api-versions={api_version}")
        for path in value_files(ctx, opts, out.warnings):
            argv.append(f"--values={path}")
        for i, values in enumerate(opts.values):
            inline = Path(tmp) / f"inline-values-{i}.yaml"
            inline.write_text(yamlio.dump_json(values))  # JSON is YAML without implicit typing surprises
            argv.append(f"--values={inline}")
        for param in opts.parameters:
            flag = "--set-string" if param.force_string else "--set"
            argv.append(f"{flag}={param.name}={escape_set_value(param.value)}")
        for name, file_path in opts.file_parameters:
            resolved = _resolve_repo_file(ctx, file_path, "setFile path")
            if not resolved.is_file():
                raise RenderError(f"setFile path {file_path} (for {name}) does not exist at {ctx.ws.label}")
            argv.append(f"--set-file={name}={escape_set_value(str(resolved))}")
        argv += ["--", release, str(ctx.folder)]
        what = f"helm template for app {ctx.app.name} ({ctx.path})"
        try:
            stdout = proc.run(argv, what=what, cwd=ctx.folder, timeout=ctx.options.timeout)
        except RenderError as e:
            raise type(e)(_clean(e.message, ctx, Path(tmp))) from e
    out.objects = parse_output(stdout, ctx)
    return out


# Helm's own rule (pkg/chartutil ValidateReleaseName): a DNS-1123 subdomain of at most 53 characters.
_RELEASE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_RELEASE_NAME = 53


def checked_release_name(name: str) -> str:
    """``name`` if Helm accepts it as a release name; else a RenderError for the app (helm would refuse it too)."""
    if len(name) <= MAX_RELEASE_NAME and _RELEASE_NAME.fullmatch(name):
        return name
    raise RenderError(
        f"release name {name!r} is not a valid Helm release name (lowercase letters, digits, '-' and '.', "
        f"starting and ending with a letter or digit, at most {MAX_RELEASE_NAME} characters); set "
        "helm.releaseName to a valid name"
    )


def escape_set_value(value: str) -> str:
    """Argo CD escapes commas in --set values (helm would split the value there) unless it is a {list}."""
    if value.startswith("{") and value.endswith("}"):
        return value
    return re.sub(r"(?<!\\),", r"\\,", value)


_HELM4_LOG_LINE = re.compile(r"^level=[A-Z]+ msg=.*(?:\n|$)", re.MULTILINE)


def _clean(message: str, ctx: SourceContext, tmp: Path) -> str:
    """Repository paths instead of workspace paths; without Helm 4's structured log lines (the Error: line says it)."""
    text = _HELM4_LOG_LINE.sub("", message)
    text = text.replace(str(tmp) + "/", "")
    for root in {str(Path(os.path.realpath(ctx.ws.root))), str(ctx.ws.root)}:
        text = text.replace(root + "/", "")
    return text


# ---------------------------------------------------------------------------------------------------------------
# Value files


def value_files(ctx: SourceContext, opts: HelmOptions, warnings: list[str]) -> list[Path]:
    out: list[Path] = []
    for value_file in opts.value_files:
        matches = _value_file_candidates(ctx, value_file)
        existing = [p for p in matches if p.is_file()]
        if not existing:
            if opts.ignore_missing_value_files:
                warnings.append(f"value file {value_file} not found, skipped (ignoreMissingValueFiles)")
                continue
            raise RenderError(
                f"value file {value_file} does not exist at {ctx.ws.label} (paths are relative to the chart "
                f"folder {ctx.path}); fix the path or set ignoreMissingValueFiles"
            )
        for path in existing:
            yamlio.check_size(path.stat().st_size, value_file)
        out.extend(existing)
    return out


def _value_file_candidates(ctx: SourceContext, value_file: str) -> list[Path]:
    text = value_file.strip()
    if _URL.match(text):
        raise RenderError(
            f"value file {text} is a URL: fetching it needs the network; vendor it into the repository"
        )
    ws, rel = _value_file_location(ctx, text)
    if not _GLOB_CHARS.search(rel):
        return [resolve_inside(ws.root, rel, "value file")]
    # Argo CD expands globs in value file paths, in lexical order.
    resolve_inside(ws.root, posixpath.dirname(rel) or ".", "value file")
    hits = sorted(glob.glob(glob.escape(str(ws.root)) + "/" + rel))
    return [resolve_inside(ws.root, os.path.relpath(h, ws.root), "value file") for h in hits]


def _value_file_location(ctx: SourceContext, text: str) -> tuple[Workspace, str]:
    if text.startswith("$"):
        name, _, rest = text[1:].partition("/")
        ws = ref_workspace(ctx, name)
        ctx.symlinks.check(ws)
        return ws, posixpath.normpath(rest or ".")
    if text.startswith("/"):
        return ctx.ws, posixpath.normpath(text.lstrip("/") or ".")  # Argo CD: absolute = repository root
    return ctx.ws, posixpath.normpath(posixpath.join(ctx.path, text))


def _resolve_repo_file(ctx: SourceContext, text: str, what: str) -> Path:
    ws, rel = _value_file_location(ctx, text.strip())
    return resolve_inside(ws.root, rel, what)


# ---------------------------------------------------------------------------------------------------------------
# Output


def parse_output(stdout: str, ctx: SourceContext) -> list[RawObject]:
    """Documents with their template file from helm's ``# Source: chart/templates/x.yaml`` comments."""
    separators: list[int] = []  # 1-based line numbers of "---" lines
    sources: dict[int, str] = {}  # segment index -> template path
    for number, line in enumerate(stdout.splitlines(), start=1):
        if line.startswith("---"):
            separators.append(number)
        elif line.startswith(_SOURCE_COMMENT):
            sources[len(separators)] = line[len(_SOURCE_COMMENT) :].strip()
    where = f"helm template output for {ctx.path}"
    objects = []
    for doc in yamlio.load_yaml_documents(stdout, where):
        source = sources.get(bisect.bisect_right(separators, doc.line))
        objects.append(RawObject(doc.data, Origin(ctx.app.name, _origin_file(ctx, source), None)))
    return objects


def _origin_file(ctx: SourceContext, source: str | None) -> str:
    if not source:
        return ctx.path
    _, _, inside_chart = source.partition("/")  # drop the chart name
    return ctx.rel(inside_chart) if inside_chart else ctx.path


# ---------------------------------------------------------------------------------------------------------------
# Dependencies


def _dependencies(ctx: SourceContext, helm: proc.Tool) -> tuple[str, ...]:
    """Put the chart's missing dependencies into ``charts/``; what was fetched from outside, one line each."""
    folder = ctx.folder
    missing = missing_dependencies(folder, ctx.rel("Chart.yaml"))
    remote = [d for d in missing if str(d.get("repository") or "").startswith(_REMOTE_REPOSITORIES)]
    if remote:
        return tuple(_fetch_dependencies(ctx, missing))
    if missing:
        _check_buildable(ctx, missing)
        proc.run(
            [helm.path, "dependency", "build", "--skip-refresh", "--", str(folder)],
            what=f"helm dependency build for app {ctx.app.name} ({ctx.path})",
            cwd=folder,
            timeout=ctx.options.timeout,
        )
    return ()


def missing_dependencies(folder: Path, shown: str) -> list[dict[str, Any]]:
    """Dependencies listed in Chart.yaml (or requirements.yaml) that ``charts/`` does not hold, like helm checks."""
    deps = _declared_dependencies(folder, shown)
    if not deps:
        return []
    present = set(_vendored_chart_names(folder / "charts"))
    return [d for d in deps if str(d.get("name")) not in present]


def _declared_dependencies(folder: Path, shown: str) -> list[dict[str, Any]]:
    for name in ("Chart.yaml", "requirements.yaml"):
        path = folder / name
        if not path.is_file():
            continue
        data = yamlio.load_one(path.read_bytes(), posixpath.join(posixpath.dirname(shown), name))
        deps = data.get("dependencies") if isinstance(data, dict) else None
        if isinstance(deps, list) and deps:
            return [d for d in deps if isinstance(d, dict) and d.get("name")]
    return []


def _vendored_chart_names(charts: Path) -> Iterator[str]:
    if not charts.is_dir():
        return
    for entry in sorted(charts.iterdir()):
        try:
            if entry.is_dir() and (entry / "Chart.yaml").is_file():
                data = yamlio.load_one(entry.joinpath("Chart.yaml").read_bytes(), str(entry / "Chart.yaml"))
                if isinstance(data, dict) and data.get("name"):
                    yield str(data["name"])
            elif entry.suffix == ".tgz" and entry.is_file():
                name = _archive_chart_name(entry)
                if name:
                    yield name
        except (InputError, OSError, tarfile.TarError):
            continue  # helm will report a broken subchart better than we can


def _archive_chart_name(path: Path) -> str | None:
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile():
                f = archive.extractfile(member)
                if f is None:
                    return None
                data = yamlio.load_one(f.read(), f"{path.name}/Chart.yaml")
                return str(data["name"]) if isinstance(data, dict) and data.get("name") else None
    return None


_REMOTE_REPOSITORIES = ("https://", "http://", "oci://")


def _fetch_dependencies(ctx: SourceContext, missing: list[dict[str, Any]]) -> list[str]:
    """What ``helm dependency build`` does, under the job's network policy: each missing dependency from a
    repository at the version Chart.lock pins (else the highest matching its constraint) into ``charts/``;
    ``file://`` ones copied in unpacked."""
    from gitops_check.errors import FetchError
    from gitops_check.remote.charts import resolve_chart

    charts = ctx.folder / "charts"
    charts.mkdir(exist_ok=True)
    locked = _locked_versions(ctx)
    resolved = []
    for dep in missing:
        name = str(dep.get("name"))
        repository = str(dep.get("repository") or "")
        if repository.startswith("file://"):
            _check_buildable(ctx, [dep])
            local = repository.removeprefix("file://")
            rel = local if local.startswith("/") else posixpath.normpath(posixpath.join(ctx.path, local))
            source = resolve_inside(ctx.ws.root, rel, f"dependency {name} (repository {repository})")
            shutil.copytree(source, charts / name, symlinks=False)
            continue
        if not repository.startswith(_REMOTE_REPOSITORIES):
            raise RenderError(
                f"chart {ctx.path} depends on {name} from {repository!r}: a repository name from helm's "
                "repositories.yaml is not resolved here; write the repository URL in Chart.yaml"
            )
        version = locked.get((name, repository.rstrip("/"))) or str(dep.get("version") or "")
        try:
            fetched = resolve_chart(repository, name, version, policy=ctx.options.network)
        except FetchError as e:
            raise RenderError(f"not checked: dependency {name} of chart {ctx.path}: {e.message}") from None
        shutil.copyfile(fetched.archive, charts / f"{name}-{fetched.version}.tgz")
        resolved.append(f"dependency {fetched.describe()}")
    return resolved


def _locked_versions(ctx: SourceContext) -> dict[tuple[str, str], str]:
    """(name, repository) -> version from Chart.lock (requirements.lock for apiVersion v1 charts)."""
    for lock_name in ("Chart.lock", "requirements.lock"):
        path = ctx.folder / lock_name
        if not path.is_file():
            continue
        data = yamlio.load_one(path.read_bytes(), ctx.rel(lock_name))
        deps = data.get("dependencies") if isinstance(data, dict) else None
        return {
            (str(d.get("name")), str(d.get("repository") or "").rstrip("/")): str(d.get("version"))
            for d in deps or []
            if isinstance(d, dict) and d.get("name") and d.get("version")
        }
    return {}


def _check_buildable(ctx: SourceContext, missing: list[dict[str, Any]]) -> None:
    for dep in missing:
        name = str(dep.get("name"))
        repository = str(dep.get("repository") or "")
        if not repository:
            raise RenderError(
                f"chart {ctx.path} depends on {name}, which has no repository and is not in {ctx.rel('charts')}/"
            )
        if not repository.startswith("file://"):
            raise RenderError(
                f"chart {ctx.path} depends on {name} from {repository}, which is not vendored in "
                f"{ctx.rel('charts')}/: fetching it needs the network; run `helm dependency build` and commit "
                "the charts/ folder"
            )
        local = repository.removeprefix("file://")
        rel = local if local.startswith("/") else posixpath.normpath(posixpath.join(ctx.path, local))
        target = resolve_inside(ctx.ws.root, rel, f"dependency {name} (repository {repository})")
        if not (target / "Chart.yaml").is_file():
            raise RenderError(f"chart {ctx.path} depends on {name} at {repository}, which has no Chart.yaml")
