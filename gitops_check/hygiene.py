"""GitOps hygiene: problems in what Git declares that are not drift, reported as warnings (failures with --strict).

Rules, each a small function over one app and what it rendered:

* ``plain-secret``: a ``Secret`` with ``data``/``stringData`` in the render means its values sit in Git in plain
  text (base64 is not encryption); use Sealed Secrets, SOPS or External Secrets. Messages name the Secret and
  the file, never a key's value. Values a Flux renderer filled in from a Kubernetes Secret (``${var}`` from
  ``postBuild.substituteFrom``, HelmRelease ``valuesFrom``: ``RawObject.secret_sourced``) are not in Git and
  do not count; values from inline ``substitute`` variables or ConfigMaps do.
* ``prune-in-production``: an app marked production with automated sync and ``prune: true`` deletes whatever a
  bad commit drops, without a human in the loop.
* ``self-heal-required``: the project file asks for ``selfHeal`` (all apps, production apps, or named ones) and
  the app does not have it, so hand edits in the cluster stay.

Which apps are production: the project file's ``hygiene.production`` (app name globs and/or labels), else an app
labelled ``gitops-check/production: "true"`` (label or annotation on the Application, ``labels`` of a project-file
app) or ``env``/``environment`` = ``prod``/``production``. One object opts out of every rule with the annotation
``gitops-check/hygiene: ignore``. The Flux half adds its own sync-policy facts to App.sync_policy and shares these.

```yaml
hygiene:
  plainSecrets: true            # default true
  pruneInProduction: true       # default true
  requireSelfHeal: production   # false (default) | true (every app the agent syncs) | production | [app globs]
  production:
    apps: ["payments-*"]
    labels: {tier: production}
```
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gitops_check.errors import ConfigError
from gitops_check.model.app import App
from gitops_check.model.rendered import RawObject
from gitops_check.model.result import Finding
from gitops_check.project.config import ProjectConfig

KEYS = {"plainSecrets", "pruneInProduction", "requireSelfHeal", "production"}
OPT_OUT = ("gitops-check/hygiene", "gitops-check.io/hygiene")
DEFAULT_PRODUCTION_LABELS: tuple[tuple[str, frozenset[str]], ...] = (
    ("gitops-check/production", frozenset({"true"})),
    ("gitops-check.io/production", frozenset({"true"})),
    ("production", frozenset({"true"})),
    ("env", frozenset({"prod", "production"})),
    ("environment", frozenset({"prod", "production"})),
)


@dataclass(frozen=True)
class HygieneConfig:
    plain_secrets: bool = True
    prune_in_production: bool = True
    # "none" | "all" | "production" | "apps" (then self_heal_apps holds the globs)
    require_self_heal: str = "none"
    self_heal_apps: tuple[str, ...] = ()
    production_apps: tuple[str, ...] = ()
    production_labels: Mapping[str, str] | None = None  # None: the defaults


def parse_hygiene(project: ProjectConfig | None) -> HygieneConfig:
    raw = project.raw.get("hygiene") if project is not None else None
    if raw is None:
        return HygieneConfig()
    file = (project.path if project else None) or ".gitops-check.yaml"
    if not isinstance(raw, dict):
        raise ConfigError("hygiene: expected a mapping", file=file)
    unknown = sorted(str(k) for k in raw if k not in KEYS)
    if unknown:
        raise ConfigError(
            f"hygiene: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(KEYS))})", file=file
        )
    for key in ("plainSecrets", "pruneInProduction"):
        if key in raw and not isinstance(raw[key], bool):
            raise ConfigError(f"hygiene.{key}: expected true or false", file=file)
    heal = raw.get("requireSelfHeal", False)
    if heal is True:
        mode, globs = "all", ()
    elif heal is False or heal is None:
        mode, globs = "none", ()
    elif heal == "production":
        mode, globs = "production", ()
    elif isinstance(heal, list) and all(isinstance(g, str) for g in heal):
        mode, globs = "apps", tuple(heal)
    else:
        raise ConfigError(
            "hygiene.requireSelfHeal: expected true, false, production or a list of app names", file=file
        )
    production = raw.get("production") or {}
    if not isinstance(production, dict) or set(production) - {"apps", "labels"}:
        raise ConfigError("hygiene.production: expected a mapping with apps and/or labels", file=file)
    labels = production.get("labels")
    if labels is not None and not isinstance(labels, dict):
        raise ConfigError("hygiene.production.labels: expected a mapping", file=file)
    return HygieneConfig(
        plain_secrets=raw.get("plainSecrets", True),
        prune_in_production=raw.get("pruneInProduction", True),
        require_self_heal=mode,
        self_heal_apps=globs,
        production_apps=tuple(str(a) for a in production.get("apps") or ()),
        production_labels={str(k): str(v) for k, v in labels.items()} if labels is not None else None,
    )


def is_production(app: App, config: HygieneConfig) -> bool:
    if any(fnmatch.fnmatchcase(app.name, glob) for glob in config.production_apps):
        return True
    if config.production_labels is not None:
        return bool(config.production_labels) and all(
            app.labels.get(k) == v for k, v in config.production_labels.items()
        )
    return any(str(app.labels.get(k, "")).lower() in values for k, values in DEFAULT_PRODUCTION_LABELS)


def check_app(app: App, objects: Sequence[RawObject], config: HygieneConfig) -> list[Finding]:
    findings: list[Finding] = []
    if config.plain_secrets:
        findings.extend(_plain_secrets(app, objects))
    policy = app.sync_policy
    if policy is None:
        return findings
    production = is_production(app, config)
    if config.prune_in_production and production and policy.automated and policy.prune:
        findings.append(
            Finding("prune-in-production", app.name,
                    f"app {app.name} is marked production and syncs automatically with prune: true, so a commit "
                    "that drops a resource deletes it from the cluster unreviewed; prune by hand, or protect "
                    "resources with argocd.argoproj.io/sync-options: Prune=false", *_where(app))
        )  # fmt: skip
    wanted = (
        config.require_self_heal == "all"
        or (config.require_self_heal == "production" and production)
        or (
            config.require_self_heal == "apps"
            and any(fnmatch.fnmatchcase(app.name, g) for g in config.self_heal_apps)
        )
    )
    if wanted and not (policy.automated and policy.self_heal):
        missing = "automated sync with selfHeal: true" if not policy.automated else "selfHeal: true"
        findings.append(
            Finding("self-heal-required", app.name,
                    f"app {app.name} has no {missing}, which the project file requires (hygiene.requireSelfHeal): "
                    "changes made in the cluster by hand stay until the next sync", *_where(app))
        )  # fmt: skip
    return findings


def _where(app: App) -> tuple[str | None, int | None]:
    """file and line from an origin like ``argocd/apps/web.yaml:12``."""
    head = app.origin.split(" ", 1)[0]
    file, sep, line = head.rpartition(":")
    if sep and line.isdigit() and file:
        return file, int(line)
    return None, None


def _plain_secrets(app: App, objects: Sequence[RawObject]) -> list[Finding]:
    out = []
    for obj in objects:
        body = obj.body
        if not isinstance(body, dict) or body.get("kind") != "Secret" or body.get("apiVersion") != "v1":
            continue
        meta = body.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        if any(str(annotations.get(k, "")).lower() == "ignore" for k in OPT_OUT):
            continue
        count = sum(
            1
            for section in ("data", "stringData")
            if isinstance(body.get(section), dict)
            for key, value in body[section].items()
            if value not in (None, "") and f"{section}.{key}" not in obj.secret_sourced
        )
        if not count:
            continue
        namespace = meta.get("namespace") or app.destination.namespace
        name = f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))
        where = f" ({obj.origin.file})" if obj.origin.file else ""
        out.append(
            Finding("plain-secret", app.name,
                    f"Secret {name}{where} has {count} value{'s' if count != 1 else ''} in plain text in Git "
                    "(base64 is not encryption); use Sealed Secrets, SOPS or External Secrets",
                    obj.origin.file, obj.origin.line)
        )  # fmt: skip
    return out


def findings_for(
    rendered: Iterable[tuple[App, Sequence[RawObject]]], project: ProjectConfig | None
) -> list[Finding]:
    """Every rule over every rendered app; raises ConfigError for a bad ``hygiene:`` section."""
    config = parse_hygiene(project)
    return [f for app, objects in rendered for f in check_app(app, objects, config)]


def describe(finding: Finding, strict: bool) -> str:
    """One line for a finding, as the terminal report words it (``hygiene (rule): message``)."""
    label = "hygiene failure" if strict else "hygiene"
    return f"{label} ({finding.rule}): {finding.message}"
