"""Sweeps (``python -m allornone.sweep``): grid parsing, validation before any
compute, failing runs, the tidy table, resuming after Ctrl-C or a hard kill,
and the Dask backend on a LocalCluster bound to 127.0.0.1."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import wait_for

from allornone.reruns.run import ParameterError, is_complete
from allornone.reruns.sweep import expand_grid, load_grid_file, main, parse_grid_items, plan_sweep

FIXTURE = Path(__file__).resolve().parent / "data" / "sweep_fixture.ipynb"


def _runs(base: Path) -> dict:
    """Complete run dirs under base/sweep_fixture -> their results.json text."""
    d = base / "sweep_fixture"
    return {p.name: (p / "results.json").read_text() for p in sorted(d.iterdir())
            if p.is_dir() and not p.name.startswith(".") and not p.name.endswith(".failed")} if d.is_dir() else {}


def _assert_no_half_written(base: Path):
    """Every visible run directory is complete: anything partial is a .tmp-* or a .failed dir."""
    for p in (base / "sweep_fixture").iterdir():
        if p.is_dir() and not p.name.startswith(".") and not p.name.endswith(".failed"):
            assert is_complete(p), f"half-written run {p}"
            json.loads((p / "results.json").read_text())


def _table(base: Path) -> list[dict]:
    with open(base / "sweep_fixture" / "sweep.csv", newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- grids


def test_parse_grid_items():
    g = parse_grid_items(["seed=0,1,2", "label=a,'b,c'", "shape=[1,2],[3,4]", "n=range(2, 8, 3)", "x=0.5"])
    assert g == {"seed": ["0", "1", "2"], "label": ["a", "'b,c'"], "shape": ["[1,2]", "[3,4]"],
                 "n": ["2", "5"], "x": ["0.5"]}
    assert parse_grid_items(["seed=range(3)"]) == {"seed": ["0", "1", "2"]}


@pytest.mark.parametrize("items, msg", [
    (["seed"], "name=v1,v2"),
    (["seed=1", "seed=2"], "appears twice"),
    (["seed=1,,2"], "empty value"),
    (["1x=2"], "not a parameter name"),
])
def test_parse_grid_items_errors(items, msg):
    with pytest.raises(ParameterError, match=msg):
        parse_grid_items(items)


def test_expand_grid_is_the_full_product_in_order():
    combos = expand_grid({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(combos) == 6
    assert combos[:3] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}]


def test_yaml_grid_file(tmp_path):
    f = tmp_path / "g.yaml"
    f.write_text("x: [1, 2.5]\nlabel: b\n")
    assert load_grid_file(f) == {"x": [1, 2.5], "label": ["b"]}
    f.write_text("grid:\n  seed: [0, 1]\n")
    assert load_grid_file(f) == {"seed": [0, 1]}
    f.write_text("- 1\n- 2\n")
    with pytest.raises(ParameterError, match="mapping"):
        load_grid_file(f)
    f.write_text("x: [1\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_grid_file(f)
    with pytest.raises(ParameterError, match="does not exist"):
        load_grid_file(tmp_path / "missing.yaml")


def test_plan_dedupes_and_validates_every_combination(tmp_path):
    spec, runs = plan_sweep(FIXTURE, {"x": ["1", "1.0", "2"], "label": ["a"]}, runs_dir=tmp_path)
    assert len(runs) == 2 and [r.params["x"] for r in runs] == [1.0, 2.0]
    with pytest.raises(ParameterError) as err:
        plan_sweep(FIXTURE, {"x": ["1", "2"], "label": ["a", "z"]}, runs_dir=tmp_path)
    msg = str(err.value)
    assert "2 of 4 grid combinations are invalid; nothing was run" in msg
    assert "label must be one of" in msg and "x=1, label=z" in msg
    assert not (tmp_path / "sweep_fixture").exists()


@pytest.mark.parametrize("grid, msg", [
    (["nope=1,2"], "has no parameter nope; valid parameters: x, seed, seconds, fail, label"),
    (["seed=0,1.5"], "seed expects int"),
    (["seconds=0,-1"], "seconds must be >= 0"),
])
def test_bad_grid_exits_2_with_a_clear_message_and_runs_nothing(tmp_path, capsys, grid, msg):
    code = main([str(FIXTURE), "--grid", *grid, "--runs-dir", str(tmp_path / "runs"), "--no-progress"])
    assert code == 2
    assert msg in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_bad_yaml_grid_and_options_exit_2(tmp_path, capsys):
    f = tmp_path / "g.yaml"
    f.write_text("label: [a, q]\n")
    assert main([str(FIXTURE), "--grid-file", str(f), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "label must be one of" in capsys.readouterr().err
    assert main([str(FIXTURE), "--grid", "x=1", "--plot-x", "nope", "--runs-dir", str(tmp_path / "runs")]) == 2
    assert "--plot-x nope" in capsys.readouterr().err
    assert main([str(FIXTURE), "--grid", "x=1", "--grid-file", str(f), "--runs-dir", str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()


def test_dry_run_lists_the_runs_and_runs_nothing(tmp_path, capsys):
    assert main([str(FIXTURE), "--grid", "x=1,2", "label=a,b", "--dry-run", "--runs-dir", str(tmp_path / "r")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all("to run" in ln for ln in lines)
    assert "x=2.0, seed=0, seconds=0.0, fail=False, label='b'" in lines[3]
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- running


def test_failing_run_is_reported_and_the_others_complete(tmp_path, capsys):
    code = main([str(FIXTURE), "--grid", "fail=True,False", "x=2", "--workers", "2",
                 "--runs-dir", str(tmp_path), "--no-progress"])
    assert code == 1
    out = capsys.readouterr()
    failed = next((tmp_path / "sweep_fixture").glob("*.failed"))
    assert "failing on purpose" in (failed / "error.txt").read_text()
    assert str(failed / "error.txt") in out.err + out.out
    rows = _table(tmp_path)
    assert sorted(r["status"] for r in rows) == ["done", "failed"]
    ok = next(r for r in rows if r["status"] == "done")
    assert ok["y"] == "4.0" and ok["fail"] == "False"
    bad = next(r for r in rows if r["status"] == "failed")
    assert bad["error_file"] == str(failed / "error.txt") and bad["y"] == ""
    _assert_no_half_written(tmp_path)


def test_sweep_table_plot_and_skip_on_rerun(tmp_path, capsys):
    f = tmp_path / "g.yaml"
    f.write_text("label: [b]\nseed: [4]\n")
    args = [str(FIXTURE), "--grid", "x=1,3", "--grid-file", str(f), "--workers", "2",
            "--runs-dir", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    rows = _table(tmp_path)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"done"}
    assert list(rows[0]) == ["hash", "status", "x", "seed", "seconds", "fail", "label",
                             "label_upper", "seed_plus_x", "vector", "y", "error_file"]
    assert [(r["x"], r["label"], r["seed"], r["y"], r["seed_plus_x"], r["label_upper"]) for r in rows] == [
        ("1.0", "b", "4", "1.0", "5.0", "B"), ("3.0", "b", "4", "9.0", "7.0", "B")]
    assert json.loads(rows[1]["vector"]) == [3.0, 6.0]
    png = tmp_path / "sweep_fixture" / "sweep.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = {h: (tmp_path / "sweep_fixture" / h / "results.json").stat().st_mtime_ns for h in _runs(tmp_path)}
    capsys.readouterr()
    assert main(args + ["--plot-y", "y"]) == 0
    assert "2 runs, 2 already complete, 0 to run" in capsys.readouterr().out
    after = {h: (tmp_path / "sweep_fixture" / h / "results.json").stat().st_mtime_ns for h in _runs(tmp_path)}
    assert before == after
    # --collect gathers every complete run without running anything
    assert main([str(FIXTURE), "--collect", "--runs-dir", str(tmp_path), "--table",
                 str(tmp_path / "all.csv")]) == 0
    with open(tmp_path / "all.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 2


def _start_sweep(runs: Path, grid: list[str], **popen):
    cmd = [sys.executable, "-m", "allornone.sweep", str(FIXTURE), "--grid", *grid,
           "--workers", "2", "--runs-dir", str(runs), "--no-progress"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


# two runs start together: one finishes at once, the other sleeps long enough to be killed mid-run
GRID = ["seconds=0,8", "x=1"]


def _resume_and_check(runs: Path, finished_before: dict):
    proc = _start_sweep(runs, GRID)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert f"{len(finished_before)} already complete" in out
    final = _runs(runs)
    assert len(final) == 2
    for h, text in finished_before.items():
        assert final[h] == text, "a finished run changed on resume"
    assert not list((runs / "sweep_fixture").glob(".tmp-*")), "stale temporary dirs were not cleaned"
    assert not list((runs / "sweep_fixture").glob("*.failed"))
    _assert_no_half_written(runs)


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_killed_sweep_resumes_with_finished_runs_intact(tmp_path, how):
    runs = tmp_path / "runs"
    proc = _start_sweep(runs, GRID, start_new_session=True)
    wait_for(lambda: _runs(runs), proc, "the first run to finish")
    time.sleep(0.5)  # let the pool start the sleeping runs
    if how == "SIGINT":  # Ctrl-C: the parent stops its workers
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 130, out
        assert "rerun the same command to resume" in out
    else:  # hard kill of the whole sweep (parent and workers), e.g. the OOM killer or a lost node
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finished = _runs(runs)
    assert len(finished) == 1
    _assert_no_half_written(runs)
    _resume_and_check(runs, finished)


# --------------------------------------------------------------------------- Dask


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        code = main([str(FIXTURE), "--grid", "x=2,5", "--dask-scheduler", cluster.scheduler_address,
                     "--runs-dir", str(tmp_path), "--no-progress"])
    assert code == 0
    rows = _table(tmp_path)
    assert sorted(float(r["y"]) for r in rows) == [4.0, 25.0]
    assert len(_runs(tmp_path)) == 2
    _assert_no_half_written(tmp_path)


# --------------------------------------------------------------------------- default plot


def test_default_plot_metric_varies_beyond_rounding_error(tmp_path):
    from allornone.reruns.sweep import default_metric, summary_plot

    # what the README's sweep of 01 gives: a distance at rounding level comes first by name
    rows = [{"hash": str(s), "status": "done", "seed": s, "dim": d, "a_max_prob_difference": 1e-16 * (1 + s),
             "k": d, "shift_logit_change": 0.5 + 0.1 * s + d}
            for s in range(3) for d in (2, 3)]
    numeric = ["a_max_prob_difference", "k", "shift_logit_change"]
    assert default_metric(rows, numeric) == "k"  # varies most relative to its size (2..3 vs 2.5..3.7)
    assert default_metric(rows, ["a_max_prob_difference", "shift_logit_change"]) == "shift_logit_change"
    logs = []
    assert summary_plot(rows, tmp_path / "p.png", param_names=["seed", "dim"], grid_names=["seed", "dim"],
                        log=logs.append) == tmp_path / "p.png"
    assert logs[0].startswith("summary plot: k against dim (other results: a_max_prob_difference, shift_logit_change")
    # nothing varies beyond rounding error: no plot, and the log asks for --plot-y
    flat = [{**r, "k": 4, "shift_logit_change": 1.0} for r in rows]
    logs.clear()
    assert summary_plot(flat, tmp_path / "q.png", param_names=["seed", "dim"], grid_names=["seed", "dim"],
                        log=logs.append) is None
    assert "choose one with --plot-y" in logs[0] and not (tmp_path / "q.png").exists()
