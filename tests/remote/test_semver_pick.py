"""semver.pick: the one choice of a version by constraint (Helm repository charts, OCI tags, git tags)."""

from __future__ import annotations

import pytest

from gitops_check.remote import semver


def test_the_highest_match_is_picked_by_its_original_text() -> None:
    assert semver.pick("^1.2", ["1.2.0", "v1.4.1", "2.0.0", "junk"]) == "v1.4.1"
    assert semver.pick("*", ["0.1.0", "0.2.0-rc.1"]) == "0.1.0"  # pre-releases only when asked


def test_no_match_carries_the_nearest_versions() -> None:
    with pytest.raises(semver.NoMatch) as caught:
        semver.pick("~3.1", ["1.0.0", "2.9.0", "3.0.5", "4.0.0"])
    assert caught.value.nearest == ["4.0.0", "3.0.5", "2.9.0", "1.0.0"]


def test_a_bad_constraint_is_a_semver_error_not_a_no_match() -> None:
    with pytest.raises(semver.SemverError) as caught:
        semver.pick(">= what", ["1.0.0"])
    assert not isinstance(caught.value, semver.NoMatch)
