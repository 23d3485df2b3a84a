"""A Flux Kustomization built the way kustomize-controller builds it.

The controller edits the kustomization file at ``spec.path`` (generating one that lists every manifest below
the path when there is none), builds it with ``LoadRestrictionsNone``, then, object by object: substitutes
``postBuild`` variables in the object's YAML, sets ``commonMetadata`` on its metadata. The edits, from
fluxcd/pkg's generator, differ from Argo CD's ``kustomize edit``: ``targetNamespace``, ``namePrefix`` and
``nameSuffix`` replace the file's values, ``patches`` and ``components`` are appended, and an image entry
replaces the file's entry of the same name wholesale (its tag or digest is lost when Flux sets only
``newName``). Files Flux leaves out of its source artifact (CI configs, ``.sops.yaml``, ...) are left out of a
generated kustomization too.

Substituted values that came from Secrets may only land in a Secret's data (render/flux_secrets.py).
Objects that carry ``kustomize.toolkit.fluxcd.io/reconcile: disabled`` are not applied by Flux: they are
compared like ``ssa: Ignore`` (not at all). SOPS-encrypted Secrets cannot be decrypted here: also not compared,
with a warning.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gitops_check import yamlio
from gitops_check.errors import GitopsCheckError, InputError, RenderError
from gitops_check.model import KustomizeOptions, Origin, RawObject
from gitops_check.render import flux_secrets
from gitops_check.render.base import KUSTOMIZATION_FILES, RenderOutput, SourceContext, is_inside
from gitops_check.render.envsubst import VAR_NAME, SubstitutionError, substitute
from gitops_check.render.kustomize import (
    check_remote_bases,
    find_kustomization,
    is_remote,
    parse_image,
    run_build,
    with_kustomization,
)

SUBSTITUTE = "kustomize.toolkit.fluxcd.io/substitute"
RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"
SSA = "kustomize.toolkit.fluxcd.io/ssa"
# App label set by discovery when the project file asks for Flux's StrictPostBuildSubstitutions behaviour.
STRICT_LABEL = "flux.strictSubstitution"
# fluxcd/pkg sourceignore defaults: not part of Flux's source artifact, so never in a generated kustomization.
_IGNORED_DIRS = frozenset({".git", ".github", ".circleci"})
_IGNORED_FILES = frozenset(
    {".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml", "cloudbuild.yaml", "codeship-services.yml",
     "codeship-steps.yml", ".goreleaser.yml", ".sops.yaml", ".flux.yaml"}
)  # fmt: skip
# Our own temporary copies (render/kustomize.py) that a parallel render may have made next to a folder.
_TEMP_COPY = re.compile(r"^\..+\.gitops-check-[0-9a-f]+$")
_DOC_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
_REMOTE_PREFIXES = ("git::", "gh:", "ssh://", "https://", "http://", "git@", "github.com:", "github.com/")


def render_flux_kustomization(ctx: SourceContext) -> RenderOutput:
    out = RenderOutput()
    kfile = find_kustomization(ctx.folder)
    if kfile is not None:
        if not ctx.options.allow_remote_bases:
            check_remote_bases(ctx, kfile)
        check_load_paths(ctx, kfile)
        content = _load_kustomization(kfile, ctx.relative_to_ws(kfile))
        name = kfile.name
    else:
        content = generate_kustomization(ctx.folder)
        name = "kustomization.yaml"
        _warn_sourceignore(ctx, out.warnings)
    edited = edit_kustomization(content, ctx.source.kustomize, generated=kfile is None)
    with with_kustomization(ctx, name, edited) as folder:
        stdout = run_build(ctx, folder, load_anywhere=True)
    variables = dict(ctx.source.substitute) if ctx.source.substitute is not None else {}
    strict = ctx.app.labels.get(STRICT_LABEL) == "true"
    origin = Origin(ctx.app.name, ctx.path, None)
    for text, line in split_documents(stdout):
        body = post_build(
            text, variables, strict, ctx.source.kustomize, f"{ctx.path} (object at line {line})"
        )
        if body is None:
            continue
        if isinstance(body, dict) and "sops" in body:
            out.warnings.append(
                f"{body.get('kind')}/{(body.get('metadata') or {}).get('name')} is SOPS-encrypted: gitops-check "
                "cannot decrypt it, so it is not compared"
            )
            body = skip_marked(body)
        out.objects.append(RawObject(body, origin))
    return out


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


def _warn_sourceignore(ctx: SourceContext, warnings: list[str]) -> None:
    for dirpath, dirnames, filenames in os.walk(ctx.ws.root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        if ".sourceignore" in filenames:
            rel = Path(dirpath, ".sourceignore").relative_to(ctx.ws.root).as_posix()
            warnings.append(
                f"{rel} is not applied: files it keeps out of Flux's source are still listed in the kustomization "
                f"generated for {ctx.path}"
            )
            return


def _load_kustomization(path: Path, shown: str) -> dict[str, Any]:
    data = yamlio.load_one(path.read_bytes(), shown)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RenderError(f"{shown} is not a kustomization (expected a mapping)")
    return data


# ---------------------------------------------------------------------------------------------------------------
# Files read with LoadRestrictionsNone must stay inside the repository


def check_load_paths(ctx: SourceContext, kfile: Path) -> None:
    """Every file a reachable kustomization loads must be inside the workspace (kustomize will not check it)."""
    seen: set[Path] = set()
    pending = [kfile]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        shown = ctx.relative_to_ws(current)
        data = _load_kustomization(current, shown)
        base = current.parent
        for field_name, entry in _path_entries(data):
            if is_remote(entry, base):
                continue  # check_remote_bases decides about remote entries
            target = Path(os.path.normpath(base / entry))
            if entry.startswith("/") or not is_inside(ctx.ws.root, target):
                raise RenderError(
                    f"{field_name} entry {entry} in {shown} is outside the repository; refusing it"
                )
            if field_name in ("resources", "bases", "components") and target.is_dir():
                nested = find_kustomization(target)
                if nested is not None:
                    pending.append(nested)


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


# ---------------------------------------------------------------------------------------------------------------
# After the build: substitution and commonMetadata, object by object


def split_documents(stdout: str) -> Iterator[tuple[str, int]]:
    """kustomize's output as (document text, first line) pairs; the text is what Flux substitutes in."""
    start, line = 0, 1
    for match in _DOC_SEPARATOR.finditer(stdout):
        text = stdout[start : match.start()]
        if text.strip():
            yield text, line
        line += stdout.count("\n", start, match.end()) + 1
        start = match.end() + 1
    text = stdout[start:]
    if text.strip():
        yield text, line


def post_build(text: str, variables: Mapping[str, str], strict: bool, o: KustomizeOptions, where: str) -> Any:
    """One built object after Flux's post-build steps; None for an empty document."""
    body = _parse(text, where)
    if body is None:
        return None
    if variables and not _substitution_disabled(body):
        body = _substitute(text, body, variables, strict, where)
    if isinstance(body, dict) and (o.common_labels or o.common_annotations):
        metadata = dict(body.get("metadata") or {})
        if o.common_labels:
            metadata["labels"] = {**(metadata.get("labels") or {}), **o.common_labels}
        if o.common_annotations:
            metadata["annotations"] = {**(metadata.get("annotations") or {}), **o.common_annotations}
        body = {**body, "metadata": metadata}
    if isinstance(body, dict) and "disabled" in (
        str(_meta(body, "annotations").get(RECONCILE, "")).lower(),
        str(_meta(body, "labels").get(RECONCILE, "")).lower(),
    ):
        body = skip_marked(body)
    return body


def _substitute(text: str, body: Any, variables: Mapping[str, str], strict: bool, where: str) -> Any:
    what = _describe(body)
    for name in variables:
        if not VAR_NAME.match(name):
            raise RenderError(
                f"postBuild variable {name!r} is invalid: names must match ^[_[:alpha:]][_[:alpha:][:digit:]]*$ "
                "(Flux fails the Kustomization the same way)"
            )
    try:
        real, used = substitute(text, variables.get, strict=strict)
    except SubstitutionError as e:
        raise RenderError(f"postBuild substitution failed for {what}: {e}", file=where) from None
    secret_names = sorted(n for n in used if n in variables and flux_secrets.has_secrets({n: variables[n]}))
    if not secret_names:
        return _parse(real, where)
    masked_vars = flux_secrets.placeholders(variables)
    masked, _ = substitute(text, masked_vars.get, strict=strict)
    try:
        real_body = _parse(real, where)
    except GitopsCheckError:
        raise RenderError(
            f"{what} is not valid YAML after postBuild substitution (it uses variables from a Secret, so the "
            "parser's message is not shown)",
            file=where,
        ) from None
    flux_secrets.check_only_secret_data(
        real_body, _parse(masked, where), what, "variable(s) " + ", ".join(secret_names)
    )
    return real_body


def _parse(text: str, where: str) -> Any:
    try:
        docs = list(yamlio.load_yaml_documents(text, where))
    except InputError as e:
        raise RenderError(f"{e.message} (after postBuild substitution)", file=e.file, line=e.line) from None
    if not docs:
        return None
    return docs[0].data


def _substitution_disabled(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    return "disabled" in (_meta(body, "labels").get(SUBSTITUTE), _meta(body, "annotations").get(SUBSTITUTE))


def _meta(body: dict[str, Any], key: str) -> dict[str, Any]:
    metadata = body.get("metadata")
    value = metadata.get(key) if isinstance(metadata, dict) else None
    return value if isinstance(value, dict) else {}


def skip_marked(body: dict[str, Any]) -> dict[str, Any]:
    """The object marked so the diff leaves it alone, like ``ssa: Ignore``."""
    metadata = dict(body.get("metadata") or {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), SSA: "Ignore"}
    return {**body, "metadata": metadata}


def _describe(body: Any) -> str:
    if isinstance(body, dict):
        name = (body.get("metadata") or {}).get("name") if isinstance(body.get("metadata"), dict) else None
        return f"{body.get('kind', 'object')}/{name}"
    return "a document"
