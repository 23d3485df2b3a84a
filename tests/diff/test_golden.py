"""Golden cases for the diff engine: tests/fixtures/diff/<case>/{desired,live,expected}.yaml.

``desired.yaml`` is what Git renders (absent: a live-only object, i.e. pruning), ``live.yaml`` what the cluster
holds (absent: missing in the cluster), ``options.yaml`` optional app settings (ignoreDifferences, tracking,
secretHashing, ``flux: true`` for a Flux Kustomization's app), ``expected.yaml`` the status and the exact list of
changes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_check.diff.engine import DiffSettings, diff_object
from gitops_check.discover.flux_apps import KUSTOMIZE_CONTROLLER_TAKES_OVER
from gitops_check.identity import KindScopes, key_for
from gitops_check.kubeschema.bundled import schemas_for
from gitops_check.model.app import App
from gitops_check.model.live import SecretHashing
from gitops_check.model.objects import Manifest, Origin
from gitops_check.project.appspec import parse_ignore_rules
from gitops_check.project.config import DEFAULT_APPLIERS, DEFAULT_MANUAL_MANAGERS
from gitops_check.yamlio import dump_yaml

CASES = Path(__file__).parent.parent / "fixtures" / "diff"
SETTINGS = DiffSettings(frozenset(DEFAULT_APPLIERS), frozenset(DEFAULT_MANUAL_MANAGERS))


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) if path.exists() else None


def run_case(case: Path) -> tuple[Any, dict[str, Any]]:
    desired = _load(case / "desired.yaml")
    live = _load(case / "live.yaml")
    options = _load(case / "options.yaml") or {}
    app = App(
        "web", (), ignore=parse_ignore_rules(options.get("ignoreDifferences"), str(case / "options.yaml"))
    )
    if options.get("flux"):
        app = dataclasses.replace(
            app,
            kind="flux-kustomization",
            appliers=("kustomize-controller",),
            taken_over=KUSTOMIZE_CONTROLLER_TAKES_OVER,
        )
    hashing = None
    if options.get("secretHashing"):
        sh = options["secretHashing"]
        hashing = SecretHashing(sh["algorithm"], sh["salt"], sh.get("keyed", False))
    body = desired or live
    key, _ = key_for(body, "shop", KindScopes())
    manifest = Manifest(key, desired, Origin("web", "desired.yaml", 1)) if desired else None
    # The bundled schema of built-in kinds, as every real run has it.
    result = diff_object(key, manifest, live, app, SETTINGS, hashing, schemas_for(None))
    got = {
        "status": result.status.value,
        "changes": [
            {k: v for k, v in (("kind", c.kind.value), ("path", c.path), ("old", c.old), ("new", c.new),
                               ("manager", c.manager), ("serverDefault", c.server_default or None))
             if v is not None}
            for c in result.changes
        ],
    }  # fmt: skip
    if result.message:
        got["message"] = result.message
    return result, got


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_golden(case: str) -> None:
    result, got = run_case(CASES / case)
    expected = _load(CASES / case / "expected.yaml")
    secret_values = expected.pop("forbidden", [])
    assert got == expected, f"{case}: got\n{dump_yaml(got)}"
    # Views exist exactly when something differs, and never hold a Secret value.
    if result.status.value == "changed":
        assert result.desired is not None and result.live is not None
    text = dump_yaml({"desired": result.desired, "live": result.live, "changes": got})
    for value in secret_values:
        assert value not in text
