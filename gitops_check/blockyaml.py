"""Reading the plain block YAML most manifests are written in, without libyaml's node objects.

libyaml parses in C, but PyYAML then builds a Python node, two position marks and several resolver calls for
every scalar before a constructor turns the nodes into values: for a fleet's renders that was most of the time
spent reading YAML. ``kustomize build`` always writes plain block YAML (its emitter), and so do most charts and
hand-written manifests: one ``key: value`` or ``- item`` per line, nesting by indentation. This module reads
exactly that subset line by line, with go-yaml v2's scalar rules (``goyaml``, the same functions the libyaml
path calls), and gives up — returns None, and the caller reads the text with libyaml as before — on anything
else or anything it is not sure of: tabs, carriage returns, BOMs, directives, anchors, aliases, tags, comments
after a value, multi-line plain or quoted scalars, escapes in double quotes, folded or keep-chomped block
scalars, complex keys, keys that are not strings, duplicate keys, merge keys, nested flow collections, a
document that is a lone scalar, and any indentation libyaml would refuse or read another way. Giving up is
always safe; so the only claim to test is that whatever it returns equals what the libyaml path returns
(tests/test_blockyaml.py: a differential test on generated documents and on every YAML file of the fixtures).

Also read here, as libyaml reads it: ``key: |`` and ``key: |-`` literal blocks (content indented past the key,
no indentation indicator), quoted scalars on one line (``'it''s'``; double quotes without a backslash), the
empty flow collections ``[]`` and ``{}``, and one-line flow collections of plain or quoted scalars
(``{name: http, port: 80}``, ``[a, b]``).

And streams whose every document is one JSON object (``kubectl get -o json``, generated manifests; JSON is YAML's
flow style): read by the json module, its numbers, ``true``, ``false`` and ``null`` given go-yaml's values for
those plain scalars, giving up on backslashes, duplicate and merge keys, and keys too long for libyaml or apart
from their colon (``_json_documents``; 2.3-2.8x faster than libyaml's path on a JSON fleet's files).
"""

from __future__ import annotations

import json
import re
from typing import Any

from gitops_check.gosemantics import goyaml

# A document's values and the 1-based line of its first node.
Documents = list[tuple[Any, int]]


class _GiveUp(Exception):
    """Not in the subset (or not sure): the caller reads the text with libyaml."""


_STR, _NULL = goyaml.STR, goyaml.NULL
# Characters this reader leaves to libyaml: those YAML refuses in a stream (control characters among them), the
# line breaks it knows besides "\n" (NEL, LS, PS) and the byte order mark.
_UNUSUAL = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029]"
)
_CONTROL = tuple(chr(c) for c in (*range(0x20), 0x7F) if c != 0x0A)
_KEY = r"""[A-Za-z0-9_./$][A-Za-z0-9_./$@+=~-]*|"[^"\\]*"|'(?:[^']|'')*'"""
# "key:" then the end of the line or spaces and a value (the line already stripped of its trailing spaces).
_ENTRY = re.compile(f"({_KEY}):(?: +(.*))?")
_SINGLE = re.compile(r"'((?:[^']|'')*)'")
_DOUBLE = re.compile(r'"([^"\\]*)"')
# Characters that may not start a plain scalar (indicators); "-" may, before anything but a space.
_INDICATORS = frozenset(",[]{}#&*!|>'\"%@`?:")
# One-line flow collections whose items are plain scalars without flow indicators or colons, or quoted ones.
_FLOW_PLAIN = r"[^\s,\[\]{}#&*!|>'\"%@`:?-](?:[^,\[\]{}#:]*[^\s,\[\]{}#:])?"
_FLOW_SCALAR = rf"""{_FLOW_PLAIN}|"[^"\\,\[\]{{}}]*"|'[^',\[\]{{}}]*'"""
_FLOW_KEY = r"""[A-Za-z0-9_./$][A-Za-z0-9_./$@+=~-]*|"[^"\\,\[\]{}:]*"|'[^',\[\]{}:]*'"""
_FLOW_PAIR = re.compile(rf" *({_FLOW_KEY}): +({_FLOW_SCALAR}) *")
_FLOW_ITEM = re.compile(rf" *({_FLOW_SCALAR}) *")

_PLAIN_TAGS, _CONVERTERS = goyaml.PLAIN_TAGS, goyaml.CONVERTERS  # shared with yamlio's libyaml path


def load(text: str) -> Documents | None:
    """The non-empty documents of ``text`` as ``yamlio.load_yaml_documents`` reads them, or None when the text is
    not (certainly) in the subset this module reads."""
    # Tabs, carriage returns, other control characters: substring searches (C speed) rather than one expression
    # (~20 times slower); the expression only for the rarer non-ASCII text.
    if any(c in text for c in _CONTROL) or (not text.isascii() and _UNUSUAL.search(text)):
        return None
    try:
        if _JSON_START.match(text):
            documents = _json_documents(text)
            if documents is not None:
                return documents
        return _read(text.split("\n"), text.endswith("\n"))
    except (_GiveUp, RecursionError):
        return None
    except (goyaml.NotJSON, KeyError, ValueError, OverflowError):
        return None  # a scalar the libyaml path refuses: it words the error


def _json_documents(text: str) -> Documents | None:
    """Documents that are each one JSON object, on lines of their own between ``---`` lines (``kubectl get -o
    json``, generated manifests), read by the json module: JSON is YAML's flow style, whose double-quoted strings
    without a backslash are their text, and whose numbers, ``true``, ``false`` and ``null`` are plain scalars,
    given here the values go-yaml's rules give them. None when the text is not all such documents; _GiveUp on a
    doubt (a backslash, a key on another line than its colon or past libyaml's 1,024-character limit for one,
    a duplicate or merge key, brackets enough to nest past ``_MAX_OPEN``)."""
    if "\\" in text or _KEY_BEFORE_BREAK.search(text) or _LONG_KEY.search(text):
        return None
    docs: Documents = []
    at = 0  # where the document being gathered starts
    lines, counted = 0, 0  # line breaks before ``counted``
    for separator in (*_SEPARATOR_LINE.finditer(text), None):
        end = separator.start() if separator is not None else len(text)
        body = text[at:end].lstrip(" \n")
        if body:
            if body[0] != "{" or body.count("{") + body.count("[") > _MAX_OPEN:
                return None
            try:
                value = _JSON.decode(body)
            except ValueError:
                return None
            first = end - len(body)
            lines += text.count("\n", counted, first)
            counted = first
            docs.append((value, lines + 1))
        if separator is not None:
            at = separator.end()
    return docs


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs) or "<<" in mapping:
        raise _GiveUp  # refused, or read as a merge, by the libyaml path
    return mapping


def _json_number(text: str) -> Any:
    return _plain(text)


def _json_constant(text: str) -> Any:
    raise _GiveUp  # NaN, Infinity: not JSON's, nor read so by YAML


# Where a stream of JSON documents starts: "{" after blank lines and a "---" line.
_JSON_START = re.compile(r"[ \n]*(?:---\n[ \n]*)?\{")
# A quoted key whose colon is on a later line: YAML keys of a flow mapping fit on one line.
_KEY_BEFORE_BREAK = re.compile(r'"[ ]*\n[ \n]*:')
# A key libyaml finds too long: an implicit key is at most 1,024 characters, with its quotes and spaces.
_LONG_KEY = re.compile(r'"[^"\n]{1000,}"[ \n]*:')
_SEPARATOR_LINE = re.compile(r"^---$", re.MULTILINE)
_JSON = json.JSONDecoder(
    object_pairs_hook=_json_pairs,
    parse_float=_json_number,
    parse_int=_json_number,
    parse_constant=_json_constant,
)


def _plain_tag(text: str) -> str:
    return _PLAIN_TAGS.get(text) or goyaml.remembered_plain_tag(text)


def _plain(text: str) -> Any:
    """A plain scalar's value, as the libyaml path constructs it."""
    tag = _plain_tag(text)
    if tag == _STR:
        return text
    if tag == _NULL:
        return None
    convert = _CONVERTERS.get(tag)
    if convert is None:
        raise _GiveUp  # "<<" as a value
    return convert(text)


def _key(text: str) -> str:
    """A mapping key (plain or quoted); only keys the libyaml path reads as strings as they are."""
    first = text[0]
    if first == '"':
        return text[1:-1]
    if first == "'":
        return text[1:-1].replace("''", "'")
    if _plain_tag(text) != _STR:
        raise _GiveUp  # true, 1, null, "<<": converted or refused by the libyaml path
    return text


def _scalar(text: str) -> Any:
    """A value on one line: a quoted or plain scalar, or an empty or one-line flow collection."""
    first = text[0]
    if first == '"':
        m = _DOUBLE.fullmatch(text)
        if m is None:
            raise _GiveUp
        return m.group(1)
    if first == "'":
        m = _SINGLE.fullmatch(text)
        if m is None:
            raise _GiveUp
        return m.group(1).replace("''", "'")
    if first == "{":
        return _flow_mapping(text)
    if first == "[":
        return _flow_sequence(text)
    # A plain scalar in block context, on one line: no ": " or " #" inside, not ending with ":".
    if first in _INDICATORS or ": " in text or " #" in text or text[-1] == ":":
        raise _GiveUp
    if first == "-" and (len(text) == 1 or text[1] == " "):
        raise _GiveUp
    return _plain(text)


def _flow_value(text: str) -> Any:
    first = text[0]
    if first == '"' or first == "'":
        return text[1:-1]  # the patterns allow no escape, no doubled quote
    return _plain(text)


def _flow_mapping(text: str) -> dict[str, Any]:
    if text == "{}":
        return {}
    if text[-1] != "}":
        raise _GiveUp
    out: dict[str, Any] = {}
    for part in text[1:-1].split(","):
        m = _FLOW_PAIR.fullmatch(part)
        if m is None:
            raise _GiveUp
        key = _key(m.group(1))
        if key in out:
            raise _GiveUp
        out[key] = _flow_value(m.group(2))
    return out


def _flow_sequence(text: str) -> list[Any]:
    if text == "[]":
        return []
    if text[-1] != "]":
        raise _GiveUp
    out = []
    for part in text[1:-1].split(","):
        m = _FLOW_ITEM.fullmatch(part)
        if m is None:
            raise _GiveUp
        out.append(_flow_value(m.group(1)))
    return out


# What a line is, by its text (lines repeat across a render's objects: "kind: ConfigMap", "  labels:"), kept for
# the process up to a bound, like the tags: (operation, the line's indentation, the column of its key, key, value).
_BLANK, _SEPARATOR, _ENTRY_VALUE, _ENTRY_OPEN, _ENTRY_FLOW, _ENTRY_LITERAL = range(6)
_ITEM_VALUE, _ITEM_FLOW, _ITEM_ENTRY_VALUE, _ITEM_ENTRY_OPEN, _ITEM_ENTRY_FLOW, _ITEM_ENTRY_LITERAL = range(
    6, 12
)
Line = tuple[int, int, int, str, Any]
_LINES: dict[str, Line] = {}
_LINES_KEPT = 1 << 16
_LINE_KEPT_LENGTH = 256  # longer lines seldom repeat: what the cache holds stays small whatever the input
_BLANK_LINE: Line = (_BLANK, 0, 0, "", None)
# Collections open at once past which this reader gives up: far below where the libyaml path's recursion stops,
# far above any manifest (yamlio.MAX_DEPTH is checked per object later).
_MAX_OPEN = 200


def _line(raw: str) -> Line:
    """What ``raw`` is; raises _GiveUp for a line outside the subset. Values kept here are scalars (immutable):
    a flow collection's text is kept and read anew for each line."""
    found = _LINES.get(raw)
    if found is not None:
        return found
    line = raw.rstrip(" ")
    stripped = line.lstrip(" ")
    if not stripped or stripped[0] == "#":
        return _BLANK_LINE
    indent = len(line) - len(stripped)
    if indent == 0 and (stripped.startswith(("---", "...")) or stripped[0] == "%"):
        if stripped != "---":
            raise _GiveUp  # "--- value", "...", directives
        found = (_SEPARATOR, 0, 0, "", None)
    elif stripped[0] == "-" and (len(stripped) == 1 or stripped[1] == " "):
        rest = stripped[1:].lstrip(" ")
        if not rest or rest[0] == "#" or (rest[0] == "-" and (len(rest) == 1 or rest[1] == " ")):
            raise _GiveUp  # the item's node on the next lines, or a sequence in a sequence
        column = indent + len(stripped) - len(rest)
        entry = _ENTRY.fullmatch(rest)
        if entry is not None:
            op, key, value = _entry(entry)
            found = (op + _ITEM_ENTRY_VALUE - _ENTRY_VALUE, indent, column, key, value)
        elif rest[0] in "{[":
            found = (_ITEM_FLOW, indent, column, "", rest)
        else:
            found = (_ITEM_VALUE, indent, column, "", _scalar(rest))
    else:
        entry = _ENTRY.fullmatch(stripped)
        if entry is None:
            raise _GiveUp
        op, key, value = _entry(entry)
        found = (op, indent, indent, key, value)
    if len(_LINES) < _LINES_KEPT and len(raw) <= _LINE_KEPT_LENGTH:
        _LINES[raw] = found
    return found


def _entry(m: re.Match[str]) -> tuple[int, str, Any]:
    key = _key(m.group(1))
    value = m.group(2)
    if value is None:
        return _ENTRY_OPEN, key, None
    first = value[0]
    if first == "|":
        if value not in ("|", "|-"):
            raise _GiveUp  # keep chomping, indentation indicators, a comment on the header
        return _ENTRY_LITERAL, key, value
    if first == "{" or first == "[":
        return _ENTRY_FLOW, key, value
    return _ENTRY_VALUE, key, _scalar(value)


def _read(lines: list[str], final_break: bool) -> Documents:
    """The documents of ``lines``: block collections nest by indentation, as libyaml reads them."""
    docs: Documents = []
    # Open collections, innermost last: (indentation, value, is a sequence, sits at its parent key's column).
    stack: list[tuple[int, Any, bool, bool]] = []
    root: Any = None
    first = 0
    pending: tuple[dict[str, Any], str, int] | None = None  # "key:" whose value is on the next lines
    at = 0
    count = len(lines)
    while at < count:
        op, line_indent, indent, key, value = _line(lines[at])
        at += 1
        if op == _BLANK:
            continue
        if op == _SEPARATOR:
            if pending is not None:
                pending[0][pending[1]] = None
                pending = None
            if root is not None:
                docs.append((root, first))
                root = None
                stack.clear()
            continue
        seq_item = op >= _ITEM_VALUE  # "indent" is then the column after the dash, where an item's mapping is
        if pending is not None:
            owner, owner_key, owner_indent = pending
            pending = None
            if seq_item and line_indent >= owner_indent:
                opened: Any = []
                stack.append((line_indent, opened, True, line_indent == owner_indent))
                owner[owner_key] = opened
            elif not seq_item and line_indent > owner_indent:
                opened = {}
                stack.append((line_indent, opened, False, False))
                owner[owner_key] = opened
            else:
                owner[owner_key] = None
        while stack:
            top = stack[-1]
            if top[0] > line_indent or (top[0] == line_indent and top[3] and not seq_item):
                stack.pop()
                continue
            break
        if len(stack) > _MAX_OPEN:
            raise _GiveUp  # libyaml's path refuses what nests too deeply, with its own message
        if not stack:
            if root is not None:
                raise _GiveUp  # a second node at the top, or text outdented past the first
            root = [] if seq_item else {}
            stack.append((line_indent, root, seq_item, False))
            first = at  # 1-based line of this one
        top_indent, container, top_seq, _ = stack[-1]
        if top_indent != line_indent or top_seq != seq_item:
            raise _GiveUp  # a continuation line, or indentation libyaml reads another way (or refuses)
        if seq_item:
            if op == _ITEM_VALUE:
                container.append(value)
                continue
            if op == _ITEM_FLOW:
                container.append(_scalar(value))
                continue
            mapping: dict[str, Any] = {}
            container.append(mapping)
            stack.append((indent, mapping, False, False))
            container = mapping
            op -= _ITEM_ENTRY_VALUE - _ENTRY_VALUE
        if key in container:
            raise _GiveUp  # refused by the libyaml path, which says where
        if op == _ENTRY_VALUE:
            container[key] = value
        elif op == _ENTRY_OPEN:
            pending = (container, key, indent)
        elif op == _ENTRY_FLOW:
            container[key] = _scalar(value)
        else:
            container[key], at = _literal(lines, at, indent, value, final_break)
    if pending is not None:
        pending[0][pending[1]] = None
    if root is not None:
        docs.append((root, first))
    return docs


def _literal(
    lines: list[str], start: int, owner_indent: int, header: str, final_break: bool
) -> tuple[str, int]:
    """A ``|`` or ``|-`` block from line index ``start``: its lines indented past the key's, the indentation of the
    first one removed; and the index of the line after it (trailing empty lines are read again, as blank)."""
    at = start
    block_indent = -1
    content: list[str] = []
    last = -1  # index in content of the last non-empty line
    while at < len(lines):
        line = lines[at]
        stripped = line.lstrip(" ")
        spaces = len(line) - len(stripped)
        if not stripped:
            if block_indent < 0 and line:
                raise _GiveUp  # spaces before the first line decide the indentation in libyaml
            if block_indent >= 0 and spaces > block_indent:
                raise _GiveUp  # a line of spaces past the indentation holds text
            content.append("")
            at += 1
            continue
        if block_indent < 0:
            if spaces <= owner_indent:
                break
            block_indent = spaces
        elif spaces < block_indent:
            break
        content.append(line[block_indent:])
        last = len(content) - 1
        at += 1
    if last < 0:
        raise _GiveUp  # an empty block
    if start + last == len(lines) - 1 and not final_break:
        raise _GiveUp  # its last line ends the text without a line break: libyaml keeps none
    text = "\n".join(content[: last + 1])
    return (text if header == "|-" else text + "\n"), start + last + 1
