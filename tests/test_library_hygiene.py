"""The library keeps its promises: no import-time side effects, docstrings
that point to the book, and ValueErrors that name the argument."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib" / "allornone"
BOOK_LABELS = None


def _labels() -> set[str]:
    global BOOK_LABELS
    if BOOK_LABELS is None:
        text = "\n".join(p.read_text() for p in (ROOT / "notebooks").glob("*.ipynb"))
        text += "\n".join(p.read_text() for p in (ROOT / "book").glob("*.md"))
        BOOK_LABELS = set(re.findall(r":label:\s*([a-z0-9-]+)", text))
    return BOOK_LABELS


def test_import_has_no_heavy_imports_or_side_effects(tmp_path):
    code = (
        "import sys, os, matplotlib\n"
        "before = dict(matplotlib.rcParams)\n"
        "import allornone, allornone.properties, allornone.audit, allornone.examples, allornone.linear\n"
        "heavy = [m for m in ('torch', 'transformers', 'papermill', 'myst_nb', 'dask') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert dict(matplotlib.rcParams) == before, 'plotting style changed at import'\n"
        "assert os.listdir('.') == [], os.listdir('.')\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)


def test_every_prf_ref_in_the_library_names_a_book_label():
    refs = set()
    for path in LIB.glob("*.py"):
        refs.update(re.findall(r":prf:ref:`([a-z0-9-]+)`", path.read_text()))
    assert refs, "library docstrings should point to book labels"
    missing = sorted(refs - _labels())
    assert not missing, f"docstrings point to labels that no page defines: {missing}"


@pytest.mark.parametrize("module", ["model", "subspaces", "equivalence", "examples", "properties", "audit"])
def test_public_functions_of_the_theory_modules_have_docstrings(module):
    tree = ast.parse((LIB / f"{module}.py").read_text())
    undocumented = [n.name for n in tree.body
                    if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")
                    and ast.get_docstring(n) is None]
    assert not undocumented, f"{module}: {undocumented}"
