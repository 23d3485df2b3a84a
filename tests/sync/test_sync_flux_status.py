"""Flux's answer (pure): the request value, handled-and-Ready, and which source --with-source reconciles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gitops_check.errors import SyncError
from gitops_check.model.sync import SyncState
from gitops_check.sync.flux import progress, requested_at, source_of

VALUE = "2026-11-20T10:00:00.5Z"


def obj(
    handled: str | None, ready: str | None, message: str = "", reason: str = "", **meta: Any
) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": []}
    if handled:
        status["lastHandledReconcileAt"] = handled
    if ready:
        status["conditions"].append({"type": "Ready", "status": ready, "message": message, "reason": reason})
    if "observed" in meta:
        status["observedGeneration"] = meta["observed"]
    return {"metadata": {"generation": meta.get("generation", 1)}, "status": status}


def test_requested_at_is_rfc3339nano_like_go() -> None:
    assert requested_at(datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=UTC)) == "2026-11-20T10:00:00.5Z"
    assert requested_at(datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)) == "2026-11-20T10:00:00Z"


def test_progress() -> None:
    waiting = progress(obj("2026-11-19T00:00:00Z", "True", "old"), VALUE)
    assert not waiting.done and "handle the request" in waiting.message
    assert progress(obj(VALUE, "True", "Applied revision: main@sha1:abc"), VALUE).state is SyncState.SUCCEEDED
    failed = progress(obj(VALUE, "False", "kustomize build failed", "BuildFailed"), VALUE)
    assert (failed.state, failed.message) == (SyncState.FAILED, "BuildFailed: kustomize build failed")
    assert not progress(obj(VALUE, "Unknown", "reconciling"), VALUE).done
    assert not progress(obj(VALUE, "True", generation=3, observed=2), VALUE).done


def test_source_of() -> None:
    ks = {"metadata": {"namespace": "flux-system", "name": "apps"},
          "spec": {"sourceRef": {"kind": "GitRepository", "name": "repo"}}}  # fmt: skip
    assert source_of("Kustomization", ks) == ("GitRepository", "flux-system", "repo")
    hr = {"metadata": {"namespace": "shop", "name": "web"},
          "spec": {"chart": {"spec": {"sourceRef": {"kind": "HelmRepository", "name": "r", "namespace": "flux"}}}}}  # fmt: skip
    assert source_of("HelmRelease", hr) == ("HelmChart", "flux", "shop-web")
    hr["status"] = {"helmChart": "flux/shop-web-2"}
    assert source_of("HelmRelease", hr) == ("HelmChart", "flux", "shop-web-2")
    hr["spec"] = {"chartRef": {"kind": "OCIRepository", "name": "podinfo"}}
    assert source_of("HelmRelease", hr) == ("OCIRepository", "shop", "podinfo")
    with pytest.raises(SyncError, match="names no source"):
        source_of("Kustomization", {"metadata": {"name": "x"}, "spec": {}})
