"""ApplicationSet templating, as Argo CD's ApplicationSet controller does it.

Two syntaxes. The default, fasttemplate, only replaces ``{{ name }}`` tags whose name is a string parameter and
leaves every other tag as written; it is simple enough to reproduce exactly here. ``goTemplate: true`` means Go's
text/template with Sprig and Argo CD's own functions: Python cannot reproduce that faithfully (RE2 regular
expressions, Go's printf verbs and number formatting, Sprig's ~200 functions), and helm's ``tpl`` differs in
its root object, function set and ``<no value>`` handling, so those templates run in ``gitops-check-gotemplate``,
a small Go program with the same libraries Argo CD uses, whose sources ship in the package (gitops_check/data/
gotemplate) and which is built on first use when Go is installed (``gotemplate_build``). Without it, goTemplate
ApplicationSets are reported as not checked (never guessed).

Both syntaxes template each string of a value separately, map keys included, and drop map entries whose value is
null, as Argo CD's reflection walk over the Application does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitops_check import proc
from gitops_check.discover import gotemplate_build
from gitops_check.errors import ConfigError, RenderError

HELPER = gotemplate_build.HELPER
HELPER_ENV = "GITOPS_CHECK_GOTEMPLATE"
# Go's regexp ".*{{.*}}.*": '.' does not match a newline, so the tags must open and close on one line.
_TEMPLATED = re.compile(r"\{\{.*\}\}")


class TemplateError(ConfigError):
    """An ApplicationSet template or parameter could not be rendered (Argo CD would fail the same way)."""


class HelperMissing(TemplateError):
    """goTemplate was asked for and the helper binary is not installed."""


@dataclass(frozen=True)
class Syntax:
    go: bool = False
    options: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------------------------
# fasttemplate


def fast_replace(text: str, params: Mapping[str, Any]) -> str:
    """valyala/fasttemplate with Argo CD's tag function: string parameters replace, anything else stays."""
    if not _TEMPLATED.search(text):
        return text
    out: list[str] = []
    rest = text
    while True:
        start = rest.find("{{")
        if start < 0:
            out.append(rest)
            break
        out.append(rest[:start])
        rest = rest[start + 2 :]
        end = rest.find("}}")
        if end < 0:
            raise TemplateError(f"invalid template: cannot find end tag '}}}}' in {text!r}")
        tag = rest[:end]
        rest = rest[end + 2 :]
        value = params.get(tag.strip())
        out.append(value if tag.strip() and isinstance(value, str) else "{{" + tag + "}}")
    return "".join(out)


def fast_walk(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return fast_replace(value, params)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            rendered = fast_walk(item, params)
            out[fast_replace(str(key), params)] = rendered
        return out
    if isinstance(value, list):
        return [fast_walk(item, params) for item in value]
    return value


# ---------------------------------------------------------------------------------------------------------------
# Both syntaxes, in batches (one helper process per batch)


@dataclass(frozen=True)
class Job:
    value: Any
    params: Mapping[str, Any]


class Templater:
    """Renders values with one ApplicationSet's syntax; goTemplate jobs go to the helper in one process per batch."""

    def __init__(self, syntax: Syntax, *, helper: str | None = None, timeout: float = 120.0):
        self.syntax = syntax
        self._helper = helper
        self._timeout = timeout

    def render(self, value: Any, params: Mapping[str, Any]) -> Any:
        result = self.render_many([Job(value, params)])[0]
        if isinstance(result, TemplateError):
            raise result
        return result

    def render_many(self, jobs: Sequence[Job]) -> list[Any]:
        """Rendered values in job order; a job that fails yields its TemplateError instead of a value."""
        if not self.syntax.go:
            out: list[Any] = []
            for job in jobs:
                try:
                    out.append(fast_walk(job.value, job.params))
                except TemplateError as e:
                    out.append(e)
            return out
        if not jobs:
            return []
        return self._run_helper(jobs)

    def _run_helper(self, jobs: Sequence[Job]) -> list[Any]:
        helper = self._helper or find_helper()
        request = {
            "jobs": [
                {"value": j.value, "params": dict(j.params), "options": list(self.syntax.options)}
                for j in jobs
            ]
        }
        try:
            stdout = proc.run(
                [helper],
                what="goTemplate rendering",
                input_text=json.dumps(request, default=str),
                timeout=self._timeout,
            )
            results = json.loads(stdout)["results"]
        except RenderError as e:
            raise TemplateError(e.message) from e
        except (ValueError, KeyError, TypeError) as e:
            raise TemplateError(f"{HELPER} answered something unexpected ({type(e).__name__})") from e
        if len(results) != len(jobs):
            raise TemplateError(f"{HELPER} answered {len(results)} results for {len(jobs)} jobs")
        return [TemplateError(r["error"]) if r.get("error") else r.get("value") for r in results]


def find_helper() -> str:
    """$GITOPS_CHECK_GOTEMPLATE, else the helper on PATH, else the tool cache's build of the packaged sources (built
    now when Go is installed), else an older build in the tool cache; HelperMissing (one line) when none."""
    if os.environ.get(HELPER_ENV):
        try:
            tool = proc.find_tool(HELPER, env_var=HELPER_ENV)
        except RenderError as e:  # the environment variable names something that is not executable
            raise HelperMissing(e.message) from None
        assert tool is not None
        return tool.path
    on_path = shutil.which(HELPER)
    if on_path:
        return on_path
    try:
        return str(gotemplate_build.ensure_built())
    except gotemplate_build.BuildFailed as e:
        older = proc.tool_cache_dir() / HELPER  # scripts/tools.py's link to the last build it made
        if older.is_file() and os.access(older, os.X_OK):
            return str(older)
        raise HelperMissing(str(e)) from None
