"""`python -m allornone.origins_runs all`: every stored file, resumable from chunk checkpoints, serial or on Dask."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from allornone.origins import runs as R

METRICS = ("unembedding", "embedding", "between")


def _all(tmp_path, *extra):
    return R.main(["all", "--tiny", "--quiet", "--out-dir", str(tmp_path / "out"),
                   "--checkpoint-dir", str(tmp_path / "ck"), *extra])


def test_run_runs_matches_run_one():
    kw = dict(method="exact", optimizer="adam", lr=0.05, steps=200, stop_excess=5e-3, log_every=50, dtype="float64",
              masks=5)
    many = R.run_runs(4, [0, 1, 2], **kw)
    for s, rec in enumerate(many):
        one = R.run_one(4, s, **kw)
        assert rec["steps_run"] == one["steps_run"] and rec["n_contexts"] == one["n_contexts"]
        for k in METRICS:
            assert abs(rec[k] - one[k]) < 1e-8
        assert np.allclose(rec["cross_concept"], one["cross_concept"], atol=1e-8)


def test_all_writes_every_file_and_resumes(tmp_path, capsys):
    assert _all(tmp_path, "--only", "table1,table3,table4_m12") == 0
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["table1.json", "table3.json", "table4_m12.json"]
    t3 = json.loads((out / "table3.json").read_text())
    assert t3["complete"] and t3["command"].startswith("python -m allornone.origins_runs table3")
    assert [r["n_runs"] for r in t3["rows"]] == [2, 2] and t3["paper_table"] == "table3"
    t4 = json.loads((out / "table4_m12.json").read_text())
    assert "--keys 12" in t4["command"] and t4["setting"] == "table4"
    chunks = sorted((tmp_path / "ck").rglob("*.json"))
    assert chunks and not list((tmp_path / "ck").rglob("*.tmp"))
    stamps = {p: p.stat().st_mtime_ns for p in chunks}
    capsys.readouterr()
    # resume: nothing is recomputed
    assert _all(tmp_path, "--only", "table1,table3,table4_m12") == 0
    assert f"{len(chunks)} already done" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in chunks} == stamps
    # a lost checkpoint: only that chunk is rerun, and it gives the same runs
    lost = next(p for p in chunks if "table3" in str(p))
    before = json.loads(lost.read_text())
    os.remove(lost)
    assert _all(tmp_path, "--only", "table1,table3,table4_m12") == 0
    strip = lambda runs: [{k: v for k, v in r.items() if k != "seconds"} for r in runs]
    assert strip(json.loads(lost.read_text())["runs"]) == strip(before["runs"])
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items() if p != lost)


def test_partial_assembly_states_the_runs_achieved(tmp_path):
    assert _all(tmp_path, "--only", "table3") == 0
    chunk = sorted((tmp_path / "ck").rglob("*.json"))[-1]
    os.remove(chunk)
    (tmp_path / "out" / "table3.json").unlink()
    assert _all(tmp_path, "--only", "table3", "--partial", "--no-run") == 0
    d = json.loads((tmp_path / "out" / "table3.json").read_text())
    assert not d["complete"]
    assert sum(r["n_runs"] for r in d["rows"]) < sum(d["params"]["runs"]) == 4   # the runs achieved, not planned


def test_bad_job_name_is_one_line_error(tmp_path):
    with pytest.raises(SystemExit):
        _all(tmp_path, "--only", "table9")


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert _all(tmp_path, "--only", "table1,fig6", "--dask-scheduler", cluster.scheduler_address) == 0
    serial = tmp_path / "serial"
    assert R.main(["all", "--tiny", "--quiet", "--only", "table1,fig6", "--out-dir", str(serial / "out"),
                   "--checkpoint-dir", str(serial / "ck")]) == 0
    for name in ("table1", "fig6"):
        a = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        b = json.loads((serial / "out" / f"{name}.json").read_text())
        assert [r["key"] for r in a["rows"]] == [r["key"] for r in b["rows"]]
        for ra, rb in zip(a["rows"], b["rows"]):
            assert [x["steps_run"] for x in ra["runs"]] == [x["steps_run"] for x in rb["runs"]]
            assert all(abs(ra[k]["mean"] - rb[k]["mean"]) < 1e-9 for k in METRICS)


def test_local_workers_match_serial(tmp_path, capsys):
    """Two local worker processes give the same runs as one, and the plan says where it runs."""
    assert _all(tmp_path, "--only", "table1,table3", "--workers", "2") == 0
    assert "2 local worker(s)" in capsys.readouterr().out
    serial = tmp_path / "serial"
    assert R.main(["all", "--tiny", "--quiet", "--only", "table1,table3", "--workers", "1",
                   "--out-dir", str(serial / "out"), "--checkpoint-dir", str(serial / "ck")]) == 0
    for name in ("table1", "table3"):
        a = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        b = json.loads((serial / "out" / f"{name}.json").read_text())
        assert a["complete"] and [r["key"] for r in a["rows"]] == [r["key"] for r in b["rows"]]
        for ra, rb in zip(a["rows"], b["rows"]):
            assert [x["steps_run"] for x in ra["runs"]] == [x["steps_run"] for x in rb["runs"]]
            assert all(abs(ra[k]["mean"] - rb[k]["mean"]) < 1e-9 for k in METRICS)


@pytest.mark.parametrize("extra, msg", [(["--workers", "0"], "--workers must be >= 1"),
                                        (["--workers", "2", "--dask-scheduler", "tcp://127.0.0.1:1"],
                                         "--workers is for local runs")])
def test_bad_workers_is_one_line_error(tmp_path, capsys, extra, msg):
    with pytest.raises(SystemExit):
        _all(tmp_path, "--only", "table1", *extra)
    assert msg in capsys.readouterr().err


def test_chunk_cost_reads_the_stored_file_once_and_falls_back_to_the_formula(tmp_path):
    """The scheduling estimate: measured seconds per run of the stored row × runs; else the per-step formula."""
    out = tmp_path / "table1.json"
    out.write_text(json.dumps({"rows": [{"key": 3, "runs": [{"seconds": 2.0}, {"seconds": 4.0}]}]}))
    job = {"out": str(out), "setting": "table1", "cfg": dict(R.SETTINGS["table1"])}
    assert R._chunk_cost(job, 3, [0, 1, 2]) == pytest.approx(9.0)        # 3 runs × 3 s
    out.unlink()                                                          # read once: the estimate stays
    assert R._chunk_cost(job, 3, [0]) == pytest.approx(3.0)
    steps = R.SETTINGS["table1"]["steps"]                                 # row 4 is not stored: 81 × 16 × 4 logits
    assert R._chunk_cost(job, 4, [0, 1]) == pytest.approx(2 * steps * (3e-4 + 81 * 16 * 4 * 1e-9))
