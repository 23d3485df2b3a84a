"""``gitops-check preview``: what a change does to the rendered manifests, rendering only what its inputs touch.

``run_preview`` is the entry point (``run``, with a ``request``); ``revisions`` picks the commits, ``commits``
writes them and finds their apps, ``plan`` decides what to render (``sniff`` spots App of Apps parents),
``compare`` diffs base against head, ``baseline`` compares the base with the cluster.
"""

from __future__ import annotations

from gitops_check.preview.request import PreviewRequest
from gitops_check.preview.run import run_preview

__all__ = ["PreviewRequest", "run_preview"]
