"""``blockyaml`` reads plain block YAML without libyaml's nodes; whatever it returns must equal what libyaml's path
returns (values, document lines, heads), and where libyaml refuses a text it must give up (None).

Differential on generated documents (every style it reads: nesting, sequences at their key's column, literal
blocks, one-line flows, quoted keys, comments) and on mutants of them that break one line (characters inserted,
deleted, indentation moved, lines doubled or dropped); then on every YAML file of this repository."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitops_check import blockyaml, yamlio
from gitops_check.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


def _libyaml(text: str) -> list[tuple[Any, int]] | str:
    try:
        return [(d.data, d.line) for d in yamlio.load_with_libyaml(text, "x.yaml")]
    except InputError as e:
        return f"error: {e}"


def _same_as_libyaml(text: str) -> bool:
    """Asserts the claim on ``text``; True when blockyaml read it (False: it gave up)."""
    got = blockyaml.load(text)
    if got is None:
        return False
    assert got == _libyaml(text), text
    assert yamlio.document_heads(text, "x.yaml") == yamlio.heads_with_libyaml(text, "x.yaml"), text
    return True


_PLAINS = ["v1", "ConfigMap", "app.kubernetes.io/name", "10", "-1", "0x1F", "1e3", "1.5", "true", "yes", "y",
           "null", "~", "12:30", "2024-01-01", "a b", "a:b", "a#b", "http://x/y?a=1&b=2", "-x", ".5", "1_000",
           "0o17", "007", ".inf", "=", "a,b", "a]b", "é", "日本"]  # fmt: skip
_KEYS = ["name", "kind", "app.kubernetes.io/part-of", "a_b", "$x", "k8s", "x-y", "data", "spec", "metadata"]
# Keys go-yaml reads as something else than a string, or that are not plain keys here.
_ODD_KEYS = ["1", "true", "y", "<<", "null", "a b", "a:b"]


def _scalar(rng: random.Random) -> str:
    pick = rng.random()
    text = rng.choice(_PLAINS)
    if pick < 0.6:
        return text
    if pick < 0.75:
        return "'" + text.replace("'", "''") + "'"
    if pick < 0.85:
        return '"' + text + '"'
    if pick < 0.9:
        return "'it''s'"
    return rng.choice(["[]", "{}", "[a, 'b', 1]", "{a: 1, b: x}", '{"q": v}', "[x]"])


def _mapping(
    rng: random.Random, indent: int, depth: int, out: list[str], first_prefix: str | None = None
) -> None:
    """Lines of a block mapping at ``indent``; ``first_prefix``: its first line starts a sequence item."""
    keys = rng.sample(_KEYS, rng.randint(1, 4))
    for i, key in enumerate(keys):
        if rng.random() < 0.03:
            key = rng.choice(_ODD_KEYS)
        if rng.random() < 0.15:
            key = f'"{key}"' if rng.random() < 0.5 else f"'{key}'"
        lead = first_prefix if (i == 0 and first_prefix is not None) else " " * indent
        if rng.random() < 0.1:
            out.append(" " * rng.randint(0, indent + 2) + "# a comment: with - marks")
        pick = rng.random()
        if depth < 3 and pick < 0.3:
            out.append(f"{lead}{key}:")
            _mapping(rng, indent + rng.choice((1, 2, 4)), depth + 1, out)
        elif depth < 3 and pick < 0.5:
            out.append(f"{lead}{key}:")
            _sequence(rng, indent + rng.choice((0, 2)), depth + 1, out)
        elif pick < 0.6:
            out.append(f"{lead}{key}: {rng.choice(['|', '|-'])}")
            inner = " " * (indent + rng.choice((1, 2, 4)))
            for _ in range(rng.randint(1, 3)):
                out.append(
                    inner + rng.choice(["line", "  deeper", "# not a comment", "- not an item", "a: b"])
                )
                if rng.random() < 0.2:
                    out.append("")
        else:
            out.append(f"{lead}{key}: {_scalar(rng)}")


def _sequence(rng: random.Random, indent: int, depth: int, out: list[str]) -> None:
    for _ in range(rng.randint(1, 3)):
        dash = " " * indent + "-" + " " * rng.choice((1, 1, 2))
        if depth < 3 and rng.random() < 0.5:
            _mapping(rng, len(dash), depth + 1, out, first_prefix=dash)
        else:
            out.append(dash + _scalar(rng))


def _stream(rng: random.Random) -> str:
    out: list[str] = []
    for d in range(rng.randint(1, 3)):
        if d or rng.random() < 0.5:
            out.append("---")
        if rng.random() < 0.2:
            out.append("# Source: chart/templates/x.yaml")
        if rng.random() < 0.1:
            _sequence(rng, 0, 1, out)
        else:
            _mapping(rng, 0, 0, out)
    return "\n".join(out) + ("\n" if rng.random() < 0.9 else "")


_BREAKERS = [" ", "- ", ": ", "#", " #", "'", '"', "|", "|+", ">", "{", "}", "[", "]", ",", "&a ", "*a", "!!str ",
             "---", "...", "\n", "\n  ", ":", "-", "? ", "\\", "%", "@", "`", "\t", "\r", "\u2028", "\x85", "\ufeff",
             "<<: ", "1e3", "yes", "\x01", "\x7f", "\x00"]  # fmt: skip


def _mutant(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 2)):
        i = rng.randrange(len(lines))
        line = lines[i]
        pick = rng.random()
        if pick < 0.4:
            at = rng.randint(0, len(line))
            line = line[:at] + rng.choice(_BREAKERS) + line[at:]
        elif pick < 0.55 and line:
            at = rng.randrange(len(line))
            line = line[:at] + line[at + 1 :]
        elif pick < 0.7:
            line = " " + line
        elif pick < 0.8:
            line = line[1:] if line.startswith(" ") else line
        elif pick < 0.9:
            lines.insert(i, rng.choice(lines))
        else:
            line = line + rng.choice([" ", "  # x", ":", " |", " {}", " 'a'", ' "b"', " -"])
        lines[i] = line
    return "\n".join(lines)


def _differential(stream: Callable[[random.Random], str], seed: int, texts: int) -> tuple[int, int]:
    """The claim on ``texts`` streams of ``stream`` and five mutants of each: how many of each blockyaml read."""
    rng = random.Random(seed)
    read = mutants_read = 0
    for _ in range(texts):
        text = stream(rng)
        read += _same_as_libyaml(text)
        for _ in range(5):
            mutants_read += _same_as_libyaml(_mutant(rng, text))
    return read, mutants_read


@pytest.mark.parametrize("seed", range(6))
def test_generated_documents_and_their_mutants_read_as_libyaml_reads_them(seed: int) -> None:
    read, mutants_read = _differential(_stream, seed, 400)
    assert read > 100 and mutants_read > 150  # the generator mostly stays inside the subset


# JSON documents (``kubectl get -o json``, generated manifests): JSON is YAML's flow style.
_JSON_NUMBERS = ["0", "10", "-1", "1.5", "-0.0", "1e3", "1E+3", "2.5e-3", "12345678901234567890", "1.0", "-0",
                 "0.1e1", "9007199254740993"]  # fmt: skip
_JSON_KEYS = [*_KEYS, "", "a b", "a: b", "#x", "- x", "{", "'", "é", "<<", "1", "true", "x" * 1100]
_JSON_LAYOUTS: list[dict[str, Any]] = [
    {"indent": 1}, {"indent": 2}, {"indent": None}, {"indent": None, "separators": (",", ":")},
    {"indent": 2, "ensure_ascii": True}, {"indent": "   "}, {"indent": 0},
]  # fmt: skip


def _json_value(rng: random.Random, depth: int) -> Any:
    pick = rng.random()
    if depth < 4 and pick < 0.3:
        return _json_mapping(rng, depth)
    if depth < 4 and pick < 0.45:
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if pick < 0.6:
        return f"@@{rng.choice(_JSON_NUMBERS)}@@"  # written as the number's text (see _dumps)
    if pick < 0.7:
        return rng.choice([True, False, None])
    return rng.choice([*_PLAINS, "", "a\\b", 'say "hi"', "tab\there", "line\nbreak", "\u2028", "日本 é"])


def _json_mapping(rng: random.Random, depth: int) -> dict[str, Any]:
    keys = rng.sample(_JSON_KEYS[:12], rng.randint(0, 4))
    if rng.random() < 0.05:
        keys.append(rng.choice(_JSON_KEYS))
    return {key: _json_value(rng, depth + 1) for key in keys}


def _json_stream(rng: random.Random) -> str:
    out: list[str] = []
    for d in range(rng.randint(1, 3)):
        if d or rng.random() < 0.5:
            out.append("---")
        if rng.random() < 0.1:
            out.append("")
        document: Any = {"apiVersion": "v1", "kind": "ConfigMap"} if rng.random() < 0.9 else []
        if isinstance(document, dict):
            document.update(_json_mapping(rng, 0))
            if rng.random() < 0.3:
                document["metadata"] = {"name": rng.choice(_PLAINS), "labels": _json_mapping(rng, 2)}
        out.append(_dumps(document, rng.choice(_JSON_LAYOUTS)))
    return "\n".join(out) + ("\n" if rng.random() < 0.9 else "")


def _dumps(value: Any, layout: dict[str, Any]) -> str:
    import json
    import re

    text = json.dumps(value, ensure_ascii=layout.get("ensure_ascii", False),
                      **{k: v for k, v in layout.items() if k != "ensure_ascii"})  # fmt: skip
    return re.sub(r'"@@([^@"]*)@@"', r"\1", text)


@pytest.mark.parametrize("seed", range(6))
def test_json_documents_and_their_mutants_read_as_libyaml_reads_them(seed: int) -> None:
    read, mutants_read = _differential(_json_stream, 1000 + seed, 300)
    assert read > 100 and mutants_read > 150  # the generator mostly stays inside what it reads


def test_json_documents_are_read_by_the_json_path_with_their_lines() -> None:
    text = '---\n{\n "apiVersion": "v1",\n "n": [1, 1.5, 1e3, -0, true, null]\n}\n---\n\n---\n\n  {"a": {}}\n'
    assert (
        blockyaml._json_documents(text)
        == _libyaml(text)
        == [
            ({"apiVersion": "v1", "n": [1, 1.5, 1000.0, 0, True, None]}, 2),
            ({"a": {}}, 10),
        ]
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "b\\"c"}\n',  # an escape
        '{"a"\n: 1}\n',  # a key on another line than its colon
        '{"' + "k" * 1001 + '": 1}\n',  # a key longer than libyaml takes
        '{"a": 1, "a": 2}\n',  # a duplicate key
        '{"<<": {"a": 1}}\n',  # a merge key
        '{"a": NaN}\n',  # not JSON, not YAML's
        '{"a": 1}\n{"b": 2}\n',  # two documents without a separator
        "--- {}\n",  # content on the separator's line
        '{"a": 1} # a comment\n',
        "{" * 201 + "}" * 201 + "\n",  # nests past what blockyaml takes
    ],
)
def test_the_json_path_gives_up_on_what_it_does_not_read(text: str) -> None:
    assert blockyaml.load(text) is None


def test_every_yaml_file_of_the_repository_reads_as_libyaml_reads_it() -> None:
    files = [p for p in (ROOT / "tests").rglob("*.y*ml") if p.is_file()]
    files += [p for p in (ROOT / "examples").rglob("*.y*ml") if p.is_file()]
    read = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        read += _same_as_libyaml(text)
    assert read > 100


KUSTOMIZE_OUTPUT = """\
apiVersion: v1
data:
  config.yaml: |
    server:
      port: 8080

    # trailing comment kept
  empty: ""
  TIMEOUT: 30s
kind: ConfigMap
metadata:
  annotations:
    note: |-
      two
      lines
  labels:
    app.kubernetes.io/name: web
  name: web-config
  namespace: prod
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  template:
    spec:
      containers:
      - args:
        - --port=8080
        - -v
        env:
        - name: A
          value: "1"
        - name: B
          value: 'it''s'
        image: registry.example.com/web:1.0
        name: web
        ports:
        - containerPort: 8080
          protocol: TCP
        resources: {}
      tolerations: []
"""


def test_kustomize_output_is_read_by_blockyaml_with_its_lines() -> None:
    docs = blockyaml.load(KUSTOMIZE_OUTPUT)
    assert docs is not None
    assert [line for _, line in docs] == [1, KUSTOMIZE_OUTPUT.split("\n").index("---") + 2]
    config, deployment = (data for data, _ in docs)
    assert config["data"]["config.yaml"] == "server:\n  port: 8080\n\n# trailing comment kept\n"
    assert config["metadata"]["annotations"]["note"] == "two\nlines"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["--port=8080", "-v"]
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "it's"}]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert _same_as_libyaml(KUSTOMIZE_OUTPUT)


@pytest.mark.parametrize(
    "text",
    [
        "a:\tb\n",  # a tab
        "a: b\r\n",  # a carriage return
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!str 1\n",  # a tag
        "a: b # comment\n",  # a comment after a value
        "a: |+\n  x\n\n",  # keep chomping
        "a: >\n  x\n  y\n",  # a folded block
        "a: |2\n   x\n",  # an indentation indicator
        "a: |\n  x",  # a literal block ending the text without a line break
        "a: long\n  plain\n",  # a plain scalar on two lines
        'a: "x\\ty"\n',  # an escape
        "a: 1\na: 2\n",  # a duplicate key
        "a: 1\n'a': 2\n",  # the same key, quoted
        "true: 1\n",  # a key go-yaml reads as a boolean
        "<<: {a: 1}\n",  # a merge
        "--- a: 1\n",  # a value on the document marker
        "%YAML 1.1\n---\na: 1\n",  # a directive
        "plain scalar\n",  # a document that is a scalar
        "a: {b: {c: 1}}\n",  # a nested flow collection
        "- - a\n",  # a sequence in a sequence on one line
        "a: b\u2028c\n",  # a line separator libyaml breaks at
        "\ufeffa: 1\n",  # a byte order mark
        "a: b\x01\n",  # a control character (libyaml refuses it)
        "a:\n  - b\n  c: d\n",  # a key after a sequence at its column (libyaml refuses it)
    ],
)
def test_gives_up_on_what_it_does_not_read(text: str) -> None:
    assert blockyaml.load(text) is None


def test_deep_nesting_is_left_to_libyaml() -> None:
    text = "".join(" " * i + "k:\n" for i in range(300)) + " " * 300 + "k: v\n"
    assert blockyaml.load(text) is None
