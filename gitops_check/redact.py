"""The last step before anything is written: every secret value known in this run is scrubbed, encodings included.

Structural redaction (Secret values compared apart and replaced by markers, ``SecretText``) keeps values out of
reports by design. This is the net under it for what slips past the structure: a value used as a data key, a
chart's ``printf "%x"`` of a value, a tool's error text quoting a ``secretGenerator`` literal. Values are
registered where they become known (Secrets in Git, the cluster or a snapshot, Flux ``substituteFrom`` /
``valuesFrom``, ``fromEnv``, the job's own tokens) and every writer — terminal, report files, comments, the job
summary, error texts — goes through ``scrub`` (``ScrubbingStream`` for stdout/stderr).

Values shorter than ``MIN_LENGTH`` are not scrubbed as text: a Secret holding ``1`` or ``true`` would otherwise
blank every digit or word of the report. Those rely on the structural redaction alone, which never prints a
Secret's value whatever its length.

Values that are one of gitops-check's own words (``OWN_WORDS``: statuses, categories, sync states) are not
scrubbed as text either: a Secret whose value is ``changed`` would otherwise turn every "changed" of the report
into the mask — the JSON's status fields included, which reads as "no drift" to a machine. The report prints
those words anyway, so the value is no less known; the structural redaction still hides it where it is a value.

JSON reports are scrubbed string by string (``scrub_json``), so a value that matches JSON punctuation cannot
make the file unreadable.

Cost: the search is one pass over the text, whatever the number of values. Every form is indexed by the last
``MIN_LENGTH`` characters of its *anchor* (its longest run without the punctuation and spaces reports put around
values); the text is cut at the same characters into runs (a regular expression, C speed), the distinct runs'
windows of ``MIN_LENGTH`` characters are collected into one set and intersected with the index; only a form whose
anchor is among them is searched for in full. A form without such a run (rare: a value of short words) is
searched for directly. Runs found clean stay known as clean until another value is registered, since the JSON,
JUnit and Markdown reports of a run (and the terminal) repeat the same names and ids. Measured on this machine:
~40,000 forms (2,000 Secrets) over a 5.4 MB report: 55 s with a search per form, ~1 s indexed; a 1,000-app
fleet's reports (12.6 MB JSON, 6.7 MB JUnit, ~10,000 forms): 2.5 + 1.5 s run by run, 0.5 + 0.05 s with one set
of windows and the clean runs remembered (bench: ``bench/bench_fleet.py``); a 5,000-app fleet's part and JSON
report (61 + 64 MB, 80,000 forms, the snapshot's hashed values among them): 17.6 s anchored at the forms'
beginnings with each anchor's runs found by asking every run, 5.7 s now. Values over ``MAX_LENGTH`` count by
their lines only.
"""

from __future__ import annotations

import base64
import bisect
import io
import itertools
import json
import re
import threading
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

MIN_LENGTH = 6
# Longer values are scrubbed by their lines only: a Helm release Secret holds megabytes of base64, and scrubbing
# costs (forms x output size); their lines (a PEM block's) are still found.
MAX_LENGTH = 4096
MASK = "*****"

# Words the reports are built from (every StrEnum value of gitops_check.model among them: tests check it).
OWN_WORDS = frozenset(
    {
        "added", "changed", "removed", "unchanged", "error", "errors", "value", "manual", "drift", "drifted",
        "in sync", "in-sync", "untouched", "succeeded", "requested", "planned", "failed", "degraded", "timeout",
        "refused", "pruned", "created", "warning", "warnings", "hygiene", "secret", "secrets", "cluster",
        "not checked", "by hand", "skipped", "changes", "unknown", "helm", "kustomize", "directory", "plain",
        "jsonnet", "plugin", "argocd", "flux", "annotation", "label", "annotation+label", "server", "client",
    }
)  # fmt: skip

# Characters reports put around values (JSON, YAML, XML, Markdown, diff lines): a run of other characters holds
# every occurrence of a form that has none of them, and the anchor of every other form.
_PUNCTUATION = "\"'`<>{}[](),;:|\\"
_SEPARATORS = r"\s" + re.escape(_PUNCTUATION)
_RUN = re.compile(f"[^{_SEPARATORS}]{{{MIN_LENGTH},}}")
# The same runs, twice as fast on ASCII text: punctuation becomes a space and ``str.split`` cuts at whitespace,
# which is exactly what ``\s`` matches (``str.isspace``; a test checks every code point). Not for other text:
# ``str.translate`` leaves its fast path at the first non-ASCII character and is then slower than the expression.
_PUNCTUATION_TO_SPACE = str.maketrans(dict.fromkeys(_PUNCTUATION, " "))

# Process-wide on purpose: whatever run learned a secret value, nothing this process prints may show it
# (cli.main scrubs stdout and stderr with it, and resets it when a run starts).
_lock = threading.Lock()
_known: set[str] = set()
# The first MIN_LENGTH characters of a form's anchor -> the forms anchored there.
_index: dict[str, list[str]] = {}
_loose: list[str] = []  # forms without an anchor: searched for directly
# Forms that are one run (no separator): they occur inside a run of the text or not at all.
_whole: set[str] = set()
# Runs of text holding no anchor of the forms known when they were looked at (_clean_at: len(_known) then).
_clean: set[str] = set()
_clean_at = 0


def _anchor(form: str) -> str | None:
    # Any window of the longest run would do; the last, because values share beginnings far more than endings
    # (a snapshot's hashed values all start "gitops-check-hash:v1:", URLs "https://"): with the first, one
    # anchor held thousands of forms and sat in every report's "gitops-check", so each was searched for.
    runs = _RUN.findall(form)
    return max(runs, key=len)[-MIN_LENGTH:] if runs else None


def encodings(value: str) -> set[str]:
    """``value`` as a report could show it: raw, base64 (standard/URL-safe, padded or not), hex, URL- and
    JSON-escaped, and each long enough line of a multi-line value (a PEM block printed line by line)."""
    if len(value) > MAX_LENGTH:
        return {line.strip() for line in value.splitlines() if MIN_LENGTH <= len(line.strip()) <= MAX_LENGTH}
    raw = value.encode("utf-8", "surrogatepass")
    out = {value, raw.hex(), raw.hex().upper(), quote(value, safe=""), quote_plus(value)}
    out.update((json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]))
    # Unpadded only: it is the padded form's prefix, so masking it leaves nothing but the "=" padding.
    out.update(e.decode().rstrip("=") for e in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)))
    if "\n" in value:
        out.update(line.strip() for line in value.splitlines())
    # As a JSON string shows each form (quotes, backslashes, control and non-ASCII characters escaped), so that a
    # JSON text holding a value always holds one of its forms as it is (``scrub_json`` relies on it).
    out.update(
        [json.dumps(form)[1:-1] for form in out]
        + [json.dumps(form, ensure_ascii=False)[1:-1] for form in out]
    )
    return {form for form in out if len(form) >= MIN_LENGTH}


def add(value: Any) -> None:
    """Remember a secret value (any str; shorter than MIN_LENGTH: ignored as text, see the module doc)."""
    if not isinstance(value, str) or len(value) < MIN_LENGTH or value.strip().lower() in OWN_WORDS:
        return
    forms = encodings(str.__str__(value))
    with _lock:
        for form in forms - _known:
            _known.add(form)
            anchor = _anchor(form)
            if anchor is None:
                _loose.append(form)
            else:
                _index.setdefault(anchor, []).append(form)
                if _RUN.fullmatch(form):
                    _whole.add(form)


def add_all(values: Iterable[Any]) -> None:
    for value in values:
        add(value)


def add_secret_object(body: Any) -> None:
    """The values of a Kubernetes Secret: ``stringData`` as is, ``data`` decoded (and as stored)."""
    if not isinstance(body, dict) or body.get("kind") != "Secret":
        return
    string_data = body.get("stringData")
    if isinstance(string_data, dict):
        add_all(string_data.values())
    data = body.get("data")
    if isinstance(data, dict):
        for value in data.values():
            if not isinstance(value, str):
                continue
            add(value)
            try:
                add(base64.b64decode("".join(value.split()), validate=True).decode())
            except (ValueError, UnicodeDecodeError):
                continue


def reset() -> None:
    """Forget every value (a new run in the same process: tests, ``main`` called twice)."""
    global _clean_at
    with _lock:
        _known.clear()
        _index.clear()
        _loose.clear()
        _whole.clear()
        _clean.clear()
        _clean_at = 0


def present(text: str) -> list[str]:
    """The known forms that occur in ``text``, longest first (one pass over the text, see the module doc)."""
    global _clean_at
    if not _known:
        return []
    runs = _runs(text)
    with _lock:
        loose = list(_loose)
        known = len(_known)  # forms are only ever added: the same count is the same index
        if _clean_at != known:
            _clean.clear()
            _clean_at = known
        fresh = list(runs - _clean)
    found = {form for form in loose if form in text}
    joined = "\n".join(fresh)  # a window across the newline holds a separator: no anchor does
    window = MIN_LENGTH
    windows = set(
        map(joined.__getitem__, map(slice, range(len(joined) - window + 1), range(window, len(joined) + 1)))
    )
    with _lock:  # only the anchors found are taken from the index (present runs on every terminal write)
        index = {anchor: tuple(_index[anchor]) for anchor in windows.intersection(_index)}
    holding_any: set[str] = set()
    if index:
        starts = list(itertools.accumulate((len(run) + 1 for run in fresh), initial=0))
        for anchor, forms in index.items():
            # The runs holding the anchor, found by searching the joined runs (C speed) rather than asking every
            # run (anchors x runs: quadratic in a fleet's size). A form without separators lies inside one run.
            holding = _holding(anchor, joined, fresh, starts)
            holding_any.update(holding)
            found.update(
                form
                for form in forms
                if (any(form in run for run in holding) if form in _whole else form in text)
            )
    with _lock:
        if _clean_at == known:
            _clean.update(run for run in fresh if run not in holding_any)
    return sorted(found, key=len, reverse=True)


def _holding(anchor: str, joined: str, runs: list[str], starts: list[int]) -> list[str]:
    """The runs (joined by newlines into ``joined``; ``starts``: where each begins) that hold ``anchor``."""
    out: list[str] = []
    at = joined.find(anchor)
    while at != -1:
        k = bisect.bisect_right(starts, at) - 1
        out.append(runs[k])
        at = joined.find(anchor, starts[k + 1])  # the next run: one occurrence tells this one holds it
    return out


def _runs(text: str) -> set[str]:
    """The distinct runs of ``text`` (``_RUN``'s matches)."""
    if not text.isascii():
        return set(_RUN.findall(text))
    return {run for run in set(text.translate(_PUNCTUATION_TO_SPACE).split()) if len(run) >= MIN_LENGTH}


def scrub(text: str, forms: list[str] | None = None) -> str:
    """``text`` with every known secret value (in every encoding) replaced by MASK (only ``forms`` if given)."""
    for form in present(text) if forms is None else forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def scrub_json(text: str) -> str:
    """A JSON document with every string (keys included) scrubbed on its own; ``scrub`` when it is not JSON."""
    # Nothing to do when no form occurs in the text: a string holding a form shows it JSON-escaped, and the
    # escaped forms are known too (``encodings``), so a fleet's large report is not parsed again for nothing.
    if not present(text):
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return scrub(text)
    # Which forms occur is found once over the document's distinct strings (decoded, so JSON escapes do not hide
    # a value), a newline between them (a separator: no form spans two strings); only those are then looked for
    # string by string.
    strings: set[str] = set()
    _collect_strings(data, strings)
    found = present("\n".join(strings))
    if not found:
        return text
    return json.dumps(_scrub_data(data, found), indent=2, ensure_ascii=False) + "\n"


def _collect_strings(data: Any, into: set[str]) -> None:
    if isinstance(data, str):
        into.add(data)
    elif isinstance(data, dict):
        into.update(str(k) for k in data)
        for value in data.values():
            _collect_strings(value, into)
    elif isinstance(data, list):
        for value in data:
            _collect_strings(value, into)


def _scrub_data(data: Any, forms: list[str]) -> Any:
    if isinstance(data, str):
        return scrub(data, forms)
    if isinstance(data, dict):
        return {scrub(k, forms): _scrub_data(v, forms) for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub_data(v, forms) for v in data]
    return data


class ScrubbingStream(io.TextIOBase):
    """A text stream that scrubs what passes through, whole lines at a time (a value split across two writes of
    one line is still found); ``flush`` writes what is pending."""

    def __init__(self, wrapped: TextIO):
        super().__init__()
        self.wrapped = wrapped
        self._pending = ""
        self._write_lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._write_lock:
            self._pending += text
            head, newline, tail = self._pending.rpartition("\n")
            if newline:
                self._pending = tail
                self.wrapped.write(scrub(head + newline))
        return len(text)

    def flush(self) -> None:
        with self._write_lock:
            if self._pending:
                self.wrapped.write(scrub(self._pending))
                self._pending = ""
        self.wrapped.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.wrapped.isatty()

    def fileno(self) -> int:
        return self.wrapped.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.wrapped, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.wrapped, "errors", None)
