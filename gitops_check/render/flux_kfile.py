"""The kustomization file of a Flux Kustomization's path, as fluxcd/pkg's generator writes it before the build.

An existing file is edited: ``targetNamespace``, ``namePrefix`` and ``nameSuffix`` replace its values,
``patches`` and ``components`` are appended, an image entry replaces the file's entry of the same name wholesale
(its tag or digest is lost when Flux sets only ``newName``), and a file without ``resources`` gets
``buildMetadata: [originAnnotations]`` so kustomize accepts it. A path without one gets a generated file that
lists every .yaml/.yml below it (a subfolder with its own kustomization file as one entry), leaving out what
Flux keeps out of its source artifact (CI configs, ``.sops.yaml``, ...).

Flux builds with ``LoadRestrictionsNone``, so a kustomization may load files from anywhere in the source; this
module checks that every file a reachable kustomization loads stays inside the repository.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gitops_check.errors import RenderError
from gitops_check.model.source import KUSTOMIZATION_FILES, KustomizeOptions
from gitops_check.render.base import SourceContext
from gitops_check.render.kustomize import parse_image

# fluxcd/pkg sourceignore defaults: not part of Flux's source artifact, so never in a generated kustomization.
_IGNORED_DIRS = frozenset({".git", ".github", ".circleci"})
_IGNORED_FILES = frozenset(
    {".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml", "cloudbuild.yaml", "codeship-services.yml",
     "codeship-steps.yml", ".goreleaser.yml", ".sops.yaml", ".flux.yaml"}
)  # fmt: skip
# Our own temporary copies (render/kustomize.py) that a parallel render may have made next to a folder.
_TEMP_COPY = re.compile(r"^\..+\.gitops-check-[0-9a-f]+$")
_REMOTE_PREFIXES = ("git::", "gh:", "ssh://", "https://", "http://", "git@", "github.com:", "github.com/")


# ---------------------------------------------------------------------------------------------------------------
# The kustomization file, as fluxcd/pkg's generator writes it


def edit_kustomization(content: Mapping[str, Any], o: KustomizeOptions, *, generated: bool) -> dict[str, Any]:
    k = dict(content)
    if not generated and not k.get("resources"):
        k["buildMetadata"] = ["originAnnotations"]  # Flux: keeps a kustomization without resources buildable
    if o.namespace is not None:
        k["namespace"] = o.namespace
    if o.name_prefix is not None:
        k["namePrefix"] = o.name_prefix
    if o.name_suffix is not None:
        k["nameSuffix"] = o.name_suffix
    if o.patches:
        k["patches"] = [*(k.get("patches") or []), *(dict(p) for p in o.patches)]
    for component in o.components:
        if not is_local_relative(component):
            raise RenderError(f"component path {component!r} must be local and relative (spec.components)")
    if o.components:
        k["components"] = [*(k.get("components") or []), *o.components]
    images = [dict(i) for i in k.get("images") or [] if isinstance(i, dict)]
    for arg in o.images:
        # Discovery writes Flux's image entries as JSON; a project-file app may use kustomize-edit syntax.
        entry = json.loads(arg) if arg.startswith("{") else parse_image(arg)
        image = {key: value for key, value in entry.items() if value}
        for i, existing in enumerate(images):
            if existing.get("name") == image.get("name"):
                images[i] = image  # wholesale, as Flux does
                break
        else:
            images.append(image)
    if images:
        k["images"] = images
    return k


def is_local_relative(path: str) -> bool:
    """fluxcd/pkg's IsLocalRelativePath: not a remote reference, not absolute."""
    lower = path.lower()
    if any(len(prefix) < len(path) and lower.startswith(prefix) for prefix in _REMOTE_PREFIXES):
        return False
    return not posixpath.isabs(path) and not posixpath.isabs(lower.removeprefix("file://"))


def generate_kustomization(folder: Path) -> dict[str, Any]:
    """What Flux generates for a path without a kustomization: every .yaml/.yml file below it, in lexical walk
    order, and each subfolder that has its own kustomization file (not descended into)."""
    resources = list(_walk(folder, ""))
    k: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if resources:
        k["resources"] = resources
    else:
        k["namespace"] = "_placeholder"  # Flux: an empty folder builds to nothing instead of failing
    return k


def _walk(folder: Path, prefix: str) -> Iterator[str]:
    for name in sorted(os.listdir(folder)):
        path = folder / name
        rel = f"{prefix}{name}"
        if path.is_dir():
            if name in _IGNORED_DIRS or _TEMP_COPY.match(name):
                continue
            if any((path / k).is_file() for k in KUSTOMIZATION_FILES):
                yield f"./{rel}"
                continue
            yield from _walk(path, rel + "/")
        elif name.endswith((".yaml", ".yml")) and name not in _IGNORED_FILES:
            yield f"./{rel}"


def warn_sourceignore(ctx: SourceContext, warnings: list[str]) -> None:
    for dirpath, dirnames, filenames in os.walk(ctx.ws.root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        if ".sourceignore" in filenames:
            rel = Path(dirpath, ".sourceignore").relative_to(ctx.ws.root).as_posix()
            warnings.append(
                f"{rel} is not applied: files it keeps out of Flux's source are still listed in the kustomization "
                f"generated for {ctx.path}"
            )
            return


# ---------------------------------------------------------------------------------------------------------------
# Files read with LoadRestrictionsNone must stay inside the repository
