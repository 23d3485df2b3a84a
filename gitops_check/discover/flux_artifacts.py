"""ExternalArtifacts made by an ArtifactGenerator (``source.extensions.fluxcd.io/v1beta1``), built locally.

Flux's source-watcher composes artifacts from other sources: ``sources`` name them by alias, each entry of
``artifacts`` is one ExternalArtifact made by its ``copy`` operations (flux_artifact_copy), and Kustomizations
(``sourceRef.kind: ExternalArtifact``) or HelmReleases (``chartRef``) deploy it. When the sources an artifact
copies from are Git repositories gitops-check can read (this one, or a ``--repo-map`` clone), the artifact is
built here exactly as the controller builds it, into a folder of its own, and rendered from there: no network.
Other sources (OCIRepository, Bucket, HelmChart, a chained ExternalArtifact) make the app "not checked", with
the reason.

``revision`` and ``originRevision`` only name which source's revision the artifact carries in its metadata:
nothing rendered depends on them, but an alias they name must exist (the controller refuses the generator).

Built artifacts live in one temporary folder per run (``ArtifactBuilds``, kept in the run's ``DiscoveryState``),
named by the digest of their content, and are registered in ``DiscoverOptions.repo_map`` under a key that holds
that digest: an app's source then points at exactly the content it was built from, and renderers find it like any
other repository.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_check import repourl
from gitops_check.discover import flux_pathpattern
from gitops_check.discover.flux_artifact_copy import CopyError, Staged, apply_copies
from gitops_check.discover.flux_objects import FluxObject
from gitops_check.discover.flux_sources import AppProblem, GitSource, Where, git_source
from gitops_check.discover.options import StateKey
from gitops_check.model.rendered import Workspace

DISABLED_ANNOTATION = "source.extensions.fluxcd.io/reconcile"
KEY_PREFIX = "externalartifact:"


@dataclass(frozen=True)
class Artifact:
    key: str  # where DiscoverOptions.repo_map holds its workspace
    ws: Workspace
    label: str
    # artifact path -> (repository key, path in that repository); key None: this repository
    origins: Mapping[str, tuple[str | None, str]]


def tree_of(file: str | None) -> str | None:
    """``prod`` for ``clusters/prod/...``: Flux's documented layout, one folder per cluster."""
    parts = (file or "").split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "clusters" else None


def external_artifact(ref: Mapping[str, Any], owner: FluxObject, where: Where, tree: str | None) -> Artifact:
    """The ExternalArtifact ``ref`` names (a sourceRef or chartRef of ``owner``), built from its generator."""
    namespace = str(ref.get("namespace") or owner.namespace)
    name = str(ref.get("name") or "")
    generator = _generator(namespace, name, where, tree)
    return build(generator, name, where)


def _generator(namespace: str, name: str, where: Where, tree: str | None) -> FluxObject:
    found = where.sources.generators_of(namespace, name)
    if tree is not None:  # another cluster's folder is another cluster's generator
        found = [g for g in found if g.file is None or tree_of(g.file) in (tree, None)]
    patterned = [g for g in found if g.spec.get("pathPattern")]
    if patterned:
        problems: list[AppProblem] = []
        declaring = []
        for g in found:
            try:
                if any(a.get("name") == name for a in _declared(g, where)):
                    declaring.append(g)
            except AppProblem as e:
                problems.append(e)
        if not declaring and problems:
            raise problems[0]
        found = declaring
    if not found:
        raise AppProblem(
            f"ExternalArtifact {namespace}/{name} is made by no ArtifactGenerator of the repository or of the "
            "parent's output: something outside Git produces it, so gitops-check cannot tell what it holds"
        )
    distinct = {json.dumps(g.spec, sort_keys=True) for g in found}
    if len(distinct) > 1:
        places = ", ".join(g.where for g in found)
        raise AppProblem(
            f"ExternalArtifact {namespace}/{name} is declared by several different ArtifactGenerators ({places}) "
            "and none is in this cluster's folder: gitops-check cannot tell which one the cluster runs"
        )
    return found[0]


def build(generator: FluxObject, name: str, where: Where) -> Artifact:
    gen_id = f"ArtifactGenerator {generator.namespace}/{generator.name}"
    metadata = generator.body.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    disabled = annotations.get(DISABLED_ANNOTATION) if isinstance(annotations, dict) else None
    if str(disabled or "").lower() == "disabled":
        raise AppProblem(
            f"{gen_id} ({generator.where}) has reconciliation disabled: the artifact in the cluster is an "
            "older build gitops-check cannot reproduce"
        )
    spec = _artifact_spec(generator, name, gen_id, where)
    aliases = _sources(generator, gen_id)
    used = _used_aliases(spec)
    for field in ("revision", "originRevision"):
        value = spec.get(field)
        if value is not None and (not str(value).startswith("@") or str(value)[1:] not in aliases):
            raise AppProblem(f"{gen_id}: artifact {name} {field} {value!r} names no source alias")
    unknown = sorted(used - set(aliases))
    if unknown:
        raise AppProblem(f"{gen_id}: artifact {name} copies from unknown source alias {unknown[0]!r}")
    roots: dict[str, Path] = {}
    repos: dict[str, str | None] = {}
    for alias in sorted(used):
        ref = aliases[alias]
        kind = str(ref.get("kind") or "")
        if kind != "GitRepository":
            raise AppProblem(
                f"{gen_id}: source {alias!r} is a {kind or 'source without a kind'}: fetching it needs the "
                "network, which gitops-check does not use"
            )
        try:
            git = git_source(ref, generator, where)
        except AppProblem as e:
            raise AppProblem(f"{gen_id}: source {alias!r}: {e}") from None
        roots[alias], repos[alias] = _local_root(git, gen_id, alias), git.repo
    copies = spec.get("copy")
    if not isinstance(copies, list) or not copies:
        raise AppProblem(f"{gen_id}: artifact {name} has no copy operations")
    return _cached_build(generator, name, gen_id, copies, roots, repos, where)


class ArtifactBuilds:
    """The artifacts one run built, by recipe, in a temporary folder of the run's (removed when the process
    exits: renders read it after discovery)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built: dict[str, Artifact] = {}
        self._root: Path | None = None

    def get(self, recipe: str) -> Artifact | None:
        with self._lock:
            return self._built.get(recipe)

    def add(self, recipe: str, artifact: Artifact) -> Artifact:
        """The artifact kept for ``recipe``: the first one added (threads may build the same recipe)."""
        with self._lock:
            return self._built.setdefault(recipe, artifact)

    def root(self) -> Path:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="gitops-check-artifacts-"))
                atexit.register(shutil.rmtree, self._root, True)
            return self._root


_BUILDS = StateKey[ArtifactBuilds]("flux artifacts")


def _cached_build(
    generator: FluxObject,
    name: str,
    gen_id: str,
    copies: list[Any],
    roots: Mapping[str, Path],
    repos: Mapping[str, str | None],
    where: Where,
) -> Artifact:
    recipe = json.dumps(
        [copies, sorted((a, str(p)) for a, p in roots.items()), generator.namespace, name], sort_keys=True
    )
    builds = where.options.state.get(_BUILDS, ArtifactBuilds)
    done = builds.get(recipe)
    if done is None:
        done = builds.add(
            recipe, _build_into_cache(builds.root(), generator, name, gen_id, copies, roots, repos)
        )
    where.options.repo_map.setdefault(done.key, done.ws)  # one dict operation (atomic)
    return done


def _build_into_cache(
    cache: Path,
    generator: FluxObject,
    name: str,
    gen_id: str,
    copies: list[Any],
    roots: Mapping[str, Path],
    repos: Mapping[str, str | None],
) -> Artifact:
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=cache))
    staged = Staged(staging)
    try:
        apply_copies(copies, roots, staged)
    except CopyError as e:
        shutil.rmtree(staging, ignore_errors=True)
        where = f" ({generator.where})" if generator.file else ""
        raise AppProblem(f"{gen_id}{where}: artifact {name}: {e}") from None
    digest = _digest(staging)
    final = cache / digest
    try:
        os.rename(staging, final)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # the same content was built before
    label = f"ExternalArtifact {generator.namespace}/{name} (built from {gen_id})"
    origins = {path: (repos[alias], src) for path, (alias, src) in staged.origins.items()}
    key = f"{KEY_PREFIX}{generator.namespace}/{name}@sha256:{digest[:16]}"
    return Artifact(key, Workspace(root=final, label=label), label, origins)


def _artifact_spec(generator: FluxObject, name: str, gen_id: str, where: Where) -> dict[str, Any]:
    for item in _declared(generator, where):
        if item.get("name") == name:
            return item
    raise AppProblem(f"{gen_id} declares no artifact {name}")


def _declared(generator: FluxObject, where: Where) -> list[dict[str, Any]]:
    """The generator's artifacts: as written, or one set per folder its ``pathPattern`` matches."""
    spec = generator.spec
    if not spec.get("pathPattern"):
        return [a for a in spec.get("artifacts") or [] if isinstance(a, dict)]
    gen_id = f"ArtifactGenerator {generator.namespace}/{generator.name}"
    try:
        alias, _ = flux_pathpattern.parse(str(spec["pathPattern"]))
        ref = _sources(generator, gen_id).get(alias)
        if ref is None:
            raise flux_pathpattern.PatternError(f"pathPattern names no source alias {alias!r}")
        if str(ref.get("kind") or "") != "GitRepository":
            raise AppProblem(
                f"{gen_id}: pathPattern source {alias!r} is a {ref.get('kind')}: fetching it needs the network, "
                "which gitops-check does not use"
            )
        root = _local_root(git_source(ref, generator, where), gen_id, alias)
        return flux_pathpattern.expand(spec, root)
    except flux_pathpattern.PatternError as e:
        raise AppProblem(f"{gen_id}: {e}") from None


def _local_root(git: GitSource, gen_id: str, alias: str) -> Path:
    """The files of a generator's Git source: this repository or a --repo-map clone (a GitRepository
    elsewhere is fetched only when rendering, after the generator is built)."""
    if git.ws is None:
        raise AppProblem(
            f"{gen_id}: source {alias!r}: {git.label} is not this repository or a --repo-map clone; an "
            "ArtifactGenerator is built from the files gitops-check has when it reads the repository"
            + (f" ({repourl.not_available_hint(git.url)})" if git.url else "")
        )
    return Path(git.ws.root)


def _sources(generator: FluxObject, gen_id: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in generator.spec.get("sources") or []:
        if not isinstance(item, dict) or not item.get("alias") or not item.get("name"):
            raise AppProblem(f"{gen_id}: sources entries need alias, kind and name")
        alias = str(item["alias"])
        if alias in out:
            raise AppProblem(f"{gen_id}: source alias {alias!r} is used twice")
        out[alias] = item
    return out


def _used_aliases(spec: Mapping[str, Any]) -> set[str]:
    used = set()
    for op in spec.get("copy") or []:
        source = str(op.get("from") or "") if isinstance(op, dict) else ""
        if source.startswith("@"):
            used.add(source[1:].partition("/")[0])
    return used


def _digest(root: Path) -> str:
    """SHA-256 over every file's path and content: equal content, equal folder."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            h.update(full.relative_to(root).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(full.read_bytes()).digest())
    return h.hexdigest()
