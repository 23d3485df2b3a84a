"""Issue 10 item 5: secret values never reach an output, even past the structural redaction.

Each attack is the class seen in the campaign: (a) a Secret value used as a data key, (b) a chart printing a
value through ``printf "%x"`` (and base64 / URL encodings), (c) kustomize's own error text quoting a
``secretGenerator`` literal. Besides the structure, every value known in the run is scrubbed, with its
encodings, from everything written: terminal, report files (JSON, Markdown, JUnit), error texts.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from gitops_check import redact
from tests.helpers.gitrepo import GitRepo
from tests.helpers.hostile import PLAIN_CM, REPO_URL, helm_bin, kustomize_bin, run_diff, snapshot_of


def leaked(value: str, text: str) -> list[str]:
    """The encodings of ``value`` found in ``text``."""
    raw = value.encode()
    forms = {
        "raw": value,
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "url": quote(value, safe=""),
    }
    return [name for name, form in forms.items() if form in text]


def test_a_secret_value_used_as_a_key_is_scrubbed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Flux substitutes a cluster Secret's value into a key (``stringData: {"${pw}": x}``) and a label."""
    value = "hunter2-from-the-cluster"
    sync = (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        f"metadata: {{name: fleet, namespace: flux-system}}\nspec: {{url: {REPO_URL}, interval: 1m}}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: apps, namespace: flux-system}\n"
        "spec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  targetNamespace: ns\n"
        "  sourceRef: {kind: GitRepository, name: fleet}\n"
        "  postBuild: {substituteFrom: [{kind: Secret, name: creds}]}\n"
    )
    repo = GitRepo.init(tmp_path / "repo")
    repo.git("remote", "add", "origin", REPO_URL)
    repo.write({
        "clusters/prod/sync.yaml": sync,
        "apps/kustomization.yaml": "resources: [secret.yaml, cm.yaml]\n",
        "apps/secret.yaml": 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {"${pw}": x}\n',
        "apps/cm.yaml": 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {k: "${pw}"}}\ndata: {"${pw}": x}\n',
    })  # fmt: skip
    repo.commit("key")
    creds = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "flux-system"},
             "data": {"pw": base64.b64encode(value.encode()).decode()}}  # fmt: skip
    run = run_diff(
        capsys,
        tmp_path,
        repo.path,
        "--kustomize",
        str(kustomize_bin()),
        snapshot=snapshot_of(tmp_path, creds),
    )
    assert run.code in (1, 2)
    assert leaked(value, run.everything) == []


def chart_repo(tmp_path: Path, value: str) -> GitRepo:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        ".gitops-check.yaml": json.dumps({"version": 1, "apps": [{"name": "web", "path": "chart", "namespace": "ns"}]}),
        "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        "chart/values.yaml": f"pw: {value}\n",
        "chart/templates/secret.yaml": (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: web}\nstringData:\n  pw: {{ .Values.pw | quote }}\n"
        ),
        "chart/templates/cm.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  annotations:\n"
            '    checksum/hex: {{ printf "%x" .Values.pw | quote }}\n'
            '    checksum/HEX: {{ printf "%X" .Values.pw | quote }}\n'
            "    b64: {{ .Values.pw | b64enc | quote }}\n"
            "    url: {{ .Values.pw | urlquery | quote }}\n"
            "data: {k: v}\n"
        ),
    })  # fmt: skip
    repo.commit("chart")
    return repo


def test_a_chart_printing_a_secret_in_another_encoding_is_scrubbed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = "s3cr3t-chart-password!"
    repo = chart_repo(tmp_path, value)
    run = run_diff(capsys, tmp_path, repo.path, "--helm", str(helm_bin()), "--assume-complete-snapshot")
    assert run.code == 1  # the ConfigMap and the Secret would be created
    assert leaked(value, run.everything) == []
    assert "would be created" in run.everything or "added" in run.everything


@pytest.mark.parametrize(
    "literals",
    [
        '["s3cr3t-literal-without-equals"]',  # kustomize: "invalid literal source s3cr3t-..."
        '["=s3cr3t-literal-without-key"]',
    ],
)
def test_kustomize_error_text_quoting_a_generator_literal_is_scrubbed(
    literals: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = GitRepo.init(tmp_path / "repo")
    repo.write({
        ".gitops-check.yaml": json.dumps({"version": 1, "apps": [{"name": "gen", "path": "gen", "namespace": "ns"}]}),
        "gen/kustomization.yaml": f"secretGenerator:\n- name: creds\n  literals: {literals}\n",
    })  # fmt: skip
    repo.commit("generator")
    run = run_diff(capsys, tmp_path, repo.path, "--kustomize", str(kustomize_bin()))
    assert run.code == 2
    assert "kustomize build" in run.messages("gen")
    assert "s3cr3t" not in run.everything


def test_the_jobs_tokens_are_scrubbed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit that guesses (or was told) the token cannot make the report print it."""
    token = "ghs_0123456789abcdefTOKEN"
    monkeypatch.setenv("GITHUB_TOKEN", token)
    repo = GitRepo.init(tmp_path / "repo")
    cm = {**PLAIN_CM, "data": {"k": token}}
    repo.write({
        ".gitops-check.yaml": json.dumps({"version": 1, "apps": [{"name": "plain", "path": "plain", "namespace": "ns"}]}),
        "plain/cm.yaml": json.dumps(cm),
    })  # fmt: skip
    repo.commit("token")
    run = run_diff(capsys, tmp_path, repo.path)
    assert run.code == 1
    assert leaked(token, run.everything) == []


# ---------------------------------------------------------------------------------------------------------------
# The scrubber itself


def test_short_values_are_not_scrubbed_as_text() -> None:
    """A Secret holding ``1`` or ``true`` must not blank every digit of a report (structure protects those)."""
    redact.reset()
    redact.add_all(["1", "true", "admin"])
    assert redact.scrub("replicas: 1, enabled: true, user admin") == "replicas: 1, enabled: true, user admin"
    redact.add("admin1")
    assert redact.scrub("user admin1") == "user *****"
    redact.reset()


def test_every_encoding_is_scrubbed() -> None:
    redact.reset()
    value = "p@ss word/+="
    redact.add(value)
    raw = value.encode()
    for form in (value, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(), raw.hex(),
                 raw.hex().upper(), quote(value, safe=""), json.dumps(value)[1:-1]):  # fmt: skip
        assert form not in redact.scrub(f"<{form}>"), form
    pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----"
    redact.add(pem)
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in redact.scrub("line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
    redact.reset()


def test_the_stream_finds_a_value_split_across_writes() -> None:
    redact.reset()
    redact.add("split-secret-value")
    sink = io.StringIO()
    stream = redact.ScrubbingStream(sink)
    stream.write("a split-sec")
    stream.write("ret-value here\nnext ")
    stream.flush()
    assert sink.getvalue() == "a ***** here\nnext "
    redact.reset()


def test_a_secret_whose_value_is_a_report_word_leaves_the_report_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cluster Secret patched to ``changed`` (as the drift oracle does) once turned every status "changed" of
    the JSON into the mask, so machines read "no drift". The report's own words are never masked; the Secret's
    value still is not printed (structure), and the JSON stays JSON whatever a value looks like."""
    repo = GitRepo.init(tmp_path / "repo")
    cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: ns}\ndata: {k: "v2"}\n'
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: ns}\nstringData: {pw: git-value}\n"
    )
    repo.write({
        ".gitops-check.yaml": json.dumps({"version": 1, "apps": [{"name": "web", "path": "app", "namespace": "ns"}]}),
        "app/cm.yaml": cm,
        "app/secret.yaml": secret,
    })  # fmt: skip
    repo.commit("app")
    live_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "ns"},
        "data": {"pw": base64.b64encode(b"changed").decode(), "x": base64.b64encode(b'"status": ').decode()},
    }
    run = run_diff(capsys, tmp_path, repo.path, snapshot=snapshot_of(tmp_path, live_secret))
    assert run.code == 1
    statuses = {r["name"]: r["status"] for r in run.app("web")["resources"]}
    assert statuses == {"plain": "changed", "creds": "changed"}
    assert "git-value" not in run.everything


def test_every_model_word_is_an_own_word() -> None:
    """OWN_WORDS lists the words reports are built from: every status, change kind and sync state."""
    from gitops_check.model.result import ChangeKind, Status
    from gitops_check.model.sync import SyncState

    words = {m.value for e in (Status, ChangeKind, SyncState) for m in e}
    assert words <= redact.OWN_WORDS


def test_json_reports_stay_json_whatever_a_value_matches() -> None:
    redact.reset()
    redact.add('"name": ')
    text = json.dumps({"name": 'x "name": y'}, indent=2)
    assert json.loads(redact.scrub_json(text)) == {"name": "x *****y"}
    redact.reset()


def test_json_scrubbing_finds_values_json_escapes() -> None:
    """A value JSON writes escaped (a quote, a non-ASCII letter) is still found, string by string."""
    redact.reset()
    redact.add('pa"ss-wörd')
    text = json.dumps({"message": 'the password pa"ss-wörd leaked'}, indent=2)
    assert json.loads(redact.scrub_json(text)) == {"message": "the password ***** leaked"}
    ascii_text = json.dumps({"message": 'the password pa"ss-wörd leaked'}, indent=2, ensure_ascii=True)
    assert json.loads(redact.scrub_json(ascii_text)) == {"message": "the password ***** leaked"}
    redact.reset()


def test_the_indexed_search_finds_exactly_what_a_search_per_form_finds() -> None:
    """The scrubber looks forms up by an index (one pass over the text); differential against the naive search
    for values of every shape: punctuation, spaces, short words, multi-line, inside longer words, JSON-escaped."""
    import random

    rng = random.Random(15)
    alphabet = "abcXYZ0189-_./+=:;, \"'<>{}[]()|\\`\n\t%&#@!?"
    values = ["hunter2-secret", "a b c d e f g", "pass:word;x", 'quo"ted value', "line one\nline two long"]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(6, 30))) for _ in range(300)]
    # Values sharing a beginning (a snapshot's hashed values) or an ending: many forms under few anchors.
    values += [f"gitops-check-hash:v1:{rng.randrange(16**12):012x}" for _ in range(40)]
    values += [f"{rng.randrange(10**6)}-shared-ending" for _ in range(40)]
    for value in values:
        redact.add(value)
    forms = sorted(
        {f for v in values if v.strip().lower() not in redact.OWN_WORDS for f in redact.encodings(v)}
    )
    filler = 'abcdefghij0123456789 :"{}-_/\n'
    for _ in range(200):
        pieces = ["".join(rng.choice(filler) for _ in range(rng.randint(0, 40)))]
        for form in rng.sample(forms, rng.randint(0, 3)):
            pieces += [form, "".join(rng.choice(filler) for _ in range(rng.randint(0, 10)))]
        text = "".join(pieces)
        assert set(redact.present(text)) == {f for f in forms if f in text}, text
        scrubbed = redact.scrub(text)
        assert all(form not in scrubbed for form in forms if len(form) > len(redact.MASK) * 2), text


def test_json_scrubbing_skips_nothing_its_fast_path_passes() -> None:
    """scrub_json returns the text untouched when no form occurs in it: values with quotes, backslashes, control
    and non-ASCII characters, and lines of multi-line values, are still found inside JSON strings."""
    import random

    rng = random.Random(16)
    values = ['line "one" quoted\nsecond \\ line', "tab\there-and-more", "ünïcödé-välue", "plain-value-xyz"]
    for value in values:
        redact.add(value)
    pieces = [line.strip() for v in values for line in v.splitlines()] + values
    for ensure_ascii in (True, False):
        for _ in range(50):
            doc = {"a": [f"x{rng.choice(pieces)}y", {"k": rng.choice(pieces)}], rng.choice(pieces): 1}
            out = json.loads(redact.scrub_json(json.dumps(doc, ensure_ascii=ensure_ascii)))
            strings = [*out, *out["a"][1], out["a"][0], out["a"][1]["k"]]
            assert not [p for p in pieces if len(p) >= redact.MIN_LENGTH and any(p in s for s in strings)], (
                out
            )


def test_runs_found_clean_are_looked_at_again_once_a_value_is_added() -> None:
    """``present`` remembers the runs of text it found clean (reports repeat the same names): a value registered
    afterwards is still found in them; values sharing a prefix (one anchor for many forms) are found one by one;
    differential against the search per form, texts and registrations interleaved."""
    import random

    rng = random.Random(17)
    words = [f"gitops-check-{rng.randrange(10**6)}-{'x' * rng.randint(0, 5)}" for _ in range(60)]
    words += ["gitops-check", "plain value with spaces", "x:y;z-long"]
    registered: list[str] = []
    for step in range(120):
        if step % 10 == 0:
            value = rng.choice(words)
            redact.add(value)
            registered.append(value)
        forms = {f for v in registered for f in redact.encodings(v)}
        text = " ".join(
            rng.choice(words) + rng.choice(["", "\n", '"', "-tail"]) for _ in range(rng.randint(1, 12))
        )
        assert set(redact.present(text)) == {f for f in forms if f in text}, (step, text)


def test_str_split_cuts_text_at_exactly_the_whitespace_the_run_expression_does() -> None:
    """``redact._runs`` cuts ASCII text with ``str.split`` instead of ``_RUN``: the same characters, every code
    point checked."""
    import re
    import sys

    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert (re.fullmatch(r"\s", char) is not None) == (f"a{char}b".split() == ["a", "b"]), hex(code)


def test_the_runs_of_a_text_are_the_run_expressions_matches() -> None:
    """Differential: ``_runs`` (split on ASCII text, the expression otherwise) against ``_RUN.findall``."""
    import random

    rng = random.Random(18)
    ascii_alphabet = (
        "abcXYZ0189-_./+=%&#@!?*~^$" + "\"'`<>{}[](),;:|\\" + " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x00\x7f"
    )
    other = "é漢\u00a0\u2028\u3000\x85\U0001f600"
    for alphabet in (ascii_alphabet, ascii_alphabet + other):
        for _ in range(300):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
            assert redact._runs(text) == set(redact._RUN.findall(text)), repr(text)
