"""gitops-check's YAML loader against sigs.k8s.io/yaml (YAMLToJSON) on a corpus of tricky scalars and keys."""

from __future__ import annotations

import json

import pytest

from gitops_check import yamlio
from gitops_check.errors import InputError
from tests.differential import goref

SCALARS = [
    # sexagesimal and times: strings in Go, numbers in YAML 1.1
    "12:30", "8080:80", "1:2:3", "-1:30", "190:20:30.15",
    # floats Go reads and PyYAML does not
    "1e3", "1E3", "-1e3", "+1e3", "1e-3", "1.5e10", "1e21", "1e22", "1e400", "1e-400", "5.", ".5", "-.5",
    "+.5", "1.0", "-0.0", "0.1", "3.14159265358979323846", "1_000.5", "1__0", "1.2.3", "1e", "e3", ".e3",
    # ints: Go syntax, underscores, octal, hex, binary, signs, ranges
    "0", "00", "08", "09", "0755", "0o17", "0O17", "0x1F", "0X1f", "-0x1F", "+0x1F", "0b101", "-0b101",
    "0b102", "1_000", "_1000", "1000_", "+5", "-5", "+0", "-0", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
    "18446744073709551616", "99999999999999999999999", "0x", "0o", "0b", "0xFFFFFFFFFFFFFFFF",
    "0x10000000000000000",
    # booleans and nulls of YAML 1.1 and Go
    "y", "Y", "n", "N", "yes", "Yes", "YES", "no", "on", "On", "ON", "off", "OFF", "true", "True", "TRUE",
    "false", "FALSE", "tRUE", "yEs", "null", "Null", "NULL", "nULL", "~", "",
    # special floats (Go refuses them in JSON), near misses
    ".inf", "-.inf", "+.inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", "inf", "nan", "Infinity", ".infinity",
    # timestamps stay strings
    "2024-01-01", "2024-1-1", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2024-13-45",
    "1234-5",
    # plain strings that look like something else
    "<<", "=", "-", "+", ".", "..", "0.0.0.0", "1.2.3.4:80", "v1.2", "1Gi", "500m", "1e3Mi", "0x1p-2",
    "0x1.8p1", "1,000", "$1", "#not", "~x", "yes please",
]  # fmt: skip

DOCUMENTS = [
    *(f"v: {s}\n" for s in SCALARS),
    *(f"{s}: v\n" for s in SCALARS if s not in ("", "-", "?")),
    *(f"v: '{s}'\n" for s in SCALARS[:12]),
    "a: !!str 123\nb: !!int '7'\nc: !!float '1'\n",
    "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n",
    "list: [1, 1e3, 12:30, y, ~, 0x10]\n",
    "nested: {a: {1: one, 2.5: two, true: three}}\n",
    "[a]: b\n",
    "~: v\n",
]
# Documented deviation: Go keeps the last of duplicate keys (after turning keys into strings); gitops-check
# refuses them, because a duplicate in a manifest is a mistake whose silent resolution hides a setting.
DUPLICATES = ["a: 1\na: 2\n", "1: a\n'1': b\n", "y: a\n'true': b\n"]


@pytest.fixture(scope="module")
def go_results() -> list[dict[str, object]]:
    return goref.run("yaml", DOCUMENTS)


@pytest.mark.parametrize("index", range(len(DOCUMENTS)), ids=[repr(d)[:40] for d in DOCUMENTS])
def test_loader_reads_what_go_reads(index: int, go_results: list[dict[str, object]]) -> None:
    doc, go = DOCUMENTS[index], go_results[index]
    try:
        ours = yamlio.load_one(doc, "corpus.yaml")
    except InputError as e:
        assert "error" in go, f"{doc!r}: Go reads {go.get('json')}, we refuse it: {e}"
        return
    assert "json" in go, f"{doc!r}: Go refuses it ({go.get('error')}), we read {ours!r}"
    expected = json.loads(str(go["json"]))
    assert ours == expected and json.dumps(ours, sort_keys=True) == json.dumps(expected, sort_keys=True), (
        f"{doc!r}: Go {go['json']}, ours {json.dumps(ours)}"
    )


@pytest.mark.parametrize("doc", DUPLICATES)
def test_duplicate_keys_are_refused_where_go_keeps_the_last(doc: str) -> None:
    (go,) = goref.run("yaml", [doc])
    assert "json" in go  # Go reads it ...
    with pytest.raises(InputError, match="duplicate key"):  # ... we do not
        yamlio.load_one(doc, "corpus.yaml")
