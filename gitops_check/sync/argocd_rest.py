"""Sync through Argo CD's REST API: read the Application, POST its sync, read it again until it settles.

Argo CD's API server builds the operation itself (it fills in the Application's sync options and retry policy
and records the token's account as the initiator), so the request carries only what the user asked for. A
sync POST that may have reached the server is never sent twice blindly: after a dropped connection or a
gateway error the Application is read first, and an operation that appeared meanwhile counts as accepted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from gitops_check import backoff
from gitops_check.errors import SyncError
from gitops_check.sync import argocd_status
from gitops_check.sync.argocd_api import ArgoApiError, ArgoCDClient
from gitops_check.sync.base import Prepared, Progress, SyncSettings, SyncTarget
from gitops_check.sync.policy import RetryPolicy, retrying, transient


class ArgoRestBackend:
    def __init__(
        self,
        client: ArgoCDClient,
        *,
        app_namespace: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.app_namespace = app_namespace
        self.via = f"Argo CD API {client.server}"
        self.sleep = sleep

    def _read(
        self,
        target: SyncTarget,
        policy: RetryPolicy,
        *,
        deadline: float | None = None,
        refresh: str | None = None,
    ) -> Any:
        namespace = target.namespace or self.app_namespace
        app = retrying(
            lambda: self.client.get_application(target.name, namespace, refresh=refresh),
            policy,
            deadline=deadline,
            sleep=self.sleep,
        )
        if not isinstance(app, dict):
            raise SyncError(f"Argo CD {self.client.server} answered no Application for {target.name}")
        return app

    def prepare(self, target: SyncTarget, settings: SyncSettings) -> Prepared:
        app = self._read(target, settings.retry or RetryPolicy())
        namespace = (
            (app.get("metadata") or {}).get("namespace") or target.namespace or self.app_namespace or ""
        )
        argocd_status.check_syncable(app, target, settings)
        body = argocd_status.rest_body(target, settings, target.namespace or self.app_namespace)
        path = f"/api/v1/applications/{target.name}/sync"
        prepared = Prepared(
            target=target,
            kind="Application",
            namespace=namespace,
            requests=[f"POST {self.client.server}{path} {json.dumps(body, sort_keys=True)}"],
            retry=argocd_status.retry_policy(app, target.name, settings),
        )
        note = argocd_status.retry_note(app, target.name, settings.timeout)
        if note and settings.wait:
            prepared.notes.append(note)
        prepared.state = {"body": body, "before": (app.get("status") or {}).get("operationState")}
        return prepared

    def trigger(self, prepared: Prepared, settings: SyncSettings) -> None:
        def landed(error: Exception) -> bool | None:
            """After a lost answer: True when the first POST arrived after all (the operation is there)."""
            sent = isinstance(error, ArgoApiError) and error.sent
            if sent and self._read(prepared.target, prepared.retry).get("operation") is not None:
                return True
            return None

        backoff.call(
            lambda: self.client.sync(prepared.target.name, prepared.state["body"]),
            prepared.retry.schedule(),
            transient,
            sleep=self.sleep,
            recheck=landed,
        )

    def poll(self, prepared: Prepared, settings: SyncSettings) -> Progress:
        refresh = None
        if prepared.state.get("stale_polls", 0) == 3:
            refresh = "normal"  # the controller has not reassessed health yet: ask it, once, as the CLI does
        app = self._read(prepared.target, prepared.retry, deadline=prepared.deadline, refresh=refresh)
        result = argocd_status.progress(
            app,
            before=prepared.state["before"],
            dry_run=settings.dry_run,
            resources=prepared.target.resources,
            prune=settings.prune,
        )
        if result.stale_health:
            prepared.state["stale_polls"] = prepared.state.get("stale_polls", 0) + 1
        return result
