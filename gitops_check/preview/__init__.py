"""``gitops-check preview``: what a change does to the rendered manifests, rendering only what its inputs touch.

``run_preview`` is the entry point (``run``); ``plan`` decides what to render, ``compare`` diffs base against
head, ``revisions`` picks the commits, ``sniff`` spots App of Apps parents.
"""

from __future__ import annotations

from gitops_check.preview.run import PreviewRequest, run_preview

__all__ = ["PreviewRequest", "run_preview"]
