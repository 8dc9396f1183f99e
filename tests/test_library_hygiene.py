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
    for path in LIB.rglob("*.py"):
        refs.update(re.findall(r":prf:ref:`([a-z0-9-]+)`", path.read_text()))
    assert refs, "library docstrings should point to book labels"
    missing = sorted(refs - _labels())
    assert not missing, f"docstrings point to labels that no page defines: {missing}"


@pytest.mark.parametrize("module", ["model", "subspaces", "equivalence", "examples", "properties", "audit"])
def test_public_functions_of_the_theory_modules_have_docstrings(module):
    tree = ast.parse((LIB / "theory" / f"{module}.py").read_text())
    undocumented = [n.name for n in tree.body
                    if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")
                    and ast.get_docstring(n) is None]
    assert not undocumented, f"{module}: {undocumented}"


def test_the_flat_0_1_module_names_still_import_as_the_same_modules():
    """Scripts written against the flat layout keep working (``allornone._compat``)."""
    code = (
        "import importlib, allornone as aon\n"
        "from allornone._compat import ALIASES\n"
        "f = aon.audit\n"
        "for old, new in ALIASES.items():\n"
        "    a = importlib.import_module('allornone.' + old)\n"
        "    b = importlib.import_module('allornone.' + new)\n"
        "    assert a is b, (old, a, b)\n"
        "    assert getattr(aon, old) is b or old == 'audit', old\n"
        "assert aon.audit is f, 'import allornone.audit replaced the function aon.audit'\n"
        "from allornone.properties import ParallelUnembedding\n"
        "from allornone.run import repo_root\n"
        "assert (repo_root() / '_toc.yml').exists()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


@pytest.mark.parametrize("name", ["run", "sweep", "origins_runs"])
def test_python_dash_m_runs_an_old_module_name(name):
    out = subprocess.run([sys.executable, "-m", f"allornone.{name}", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "usage" in out.stdout.lower()
    assert "RuntimeWarning" not in out.stderr, out.stderr
