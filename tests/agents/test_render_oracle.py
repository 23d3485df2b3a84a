"""Rendering oracle: the manifests the real Argo CD generates equal gitops-check's render, object for object.

The corpus (tests/agents/corpus.py) is served by the loopback git server; each case is an Application created in
Argo CD and also discovered by gitops-check from the same commit. Argo CD's side is the API server's manifests
endpoint (the repo-server's generation, what the controller compares and applies); resource tracking, which
Argo CD adds itself, is left out on both sides. A difference owned by another issue is an xfail naming it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.agents import corpus as corpus_mod
from tests.agents.oracle import argocd_manifests, describe_difference, gitops_check_render
from tests.helpers.argocd import ArgoCD
from tests.helpers.gitrepo import GitRepo

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("argocd")]

# Not strict: when the owning issue lands, the case passes and only the xfail mark is left to remove.
CASE_PARAMS = [
    pytest.param(c.name, marks=pytest.mark.xfail(reason=c.xfail, strict=False)) if c.xfail else c.name
    for c in corpus_mod.cases("http://example.invalid/")
]


@pytest.fixture(scope="module")
def corpus(argocd: ArgoCD) -> dict[str, Any]:
    repo = GitRepo.init(argocd.git_root / "corpus")
    url = argocd.git.url("corpus")
    cases = corpus_mod.write_corpus(repo, url)
    for case in cases:
        argocd.create_app(corpus_mod.application(case))
    objects, errors = gitops_check_render(repo.path, url)
    return {"cases": {c.name: c for c in cases}, "objects": objects, "errors": errors}


@pytest.mark.parametrize("name", CASE_PARAMS)
def test_render_matches_argocd(argocd: ArgoCD, corpus: dict[str, Any], name: str) -> None:
    case = corpus["cases"][name]
    expected = argocd_manifests(argocd, name, case.namespace)
    assert expected, f"Argo CD generated nothing for {name}"
    assert name not in corpus["errors"], f"gitops-check could not render {name}: {corpus['errors'][name]}"
    difference = describe_difference(expected, corpus["objects"].get(name, {}))
    assert not difference, f"{name} ({case.covers}):\n{difference}"
