"""A Flux Kustomization built the way kustomize-controller builds it.

The controller writes the kustomization file at ``spec.path`` (render/flux_kfile.py), builds it with
``LoadRestrictionsNone``, then, object by object: substitutes ``postBuild`` variables in the object's YAML
(render/envsubst.py) and sets ``commonMetadata`` on its metadata (not on pod templates).

Substituted values that came from Secrets may only land in a Secret's data (render/flux_secrets.py).
Objects that carry ``kustomize.toolkit.fluxcd.io/reconcile: disabled`` are not applied by Flux: they are
compared like ``ssa: Ignore`` (not at all). SOPS-encrypted Secrets cannot be decrypted here: also not compared,
with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from gitops_check import yamlio
from gitops_check.errors import GitopsCheckError, InputError, RenderError
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject
from gitops_check.model.source import KustomizeOptions
from gitops_check.render import flux_secrets
from gitops_check.render.base import RenderOutput, SourceContext
from gitops_check.render.envsubst import VAR_NAME, SubstitutionError, substitute
from gitops_check.render.flux_kfile import (
    edit_kustomization,
    generate_kustomization,
    warn_sourceignore,
)
from gitops_check.render.kustomize import (
    Kustomizations,
    check_load_paths,
    check_remote_bases,
    find_kustomization,
    helm_chart_entries,
    load_kustomization,
    register_generated_secrets,
    run_build,
    with_kustomization,
)

SUBSTITUTE = "kustomize.toolkit.fluxcd.io/substitute"
RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"
SSA = "kustomize.toolkit.fluxcd.io/ssa"
# App label set by discovery when the project file asks for Flux's StrictPostBuildSubstitutions behaviour.
STRICT_LABEL = "flux.strictSubstitution"
_DOC_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def render_flux_kustomization(ctx: SourceContext) -> RenderOutput:
    out = RenderOutput()
    kfile = find_kustomization(ctx.folder)
    if kfile is not None:
        tree = Kustomizations(ctx, kfile)  # walked once, by the first check, and replayed for the others
        check_remote_bases(tree, allow_remote=ctx.options.allow_remote_bases)
        register_generated_secrets(tree)
        check_load_paths(tree)
        for _, shown, entry, _ in helm_chart_entries(tree):
            raise RenderError(
                f"{shown} inflates the Helm chart {entry.get('name') or '?'} (helmCharts), which Flux's "
                "kustomize-controller never does (its build fails: 'must specify --enable-helm'); use a HelmRelease"
            )
        content = load_kustomization(kfile, ctx.relative_to_ws(kfile))
        name = kfile.name
    else:
        content = generate_kustomization(ctx.folder)
        name = "kustomization.yaml"
        warn_sourceignore(ctx, out.warnings)
    edited = edit_kustomization(content, ctx.source.kustomize, generated=kfile is None)
    with with_kustomization(ctx, name, edited) as folder:
        stdout = run_build(ctx, folder, load_anywhere=True)
    variables = dict(ctx.source.substitute) if ctx.source.substitute is not None else {}
    strict = ctx.app.labels.get(STRICT_LABEL) == "true"
    origin = Origin(ctx.app.name, ctx.path, None)
    for text, _ in split_documents(stdout):
        body, from_secrets = post_build(text, variables, strict, ctx.source.kustomize, ctx.path)
        if body is None:
            continue
        if isinstance(body, dict) and "sops" in body:
            out.warnings.append(
                f"{body.get('kind')}/{(body.get('metadata') or {}).get('name')} is SOPS-encrypted: gitops-check "
                "cannot decrypt it, so it is not compared"
            )
            body = skip_marked(body)
        out.objects.append(RawObject(body, origin, secret_sourced=from_secrets))
    return out


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


def post_build(
    text: str, variables: Mapping[str, str], strict: bool, o: KustomizeOptions, where: str
) -> tuple[Any, frozenset[str]]:
    """One built object after Flux's post-build steps (None for an empty document), and the Secret data keys whose
    values substitution took from a Secret (``data.<key>``, ``stringData.<key>``)."""
    body = _parse(text, where)
    from_secrets: frozenset[str] = frozenset()
    if body is None:
        return None, from_secrets
    if variables and not _substitution_disabled(body):
        body, from_secrets = _substitute(text, body, variables, strict, where)
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
    return body, from_secrets


def _substitute(
    text: str, body: Any, variables: Mapping[str, str], strict: bool, where: str
) -> tuple[Any, frozenset[str]]:
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
        return _parse(real, where), frozenset()
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
    masked_body = _parse(masked, where)
    flux_secrets.check_only_secret_data(
        real_body, masked_body, what, "variable(s) " + ", ".join(secret_names)
    )
    return real_body, flux_secrets.secret_data_from_secrets(real_body, masked_body)


def _parse(text: str, where: str) -> Any:
    try:
        docs = list(yamlio.load_yaml_documents(text, where))
    except InputError as e:
        # Lines would count in kustomize's output, not in a file of the repository: name the object instead.
        raise RenderError(
            f"{_describe(_head(text))}: {e.message} (after postBuild substitution)", file=where
        ) from None
    if not docs:
        return None
    return docs[0].data


def _head(text: str) -> dict[str, Any]:
    """kind and metadata.name of a document that may not parse, read line by line (for messages)."""
    kind = re.search(r"^kind:\s*(\S+)", text, re.MULTILINE)
    name = re.search(r"^metadata:\n(?:[ \t]+.*\n)*?[ \t]+name:\s*(\S+)", text, re.MULTILINE)
    return {
        "kind": kind.group(1) if kind else "object",
        "metadata": {"name": name.group(1) if name else None},
    }


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
