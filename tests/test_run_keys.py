"""Run keys, paths and validation before any kernel (issue 12, points 1, 3, 4).

A run is keyed by what determines its result: the parameters, the content of
the input files they name and the notebook's code. Relative paths resolve
against the caller's directory. Bad values, unreadable files and sizes too
large for the machine are refused before a kernel starts."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from allornone.reruns import params as pmod
from allornone.reruns.params import check, inspect_file
from allornone.reruns.run import (
    NotebookSpec,
    ParameterError,
    input_hashes,
    read_spec,
    resolve_parameters,
    run_key,
    run_notebook,
)

DATA = Path(__file__).resolve().parent / "data"
FIXTURE = DATA / "file_fixture.ipynb"
SWEEP_FIXTURE = DATA / "sweep_fixture.ipynb"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
QUIET = dict(log=lambda *_: None)


def _fake_papermill(monkeypatch, calls):
    """papermill.execute_notebook replaced by a function that 'computes' the
    total of the F matrix it is given, as the real fixture does."""
    import papermill

    def fake(src, dst, parameters, **kw):
        calls.append(parameters)
        out = Path(parameters["out_dir"])
        Path(dst).write_text("{}")
        total = float(np.load(parameters["f_path"]).sum())
        (out / "results.json").write_text(json.dumps({"notebook": "file_fixture", "results": {"total": total}}))

    monkeypatch.setattr(papermill, "execute_notebook", fake)


def _total(run_dir: Path) -> float:
    return json.loads((run_dir / "results.json").read_text())["results"]["total"]


# --------------------------------------------------------------------------- keys


def test_overwriting_an_input_file_makes_a_new_run_with_the_new_answer(tmp_path, monkeypatch):
    calls = []
    _fake_papermill(monkeypatch, calls)
    f = tmp_path / "F.npy"
    np.save(f, np.ones((2, 2)))
    a = run_notebook(FIXTURE, {"f_path": str(f)}, runs_dir=tmp_path / "runs", **QUIET)
    assert _total(a) == 4.0
    logs = []
    assert run_notebook(FIXTURE, {"f_path": str(f)}, runs_dir=tmp_path / "runs", log=logs.append) == a
    assert len(calls) == 1 and "already complete" in logs[0]
    np.save(f, 3 * np.ones((2, 2)))  # same name, new content
    b = run_notebook(FIXTURE, {"f_path": str(f)}, runs_dir=tmp_path / "runs", **QUIET)
    assert b != a and len(calls) == 2 and _total(b) == 12.0
    record = json.loads((b / "params.json").read_text())
    assert record["inputs"]["f_path"] == input_hashes(read_spec(FIXTURE), record["parameters"])["f_path"]


def test_editing_code_changes_the_key_but_outputs_and_markdown_do_not(tmp_path):
    nb = json.loads(FIXTURE.read_text())

    def key_after(edit):
        copy = json.loads(json.dumps(nb))
        edit(copy["cells"])
        path = tmp_path / "file_fixture.ipynb"
        path.write_text(json.dumps(copy))
        for name in ("file_fixture_F.npy", "file_fixture_words.txt"):
            shutil.copy(DATA / name, tmp_path / name)
        spec = read_spec(path)
        return run_key(spec, resolve_parameters(spec, {}))

    def outputs(cells):
        cells[3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
        cells[3]["execution_count"] = 7
        cells[3]["metadata"]["collapsed"] = True

    def markdown(cells):
        cells[0]["source"] = "# Another title"

    def code(cells):
        cells[3]["source"] = "".join(cells[3]["source"]).replace("* scale", "* scale * 2")

    base = key_after(lambda cells: None)
    assert key_after(outputs) == base
    assert key_after(markdown) == base
    assert key_after(code) != base


def test_a_folder_parameter_hashes_every_file_in_it(tmp_path):
    (tmp_path / "rel").mkdir()
    (tmp_path / "rel" / "a.json").write_text("[1]")
    spec = NotebookSpec(path=tmp_path / "x.ipynb", defaults={"relations_dir": "rel", "contexts_file": "c.txt",
                                                             "out_dir": None}, validate_source="")
    (tmp_path / "c.txt").write_text("one\n")
    params = resolve_parameters(spec, {})
    assert params["relations_dir"] == str(tmp_path / "rel")  # defaults resolve against the notebook's folder
    h0 = input_hashes(spec, params)
    assert set(h0) == {"relations_dir", "contexts_file"}
    (tmp_path / "rel" / "b.json").write_text("[2]")  # a new file in the folder
    h1 = input_hashes(spec, params)
    (tmp_path / "rel" / "a.json").write_text("[3]")  # an edited file
    h2 = input_hashes(spec, params)
    assert len({h0["relations_dir"], h1["relations_dir"], h2["relations_dir"]}) == 3
    assert h0["contexts_file"] == h2["contexts_file"]
    shutil.rmtree(tmp_path / "rel")
    with pytest.raises(ParameterError, match="directory .* does not exist"):
        resolve_parameters(spec, {})


# --------------------------------------------------------------------------- paths


def test_relative_file_parameters_resolve_against_the_callers_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("mine.npy", np.zeros((3, 1)))
    params = resolve_parameters(read_spec(FIXTURE), {"f_path": "mine.npy"})
    assert params["f_path"] == str(tmp_path / "mine.npy")
    # left at its default, a file parameter resolves against the notebook's folder, as in the book
    assert params["words_file"] == str(DATA / "file_fixture_words.txt")
    # a file that is not there is refused before any kernel starts
    with pytest.raises(ParameterError, match=f"file {tmp_path / 'nope.npy'} does not exist"):
        resolve_parameters(read_spec(FIXTURE), {"f_path": "nope.npy"})


def test_relative_runs_dir_and_file_parameter_real_run(tmp_path):
    """A real run from another directory: --runs-dir and -p f_path relative to it; the
    answer comes from the user's file; nothing lands under notebooks/ or tests/data/;
    no TCP warning from the kernel; results readable by the group."""
    np.save(tmp_path / "mine.npy", np.full((2, 2), 5.0))
    before = sorted(p.name for p in DATA.iterdir())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", "import os, sys; os.umask(0o022); from allornone.reruns.run import main; "
                           "sys.exit(main(sys.argv[1:]))", str(FIXTURE), "-p", "f_path", "mine.npy",
                           "--runs-dir", "myruns"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    [run] = [p for p in (tmp_path / "myruns" / "file_fixture").iterdir()]
    assert _total(run) == 20.0
    assert json.loads((run / "params.json").read_text())["parameters"]["f_path"] == str(tmp_path / "mine.npy")
    assert sorted(p.name for p in DATA.iterdir()) == before
    assert "without encryption" not in proc.stderr + proc.stdout
    for name in ("results.json", "params.json", "notebook.ipynb"):
        assert stat.S_IMODE((run / name).stat().st_mode) & 0o044 == 0o044, name


# --------------------------------------------------------------------------- validation


def test_memory_bound_is_derived_and_the_estimate_is_in_the_message(monkeypatch):
    monkeypatch.setattr(pmod, "memory_limit", lambda: 16 * 10**9)
    assert check("n", 10**9, int, min=1) == 10**9          # 8 GB of float64s fits in 16 GB
    with pytest.raises(ValueError, match=r"n = 3000000000 needs about 24.0 GB of memory .* must be <= 2000000000"):
        check("n", 3 * 10**9, int, min=1)
    with pytest.raises(ValueError, match=r"needs about 80.0 GB of memory \(80 B per unit\); this machine has 16.0 GB"):
        check("n_models", 10**9, int, min=2, bytes_each=80)
    assert check("seed", 10**12, int, min=0) == 10**12      # a seed is not a count
    assert check("data_seed", 10**12, int, min=0) == 10**12
    with pytest.raises(ValueError, match="n_seeds = 3000000000 needs about"):  # ... but a number of seeds is
        check("n_seeds", 3 * 10**9, int, min=1)
    assert check("n", 10**12, int, max=10**13) == 10**12     # an explicit max replaces the estimate


def test_the_book_refuses_sizes_beyond_memory_before_a_kernel():
    spec = read_spec(NOTEBOOKS / "05_identifiability_theorem.ipynb")
    with pytest.raises(ParameterError, match=r"n_contexts = 1000000000000 needs about 8.0 TB"):
        resolve_parameters(spec, {"n_contexts": "1000000000000"})
    with pytest.raises(ParameterError, match=r"n_models = 1000000000 needs about .* TB of memory"):
        resolve_parameters(spec, {"n_models": "1000000000", "n_nudged": "5"})
    assert resolve_parameters(spec, {"n_models": "400"})["n_models"] == 400


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_floats_must_be_finite(value):
    with pytest.raises(ValueError, match="must be a finite number"):
        check("x", value, float, min=-100)
    assert check("x", value, float, finite=False) is value


@pytest.mark.parametrize("raw", ["inf", "-inf", "1e999", "nan", float("inf")])
def test_non_finite_floats_are_refused_by_the_runner(raw):
    with pytest.raises(ParameterError, match="parameter x must be a finite number"):
        resolve_parameters(read_spec(SWEEP_FIXTURE), {"x": raw})


def test_list_elements_are_typed():
    assert check("alphas", [1.0, 2], list, of=float, min=0) == [1.0, 2]
    with pytest.raises(ValueError, match=r"alphas\[1\] must be a number; got 'a'"):
        check("alphas", [1.0, "a"], list, of=float)
    with pytest.raises(ValueError, match=r"alphas\[0\] must be <= 10"):
        check("alphas", [11.0], list, of=float, max=10)
    spec = read_spec(FIXTURE)
    assert resolve_parameters(spec, {"alphas": "[1, 2]"})["alphas"] == [1.0, 2.0]
    with pytest.raises(ParameterError, match=r"alphas\[1\] expects float"):
        resolve_parameters(spec, {"alphas": "[1, 'x']"})
    with pytest.raises(ParameterError, match=r"alphas\[0\] must be a finite number"):
        resolve_parameters(spec, {"alphas": "[1e999]"})


def test_none_only_where_allowed():
    with pytest.raises(ValueError, match="parameter n must be an integer; got None"):
        check("n", None, int)
    assert check("n", None, int, allow_none=True) is None
    # the runner refuses None for a parameter whose default is not None, with a ParameterError
    with pytest.raises(ParameterError, match="n_tokens does not accept None"):
        resolve_parameters(read_spec(NOTEBOOKS / "01_next_token_predictors.ipynb"), {"n_tokens": "None"})


def test_npy_header_is_read_without_loading_the_data(tmp_path, monkeypatch):
    f = tmp_path / "F.npy"
    np.save(f, np.zeros((4, 3), dtype=np.float32))
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load must not be called"))
    info = inspect_file("f_path", f, "npy")
    assert info["shape"] == [4, 3] and info["dtype"] == "float32"
    # a header that promises 8 TB in a file of a few bytes: refused, and nothing was allocated
    big = tmp_path / "big.npy"
    with open(big, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    with pytest.raises(ValueError, match=r"truncated: its header says shape \(1000000, 1000000\)"):
        inspect_file("f_path", big, "npy")
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled arrays are refused"):
        inspect_file("f_path", obj, "npy")
    txt = tmp_path / "t.npy"
    txt.write_text("hello")
    with pytest.raises(ValueError, match="is not a .npy file"):
        inspect_file("f_path", txt, "npy")
    with pytest.raises(ValueError, match="is not a regular file"):
        inspect_file("f_path", tmp_path, "npy")


def test_bad_audit_files_are_refused_before_a_kernel(tmp_path):
    spec = read_spec(NOTEBOOKS / "13_audit_your_model.ipynb")
    # the defaults (relative to notebooks/) are fine
    params = resolve_parameters(spec, {})
    assert Path(params["f_path"]).is_absolute() and Path(params["f_path"]).is_file()
    bad = tmp_path / "F.npy"
    np.save(bad, np.array(["a", "b"]))
    with pytest.raises(ParameterError, match="must hold numbers; its dtype is <U1"):
        resolve_parameters(spec, {"f_path": str(bad)})


def test_run_key_is_pinned_and_independent_of_the_interpreter():
    """A change of the key scheme orphans everybody's runs/: pin it (and PYTHONHASHSEED plays no part)."""
    code = ("from pathlib import Path; from allornone.reruns.run import NotebookSpec, run_key; "
            "s = NotebookSpec(path=Path('x.ipynb'), defaults={'a': 1, 'out_dir': None}, validate_source='', "
            "source_hash='0' * 64); print(run_key(s, {'a': 1}), run_key(s, {'a': 2}))")
    a, b = (subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": os.pathsep.join(sys.path)}
                           ).stdout.split() for seed in ("1", "2"))
    assert a == b
    assert a[0] != a[1]
    assert a[0] == "abd6549177"


def test_check_can_declare_a_file_kind(tmp_path):
    f = tmp_path / "F.npy"
    np.save(f, np.ones((2, 2)))
    assert check("f_path", str(f), str, file="npy") == str(f)
    with pytest.raises(ValueError, match="is not a directory"):
        check("words_dir", str(f), str, file="dir")
    with pytest.raises(ValueError, match="does not exist"):
        check("f_path", str(tmp_path / "no.npy"), str, file="npy")
    assert check("f_path", None, str, allow_none=True, file="npy") is None
    with pytest.raises(ValueError, match="file kind must be"):
        check("f_path", str(f), str, file="csv")
