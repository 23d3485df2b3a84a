"""The GitHub and GitLab stand-ins as fixtures (the shallow-clone tests run the CI steps)."""

from __future__ import annotations

from tests.helpers.fake_github import fake_github
from tests.helpers.fake_gitlab import fake_gitlab

__all__ = ["fake_github", "fake_gitlab"]
