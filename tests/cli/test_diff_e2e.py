"""End-to-end ``gitops-check diff``: the installed console script on the bundled example, and bad input.

Bad input of every kind the core issue lists is reported for its own app (with file and line where there is
one); the other apps are still checked, the exit code is 2, and no traceback reaches the user.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitops_check.cli import main
from tests.helpers.gitrepo import GitRepo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples"


def _console_script() -> str:
    found = shutil.which("gitops-check") or str(Path(sys.executable).parent / "gitops-check")
    if not Path(found).exists():
        pytest.fail("the gitops-check console script is not installed (pip install -e .)")
    return found


def test_example_first_run_console_script(tmp_path: Path) -> None:
    """The README's first-run command: drift found (exit 1), every report written, no Secret value anywhere."""
    out = {k: tmp_path / f"report.{k}" for k in ("xml", "md", "json")}
    proc = subprocess.run(
        [_console_script(), "diff", "--repo", str(EXAMPLE / "shop"), "--snapshot", str(EXAMPLE / "shop-cluster.json"),
         "--junit", str(out["xml"]), "--markdown", str(out["md"]), "--json", str(out["json"]), "--working-tree"],
        capture_output=True, text=True, check=False, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    report = json.loads(out["json"].read_text())
    found = sorted(
        (a["name"], r["id"], r["status"])
        for a in report["apps"]
        for r in a["resources"]
        if r["status"] != "unchanged"
    )
    assert found == [
        ("redis", "ConfigMap/shop/redis-config", "changed"),
        ("redis", "Secret/shop/redis-auth", "changed"),
        ("redis", "Service/shop/redis", "changed"),
        ("storefront", "Deployment/shop/storefront", "changed"),
        ("storefront", "Service/shop/storefront-legacy", "removed"),
    ]
    everything = proc.stdout + proc.stderr + "".join(p.read_text() for p in out.values())
    for secret in (
        "example-only-not-a-real-password",
        base64.b64encode(b"example-only-not-a-real-password").decode(),
    ):
        assert secret not in everything


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"
BOMB = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n"
    + '  a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    + "".join(
        f"  {n}: &{n} [" + ",".join([f"*{p}"] * 10) + "]\n"
        for p, n in zip("abcdefghi", "bcdefghij", strict=True)
    )
)


@pytest.fixture
def broken_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    apps = ["good", "syntax", "notmap", "dup", "bomb", "escape", "nokind", "helmfail", "remote"]
    project = {"version": 1, "apps": [{"name": a, "path": f"apps/{a}", "namespace": "ns"} for a in apps]}
    repo.write({
        ".gitops-check.yaml": json.dumps(project),
        "apps/good/cm.yaml": CM.format(name="good"),
        "apps/syntax/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n  name: x\n",
        "apps/notmap/cm.yaml": CM.format(name="ok") + "---\n- just\n- a list\n",
        "apps/dup/a.yaml": CM.format(name="same"),
        "apps/dup/b.yaml": CM.format(name="same"),
        "apps/bomb/cm.yaml": BOMB,
        "apps/escape/cm.yaml": CM.format(name="esc"),
        "apps/nokind/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n",
        "apps/helmfail/Chart.yaml": "apiVersion: v2\nname: helmfail\nversion: 0.1.0\n",
        "apps/helmfail/templates/cm.yaml": "{{ .Values.missing.deeper }}\n",
        "apps/remote/kustomization.yaml": "resources:\n  - github.com/example/repo//base?ref=v1\n",
    })  # fmt: skip
    repo.symlink("apps/escape/passwd.yaml", "/etc/passwd")
    repo.commit("broken things")
    return repo


def _snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "snap.json"
    obj = json.loads(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good", "namespace": "ns"},
                                 "data": {"k": "v"}}))  # fmt: skip
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [obj]}))
    return path


def test_bad_input_is_reported_per_app_and_the_rest_is_checked(
    broken_repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "r.json"
    code = main(["diff", "--repo", str(broken_repo.path), "--snapshot", str(_snapshot(tmp_path)), "--json", str(report),
                 "--no-color"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.out + captured.err
    data = json.loads(report.read_text())
    apps = {a["name"]: a for a in data["apps"]}
    assert apps["good"]["status"] == "in-sync"

    def error(app: str) -> dict[str, object]:
        assert apps[app]["status"] == "error", apps[app]
        return apps[app]["errors"][0]

    assert error("syntax")["file"] == "apps/syntax/cm.yaml" and error("syntax")["line"] == 4
    assert "invalid YAML" in str(error("syntax")["message"])
    assert error("notmap")["line"] == 8 and "not a Kubernetes object" in str(error("notmap")["message"])
    assert "defined twice" in str(error("dup")["message"])
    assert "alias bomb" in str(error("bomb")["message"])
    assert "passwd.yaml" in str(error("escape")["message"])
    assert "ConfigMap lacks metadata.name" in str(error("nokind")["message"])
    assert "helm template for app helmfail (apps/helmfail) failed" in str(error("helmfail")["message"])
    assert "--allow-remote-bases" in str(error("remote")["message"])
    assert "root:" not in report.read_text()  # nothing of /etc/passwd was read


def test_unknown_revision_is_a_clear_error(
    broken_repo: GitRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "diff",
            "--repo",
            str(broken_repo.path),
            "--rev",
            "no-such-branch",
            "--snapshot",
            str(_snapshot(tmp_path)),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown revision 'no-such-branch'" in err and "Traceback" not in err


def test_missing_helm_binary_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITOPS_CHECK_HELM", str(tmp_path / "no-helm-here"))
    report = tmp_path / "r.json"
    code = main(["diff", "--repo", str(EXAMPLE / "shop"), "--working-tree", "--snapshot", str(EXAMPLE / "shop-cluster.json"),
                 "--json", str(report)])  # fmt: skip
    assert code == 2
    payments = next(a for a in json.loads(report.read_text())["apps"] if a["name"] == "payments")
    assert "no-helm-here" in payments["errors"][0]["message"]
    storefront = next(a for a in json.loads(report.read_text())["apps"] if a["name"] == "storefront")
    assert storefront["status"] == "drifted"  # the other apps are still checked


def test_no_comparison_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--repo", str(EXAMPLE / "shop")]) == 2
    assert "--snapshot" in capsys.readouterr().err


def test_unreadable_snapshot_makes_every_app_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    report = tmp_path / "r.json"
    code = main(
        [
            "diff",
            "--repo",
            str(EXAMPLE / "shop"),
            "--working-tree",
            "--snapshot",
            str(bad),
            "--json",
            str(report),
        ]
    )
    assert code == 2
    data = json.loads(report.read_text())
    assert all(a["status"] == "error" for a in data["apps"])
    assert any("bad.json" in e["message"] for e in data["errors"])
