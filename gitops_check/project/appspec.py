"""App entries of the project file, and the Argo CD-compatible pieces Argo CD discovery reuses.

``ignoreDifferences``, Helm ``set`` parameters and Kustomize overrides have one parser each, whichever file
they come from.
"""

from __future__ import annotations

from typing import Any

from gitops_check import yamlio
from gitops_check.model.app import App, Destination, IgnoreRule, Tracking, TrackingMethod
from gitops_check.model.source import (
    DirectoryOptions,
    HelmOptions,
    HelmParameter,
    JsonnetOptions,
    JsonnetVar,
    KustomizeOptions,
    Source,
    Tool,
)
from gitops_check.project.fields import Ctx, boolean, mapping, sequence, str_map, string, strings


def parse_ignore_rules(value: Any, file: str, where: str = "ignoreDifferences") -> tuple[IgnoreRule, ...]:
    ctx = Ctx(file, where)
    rules = []
    allowed = {
        "group",
        "kind",
        "name",
        "namespace",
        "jsonPointers",
        "jqPathExpressions",
        "managedFieldsManagers",
    }
    for i, raw in enumerate(sequence(value, ctx)):
        c = ctx.sub(f"[{i}]")
        entry = mapping(raw, c, allowed)
        rule = IgnoreRule(
            group=string(entry.get("group"), c.sub("group")),
            kind=string(entry.get("kind"), c.sub("kind")),
            name=string(entry.get("name"), c.sub("name")),
            namespace=string(entry.get("namespace"), c.sub("namespace")),
            json_pointers=strings(entry.get("jsonPointers"), c.sub("jsonPointers")),
            jq_path_expressions=strings(entry.get("jqPathExpressions"), c.sub("jqPathExpressions")),
            managed_fields_managers=strings(
                entry.get("managedFieldsManagers"), c.sub("managedFieldsManagers")
            ),
        )
        for pointer in rule.json_pointers:
            if pointer and not pointer.startswith("/"):
                raise c.error(f"JSON pointer {pointer!r} must start with '/'")
        rules.append(rule)
    return tuple(rules)


def parse_set_values(value: Any, ctx: Ctx, *, force_string: bool) -> tuple[HelmParameter, ...]:
    """``set:`` as a mapping ({image.tag: v1}) or a list of ``name=value`` strings, like ``helm --set``."""
    params = []
    if isinstance(value, dict):
        for k, v in value.items():
            text = "true" if v is True else "false" if v is False else str(v)
            params.append(HelmParameter(str(k), text, force_string))
    else:
        for i, item in enumerate(sequence(value, ctx)):
            text = string(item, ctx.sub(f"[{i}]"), required=True) or ""
            if "=" not in text:
                raise ctx.sub(f"[{i}]").error(f"expected name=value, got {text!r}")
            name, _, val = text.partition("=")
            params.append(HelmParameter(name, val, force_string))
    return tuple(params)


def _helm(value: Any, ctx: Ctx) -> HelmOptions:
    allowed = {
        "releaseName", "namespace", "valueFiles", "values", "set", "setString", "setFile", "skipCrds",
        "skipTests", "ignoreMissingValueFiles", "kubeVersion", "apiVersions",
    }  # fmt: skip
    h = mapping(value, ctx, allowed)
    inline = h.get("values")
    values: tuple[dict[str, Any], ...] = ()
    if isinstance(inline, str):
        parsed = yamlio.load_one(inline, f"{ctx.file} ({ctx.where}.values)")
        values = (parsed,) if isinstance(parsed, dict) else ()
    elif inline is not None:
        values = (mapping(inline, ctx.sub("values")),)
    return HelmOptions(
        release_name=string(h.get("releaseName"), ctx.sub("releaseName")),
        namespace=string(h.get("namespace"), ctx.sub("namespace")),
        value_files=strings(h.get("valueFiles"), ctx.sub("valueFiles")),
        values=values,
        parameters=parse_set_values(h.get("set"), ctx.sub("set"), force_string=False)
        + parse_set_values(h.get("setString"), ctx.sub("setString"), force_string=True),
        file_parameters=tuple(str_map(h.get("setFile"), ctx.sub("setFile")).items()),
        skip_crds=boolean(h.get("skipCrds"), ctx.sub("skipCrds")),
        skip_tests=boolean(h.get("skipTests"), ctx.sub("skipTests")),
        ignore_missing_value_files=boolean(
            h.get("ignoreMissingValueFiles"), ctx.sub("ignoreMissingValueFiles")
        ),
        kube_version=string(h.get("kubeVersion"), ctx.sub("kubeVersion")),
        api_versions=strings(h.get("apiVersions"), ctx.sub("apiVersions")),
    )


def parse_kustomize_options(value: Any, ctx: Ctx) -> KustomizeOptions:
    allowed = {
        "namePrefix", "nameSuffix", "namespace", "images", "commonLabels", "commonAnnotations",
        "forceCommonLabels", "forceCommonAnnotations", "replicas", "patches", "components",
    }  # fmt: skip
    k = mapping(value, ctx, allowed)
    replicas = []
    for i, r in enumerate(sequence(k.get("replicas"), ctx.sub("replicas"))):
        rc = ctx.sub(f"replicas[{i}]")
        entry = mapping(r, rc, {"name", "count"})
        try:
            count = int(entry.get("count"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise rc.error("count must be an integer") from None
        replicas.append((string(entry.get("name"), rc.sub("name"), required=True) or "", count))
    return KustomizeOptions(
        name_prefix=string(k.get("namePrefix"), ctx.sub("namePrefix")),
        name_suffix=string(k.get("nameSuffix"), ctx.sub("nameSuffix")),
        namespace=string(k.get("namespace"), ctx.sub("namespace")),
        images=strings(k.get("images"), ctx.sub("images")),
        common_labels=str_map(k.get("commonLabels"), ctx.sub("commonLabels")),
        common_annotations=str_map(k.get("commonAnnotations"), ctx.sub("commonAnnotations")),
        force_common_labels=boolean(k.get("forceCommonLabels"), ctx.sub("forceCommonLabels")),
        force_common_annotations=boolean(k.get("forceCommonAnnotations"), ctx.sub("forceCommonAnnotations")),
        replicas=tuple(replicas),
        patches=tuple(
            mapping(p, ctx.sub(f"patches[{i}]")) for i, p in enumerate(sequence(k.get("patches"), ctx))
        ),
        components=strings(k.get("components"), ctx.sub("components")),
    )


def _directory(value: Any, ctx: Ctx) -> DirectoryOptions:
    d = mapping(value, ctx, {"recurse", "include", "exclude", "jsonnet"})
    return DirectoryOptions(
        recurse=boolean(d.get("recurse"), ctx.sub("recurse")),
        include=_globs(d.get("include"), ctx.sub("include")),
        exclude=_globs(d.get("exclude"), ctx.sub("exclude")),
        jsonnet=_jsonnet(d.get("jsonnet"), ctx.sub("jsonnet")),
    )


def _jsonnet(value: Any, ctx: Ctx) -> JsonnetOptions:
    """Argo CD's ``directory.jsonnet`` shape: extVars / tlas as {name, value, code}, libs as paths."""
    j = mapping(value, ctx, {"extVars", "tlas", "libs"})

    def variables(key: str) -> tuple[JsonnetVar, ...]:
        out = []
        for i, item in enumerate(sequence(j.get(key), ctx.sub(key))):
            c = ctx.sub(f"{key}[{i}]")
            entry = mapping(item, c, {"name", "value", "code"})
            out.append(
                JsonnetVar(
                    string(entry.get("name"), c.sub("name"), required=True) or "",
                    string(entry.get("value"), c.sub("value")) or "",
                    boolean(entry.get("code"), c.sub("code")),
                )
            )
        return tuple(out)

    return JsonnetOptions(variables("extVars"), variables("tlas"), strings(j.get("libs"), ctx.sub("libs")))


def _globs(value: Any, ctx: Ctx) -> tuple[str, ...]:
    """Argo CD accepts one glob or ``{a,b}``; lists are accepted too."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and text.endswith("}"):
            return tuple(p.strip() for p in text[1:-1].split(",") if p.strip())
        return (text,) if text else ()
    return strings(value, ctx)


def _tracking(value: Any, ctx: Ctx, app_name: str) -> Tracking:
    t = mapping(value, ctx, {"method", "labelKey", "instance", "selector"})
    method_text = string(t.get("method"), ctx.sub("method")) or "annotation"
    try:
        method = TrackingMethod(method_text)
    except ValueError:
        raise ctx.sub("method").error(
            f"unknown tracking method {method_text!r} (annotation, label, annotation+label)"
        ) from None
    selector_raw = t.get("selector")
    if isinstance(selector_raw, str):
        selector = parse_selector(selector_raw, ctx.sub("selector"))
    else:
        selector = str_map(selector_raw, ctx.sub("selector"))
    return Tracking(
        method=method,
        label_key=string(t.get("labelKey"), ctx.sub("labelKey")) or "app.kubernetes.io/instance",
        app_instance=string(t.get("instance"), ctx.sub("instance")) or app_name,
        selector=selector,
    )


def parse_selector(text: str, ctx: Ctx) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part or "!=" in part:
            raise ctx.error(f"only equality selectors (key=value) are supported, got {part!r}")
        k, _, v = part.replace("==", "=").partition("=")
        out[k.strip()] = v.strip()
    return out


APP_KEYS = {
    "name", "path", "tool", "namespace", "helm", "kustomize", "directory", "ignoreDifferences", "tracking",
    "labels", "repo", "chart", "targetRevision", "appliers",
}  # fmt: skip


def parse_app(raw: Any, ctx: Ctx) -> App:
    entry = mapping(raw, ctx, APP_KEYS)
    name = string(entry.get("name"), ctx.sub("name"), required=True) or ""
    ctx = Ctx(ctx.file, f"{ctx.where} ({name})")
    path = string(entry.get("path"), ctx.sub("path"), required=True) or ""
    tool_text = string(entry.get("tool"), ctx.sub("tool")) or "auto"
    try:
        tool = Tool(tool_text)
    except ValueError:
        raise ctx.sub("tool").error(
            f"unknown tool {tool_text!r} (auto, directory, kustomize, helm)"
        ) from None
    source = Source(
        path=path.strip("/") or ".",
        tool=tool,
        repo=string(entry.get("repo"), ctx.sub("repo")),
        helm=_helm(entry.get("helm"), ctx.sub("helm")),
        kustomize=parse_kustomize_options(entry.get("kustomize"), ctx.sub("kustomize")),
        directory=_directory(entry.get("directory"), ctx.sub("directory")),
        chart=string(entry.get("chart"), ctx.sub("chart")),
        target_revision=string(entry.get("targetRevision"), ctx.sub("targetRevision")),
    )
    return App(
        name=name,
        sources=(source,),
        destination=Destination(namespace=string(entry.get("namespace"), ctx.sub("namespace"))),
        ignore=parse_ignore_rules(entry.get("ignoreDifferences"), ctx.file, f"{ctx.where}.ignoreDifferences"),
        tracking=_tracking(entry.get("tracking"), ctx.sub("tracking"), name),
        origin=f"{ctx.file}: apps entry {name!r}",
        kind="project",
        labels=str_map(entry.get("labels"), ctx.sub("labels")),
        appliers=strings(entry.get("appliers"), ctx.sub("appliers")),
    )
