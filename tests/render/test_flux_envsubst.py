"""render.envsubst: Flux's post-build substitution language, checked against fluxcd/pkg/envsubst's own cases."""

from __future__ import annotations

import pytest

from gitops_check.render.envsubst import VAR_NAME, SubstitutionError, substitute

# (variables, input, output): the expansion cases of fluxcd/pkg/envsubst's eval_test.go (from tldp.org).
UPSTREAM = [
    ({}, "abcdEFGH28ij", "abcdEFGH28ij"),
    ({"var01": "abcdEFGH28ij"}, "${#var01}", "12"),
    ({"var01": "abcdEFGH28ij"}, "${var01^}", "AbcdEFGH28ij"),
    ({"var01": "abcdEFGH28ij"}, "${var01^^}", "ABCDEFGH28IJ"),
    ({"var01": "ABCDEFGH28IJ"}, "${var01,}", "aBCDEFGH28IJ"),
    ({"var01": "ABCDEFGH28IJ"}, "${var01,,}", "abcdefgh28ij"),
    ({"path_name": "/home/bozo/ideas/thoughts.for.today"}, "${path_name:11}", "ideas/thoughts.for.today"),
    ({"path_name": "/home/bozo/ideas/thoughts.for.today"}, "${path_name:11:5}", "ideas"),
    ({"var": "abc"}, "${var=xyz}", "abc"),
    ({}, "${var=xyz}", "xyz"),
    ({"default_var": "foo"}, "something ${var=${default_var}}", "something foo"),
    ({"default_var": "foo1"}, "foo: ${var=${default_var}-suffix}", "foo: foo1-suffix"),
    ({"default_var": "foo1"}, "foo: ${var=prefix${default_var}-suffix}", "foo: prefixfoo1-suffix"),
    ({}, "${var:=xyz}", "xyz"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/%abc/XYZ}", "abcABC123ABCXYZ"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/#abc/XYZ}", "XYZABC123ABCabc"),
    ({"stringZ": "somevalue"}, "${stringZ/#/prefix-}", "prefix-somevalue"),
    ({"stringZ": "somevalue"}, "${stringZ/%/-suffix}", "somevalue-suffix"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ//abc/xyz}", "xyzABC123ABCxyz"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/abc/xyz}", "xyzABC123ABCabc"),
    ({"filename": "bash.string.txt"}, "${filename#*.}", "string.txt"),
    ({"filename": "path/to/file"}, "${filename#*/}", "to/file"),
    ({"filename": "/path/to/file"}, "${filename#*/}", "path/to/file"),
    ({"filename": "bash.string.txt"}, "${filename##*.}", "txt"),
    ({"filename": "path/to/file"}, "${filename##*/}", "file"),
    ({"filename": "/path/to/file"}, "${filename##*/}", "file"),
    ({"filename": "bash.string.txt"}, "${filename%.*}", "bash.string"),
    ({"filename": "bash.string.txt"}, "${filename%%.*}", "bash"),
    ({"var01": "abcdEFGH28ij"}, "${var=${var01^^}}", "ABCDEFGH28IJ"),
    ({"var01": "abcdEFGH28ij"}, "$${var01}", "${var01}"),
    (
        {"var01": "abcdEFGH28ij"},
        "some text ${var01}$${var$${var01}$var01${var01}",
        "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij",
    ),
    ({"default_var": "foo"}, "something $${var=${default_var}}", "something ${var=foo}"),
    ({"stringZ": "foo/bar"}, r"${stringZ/\//-}", "foo-bar"),
    ({"stringZ": "foo/bar/baz"}, r"${stringZ//\//-}", "foo-bar-baz"),
    ({"default_var": "foo"}, "\\\\something ${var=${default_var}}", "\\\\something foo"),
    ({"stringZ": "foo.bar"}, "${stringZ/./}", "foobar"),
]


@pytest.mark.parametrize(("variables", "text", "expected"), UPSTREAM, ids=[c[1] for c in UPSTREAM])
def test_upstream_cases(variables: dict[str, str], text: str, expected: str) -> None:
    assert substitute(text, variables.get)[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$var and $HOME stay", "$var and $HOME stay"),  # only ${...} is an expression
        ("pid $$ and $$$${x}", "pid $ and $${x}"),  # $$ is one $ outside expressions
        ("${undefined}|${undefined:=d}|${undefined:-d}", "|d|d"),  # undefined: empty, defaults apply
        ("${set:=d}", "value"),
        ("${empty:=d}", "d"),  # := replaces an empty value too (all default forms do)
        ("${set:2:2}", "lu"),
        ("${set:-3}", "value"),  # ':-' is a default, not a negative offset
        ("${set: -3}", "value"),  # bash gives "lue"; Go's Atoi refuses " -3", so the value is kept
        ("${set:1:-1}", "alu"),
        ("plain text\nover lines", "plain text\nover lines"),
    ],
)
def test_rules(text: str, expected: str) -> None:
    assert substitute(text, {"set": "value", "empty": ""}.get)[0] == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${var-x}", "missing closing brace"),  # not supported by the parser, unlike bash
        ("${var.x}", "missing closing brace"),
        ("${}", "unable to parse variable name"),
        ("${open", "missing closing brace"),
        ("${a:}", "unable to parse substitution within function"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(SubstitutionError, match=message):
        substitute(text, {"var": "secret-value"}.get)


def test_error_messages_never_hold_values() -> None:
    for text in ("${var-x}", "${var.x}", "${var", "${missing}"):
        with pytest.raises(SubstitutionError) as caught:
            substitute(text, {"var": "secret-value"}.get, strict=True)
        assert "secret-value" not in str(caught.value)


def test_strict_mode() -> None:
    """StrictPostBuildSubstitutions: a missing variable fails unless the expression has a default."""
    for text in (
        "${missing}",
        "${#missing}",
        "${missing^^}",
        "${missing:0}",
        "${missing/a/b}",
        "${missing%%a}",
    ):
        with pytest.raises(SubstitutionError, match="variable not set"):
            substitute(text, {}.get, strict=True)
    for text, expected in (("${missing:-f}", "f"), ("${missing:=a}", "a"), ("${missing=a}", "a")):
        assert substitute(text, {}.get, strict=True)[0] == expected


def test_reports_the_variables_it_read() -> None:
    _, used = substitute("${a} ${b:=${c}} $${d} ${#e}", {"a": "1"}.get)
    assert used == {"a", "b", "c", "e"}


def test_many_expressions_do_not_recurse() -> None:
    text = "x: ${v}\n" * 5000
    out, _ = substitute(text, {"v": "1"}.get)
    assert out == "x: 1\n" * 5000


@pytest.mark.parametrize("name", ["cluster_env", "_x", "A1"])
def test_valid_names(name: str) -> None:
    assert VAR_NAME.match(name)


@pytest.mark.parametrize("name", ["1abc", "my-var", "a.b", "", "é"])
def test_invalid_names(name: str) -> None:
    assert not VAR_NAME.match(name)
