"""The single-notebook runner (``python -m allornone.run``): parameter checks,
hashing, atomic run directories, skip-if-complete, stale temporary dirs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from allornone import run as runmod
from allornone.reruns.run import (
    ParameterError,
    RunFailed,
    clean_stale,
    is_complete,
    main,
    parameter_hash,
    read_spec,
    resolve_parameters,
    run_dir_for,
    run_notebook,
)

FIXTURE = Path(__file__).resolve().parent / "data" / "sweep_fixture.ipynb"
QUIET = dict(log=lambda *_: None)


@pytest.fixture(scope="module")
def spec():
    return read_spec(FIXTURE)


def test_spec_reads_defaults_and_validation_cell(spec):
    assert spec.name == "sweep_fixture"
    assert spec.defaults == {"x": 1.0, "seed": 0, "seconds": 0.0, "fail": False, "label": "a", "out_dir": None}
    assert 'check("label"' in spec.validate_source


def test_unknown_names_are_listed_with_the_valid_ones(spec):
    with pytest.raises(ParameterError) as err:
        resolve_parameters(spec, {"nope": 1, "seedd": 2})
    msg = str(err.value)
    assert "no parameter nope, seedd" in msg
    assert "valid parameters: x, seed, seconds, fail, label" in msg


def test_out_dir_is_reserved(spec):
    with pytest.raises(ParameterError, match="out_dir is set by the runner"):
        resolve_parameters(spec, {"out_dir": "/tmp/x"})


@pytest.mark.parametrize("name, raw, expected", [
    ("x", "abc", "x expects float"),
    ("seed", "1.5", "seed expects int"),
    ("seed", "True", "seed expects int"),
    ("fail", "1", "fail expects bool"),
])
def test_type_errors(spec, name, raw, expected):
    with pytest.raises(ParameterError, match=expected):
        resolve_parameters(spec, {name: raw})


@pytest.mark.parametrize("name, raw, expected", [
    ("label", "z", r"label must be one of \['a', 'b', 'c'\]"),
    ("seconds", "-1", "seconds must be >= 0"),
    ("x", "1e9", "x must be <= 100"),
])
def test_value_errors_come_from_the_validation_cell(spec, name, raw, expected):
    with pytest.raises(ParameterError, match=expected):
        resolve_parameters(spec, {name: raw})


def test_coercion_matches_the_default_type(spec):
    p = resolve_parameters(spec, {"x": "2", "seed": "3", "fail": "False", "label": "b"})
    assert p == {"x": 2.0, "seed": 3, "seconds": 0.0, "fail": False, "label": "b"}
    assert isinstance(p["x"], float)


def test_hash_is_stable():
    a = {"x": 1.0, "seed": 0, "seconds": 0.0, "fail": False, "label": "a"}
    assert parameter_hash(a) == parameter_hash(dict(reversed(list(a.items()))))
    # pinned: a change of the hashing scheme would orphan everybody's runs/
    assert parameter_hash(a) == "c4eca7e87f"
    assert parameter_hash({**a, "x": 2.0}) != parameter_hash(a)
    # and the same in a fresh interpreter (no dependence on PYTHONHASHSEED)
    out = subprocess.run([sys.executable, "-c", "from allornone.reruns.run import parameter_hash as h; "
                          f"print(h({a!r}))"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "c4eca7e87f"


def test_bad_parameters_exit_2_before_any_compute(tmp_path, capsys):
    code = main([str(FIXTURE), "-p", "nope", "1", "--runs-dir", str(tmp_path / "runs")])
    assert code == 2
    assert "no parameter nope" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    assert main([str(FIXTURE), "-p", "label", "z", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert main([str(FIXTURE), "-p", "x", "1", "-p", "x", "2", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()


def test_list(capsys):
    assert main([str(FIXTURE), "--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["x = 1.0", "seed = 0", "seconds = 0.0", "fail = False", "label = 'a'"]


def _fake_papermill(monkeypatch, *, fail=False, seen=None):
    """Replace papermill.execute_notebook by a function that writes what a
    notebook would, and records whether the final directory existed meanwhile."""
    import papermill

    def fake(src, dst, parameters, **kw):
        out = Path(parameters["out_dir"])
        seen.append({"tmp": out, "final_exists_during_run": any(
            p.is_dir() and not p.name.startswith(".") for p in out.parent.iterdir())})
        Path(dst).write_text("{}")
        if fail:
            raise RuntimeError("boom in a cell")
        (out / "results.json").write_text(json.dumps({"notebook": "sweep_fixture", "results": {"y": 1}}))

    monkeypatch.setattr(papermill, "execute_notebook", fake)


def test_run_is_written_elsewhere_then_renamed(tmp_path, monkeypatch):
    seen = []
    _fake_papermill(monkeypatch, seen=seen)
    final = run_notebook(FIXTURE, {"x": 2}, runs_dir=tmp_path, **QUIET)
    assert seen[0]["tmp"].name.startswith(".tmp-") and seen[0]["tmp"].parent == final.parent
    assert not seen[0]["final_exists_during_run"]
    assert is_complete(final) and not seen[0]["tmp"].exists()
    assert json.loads((final / "params.json").read_text())["parameters"]["x"] == 2.0
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]


def test_failed_run_keeps_traceback_and_never_looks_complete(tmp_path, monkeypatch):
    seen = []
    _fake_papermill(monkeypatch, fail=True, seen=seen)
    with pytest.raises(RunFailed) as err:
        run_notebook(FIXTURE, {"x": 3}, runs_dir=tmp_path, **QUIET)
    failed = err.value.failed_dir
    assert failed.name.endswith(".failed") and "boom in a cell" in err.value.error_file.read_text()
    assert sorted(p.name for p in failed.parent.iterdir()) == [failed.name]
    # a later success replaces the failure
    _fake_papermill(monkeypatch, seen=seen)
    final = run_notebook(FIXTURE, {"x": 3}, runs_dir=tmp_path, **QUIET)
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]


def test_skip_if_complete_and_force(tmp_path, monkeypatch):
    seen = []
    _fake_papermill(monkeypatch, seen=seen)
    final = run_notebook(FIXTURE, {}, runs_dir=tmp_path, **QUIET)
    logs = []
    assert run_notebook(FIXTURE, {}, runs_dir=tmp_path, log=logs.append) == final
    assert len(seen) == 1 and "already complete" in logs[0]
    run_notebook(FIXTURE, {}, runs_dir=tmp_path, force=True, **QUIET)
    assert len(seen) == 2 and is_complete(final)
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]


def test_clean_stale_removes_only_dead_local_tmp_dirs(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = runmod._HOST
    names = {
        f".tmp-abc-{host}-{dead.pid}-1": True,        # killed run on this host
        f".old-abc-{dead.pid}": True,                  # interrupted --force swap
        f".tmp-abc-{host}-{os.getppid()}-1": False,   # a live process
        f".tmp-abc-otherhost-{dead.pid}-1": False,     # another machine's worker
        "abc": False,                                  # a run
    }
    for n in names:
        (tmp_path / n).mkdir()
    removed = {p.name for p in clean_stale(tmp_path)}
    assert removed == {n for n, gone in names.items() if gone}
    assert {p.name for p in tmp_path.iterdir()} == {n for n, gone in names.items() if not gone}


def test_real_run_and_real_failure(tmp_path, capsys):
    """One real papermill run of the fixture succeeds, one fails on purpose (exit 1)."""
    assert main([str(FIXTURE), "-p", "x", "3", "--runs-dir", str(tmp_path)]) == 0
    spec = read_spec(FIXTURE)
    d = run_dir_for(spec, resolve_parameters(spec, {"x": 3}), tmp_path)
    assert json.loads((d / "results.json").read_text())["results"]["y"] == 9.0
    capsys.readouterr()
    assert main([str(FIXTURE), "-p", "fail", "True", "--runs-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    failed = next((tmp_path / "sweep_fixture").glob("*.failed"))
    assert str(failed / "error.txt") in err
    # the kernel's own error line reaches the console, not just the file name
    assert "RuntimeError: failing on purpose (x=1.0)" in err
    assert "failing on purpose" in (failed / "error.txt").read_text()
    assert not list((tmp_path / "sweep_fixture").glob(".tmp-*"))
