"""ApplicationSets: generators to parameter sets to Applications, the way Argo CD's ApplicationSet controller does.

Supported generators: ``list``, ``git`` (directories with exclude, files), ``clusters`` (the project file's
``clusters:``), ``matrix`` and ``merge`` (nested once, as Argo CD allows), each with an optional ``selector``;
a generator's own ``template`` is merged over the ApplicationSet's; ``templatePatch`` is applied. Generators
that need a service (scmProvider, pullRequest, clusterDecisionResource, plugin) cannot be reproduced: the
Applications they would produce are reported as not checked, the others still are.

Generated Applications are plain Application objects; the caller maps them like any other.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_check import yamlio
from gitops_check.discover.appset_params import (
    GenEnv,
    GeneratorError,
    Params,
    cluster_params,
    flat_strings,
    git_params,
    go_sprint,
    list_params,
    selector_matches,
)
from gitops_check.discover.gotemplate import Job, TemplateError, Templater
from gitops_check.errors import InputError

LEAF = {"list": list_params, "clusters": cluster_params, "git": git_params}
# Struct order of Argo CD's ApplicationSetGenerator, which is the order it evaluates them in.
KINDS = ("list", "clusters", "git", "scmProvider", "clusterDecisionResource", "pullRequest", "matrix", "merge",
         "plugin")  # fmt: skip
NEEDS_SERVICE = {
    "scmProvider": "lists repositories through an SCM provider's API",
    "pullRequest": "lists pull requests through an SCM provider's API",
    "clusterDecisionResource": "reads a decision resource in the cluster",
    "plugin": "calls a generator plugin service",
}
APP_API_VERSION = "argoproj.io/v1alpha1"


@dataclass(frozen=True)
class GeneratedApp:
    doc: dict[str, Any]  # an Application object
    generator: str  # "generators[0] matrix(git, list)"
    params: str  # the parameters that made it, short: "path=apps/web env=prod"


class TooManyApps(GeneratorError):
    """More parameter sets than the job allows for one ApplicationSet; ``count`` is how many (at least)."""

    def __init__(self, count: int, limit: int):
        super().__init__(
            f"generates {count} Applications, more than the {limit} allowed per ApplicationSet; they are not "
            "checked (the job may raise the limit with --max-appset-apps)"
        )
        self.count = count


@dataclass
class AppSetResult:
    apps: list[GeneratedApp] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class _Ctx:
    env: GenEnv
    apply_nested_selectors: bool


def expand_appset(obj: Mapping[str, Any], env: GenEnv, namespace: str) -> AppSetResult:
    """The Applications ``obj`` (an ApplicationSet) generates, created in ``namespace`` as Argo CD does."""
    out = AppSetResult()
    spec = obj.get("spec") or {}
    name = str((obj.get("metadata") or {}).get("name", ""))
    ctx = _Ctx(env, bool(spec.get("applyNestedSelectors")))
    base = spec.get("template") or {}
    if not isinstance(base, dict) or not isinstance(spec.get("generators"), list):
        out.errors.append("spec.template and spec.generators are required")
        return out
    taken: set[str] = set()
    for index, gen in enumerate(spec["generators"]):
        where = f"generators[{index}] {_describe(gen)}"
        try:
            results = _transform(gen, base, ctx, {})
            count = sum(len(param_sets) for param_sets, _ in results) + len(out.apps)
            if count > env.max_apps:
                raise TooManyApps(count, env.max_apps)
            for param_sets, template in results:
                for params, rendered in zip(
                    param_sets, _render(template, param_sets, env.templater), strict=True
                ):
                    if isinstance(rendered, TemplateError):
                        raise GeneratorError(rendered.message)
                    doc = _application(rendered, namespace)
                    if spec.get("templatePatch"):
                        doc = _apply_patch(doc, str(spec["templatePatch"]), params, env.templater)
                    app_name = str(doc["metadata"].get("name", ""))
                    if not app_name:
                        out.errors.append(
                            f"{where}: a generated Application has no name ({_summary(params)})"
                        )
                        continue
                    if app_name in taken:
                        out.errors.append(
                            f"ApplicationSet {name} contains applications with duplicate name: {app_name}"
                        )
                        continue
                    taken.add(app_name)
                    out.apps.append(GeneratedApp(doc, where, _summary(params)))
        except GeneratorError as e:
            out.errors.append(f"{where}: {e.message}")
    return out


def _kinds(gen: Any) -> list[str]:
    if not isinstance(gen, dict):
        raise GeneratorError("a generator must be a mapping")
    return [k for k in KINDS if gen.get(k) is not None]


def _describe(gen: Any) -> str:
    kinds = [k for k in KINDS if isinstance(gen, dict) and gen.get(k) is not None] or ["unknown"]
    parts = []
    for kind in kinds:
        body = gen[kind] if isinstance(gen[kind], dict) else {}
        children = body.get("generators") if kind in ("matrix", "merge") else None
        if isinstance(children, list):
            parts.append(f"{kind}({', '.join(_describe(c) for c in children)})")
        elif kind == "git":
            parts.append("git directories" if body.get("directories") else "git files")
        else:
            parts.append(kind)
    return " + ".join(parts)


def _transform(
    gen: Any, base: Mapping[str, Any], ctx: _Ctx, gen_params: Params
) -> list[tuple[list[Params], dict[str, Any]]]:
    """Argo CD's Transform: per generator kind present, its parameter sets (selector applied) and template."""
    kinds = _kinds(gen)
    if not kinds:
        raise GeneratorError("unrecognized generator (supported: list, git, clusters, matrix, merge)")
    results = []
    for kind in kinds:
        if kind in NEEDS_SERVICE:
            raise GeneratorError(f"the {kind} generator {NEEDS_SERVICE[kind]}, which gitops-check cannot do")
        own = gen[kind].get("template") or {} if isinstance(gen[kind], dict) else {}
        template = _fill(copy.deepcopy(own), base)
        interpolated = gen
        if gen_params:
            rendered = ctx.env.templater.render_many([Job(gen, gen_params)])[0]
            if isinstance(rendered, TemplateError):
                raise GeneratorError(f"failed to replace parameters in generator: {rendered.message}")
            interpolated = rendered
        body = interpolated[kind]
        if not isinstance(body, dict):
            raise GeneratorError(f"the {kind} generator must be a mapping")
        params = _params(kind, body, ctx)
        selector = gen.get("selector")
        if selector is not None:
            params = [p for p in params if selector_matches(selector, flat_strings(p))]
        results.append((params, template))
    return results


def _params(kind: str, gen: Mapping[str, Any], ctx: _Ctx) -> list[Params]:
    if kind in LEAF:
        leaf: Callable[[Mapping[str, Any], GenEnv], list[Params]] = LEAF[kind]
        return leaf(gen, ctx.env)
    children = gen.get("generators")
    if not isinstance(children, list):
        raise GeneratorError(f"{kind} needs a list of generators")
    children = [_nested(child, ctx) for child in children]
    if kind == "matrix":
        return _matrix(children, ctx)
    return _merge(children, gen.get("mergeKeys"), ctx)


def _nested(child: Any, ctx: _Ctx) -> Any:
    """Selectors of a nested matrix/merge's children apply only with spec.applyNestedSelectors (Argo CD's rule)."""
    if not isinstance(child, dict) or ctx.apply_nested_selectors:
        return child
    out = dict(child)
    for kind in ("matrix", "merge"):
        if isinstance(out.get(kind), dict) and isinstance(out[kind].get("generators"), list):
            out[kind] = {**out[kind], "generators": [
                {k: v for k, v in g.items() if k != "selector"} if isinstance(g, dict) else g
                for g in out[kind]["generators"]
            ]}  # fmt: skip
    return out


def _child_params(child: Any, ctx: _Ctx, gen_params: Params) -> list[Params]:
    results = _transform(child, {}, ctx, gen_params)
    if len(results) != 1:
        raise GeneratorError("found more than one generator in a nested generator entry")
    return results[0][0]


def _matrix(children: list[Any], ctx: _Ctx) -> list[Params]:
    if len(children) != 2:
        raise GeneratorError(f"found {len(children)} generators, matrix supports exactly two")
    out: list[Params] = []
    limit = ctx.env.max_apps
    count = 0
    # Interpolating a generator without template markers changes nothing: compute it once, not once per set.
    fixed = None if "{{" in json.dumps(children[1], default=str) else _child_params(children[1], ctx, {})
    for a in _child_params(children[0], ctx, {}):
        second = fixed if fixed is not None else _child_params(children[1], ctx, a)
        count += len(second)
        if count > limit:
            continue  # only counted from here on: the product is refused with its size, never built
        for b in second:
            if ctx.env.templater.syntax.go:
                out.append(_deep_merge(_deep_merge({}, b), a))
                continue
            combined = {k: go_sprint(v) for k, v in a.items()}
            for k, v in b.items():
                text = go_sprint(v)
                if k in combined and combined[k] != text:
                    raise GeneratorError(
                        f"found duplicate key {k} with different value, a: {combined[k]} ,b: {text}"
                    )
                combined[k] = text
            out.append(combined)
    if count > limit:
        raise TooManyApps(count, limit)
    return out


def _merge(children: list[Any], merge_keys: Any, ctx: _Ctx) -> list[Params]:
    if len(children) < 2:
        raise GeneratorError("found less than two generators, merge requires two or more")
    keys = sorted({str(k) for k in merge_keys or []})
    if not keys:
        raise GeneratorError("no merge keys were specified, merge requires at least one")
    sets = [_child_params(child, ctx, {}) for child in children]

    def by_key(params: list[Params]) -> dict[str, Params]:
        out: dict[str, Params] = {}
        for p in params:
            key = json.dumps({k: p.get(k) for k in keys}, sort_keys=True, default=str)
            if key in out:
                raise GeneratorError(
                    f"the parameters from a generator were not unique by the merge keys: {key}"
                )
            out[key] = p
        return out

    base = by_key(sets[0])
    for later in sets[1:]:
        for key, override in by_key(later).items():
            if key in base:
                if ctx.env.templater.syntax.go:
                    base[key] = _deep_merge(base[key], override)
                else:
                    base[key] = {**{k: go_sprint(v) for k, v in base[key].items()},
                                 **{k: go_sprint(v) for k, v in override.items()}}  # fmt: skip
    return list(base.values())


def _deep_merge(dst: Params, src: Mapping[str, Any]) -> Params:
    """mergo.Merge(dst, src, WithOverride) on parameter maps: nested maps merge, other values are replaced."""
    out = copy.deepcopy(dst)
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        elif value is not None:
            out[key] = copy.deepcopy(value)
    return out


def _fill(dst: Any, src: Any) -> Any:
    """mergo.Merge(dst, src) without override: empty fields of a generator's template come from the base one."""
    if _empty(dst):
        return copy.deepcopy(src)
    if isinstance(dst, dict) and isinstance(src, dict):
        for key, value in src.items():
            dst[key] = _fill(dst.get(key), value)
    return dst


def _empty(value: Any) -> bool:
    return value is None or value is False or value == 0 or value in ("", {}, [])


def _render(template: Mapping[str, Any], param_sets: list[Params], templater: Templater) -> list[Any]:
    """Argo CD leaves the template as written when a parameter set is empty."""
    jobs = [Job(template, p) for p in param_sets if p]
    rendered = iter(templater.render_many(jobs))
    return [next(rendered) if p else copy.deepcopy(dict(template)) for p in param_sets]


def _application(template: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    meta = template.get("metadata") or {}
    metadata: dict[str, Any] = {"name": meta.get("name", ""), "namespace": namespace}
    for key in ("labels", "annotations", "finalizers"):
        if meta.get(key):
            metadata[key] = meta[key]
    return {"apiVersion": APP_API_VERSION, "kind": "Application", "metadata": metadata,
            "spec": template.get("spec") or {}}  # fmt: skip


def _apply_patch(
    doc: dict[str, Any], patch_text: str, params: Params, templater: Templater
) -> dict[str, Any]:
    """templatePatch: rendered with the parameters, then applied as Kubernetes would apply a strategic merge
    patch to an Application (maps merge, lists are replaced, null removes; finalizers are merged)."""
    rendered = templater.render_many([Job(patch_text, params)])[0]
    if isinstance(rendered, TemplateError):
        raise GeneratorError(f"templatePatch: {rendered.message}")
    try:
        patch = yamlio.load_one(str(rendered), "templatePatch")
    except InputError as e:
        raise GeneratorError(f"templatePatch is not valid YAML after templating: {e.message}") from None
    if patch is None:
        return doc
    if not isinstance(patch, dict):
        raise GeneratorError("templatePatch must render to a mapping")
    patched: dict[str, Any] = _merge_patch(doc, patch, path=())
    return patched


def _merge_patch(target: Any, patch: Any, path: tuple[str, ...]) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif path == ("metadata",) and key == "finalizers" and isinstance(value, list):
            current = list(out.get(key) or [])
            out[key] = current + [f for f in value if f not in current]
        else:
            out[key] = _merge_patch(out.get(key), value, (*path, str(key)))
    return out


def _summary(params: Params) -> str:
    """The parameters that tell generated apps apart, short enough for one line."""
    flat = flat_strings(params)
    skip = ("Normalized", "segments", "commitSHA", ".basename", ".filename", "metadata.")
    items = [f"{k}={v}" for k, v in flat.items() if not any(s in k for s in skip) and "[" not in k]
    text = " ".join(items)
    return text if len(text) <= 120 else text[:117] + "..."
