from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gitops_check.discover import markers

_PIECES = [
    b"kind", b"Kind", b": ", b":", b'"', b"'", b" ", b"\n", b"\t", b"Application", b"ApplicationSet",
    b"Applications", b"Kustomization", b"HelmRelease", b"argoproj.io", b"argoproj.io/", b"/v1", b"/v1alpha1",
    b"toolkit.fluxcd.io", b"kustomize.", b"helm.", b"argocd.argoproj.io/sync-wave", b"ConfigMap", b"apiVersion",
    b"x", b"-", b"{", b"}",
]  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12))
def test_the_substring_screen_never_changes_the_answer(pieces: list[bytes]) -> None:
    text = b"".join(pieces)
    assert markers.may_declare_apps(text) == (markers._MARKER.search(text) is not None)


def test_what_declares_apps_and_what_does_not() -> None:
    assert markers.may_declare_apps(b"apiVersion: v1\nkind: Application\n")
    assert markers.may_declare_apps(b'{"kind": "HelmRelease"}')
    assert markers.may_declare_apps(b"apiVersion: kustomize.toolkit.fluxcd.io/v1\n")
    assert not markers.may_declare_apps(
        b"kind: ConfigMap\nmetadata:\n  annotations:\n    argocd.argoproj.io/sync-wave: '1'\n"
    )
    assert not markers.may_declare_apps(b"kind: Applications\n")
