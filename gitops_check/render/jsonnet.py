"""Jsonnet files of a directory app, evaluated with go-jsonnet, the engine Argo CD's repo server links.

The PyPI package ``gojsonnet`` is go-jsonnet behind a C binding; this module is its only user. Argo CD's rules,
kept here: every ``.jsonnet`` file of the app folder is evaluated (``.libsonnet`` files only through imports),
with ``extVars`` and ``tlas`` (string or code) and the import paths ``libs`` (relative to the repository root)
after the app folder; the result is one object or an array of objects (``List`` objects are flattened later,
like every other render).

Imports are resolved here, not by go-jsonnet's file importer, so that no import, ``importstr`` or ``importbin``
reads outside the repository: the lookup order is go-jsonnet's (the importing file's folder, then the library
paths, last first), but a candidate that resolves outside the workspace, through ``..`` or a symlink, is
refused instead of read.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitops_check.errors import RenderError
from gitops_check.model.source import JsonnetVar

# go-jsonnet's own default (Argo CD does not change it).
MAX_STACK = 500
_LOCATION = re.compile(r"(?P<file>[^\s:]+\.(?:jsonnet|libsonnet|json|jsonnet\.TEMPLATE)):(?P<line>\d+)")


def version() -> str | None:
    """go-jsonnet's version (``v0.22.0``), or None when the binding is not installed."""
    try:
        import _gojsonnet
    except ImportError:
        return None
    return str(_gojsonnet.version)


def evaluate(
    file: Path,
    *,
    root: Path,
    shown: str,
    jpaths: Sequence[Path],
    ext_vars: Sequence[JsonnetVar] = (),
    tlas: Sequence[JsonnetVar] = (),
) -> list[Any]:
    """The documents ``file`` evaluates to (one object, or the elements of an array).

    ``root`` is the workspace (imports may not leave it); ``jpaths`` are the library paths in Argo CD's order
    (the app folder, then ``libs``). Errors are RenderErrors with the file and line go-jsonnet reports.
    """
    try:
        import _gojsonnet
    except ImportError:
        raise RenderError(
            f"{shown} is jsonnet, which needs go-jsonnet: pip install gojsonnet (gitops-check's dependency)",
            file=shown,
        ) from None
    importer = _Importer(root, jpaths)
    try:
        text = _gojsonnet.evaluate_file(
            str(file),
            max_stack=MAX_STACK,
            ext_vars={v.name: v.value for v in ext_vars if not v.code},
            ext_codes={v.name: v.value for v in ext_vars if v.code},
            tla_vars={v.name: v.value for v in tlas if not v.code},
            tla_codes={v.name: v.value for v in tlas if v.code},
            import_callback=importer,
        )
    except RuntimeError as e:
        raise _error(str(e), root, shown) from None
    except UnicodeDecodeError:  # the binding garbled its own message
        raise importer.error(root, shown) or RenderError(
            f"jsonnet evaluation of {shown} failed (go-jsonnet's message could not be read)", file=shown
        ) from None
    refused = importer.error(root, shown)
    if refused is not None:  # an importstr of a refused path evaluates; the refusal still stands
        raise refused
    try:
        data = json.loads(text)
    except ValueError as e:  # go-jsonnet always prints valid JSON; kept as a guard
        raise RenderError(f"jsonnet output of {shown} is not JSON: {e}", file=shown) from None
    if isinstance(data, list):
        return data
    if data is None:
        return []
    if not isinstance(data, dict):
        raise RenderError(
            f"{shown} evaluates to a {type(data).__name__}; Argo CD expects an object or an array of objects",
            file=shown,
        )
    return [data]


class _Importer:
    """go-jsonnet's FileImporter lookup order, confined to the workspace.

    It never raises: an exception thrown from the callback comes back from the binding as a garbled message
    (seen with gojsonnet 0.22), so a refused or missing import gets a stand-in that fails the evaluation
    (``error "..."``), and the first problem is kept to report it.
    """

    def __init__(self, root: Path, jpaths: Sequence[Path]):
        self.root = Path(os.path.realpath(root))
        self.jpaths = [Path(p) for p in jpaths]
        self.problem: tuple[str, str] | None = None  # (importing file, message)
        self._stand_ins = 0

    def __call__(self, base: str, rel: str) -> tuple[str, bytes]:
        if os.path.isabs(rel):
            return self._refuse(
                base, f"import {rel!r} is an absolute path; gitops-check reads only the repository"
            )
        for folder in (Path(base), *reversed(self.jpaths)):
            candidate = Path(os.path.normpath(folder / rel))
            if not candidate.exists():
                continue
            real = Path(os.path.realpath(candidate))
            if real != self.root and self.root not in real.parents:
                return self._refuse(
                    base, f"import {rel!r} resolves outside the repository; refusing to read it"
                )
            if not real.is_file():
                continue
            try:
                return str(candidate), real.read_bytes()
            except OSError as e:
                return self._refuse(base, f"cannot read import {rel!r}: {e.strerror}")
        return self._refuse(
            base, f"couldn't open import {rel!r}: no match locally or in the Jsonnet library paths"
        )

    def _refuse(self, base: str, message: str) -> tuple[str, bytes]:
        if self.problem is None:
            self.problem = (base, message)
        self._stand_ins += 1
        return f"/gitops-check-refused-import/{self._stand_ins}", f"error {json.dumps(message)}".encode()

    def error(self, root: Path, shown: str) -> RenderError | None:
        if self.problem is None:
            return None
        return RenderError(f"jsonnet evaluation of {shown} failed: {self.problem[1]}", file=shown)


def _error(message: str, root: Path, shown: str) -> RenderError:
    """go-jsonnet's message with workspace paths made relative; file and line of the first location."""
    text = message
    for prefix in {str(root), os.path.realpath(root)}:
        text = text.replace(prefix.rstrip("/") + "/", "")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else "evaluation failed"
    match = _LOCATION.search(text)
    file, line = (match.group("file"), int(match.group("line"))) if match else (shown, None)
    if match and first.startswith(match.group(0)):  # static errors start with their location
        first = first[len(match.group(0)) :].lstrip(":-0123456789 ") or first
    return RenderError(f"jsonnet evaluation of {shown} failed: {first}", file=file, line=line)
