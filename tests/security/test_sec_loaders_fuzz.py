"""Property-based fuzzing of the loaders that read what an attacker writes: YAML, snapshots, the project file.

Whatever the bytes, the only failures are our own clear errors (``GitopsCheckError`` subclasses, which the CLI
prints as one line with exit 2): never a library exception, a RecursionError or a crash. The strategies mix
random text with YAML/JSON built from structured values, then mutated (cut, spliced with hostile fragments:
anchors, tags, deep nesting, merge keys, odd scalars), which reaches far more of the parsers than random bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gitops_check import yamlio
from gitops_check.cluster.snapshot import load_snapshot
from gitops_check.errors import GitopsCheckError
from gitops_check.project.config import parse_project

FRAGMENTS = [
    "&a ", "*a", "<<: *a\n", "!!python/object:os.system ", "!!binary ", "? ", "- ", ": ", "---\n", "...\n",
    "{", "}", "[", "]", "'", '"', "\\", "\t", "\x00", "\ufeff", "%YAML 1.1\n", "%TAG ! tag:x:\n", "!x ",
    "[" * 200, "{a: " * 150, "- " * 300, "0x1F", "1e400", ".nan", "~", "null", "2024-01-01", "=", "|\n  ", ">-\n",
    '"\\u0000"', '"\\ud800"', "\x85", "\u2028",
]  # fmt: skip
SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def yaml_like(draw: st.DrawFn, top: Any = values) -> str:
    value = draw(top)
    text = yaml.safe_dump(value) if draw(st.booleans()) else json.dumps(value)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "cut", "dup"]))
        if action == "insert":
            text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
        elif action == "cut":
            text = text[:at]
        else:
            text = text[:at] + text[at // 2 : at] + text[at:]
    return text


texts = st.one_of(yaml_like(), st.text(max_size=200), st.sampled_from(FRAGMENTS))


def only_our_errors(call: Any) -> None:
    try:
        call()
    except GitopsCheckError as e:
        assert str(e)  # a message the user can read


@SETTINGS
@given(texts)
@example("0:\n1E100:")  # found by the snapshot fuzzer: a float key beyond float32 crashed goyaml.float_key
@example("? -1e39\n: x\n")
def test_yaml_loader_fails_only_with_clear_errors(text: str) -> None:
    only_our_errors(lambda: list(yamlio.load_yaml_documents(text, "x.yaml")))
    only_our_errors(lambda: list(yamlio.load_documents(text, "x.yaml")))
    only_our_errors(lambda: list(yamlio.load_documents(text.encode("utf-8", "surrogatepass"), "x.yaml")))
    only_our_errors(lambda: yamlio.load_one(text, "x.yaml"))


@SETTINGS
@given(st.binary(max_size=300))
@example(b"{\x80")  # found by this test: json.loads raised UnicodeDecodeError
@example(b"[\xff\xfe]")
def test_yaml_loader_takes_any_bytes(data: bytes) -> None:
    only_our_errors(lambda: list(yamlio.load_documents(data, "x.yaml")))
    only_our_errors(lambda: yamlio.load_json(data, "x.json"))


project_like = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 1, "1", 2, None])},
    optional={
        "apps": st.lists(
            st.dictionaries(
                st.sampled_from(["name", "path", "namespace", "helm", "kustomize", "cluster", "ignoreDifferences",
                                 "source", "sources", "directory", "syncPolicy"]),
                values, max_size=5,
            ),
            max_size=3,
        ),
        "render": st.dictionaries(
            st.sampled_from(["kubeVersion", "apiVersions", "allowRemoteBases", "timeout", "workers", "helm",
                             "kustomize", "other"]),
            values, max_size=4,
        ),
        "discovery": values,
        "clusters": values,
        "ignoreDifferences": values,
        "live": values,
        "sync": values,
        "hygiene": values,
    },
)  # fmt: skip


@SETTINGS
@given(st.one_of(yaml_like(project_like), texts))
def test_project_file_loader_fails_only_with_clear_errors(text: str) -> None:
    only_our_errors(lambda: parse_project(text, ".gitops-check.yaml"))


objects = st.fixed_dictionaries(
    {"apiVersion": st.sampled_from(["v1", "apps/v1", "gitops-check/v1", 1, None]),
     "kind": st.sampled_from(["ConfigMap", "Secret", "List", "Snapshot", "Deployment", None, 3])},
    optional={"metadata": st.one_of(values, st.fixed_dictionaries({"name": values, "namespace": values})),
              "data": values, "items": st.lists(values, max_size=3), "spec": values, "objects": values,
              "coverage": values, "unreadable": values, "secretHashing": values},
)  # fmt: skip


@SETTINGS
@given(st.one_of(yaml_like(objects), yaml_like(st.lists(objects, max_size=3)), texts))
def test_snapshot_loader_fails_only_with_clear_errors(tmp_path_factory: Any, text: str) -> None:
    path = Path(tmp_path_factory.mktemp("snap")) / "snapshot.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    only_our_errors(lambda: load_snapshot(path))
