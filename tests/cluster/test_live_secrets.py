"""Secret values never leave gitops-check: not in the terminal, reports, snapshots or error messages."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path

import pytest
import yaml

from tests.helpers.cluster import TestCluster
from tests.helpers.gitrepo import GitRepo
from tests.helpers.live import agent_apply, findings, run

pytestmark = pytest.mark.cluster

GIT_VALUE = "Git-Secret-Value-41"
HAND_VALUE = "Hand-Made-Secret-Value-9"
EXTRA_VALUE = "Extra-Hand-Value-7"
TLS_KEY = "Invalid-Tls-Key-Material-3"
VALUES = (GIT_VALUE, HAND_VALUE, EXTRA_VALUE, TLS_KEY)


def _forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode()]


def test_secret_values_never_appear_anywhere(
    kube_cluster: TestCluster, kube_namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = kube_namespace
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "stringData": {"password": GIT_VALUE},
    }
    # The server rejects this one (tls.crt missing): its message must not be quoted, it may hold data.
    bad = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": "bad"},
           "stringData": {"tls.key": TLS_KEY}}  # fmt: skip
    agent_apply(kube_cluster, [secret], namespace=ns, app="vault")
    kube_cluster.kubectl("-n", ns, "patch", "secret", "creds", "-p",
                         f'{{"stringData": {{"password": "{HAND_VALUE}", "extra": "{EXTRA_VALUE}"}}}}')  # fmt: skip
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        ".gitops-check.yaml": yaml.safe_dump({"version": 1, "apps": [
            {"name": "vault", "path": "app", "tool": "directory", "namespace": ns}]}),
        "app/secret.yaml": yaml.safe_dump_all([secret, bad]),
    })  # fmt: skip
    repo.commit("secrets")
    kubeconfig = str(kube_cluster.admin_kubeconfig)
    snapshot = tmp_path / "cluster.json.gz"
    captured = run(capsys, tmp_path, "snapshot", "--live", "--kubeconfig", kubeconfig, "--for-repo",
                   str(repo.path), "-o", str(snapshot))  # fmt: skip
    assert captured.code == 0
    outputs = [captured.text, gzip.decompress(snapshot.read_bytes()).decode()]
    for mode in (["--live", "--kubeconfig", kubeconfig], ["--live", "--kubeconfig", kubeconfig, "--client-side"],
                 ["--snapshot", str(snapshot)]):  # fmt: skip
        reports = [tmp_path / f"r.{ext}" for ext in ("xml", "md")]
        result = run(capsys, tmp_path, "diff", "--repo", str(repo.path), *mode, "-v",
                     "--junit", str(reports[0]), "--markdown", str(reports[1]))  # fmt: skip
        # "bad" is rejected by the dry-run (not checked: 2); offline it is just to be created (drift: 1).
        server_side = "--live" in mode and "--client-side" not in mode
        assert result.code == (2 if server_side else 1), result.text
        found = findings(result.report)
        assert found[f"Secret/{ns}/creds"] == (
            "changed",
            frozenset({("value", "data.password"), ("manual", "data.extra")}),
        )
        outputs += [result.text, str(result.report), *(p.read_text() for p in reports)]
        if server_side:
            bad_result = next(r for a in result.report["apps"] for r in a["resources"] if r["name"] == "bad")
            assert bad_result["message"] == (
                f"the API server rejects it: cannot dry-run apply secrets bad in namespace {ns}: HTTP 422"
            )
    text = "\n".join(outputs)
    for value in VALUES:
        for form in _forms(value):
            assert form not in text, f"{value} leaked"
    assert "<redacted" in text
