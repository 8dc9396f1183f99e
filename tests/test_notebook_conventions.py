"""Every notebook follows the conventions of CONTRIBUTING.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from allornone.reruns.params import check
from allornone.reruns.run import read_spec

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TESTS_TEXT = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))


def _toc_files() -> set[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {toc["root"]}
    for part in toc.get("parts", []):
        for ch in part.get("chapters", []):
            files.add(ch["file"])
            files.update(s["file"] for s in ch.get("sections", []))
    return files


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_conventions(path):
    nb = json.loads(path.read_text())
    assert re.fullmatch(r"\d\d_[a-z0-9_]+", path.stem), "notebooks are named NN_topic.ipynb"
    # outputs stripped
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), "commit notebooks stripped"
    # one parameters cell of literals, ending with out_dir = None
    spec = read_spec(path)
    assert list(spec.defaults)[-1] == "out_dir" and spec.defaults["out_dir"] is None
    # papermill itself must parse every line of the parameters cell (comments with '=' confuse it)
    import papermill

    assert set(papermill.inspect_notebook(str(path))) == set(spec.defaults)
    # a validation cell that accepts the defaults and checks every parameter
    assert spec.validate_source, "needs a cell tagged validate-parameters"
    for name in spec.defaults:
        assert re.search(rf'check\(\s*"{name}"', spec.validate_source), f"parameter {name} is not checked"
    exec(compile(spec.validate_source, path.name, "exec"), {**spec.defaults, "check": check})
    # results are saved, the page is in the book, and a test runs it
    sources = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert f'Results("{path.stem}"' in sources and "res.save()" in sources
    assert f"notebooks/{path.stem}" in _toc_files(), "add the notebook to _toc.yml"
    assert f'"{path.stem}"' in TESTS_TEXT, "some test must run this notebook through run_nb"
