"""gitops-check: render a GitOps repository the way Argo CD / Flux would and compare it with a cluster."""

from __future__ import annotations

__version__ = "0.1.0"
