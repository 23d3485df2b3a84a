"""ApplicationSet templating measured against the cases of Argo CD's own tests (applicationset/utils).

The goTemplate cases run the real gitops-check-gotemplate helper; expected values and error messages are the
ones Argo CD's TestRenderTemplateParamsGoTemplate / TestRenderTemplateParams assert. Each case templates one
field of an Application template, as Argo CD's tests do (there: every string field in turn).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_check.discover import appset, gotemplate
from gitops_check.discover.appset_params import go_float
from gitops_check.discover.gotemplate import Job, Syntax, TemplateError, Templater
from tests.helpers.binaries import cached_binary


@pytest.fixture(scope="module")
def helper() -> str:
    return str(
        cached_binary(gotemplate.HELPER, how="build it with `python scripts/tools.py ensure gotemplate`")
    )


def app_with(field: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "application-one", "labels": {"label-key": "label-value"}},
        "spec": {"project": "", "source": {"repoURL": "", "path": field}, "destination": {"server": ""}},
    }


def render_path(
    field: str, params: dict[str, Any], *, go: bool, options: tuple[str, ...] = (), helper: str | None = None
) -> Any:
    templater = Templater(Syntax(go, options), helper=helper)
    result = appset._render(app_with(field), [params], templater)[0]
    if isinstance(result, TemplateError):
        return result
    assert result["metadata"] == {"name": "application-one", "labels": {"label-key": "label-value"}}
    return result["spec"]["source"]["path"]


IMAGE = {"replicas": 3, "image": {"name": "busybox", "version": "latest"}}
HPA = {"replicas": 3, "hpa": {"enabled": True, "minReplicas": 1, "maxReplicas": 5}}
# (name, template, params, options, expected value, or expected error message)
GO_CASES: list[tuple[str, str, dict[str, Any], tuple[str, ...], str | None, str | None]] = [
    ("simple substitution", "{{ .one }}", {"one": "two"}, (), "two", None),
    ("contains itself", "{{ .one }}", {"one": "{{one}}"}, (), "{{one}}", None),
    ("contains something else", "{{ .one }}", {"one": "{{two}}"}, (), "{{two}}", None),
    ("multiple on a line", "{{.one}}{{.one}}", {"one": "two"}, (), "twotwo", None),
    ("multiple different", "{{.one}}{{.three}}", {"one": "two", "three": "four"}, (), "twofour", None),
    ("with quote", "{{.one}} {{.three}}", {"one": '"hello" world', "three": "four"}, (), '"hello" world four', None),
    ("depth", "{{ .image.version }}", IMAGE, (), "latest", None),
    ("multiple depth", "{{ .image.name }}:{{ .image.version }}", IMAGE, (), "busybox:latest", None),
    ("if ok", "{{ if .hpa.enabled }}{{ .hpa.maxReplicas }}{{ else }}{{ .replicas }}{{ end }}", HPA, (), "5", None),
    ("if not ok", "{{ if .hpa.enabled }}{{ .hpa.maxReplicas }}{{ else }}{{ .replicas }}{{ end }}",
     {**HPA, "hpa": {**HPA["hpa"], "enabled": False}}, (), "3", None),
    ("loop", "{{ range .volumes }}[{{ .name }}]{{ end }}",
     {"volumes": [{"name": "volume-one", "emptyDir": {}}, {"name": "volume-two", "emptyDir": {}}]}, (),
     "[volume-one][volume-two]", None),
    ("index", '{{ index .admin "admin-ca" }}, {{ index .admin "admin-jks" }}',
     {"admin": {"admin-ca": "value admin ca", "admin-jks": "value admin jks"}}, (), "value admin ca, value admin jks", None),
    ("index with backslashes", '{{ index .admin "admin-ca" }}, \\\\ "Hello world", {{ index .admin "admin-jks" }}',
     {"admin": {"admin-ca": 'value "admin" ca with \\', "admin-jks": "value admin jks"}}, (),
     'value "admin" ca with \\, \\\\ "Hello world", value admin jks', None),
    ("quote", "{{.quote}}", {"quote": '"'}, (), '"', None),
    ("no data", "{{.data}}", {}, (), "{{.data}}", None),
    ("parse error", "{{functiondoesnotexist}}", {"data": "a data string"}, (), None,
     'failed to parse template {{functiondoesnotexist}}: template: :1: function "functiondoesnotexist" not defined'),
    ("execution error", "{{.data.test}}", {"data": "a data string"}, (), None,
     'failed to execute go template {{.data.test}}: template: :1:7: executing "" at <.data.test>: '
     "can't evaluate field test in type interface {}"),
    ("missingkey=default", "--> {{.doesnotexist}} <--", {"unused": "x"}, (), "--> <no value> <--", None),
    ("missingkey=error", "--> {{.doesnotexist}} <--", {"unused": "x"}, ("missingkey=error",), None,
     'failed to execute go template --> {{.doesnotexist}} <--: template: :1:6: executing "" at <.doesnotexist>: '
     'map has no entry for key "doesnotexist"'),
    ("toYaml", "{{ toYaml . | indent 2 }}", {"foo": {"bar": {"bool": True, "number": 2, "str": "Hello world"}}}, (),
     "  foo:\n    bar:\n      bool: true\n      number: 2\n      str: Hello world", None),
    ("fromYaml", '{{ get (fromYaml .value) "hello" }}', {"value": "hello: world"}, (), "world", None),
    ("fromYaml error", '{{ get (fromYaml .value) "hello" }}', {"value": "non\n compliant\n yaml"}, (), None,
     'failed to execute go template {{ get (fromYaml .value) "hello" }}: template: :1:8: executing "" at '
     "<fromYaml .value>: error calling fromYaml: error unmarshaling JSON: while decoding JSON: json: cannot "
     "unmarshal string into Go value of type map[string]interface {}"),
    ("fromYamlArray", "{{ fromYamlArray .value | last }}", {"value": "- hello world\n- bonjour tout le monde"}, (),
     "bonjour tout le monde", None),
    ("fromYamlArray error", "{{ fromYamlArray .value | last }}", {"value": "non\n compliant\n yaml"}, (), None,
     'failed to execute go template {{ fromYamlArray .value | last }}: template: :1:3: executing "" at '
     "<fromYamlArray .value>: error calling fromYamlArray: error unmarshaling JSON: while decoding JSON: json: "
     "cannot unmarshal string into Go value of type []interface {}"),
    # From Argo CD's GoTemplate.md: path variables built with Sprig, normalize, dig with a default.
    ("sprig base", "{{base .path.path}}", {"path": {"path": "apps/My_Web"}}, (), "My_Web", None),
    ("normalize", "{{normalize .path.path}}", {"path": {"path": "apps/My_Web"}}, (), "apps-my-web", None),
    ("index segments", "{{index .path.segments 1}}", {"path": {"segments": ["apps", "web"]}}, (), "web", None),
    ("dig default", '{{.cluster}}{{dig "nameSuffix" "" .}}', {"cluster": "engineering-dev"}, ("missingkey=error",),
     "engineering-dev", None),
    ("dig set", '{{.cluster}}{{dig "nameSuffix" "" .}}', {"cluster": "engineering-prod", "nameSuffix": "-x"},
     ("missingkey=error",), "engineering-prod-x", None),
    ("slugify", "{{ cat .branch | slugify }}", {"branch": "Feature/Add_Login Page"}, (), "feature-add-login-page", None),
    ("slugify max smart", "{{ cat .branch | slugify 12 }}", {"branch": "hello world foo"}, (), "hello-world", None),
    ("tpl", '{{ tpl "{{ .a }}-x" . }}', {"a": "b"}, (), "b-x", None),
]  # fmt: skip


@pytest.mark.parametrize("case", GO_CASES, ids=[c[0] for c in GO_CASES])
def test_go_template_matches_argo_cd(helper: str, case: tuple[Any, ...]) -> None:
    _, template, params, options, expected, error = case
    result = render_path(template, params, go=True, options=options, helper=helper)
    if error is not None:
        assert isinstance(result, TemplateError)
        assert result.message == error
    else:
        assert result == expected


FAST_CASES = [
    ("simple substitution", "{{one}}", {"one": "two"}, "two"),
    ("with whitespace", "{{ one }}", {"one": "two"}, "two"),
    ("template characters but not in a template", "}} {{", {"one": "two"}, "}} {{"),
    ("nested template", "{{ }}", {"one": "{{ }}"}, "{{ }}"),
    ("field with whitespace", "{{ }}", {" ": "two", "": "three"}, "{{ }}"),
    ("contains itself", "{{one}}", {"{{one}}": "{{one}}"}, "{{one}}"),
    ("contains something else", "{{one}}", {"{{one}}": "{{two}}"}, "{{one}}"),
    ("case sensitive", "{{ONE}}", {"{{one}}": "two"}, "{{ONE}}"),
    ("multiple on a line", "{{one}}{{one}}", {"one": "two"}, "twotwo"),
    ("multiple different", "{{one}}{{three}}", {"one": "two", "three": "four"}, "twofour"),
    ("with quote", "{{one}} {{three}}", {"one": '"hello" world', "three": "four"}, '"hello" world four'),
    (
        "git path params",
        "{{path[1]}}-{{path.basename}}",
        {"path[1]": "web", "path.basename": "web"},
        "web-web",
    ),
    ("tags across lines are left alone", "{{one\n}}", {"one": "two"}, "{{one\n}}"),
]


@pytest.mark.parametrize("case", FAST_CASES, ids=[c[0] for c in FAST_CASES])
def test_fasttemplate_matches_argo_cd(case: tuple[Any, ...]) -> None:
    _, template, params, expected = case
    assert render_path(template, params, go=False) == expected


def test_fasttemplate_unclosed_tag_is_an_error() -> None:
    with pytest.raises(TemplateError, match="cannot find end tag"):
        gotemplate.fast_replace("{{properly.closed}} {{improperly.closed}", {})


@pytest.mark.parametrize("go", [False, True], ids=["fasttemplate", "goTemplate"])
def test_keys_are_templated_and_nulls_dropped(go: bool, helper: str) -> None:
    tag = (lambda n: f"{{{{ .{n} }}}}") if go else (lambda n: f"{{{{{n}}}}}")
    value = {
        "metadata": {"annotations": {f"annotation-{tag('key')}": f"annotation-{tag('value')}"}},
        "spec": {
            "source": {"helm": {"valuesObject": {"some": {"string": tag("key"), "gone": None}, "n": 3}}}
        },
    }
    out = Templater(Syntax(go), helper=helper).render(value, {"key": "some-key", "value": "some-value"})
    assert out["metadata"]["annotations"] == {"annotation-some-key": "annotation-some-value"}
    assert out["spec"]["source"]["helm"]["valuesObject"] == {"some": {"string": "some-key"}, "n": 3}


@pytest.mark.parametrize(
    "value",
    [
        3,
        3.5,
        0.1,
        100000,
        123456,
        1000000,
        1234567,
        123456789,
        1e21,
        0.0001,
        0.00001,
        -2.5,
        -1e7,
        2**53,
        1e100,
    ],
)
def test_flat_parameters_print_numbers_like_go(helper: str, value: float) -> None:
    """fasttemplate and selectors see numbers as Go's %v prints a float64; the helper is the real Go."""
    go_printed = Templater(Syntax(True), helper=helper).render("{{ .n }}", {"n": value})
    assert go_float(value) == go_printed


def test_batches_keep_order_and_isolate_errors(helper: str) -> None:
    jobs = [Job("{{ .a }}", {"a": "1"}), Job("{{ .nope.x }}", {"a": "2"}), Job("{{ .a }}", {"a": "3"})]
    out = Templater(Syntax(True, ("missingkey=error",)), helper=helper).render_many(jobs)
    assert out[0] == "1" and out[2] == "3"
    assert isinstance(out[1], TemplateError)


def test_unknown_template_option_is_an_error_not_a_crash(helper: str) -> None:
    with pytest.raises(TemplateError, match="unrecognized option"):
        Templater(Syntax(True, ("missingkey=bogus",)), helper=helper).render("{{ .a }}", {"a": "1"})


def test_without_the_helper_go_templates_are_not_guessed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GITOPS_CHECK_BIN_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(gotemplate.HELPER_ENV, raising=False)
    with pytest.raises(gotemplate.HelperMissing, match=r"install Go 1\.22\+ and put `go` on PATH"):
        Templater(Syntax(True)).render("{{ .a }}", {"a": "1"})
    assert Templater(Syntax(False)).render("{{a}}", {"a": "1"}) == "1"
