from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from gitops_check.model.result import CheckResult
from gitops_check.report.formats import FORMATS


def test_every_format_renders_a_result(result: CheckResult) -> None:
    assert set(FORMATS) == {"terminal", "junit", "markdown", "json"}
    out = {name: render(result) for name, render in FORMATS.items()}
    assert all(isinstance(text, str) and text.endswith("\n") for text in out.values())
    assert "\x1b" not in out["terminal"]
    ET.fromstring(out["junit"])
    assert out["markdown"].startswith("### gitops-check: ")
    assert json.loads(out["json"])["exitCode"] == 2
