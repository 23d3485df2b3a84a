"""The pieces of remote/: Masterminds/semver v3 semantics, the network policy, credential binding, the cache."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from gitops_check.errors import FetchError
from gitops_check.remote import semver
from gitops_check.remote.cache import Cache
from gitops_check.remote.credentials import Credentials
from gitops_check.remote.helmrepo import Entry, resolve
from gitops_check.remote.policy import NetworkPolicy, check_remote_target, check_url, redact

VERSIONS = [
    "0.2.3",
    "0.2.9",
    "0.3.0",
    "1.0.0",
    "1.2.0",
    "1.2.5",
    "1.3.0-rc.1",
    "1.3.0",
    "2.0.0",
    "2.1.0-beta.2",
    "v3.0.0",
]


@pytest.mark.parametrize(
    ("constraint", "best"),
    [
        ("*", "v3.0.0"),
        ("", "v3.0.0"),
        ("1.2.*", "1.2.5"),
        ("1.2.x", "1.2.5"),
        ("1.2", "1.2.5"),  # a missing part is a wildcard
        ("1", "1.3.0"),
        ("~1.2.3", "1.2.5"),
        ("~1", "1.3.0"),
        ("^1.2", "1.3.0"),
        ("^0.2.3", "0.2.9"),
        ("^0.0.1", None),
        (">1.2", "v3.0.0"),  # >1.2 means above 1.2.x
        (">1.2 <3", "2.0.0"),
        ("<=1.2", "1.2.5"),
        (">= 1.2, < 1.3", "1.2.5"),
        ("1.0 - 1.2.5", "1.2.5"),
        ("!=1.3.0 <2", "1.2.5"),
        (">=1.2 <2 || 2.x", "2.0.0"),
        (">=1.0.0-0 <2", "1.3.0"),
        (">=2.0.0-0", "v3.0.0"),
        (">=2.1.0-0 <3", "2.1.0-beta.2"),  # a pre-release comparator lets pre-releases match
        ("~2.1.0-0", "2.1.0-beta.2"),
        ("6.x", None),
    ],
)
def test_masterminds_constraints(constraint: str, best: str | None) -> None:
    assert semver.best_match(semver.Constraint.parse(constraint), VERSIONS) == best


def test_version_order_follows_semver() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0"]  # fmt: skip
    parsed = [semver.Version.parse(v) for v in ordered]
    assert sorted(reversed(parsed)) == parsed
    with pytest.raises(semver.SemverError):
        semver.Constraint.parse(">=1.2 garbage")


def test_exact_version_wins_and_missing_lists_the_nearest() -> None:
    entries = [Entry(v, (f"demo-{v}.tgz",), None) for v in VERSIONS]
    assert resolve(entries, "1.3.0-rc.1", "demo", "https://x").version == "1.3.0-rc.1"
    with pytest.raises(FetchError) as e:
        resolve(entries, "1.4.0", "demo", "https://x")
    assert "version 1.4.0 not found in https://x; nearest versions in the index: " in e.value.message
    with pytest.raises(FetchError, match="not a version or constraint"):
        resolve(entries, "latest-and-greatest", "demo", "https://x")


@pytest.mark.parametrize(
    ("url", "policy", "reason"),
    [
        ("file:///etc/passwd", NetworkPolicy(), "file:// URLs are never fetched"),
        ("ftp://example.com/x", NetworkPolicy(), "scheme ftp:// is not supported"),
        ("https://example.com/x", NetworkPolicy(offline=True), "offline"),
        (
            "https://example.com/x",
            NetworkPolicy(allow_hosts=("*.example.org",)),
            "not allowed by --allow-host",
        ),
        ("http://127.0.0.1:8080/x", NetworkPolicy(), "loopback"),
        ("http://[::1]/x", NetworkPolicy(), "loopback"),
        ("http://[::ffff:10.1.2.3]/x", NetworkPolicy(), "private"),
        ("http://10.1.2.3/x", NetworkPolicy(allow_hosts=("*",)), "private"),  # a wildcard is not explicit
        ("http://169.254.169.254/latest", NetworkPolicy(), "link-local"),
        ("http://0.0.0.0/x", NetworkPolicy(), "unspecified"),
        ("http://localhost/x", NetworkPolicy(), "loopback"),
        ("https://example.com/x", NetworkPolicy(commit_hosts=("other.org",)), "render.network.allowHosts"),
    ],
)
def test_policy_refuses(url: str, policy: NetworkPolicy, reason: str) -> None:
    with pytest.raises(FetchError, match=reason):
        check_url(policy, url)


def test_policy_allows_a_named_internal_host_and_narrowing_never_widens() -> None:
    check_url(NetworkPolicy(allow_hosts=("127.0.0.1",)), "http://127.0.0.1:5000/x")
    check_url(NetworkPolicy(allow_hosts=("127.0.0.1:5000",)), "http://127.0.0.1:5000/x")
    with pytest.raises(FetchError):
        check_url(NetworkPolicy(allow_hosts=("127.0.0.1:5001",)), "http://127.0.0.1:5000/x")
    narrowed = NetworkPolicy(allow_hosts=("127.0.0.1",)).restricted(allow_hosts=("127.0.0.1", "10.0.0.1"))
    check_url(narrowed, "http://127.0.0.1/x")
    with pytest.raises(FetchError):
        check_url(narrowed, "http://10.0.0.1/x")  # the commit listed it, the job did not
    with pytest.raises(FetchError, match="offline"):
        check_url(NetworkPolicy().restricted(offline=True), "https://example.com/")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("file:///srv/other//base", "file://"),
        ("git::file:///srv/other", "file://"),
        ("ssh://git@127.0.0.1/org/repo", "loopback"),
        ("git@127.0.0.1:org/repo", "loopback"),
        ("127.0.0.1:8080/org/repo//base?ref=v1", "loopback"),
        ("https://169.254.169.254/x", "link-local"),
    ],
)
def test_kustomize_remote_targets_pass_the_policy(entry: str, reason: str) -> None:
    with pytest.raises(FetchError, match=reason):
        check_remote_target(NetworkPolicy(), entry)


def test_redaction() -> None:
    assert (
        redact("see https://user:pa55@host/x and oci://tok@reg/y")
        == "see https://***@host/x and oci://***@reg/y"
    )


def test_credentials_bind_to_scheme_host_port_and_path(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "GITOPS_CHECK_CRED_A_URL": "https://charts.example.com/team",
        "GITOPS_CHECK_CRED_A_USERNAME": "u",
        "GITOPS_CHECK_CRED_A_PASSWORD": "p",
        "GITOPS_CHECK_CRED_B_URL": "https://charts.example.com/team/special",
        "GITOPS_CHECK_CRED_B_TOKEN": "t",
    }
    creds = Credentials.from_environment(env)
    assert creds.for_url("https://charts.example.com/team/index.yaml").label == "GITOPS_CHECK_CRED_A"  # type: ignore[union-attr]
    assert creds.for_url("https://charts.example.com/team/special/x").label == "GITOPS_CHECK_CRED_B"  # type: ignore[union-attr]
    for other in ("https://charts.example.com/teamx/index.yaml", "http://charts.example.com/team/x",
                  "https://charts.example.com:8443/team/x", "https://evil.example.com/team/x",
                  "https://charts.example.com.evil.org/team/x"):  # fmt: skip
        assert creds.for_url(other) is None, other
    assert "p" not in repr(creds.for_url("https://charts.example.com/team/x"))


def test_docker_and_helm_registry_logins(tmp_path: Path) -> None:
    import base64
    import json

    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"auths": {
        "registry.example.com:5000": {"auth": base64.b64encode(b"me:pw").decode()},
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw2").decode()},
    }}))  # fmt: skip
    creds = Credentials.from_environment({"HOME": str(tmp_path), "DOCKER_CONFIG": str(docker)})
    found = creds.for_url("https://registry.example.com:5000/v2/charts/demo/tags/list")
    assert found is not None and found.username == "me"
    assert creds.for_url("https://registry.example.com/v2/x") is None  # another port
    assert creds.for_url("https://registry-1.docker.io/v2/library/x/manifests/1") is not None


def _writer(root: str, n: int) -> None:
    cache = Cache(Path(root))
    for i in range(n):
        tmp = cache.temp_file()
        tmp.write_bytes(b"x" * 1000)
        cache.put_blob("a" * 64, tmp)
        cache.put_meta("k", {"i": i})
        assert cache.blob("a" * 64) is not None
        assert cache.blob_path("a" * 64).read_bytes() == b"x" * 1000


def test_cache_is_safe_across_threads_and_processes(tmp_path: Path) -> None:
    threads = [threading.Thread(target=_writer, args=(str(tmp_path), 50)) for _ in range(4)]
    procs = [
        multiprocessing.get_context("fork").Process(target=_writer, args=(str(tmp_path), 50))
        for _ in range(2)
    ]
    for t in (*threads, *procs):
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert Cache(tmp_path).get_meta("k") is not None


def test_cache_evicts_least_recently_used(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_bytes=2500)
    for i, name in enumerate("abc"):
        tmp = cache.temp_file()
        tmp.write_bytes(b"x" * 1000)
        cache.put_blob(name * 64, tmp)
        os.utime(cache.blob_path(name * 64), (1000 + i, 1000 + i))
    assert cache.blob("a" * 64) is not None  # used now: the most recent
    removed = cache.trim()
    assert [p.name for p in removed] == ["b" * 64]
    assert cache.blob("a" * 64) is not None and cache.blob("c" * 64) is not None


def test_a_run_that_filled_the_cache_trims_it_at_the_end(tmp_path: Path) -> None:
    from gitops_check.remote.charts import remote_for, reset

    policy = NetworkPolicy(cache_dir=str(tmp_path), cache_max_bytes=1500)
    cache = remote_for(policy).cache
    for name in "ab":
        tmp = cache.temp_file()
        tmp.write_bytes(b"x" * 1000)
        cache.put_blob(name * 64, tmp)
    os.utime(cache.blob_path("a" * 64), (1000, 1000))
    reset()
    assert not cache.blob_path("a" * 64).exists() and cache.blob_path("b" * 64).exists()


def test_flux_git_ref_precedence_and_argo_oci_revisions() -> None:
    from gitops_check.discover.argocd_spec import _oci_source
    from gitops_check.remote.gitfetch import flux_revision

    assert flux_revision(None) == "refs/heads/master"
    assert flux_revision({"branch": "main"}) == "refs/heads/main"
    assert flux_revision({"branch": "main", "tag": "v1"}) == "refs/tags/v1"
    assert flux_revision({"tag": "v1", "semver": ">=1"}) == "semver:>=1"
    assert flux_revision({"semver": ">=1", "name": "refs/pull/1/head"}) == "refs/pull/1/head"
    assert flux_revision({"name": "x", "commit": "a" * 40}) == "a" * 40
    url = "oci://r.example.com/m/app"
    assert _oci_source(url, "v1.2.3").tag == "v1.2.3"
    assert _oci_source(url, None).tag == "latest"
    assert _oci_source(url, "1.x").semver == "1.x"
    assert _oci_source(url, ">=1.0.0 <2").semver == ">=1.0.0 <2"
    assert _oci_source(url, "sha256:" + "f" * 64).digest == "sha256:" + "f" * 64
