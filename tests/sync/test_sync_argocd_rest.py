"""``gitops-check sync --argocd --server``: the REST path against a local Argo CD API stand-in (HTTPS).

The stand-in checks the bearer token on every request and records every request, so these tests assert the
exact calls: one read, one sync POST with exactly the options asked for, then reads until the verdict.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitops_check.model.app import App
from gitops_check.model.objects import ResourceKey
from gitops_check.model.result import AppError, AppResult, CheckResult, ResourceDiff, Status
from gitops_check.model.source import Source
from gitops_check.report.jsonout import render_json
from tests.helpers.fake_argocd import FakeArgoCD, degraded, failed, nothing, running, succeeded
from tests.sync.clirun import FAST, run

SHA = "4f2c1e0d9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d"


@pytest.fixture
def argocd(fake_argocd: FakeArgoCD, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeArgoCD:
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", fake_argocd.token)
    monkeypatch.chdir(tmp_path)  # no project file here: no allow-list
    return fake_argocd


def sync(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str], *args: str):  # type: ignore[no-untyped-def]
    return run(
        capsys, "sync", *args, "--argocd", "--server", argocd.url, "--ca-file", str(argocd.cert), *FAST
    )


def test_success_sends_exactly_one_sync_and_waits(
    argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]
) -> None:
    argocd.add_app("shop", script=[nothing(), running(), succeeded()])
    result = sync(argocd, capsys, "shop", "--revision", SHA, "--sync-option", "ServerSideApply=true")
    assert result.code == 0, result.text
    posts = argocd.calls("POST")
    assert [p.path for p in posts] == ["/api/v1/applications/shop/sync"]
    assert posts[0].body == {
        "name": "shop", "revision": SHA, "prune": False, "dryRun": False, "strategy": {"hook": {}},
        "syncOptions": {"items": ["ServerSideApply=true"]},
    }  # fmt: skip
    assert all(r.headers["Authorization"] == f"Bearer {argocd.token}" for r in argocd.requests)
    assert {r.method for r in argocd.requests} == {"GET", "POST"}
    # The exact request is printed before it is sent, and the verdict after.
    plan = result.out.index("About to ask Argo CD API")
    assert result.out.index(json.dumps(posts[0].body, sort_keys=True)) > plan
    assert result.out.index("Application argocd/shop: sync requested") > plan
    assert "Application argocd/shop: succeeded" in result.out
    assert argocd.token not in result.text


def test_failed_sync_exits_1_with_the_agents_message(
    argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]
) -> None:
    argocd.add_app(
        "shop", script=[running(), failed("one or more objects failed to apply", "quota exceeded")]
    )
    result = sync(argocd, capsys, "shop")
    assert result.code == 1, result.text
    assert (
        "failed: sync failed: one or more objects failed to apply (Deployment/shop/web: quota exceeded)"
        in result.out
    )


def test_degraded_exits_1(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]) -> None:
    argocd.add_app("shop", script=[running(), degraded("Deployment web: CrashLoopBackOff")])
    result = sync(argocd, capsys, "shop")
    assert result.code == 1
    assert "degraded: health Degraded: Deployment web: CrashLoopBackOff" in result.out


def test_no_verdict_in_time_exits_2(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]) -> None:
    argocd.add_app("shop", script=[running("waiting for healthy state of apps/Deployment/web")])
    result = sync(argocd, capsys, "shop", "--timeout", "300ms")
    assert result.code == 2
    assert (
        "timeout: no verdict within --timeout 300ms; last: operation Running: waiting for healthy"
        in result.out
    )


def test_no_wait_only_asks(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]) -> None:
    argocd.add_app("shop")
    result = sync(argocd, capsys, "shop", "--no-wait")
    assert result.code == 0 and "requested; not waited for" in result.out
    assert [r.method for r in argocd.requests] == ["GET", "POST"]


def test_transient_errors_are_retried(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]) -> None:
    argocd.add_app("shop")
    argocd.fail_next = [503, 502]
    result = sync(argocd, capsys, "shop")
    assert result.code == 0, result.text
    assert [r.method for r in argocd.requests[:4]] == ["GET", "GET", "GET", "POST"]


def test_a_sync_post_that_failed_is_resent_only_when_it_did_not_arrive(
    argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]
) -> None:
    argocd.add_app("shop")
    real_sync = argocd._sync
    answers = iter([503])

    def flaky_first(handler, app, body):  # type: ignore[no-untyped-def]
        status = next(answers, None)
        if status:  # the gateway failed after the server took the request: the operation exists
            app["operation"] = {"sync": {}, "initiatedBy": {"username": "ci-bot"}}
            app["_synced"] = True
            return argocd._error(handler, status, 14, "upstream reset")
        return real_sync(handler, app, body)

    argocd._sync = flaky_first  # type: ignore[method-assign]
    result = sync(argocd, capsys, "shop")
    assert result.code == 0, result.text
    assert len(argocd.calls("POST")) == 1  # read back instead of sending twice


def test_persistent_errors_give_up(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]) -> None:
    argocd.add_app("shop")
    argocd.fail_next = [503] * 10
    result = sync(argocd, capsys, "shop", "--retry-limit", "2")
    assert result.code == 2
    assert "HTTP 503: upstream connect error (gave up after 3 attempts)" in result.out
    assert not argocd.calls("POST")


def test_wrong_token_is_named_by_its_source_never_shown(
    argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argocd.add_app("shop")
    argocd.quote_token = True  # error bodies repeat the Authorization header
    monkeypatch.setenv("CI_ARGOCD_TOKEN", "wrong-token-0123456789abcdef")
    result = sync(argocd, capsys, "shop", "--token-env", "CI_ARGOCD_TOKEN")
    assert result.code == 2
    assert "rejected the token from $CI_ARGOCD_TOKEN (HTTP 401)" in result.out
    assert "wrong-token-0123456789abcdef" not in result.text


def test_token_in_error_bodies_is_scrubbed(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]) -> None:
    argocd.add_app("shop", status={"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}})
    argocd.apps["shop"]["operation"] = {"sync": {}, "initiatedBy": {"username": "someone"}}
    argocd.quote_token = True
    argocd.fail_next = [409]
    result = sync(argocd, capsys, "shop")
    assert result.code == 2
    assert "***" in result.out and argocd.token not in result.text


def test_token_from_a_file(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    argocd.add_app("shop")
    monkeypatch.delenv("ARGOCD_AUTH_TOKEN")
    (tmp_path / "token").write_text(argocd.token + "\n")
    result = sync(argocd, capsys, "shop", "--token-file", str(tmp_path / "token"))
    assert result.code == 0, result.text


def test_token_is_never_a_flag_value(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]) -> None:
    result = sync(argocd, capsys, "shop", "--token", "flag-token-abcdef")
    assert result.code == 2
    assert "--token is not accepted" in result.err and "flag-token-abcdef" not in result.text
    assert not argocd.requests


def test_tls_is_verified_unless_insecure(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]) -> None:
    argocd.add_app("shop")
    result = run(capsys, "sync", "shop", "--argocd", "--server", argocd.url, *FAST)
    assert result.code == 2
    assert "TLS certificate verify failed" in result.out and "--ca-file" in result.out
    result = run(capsys, "sync", "shop", "--argocd", "--server", argocd.url, "--insecure", *FAST)
    assert result.code == 0, result.text
    assert "--insecure: the TLS certificate" in result.out


def test_unknown_app_and_operation_in_progress(
    argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]
) -> None:
    result = sync(argocd, capsys, "nope")
    assert result.code == 2 and "permission denied (HTTP 403" in result.out
    argocd.add_app("shop")
    argocd.apps["shop"]["operation"] = {"sync": {}, "initiatedBy": {"username": "alice"}}
    result = sync(argocd, capsys, "shop")
    assert result.code == 2 and "another operation (started by alice) is in progress" in result.out
    assert not argocd.calls("POST")


def test_plan_sends_no_sync(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]) -> None:
    argocd.add_app("shop")
    result = sync(argocd, capsys, "shop", "--plan", "--prune")
    assert result.code == 0
    assert "Would ask Argo CD API" in result.out and '"prune": true' in result.out
    assert not argocd.calls("POST")


def test_dry_run_and_app_namespace(argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str]) -> None:
    argocd.add_app("shop", namespace="team-a", script=[running(), succeeded("dry run")])
    result = sync(argocd, capsys, "team-a/shop", "--dry-run")
    assert result.code == 0, result.text
    assert argocd.calls("POST")[0].body["dryRun"] is True
    assert argocd.calls("POST")[0].body["appNamespace"] == "team-a"
    assert argocd.calls("GET")[0].query == {"appNamespace": ["team-a"]}


def _report(tmp_path: Path, *, failed_app: bool = False) -> Path:
    web = ResourceKey("apps", "Deployment", "shop", "web")
    cm = ResourceKey("", "ConfigMap", "shop", "settings")
    old = ResourceKey("", "Service", "shop", "legacy")
    app = App("shop", (Source("apps/shop"),), kind="argocd")
    diffs = [ResourceDiff(web, "shop", Status.CHANGED), ResourceDiff(cm, "shop", Status.UNCHANGED),
             ResourceDiff(old, "shop", Status.REMOVED)]  # fmt: skip
    apps = [AppResult(app, diffs=diffs)]
    if failed_app:
        broken = AppResult(App("billing", (Source("apps/billing"),)))
        broken.errors.append(AppError("billing", "helm failed"))
        apps.append(broken)
    path = tmp_path / "check.json"
    path.write_text(render_json(CheckResult(apps=apps, target="commit abc", against="live")))
    return path


def test_only_drifted_from_the_report(
    argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argocd.add_app("shop")
    report = _report(tmp_path)
    result = sync(argocd, capsys, "--from-report", str(report), "--only-drifted")
    assert result.code == 0, result.text
    assert argocd.calls("POST")[0].body["resources"] == [
        {"group": "apps", "kind": "Deployment", "name": "web", "namespace": "shop"}
    ]
    argocd.add_app("shop")
    result = sync(argocd, capsys, "shop", "--from-report", str(report), "--only-drifted", "--prune")
    assert [r["name"] for r in argocd.calls("POST")[-1].body["resources"]] == ["web", "legacy"]


def test_incomplete_check_refuses_unless_forced(
    argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argocd.add_app("shop")
    report = _report(tmp_path, failed_app=True)
    result = sync(argocd, capsys, "shop", "--from-report", str(report))
    assert result.code == 2
    assert "could not check everything (not checked: billing)" in result.out and "--force" in result.out
    assert not argocd.requests
    result = sync(argocd, capsys, "shop", "--from-report", str(report), "--force")
    assert result.code == 0, result.text


def test_reports_and_the_console_script_never_show_the_token(
    argocd: FakeArgoCD, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The installed console script, end to end: exit code, output, and the report files of the run."""
    argocd.add_app("shop", script=[running(), failed("one or more objects failed to apply")])
    argocd.add_app("cart")
    script = shutil.which("gitops-check") or str(Path(sys.executable).parent / "gitops-check")
    files = {k: tmp_path / f"sync.{k}" for k in ("json", "xml", "md")}
    env = {**os.environ, "ARGOCD_AUTH_TOKEN": argocd.token, "NO_COLOR": "1"}
    proc = subprocess.run(
        [script, "sync", "shop", "cart", "--argocd", "--server", argocd.url, "--ca-file", str(argocd.cert),
         *FAST, "--json", str(files["json"]), "--junit", str(files["xml"]), "--markdown", str(files["md"])],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.rstrip().endswith("exit code 1: the agent reports a failed sync")
    doc = json.loads(files["json"].read_text())
    assert doc["mode"] == "sync" and doc["exitCode"] == 1
    assert [(s["app"], s["state"]) for s in doc["syncs"]] == [("shop", "failed"), ("cart", "succeeded")]
    assert doc["syncs"][0]["request"].startswith(f"POST {argocd.url}/api/v1/applications/shop/sync ")
    everything = proc.stdout + proc.stderr + "".join(p.read_text() for p in files.values())
    assert argocd.token not in everything
    assert "Bearer" not in everything
