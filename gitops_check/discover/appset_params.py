"""The leaf generators of an ApplicationSet (list, git, clusters), label selectors, and Go's value formatting.

Each generator returns parameter sets the way Argo CD's does, in both shapes: nested values for goTemplate,
flat ``a.b`` string keys for fasttemplate. Numbers read from YAML files are float64 in Argo CD, so in flat
parameters they are printed the way Go prints a float64 (``1e+06``), and ``path.Match`` globbing (``*`` never
crosses a ``/``) is reproduced for the git directory generator, git's own pathspec matching for the files
generator.
"""

from __future__ import annotations

import math
import os
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from gitops_check import yamlio
from gitops_check.discover.gotemplate import Job, TemplateError, Templater
from gitops_check.errors import InputError
from gitops_check.gosemantics import globs
from gitops_check.model.rendered import Workspace

Params = dict[str, Any]
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
LOCAL_SERVER = "https://kubernetes.default.svc"


class GeneratorError(TemplateError):
    """A generator cannot produce its parameters (Argo CD would report the same error on the ApplicationSet)."""


@dataclass(frozen=True)
class ClusterInfo:
    """A cluster as the clusters generator sees it: a cluster secret's name, server, labels, annotations."""

    name: str
    server: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass
class GenEnv:
    """What generators may read: repositories (this one at the checked commit, mapped ones), clusters."""

    templater: Templater
    # canonical repo URL (or "" for a relative one) -> workspace; raises GeneratorError when not available.
    workspace_for: Callable[[str, str | None], Workspace]
    clusters: Sequence[ClusterInfo] = ()
    in_cluster: bool = True  # Argo CD lists the local cluster unless cluster.inClusterEnabled is false
    new_git_file_globbing: bool = False
    max_apps: int = 1000  # parameter sets one ApplicationSet may produce (the job's --max-appset-apps)


def normalize(name: str) -> str:
    """Argo CD's SanitizeName (the ``normalize`` function and ``*Normalized`` parameters)."""
    text = re.sub(r"[^-a-z0-9.]", "-", name.lower())
    return text[:253].strip("-.")


# ---------------------------------------------------------------------------------------------------------------
# Go formatting and flattening (selectors and fasttemplate parameters compare strings)


def go_float(value: float) -> str:
    """``fmt.Sprintf("%v", float64)``: shortest digits, exponent form when the exponent is < -4 or >= 6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digit_tuple, exp = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exp, int)
    exp += len(digit_tuple) - len(digits)
    point = len(digits) + exp  # value = 0.<digits> * 10**point
    lead = "-" if sign else ""
    x = point - 1
    if x < -4 or x >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{lead}{mantissa}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if point <= 0:
        return f"{lead}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return lead + digits + "0" * (point - len(digits))
    return f"{lead}{digits[:point]}.{digits[point:]}"


def go_sprint(value: Any) -> str:
    """``fmt.Sprintf("%v", v)`` for values read from JSON/YAML by Go (numbers are float64)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, (int, float)):
        return go_float(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_sprint(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """jeremywohl/flatten DotStyle: nested maps and lists become ``a.b`` / ``a.0`` keys; empty ones vanish."""
    out: dict[str, Any] = {}

    def visit(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                visit(v, f"{key}.{k}" if key else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                visit(v, f"{key}.{i}" if key else str(i))
        else:
            out[key] = node

    visit(dict(value), prefix)
    return out


def flat_strings(params: Mapping[str, Any]) -> dict[str, str]:
    return {k: go_sprint(v) for k, v in flatten(params).items()}


# ---------------------------------------------------------------------------------------------------------------
# Label selectors (Kubernetes semantics, no validation of values, as Argo CD's copy of LabelSelectorAsSelector)


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    if not isinstance(selector, dict):
        raise GeneratorError(f"selector must be a mapping, got {type(selector).__name__}")
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != go_sprint(value):
            return False
    for expr in selector.get("matchExpressions") or []:
        key = str(expr.get("key", ""))
        op = str(expr.get("operator", ""))
        values = {go_sprint(v) for v in expr.get("values") or []}
        present = key in labels
        if op == "In":
            ok = present and labels[key] in values
        elif op == "NotIn":
            ok = not present or labels[key] not in values
        elif op == "Exists":
            ok = present
        elif op == "DoesNotExist":
            ok = not present
        else:
            raise GeneratorError(f"selector operator {op!r} is not valid (In, NotIn, Exists, DoesNotExist)")
        if not ok:
            return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# Generators


def values_params(values: Any, params: Params, env: GenEnv) -> None:
    """The ``values`` of git and clusters generators, templated with the generator's own parameters."""
    if not values:
        return
    if not isinstance(values, dict):
        raise GeneratorError("values must be a mapping of strings")
    keys = [str(k) for k in values]
    rendered = env.templater.render_many([Job(str(values[k]), params) for k in values])
    for result in rendered:
        if isinstance(result, TemplateError):
            raise GeneratorError(f"failed to append templated values: {result.message}")
    if env.templater.syntax.go:
        params["values"] = dict(zip(keys, rendered, strict=True))
    else:
        params.update({f"values.{k}": v for k, v in zip(keys, rendered, strict=True)})


def list_params(gen: Mapping[str, Any], env: GenEnv) -> list[Params]:
    out: list[Params] = []
    for element in gen.get("elements") or []:
        if not isinstance(element, dict):
            raise GeneratorError("error unmarshling list element: expected a mapping")
        if env.templater.syntax.go:
            out.append(dict(element))
            continue
        params: Params = {}
        for key, value in element.items():
            if key == "values":
                if not isinstance(value, dict):
                    raise GeneratorError("error parsing values map")
                for k, v in value.items():
                    if not isinstance(v, str):
                        raise GeneratorError(f"list element value values.{k} is not a string")
                    params[f"values.{k}"] = v
            elif not isinstance(value, str):
                raise GeneratorError(f"list element value {key} is not a string (fasttemplate needs strings)")
            else:
                params[str(key)] = value
        out.append(params)
    text = gen.get("elementsYaml")
    if text:
        try:
            extra = yamlio.load_one(str(text), "list generator elementsYaml")
        except InputError as e:
            raise GeneratorError(f"error unmarshling decoded ElementsYaml: {e.message}") from None
        if not isinstance(extra, list) or not all(isinstance(e, dict) for e in extra):
            raise GeneratorError("elementsYaml must be a YAML list of mappings")
        out.extend(dict(e) for e in extra)
    return out


def cluster_params(gen: Mapping[str, Any], env: GenEnv) -> list[Params]:
    selector = gen.get("selector") or {}
    ignore_local = bool(selector.get("matchLabels") or selector.get("matchExpressions"))
    out: list[Params] = []
    secrets = list(env.clusters)
    if env.in_cluster and not ignore_local and not any(c.server.rstrip("/") == LOCAL_SERVER for c in secrets):
        local: Params = {"name": "in-cluster", "nameNormalized": "in-cluster", "server": LOCAL_SERVER}
        values_params(gen.get("values"), local, env)
        out.append(local)
    for cluster in secrets:
        labels = {SECRET_TYPE_LABEL: "cluster", **cluster.labels}
        if not selector_matches(selector, labels):
            continue
        params: Params = {
            "name": cluster.name,
            "nameNormalized": normalize(cluster.name),
            "server": cluster.server,
        }
        if env.templater.syntax.go:
            meta: Params = {}
            if cluster.annotations:
                meta["annotations"] = dict(cluster.annotations)
            meta["labels"] = labels
            params["metadata"] = meta
        else:
            params.update({f"metadata.annotations.{k}": v for k, v in cluster.annotations.items()})
            params.update({f"metadata.labels.{k}": v for k, v in labels.items()})
        values_params(gen.get("values"), params, env)
        out.append(params)
    return out


def git_params(gen: Mapping[str, Any], env: GenEnv) -> list[Params]:
    ws = env.workspace_for(str(gen.get("repoURL") or ""), gen.get("revision"))
    commit = ws.revision or ""
    prefix = str(gen.get("pathParamPrefix") or "")
    if gen.get("directories"):
        paths = _filter_directories(gen["directories"], _directories(ws.root))
        out = [_path_params(p, None, commit, prefix, {}, env) for p in paths]
    elif gen.get("files"):
        out = []
        for rel in _matching_files(ws.root, gen["files"], env.new_git_file_globbing):
            for obj in _file_objects(ws.root, rel):
                out.append(_path_params(posixpath.dirname(rel) or ".", rel, commit, prefix, obj, env))
    else:
        raise GeneratorError("git generator needs directories or files")
    for params in out:
        values_params(gen.get("values"), params, env)
    return out


def _path_params(
    directory: str, file: str | None, commit: str, prefix: str, obj: Mapping[str, Any], env: GenEnv
) -> Params:
    base = posixpath.basename(directory)
    if env.templater.syntax.go:
        path: Params = {"path": directory, "basename": base, "basenameNormalized": normalize(base)}
        if file is not None:
            path["filename"] = posixpath.basename(file)
            path["filenameNormalized"] = normalize(posixpath.basename(file))
        path["segments"] = directory.split("/")
        params: Params = dict(obj)
        if prefix:
            params[prefix] = {"path": path, "commitSHA": commit}
        else:
            params.update({"path": path, "commitSHA": commit})
        return params
    params = {k: go_sprint(v) for k, v in flatten(obj).items()}
    name = f"{prefix}.path" if prefix else "path"
    params[f"{prefix}.commitSHA" if prefix else "commitSHA"] = commit
    params[name] = directory
    params[f"{name}.basename"] = base
    params[f"{name}.basenameNormalized"] = normalize(base)
    if file is not None:
        params[f"{name}.filename"] = posixpath.basename(file)
        params[f"{name}.filenameNormalized"] = normalize(posixpath.basename(file))
    for i, segment in enumerate(directory.split("/")):
        if segment:
            params[f"{name}[{i}]"] = segment
    return params


def _directories(root: Any) -> list[str]:
    """Every folder of the repository in WalkDir order, skipping those whose name starts with '.'."""
    out: list[str] = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not os.path.islink(os.path.join(dirpath, d))
        )
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        if rel != ".":
            out.append(rel)
    return out


def _filter_directories(items: Any, paths: list[str]) -> list[str]:
    rules = [(str(i.get("path", "")), bool(i.get("exclude"))) for i in items if isinstance(i, dict)]
    out = []
    for path in paths:
        matches = [(exclude, go_path_match(pattern, path)) for pattern, exclude in rules]
        if any(m and not ex for ex, m in matches) and not any(m and ex for ex, m in matches):
            out.append(path)
    return out


def _matching_files(root: Any, items: Any, doublestar: bool) -> list[str]:
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        files.extend(n if rel_dir == "." else f"{rel_dir}/{n}" for n in filenames)
    found: set[str] = set()
    for item in items:
        pattern = str(item.get("path", "")) if isinstance(item, dict) else ""
        matcher = _doublestar_regex(pattern) if doublestar else _pathspec_regex(pattern)
        found.update(f for f in files if matcher.fullmatch(f))
    return sorted(found)


def _file_objects(root: Any, rel: str) -> list[Params]:
    path = os.path.join(root, rel)
    try:
        with open(path, "rb") as f:
            docs = list(yamlio.load_documents(f.read(), rel))
    except (InputError, OSError) as e:
        raise GeneratorError(f"unable to process file '{rel}': {e}") from None
    data = docs[0].data if docs else {}
    if isinstance(data, list) and all(isinstance(d, dict) for d in data):
        return [dict(d) for d in data]
    if isinstance(data, dict):
        return [data]
    raise GeneratorError(f"unable to process file '{rel}': expected a mapping or a list of mappings")


# ---------------------------------------------------------------------------------------------------------------
# Globs


def go_path_match(pattern: str, name: str) -> bool:
    """Go's path.Match; a malformed pattern matches nothing (Argo CD logs it and goes on)."""
    return globs.path_match(pattern, name)


_NOTHING = re.compile(r"(?!)")


# A constant cache: a pure function of its text, so runs may share it.
@lru_cache(maxsize=256)
def _pathspec_regex(pattern: str) -> re.Pattern[str]:
    """git ls-files pathspec: fnmatch without FNM_PATHNAME (``*`` crosses ``/``); a plain path also names a folder."""
    if not re.search(r"[*?\[]", pattern):
        return re.compile(re.escape(pattern.rstrip("/")) + r"(?:/.*)?", re.DOTALL)
    return globs.path_match_regex(pattern, slash_separates=False) or _NOTHING


def _doublestar_regex(pattern: str) -> re.Pattern[str]:
    """doublestar's Match: ``**`` spans folders (zero or more), ``*`` stays inside one."""
    return globs.doublestar_regex(pattern) or _NOTHING
