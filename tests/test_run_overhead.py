"""Kernel start overhead (issue 12, point 9): the lock leaves out the optional
package that cost ~0.8 s per import of nbformat, in the runner and in every
kernel. The speed itself is measured in benchmarks/reruns.py, not here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> set[str]:
    return {re.split(r"[=<>\[ ;]", ln.strip())[0].lower().replace("_", "-")
            for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")}


def test_the_grammar_compiling_format_checker_is_not_locked():
    pins = _pins(ROOT / "requirements.lock")
    assert "jsonschema" in pins and "nbformat" in pins  # the parser above reads the lock
    assert "rfc3987-syntax" not in pins, "rfc3987-syntax compiles a lark grammar at every nbformat import"
    assert "lark" not in pins, "lark is only needed by rfc3987-syntax"
