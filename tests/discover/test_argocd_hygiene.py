"""Hygiene rules: plain Secrets in Git, prune on production apps, required selfHeal; configuration; exit codes."""

from __future__ import annotations

import pytest

from gitops_check.errors import ConfigError
from gitops_check.hygiene import check_app, describe, findings_for, parse_hygiene
from gitops_check.model.app import App, SyncPolicy
from gitops_check.model.objects import Origin
from gitops_check.model.rendered import RawObject
from gitops_check.model.result import AppError, AppResult, CheckResult
from gitops_check.model.source import Source
from gitops_check.project.config import parse_project

SECRET_VALUE = "c3VwZXItc2VjcmV0LXZhbHVl"  # base64 of a fake value


def secret(name: str, **extra: object) -> RawObject:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, **extra},
        "data": {"k": SECRET_VALUE},
    }
    return RawObject(body, Origin("web", "charts/web/templates/secret.yaml", 4))


def argo_app(name: str = "web", labels: dict[str, str] | None = None, **policy: bool) -> App:
    return App(
        name, (Source("."),), labels=labels or {}, sync_policy=SyncPolicy(**policy), origin="apps/web.yaml:3"
    )


def project(text: str) -> object:
    return parse_project("version: 1\n" + text)


def test_plain_secret_names_the_secret_never_the_value() -> None:
    objects = [
        secret("db"),
        secret("empty", annotations={}),
        secret("opted-out", annotations={"gitops-check/hygiene": "ignore"}),
        RawObject(
            {
                "apiVersion": "bitnami.com/v1alpha1",
                "kind": "SealedSecret",
                "metadata": {"name": "s"},
                "spec": {"encryptedData": {"k": "AgB..."}},
            },
            Origin("web"),
        ),
    ]
    objects[1].body["data"] = {"k": ""}
    [f] = check_app(argo_app(), objects, parse_hygiene(None))
    assert (f.rule, f.app, f.file, f.line) == ("plain-secret", "web", "charts/web/templates/secret.yaml", 4)
    assert f.message.startswith(
        "Secret db (charts/web/templates/secret.yaml) has 1 value in plain text in Git"
    )
    assert SECRET_VALUE not in describe(f, strict=True)


@pytest.mark.parametrize(
    ("labels", "production"),
    [
        ({"env": "production"}, True),
        ({"environment": "prod"}, True),
        ({"gitops-check/production": "true"}, True),
        ({"env": "staging"}, False),
        ({}, False),
    ],
)
def test_prune_on_production(labels: dict[str, str], production: bool) -> None:
    findings = check_app(argo_app(labels=labels, automated=True, prune=True), [], parse_hygiene(None))
    assert [f.rule for f in findings] == (["prune-in-production"] if production else [])
    assert findings == [] or (findings[0].file, findings[0].line) == ("apps/web.yaml", 3)


def test_production_from_the_project_file_and_self_heal() -> None:
    config = parse_hygiene(project(  # type: ignore[arg-type]
        "hygiene:\n  requireSelfHeal: production\n  production:\n    apps: ['pay-*']\n    labels: {tier: gold}\n"
    ))  # fmt: skip
    rules = lambda app: [f.rule for f in check_app(app, [], config)]  # noqa: E731
    assert rules(argo_app("pay-eu", automated=True, prune=True)) == [
        "prune-in-production",
        "self-heal-required",
    ]
    assert rules(argo_app("web", {"tier": "gold"}, automated=True, self_heal=True)) == []
    assert (
        rules(argo_app("web", {"env": "production"}, automated=True, prune=True)) == []
    )  # labels replace defaults
    every = parse_hygiene(project("hygiene:\n  requireSelfHeal: true\n  pruneInProduction: false\n"))  # type: ignore[arg-type]
    [f] = check_app(argo_app(), [], every)
    assert "has no automated sync with selfHeal: true" in f.message
    named = parse_hygiene(project("hygiene:\n  requireSelfHeal: [web]\n  plainSecrets: false\n"))  # type: ignore[arg-type]
    assert [f.rule for f in check_app(argo_app(automated=True), [secret("db")], named)] == [
        "self-heal-required"
    ]
    project_app = App("p", (Source("."),))  # no sync policy: nothing to say about syncing
    assert check_app(project_app, [], every) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hygiene: {plainSecret: true}", "unknown key 'plainSecret'"),
        ("hygiene: {requireSelfHeal: sometimes}", "requireSelfHeal"),
        ("hygiene: {production: {names: [a]}}", "hygiene.production"),
        ("hygiene: {plainSecrets: 'no'}", "expected true or false"),
    ],
)
def test_bad_configuration(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        findings_for([], project(text))  # type: ignore[arg-type]


def test_strict_exit_codes() -> None:
    """Findings alone: 0, or 1 under strict; never hiding 2 (incomplete) or replacing 1 (drift)."""
    app = argo_app()
    result = CheckResult(apps=[AppResult(app)], target="t", against="a")
    result.findings = check_app(app, [secret("db")], parse_hygiene(None))
    assert result.exit_code() == 0
    result.strict = True
    assert result.exit_code() == 1
    result.errors.append(AppError("web", "boom"))
    assert result.exit_code() == 2
