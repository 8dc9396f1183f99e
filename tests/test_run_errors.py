"""One-line errors, never tracebacks (issue 12, points 5 and 7), for both
``python -m allornone.run`` and ``python -m allornone.sweep``; Ctrl-C prints one
line and leaves nothing half-written; a killed sweep leaves no workers behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import wait_for

from allornone.reruns import run as runmod
from allornone.reruns import sweep as sweepmod
from allornone.reruns.run import is_complete

DATA = Path(__file__).resolve().parent / "data"
FIXTURE = DATA / "sweep_fixture.ipynb"


def _one_line_error(capsys, code, expected, want=2):
    err = capsys.readouterr().err
    assert code == want, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and expected in lines[0], err


@pytest.fixture(params=["run", "sweep"])
def cli(request, tmp_path):
    """main() of either command, with the arguments each needs to get going."""
    if request.param == "run":
        return lambda nb, *extra: runmod.main([nb, *extra])
    return lambda nb, *extra: sweepmod.main([nb, "--grid", "x=1", "--no-progress", *extra])


def test_a_300_character_notebook_name(cli, capsys):
    _one_line_error(capsys, cli("n" * 300), "300 characters")


def test_a_notebook_that_is_not_json(cli, capsys, tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{ this is not json")
    _one_line_error(capsys, cli(str(bad)), "bad.ipynb is not a notebook (not valid JSON")
    bad.write_bytes(b"\xff\xfe\x00")
    _one_line_error(capsys, cli(str(bad)), "is not a notebook")
    bad.write_text("[1, 2]")
    _one_line_error(capsys, cli(str(bad)), "is not a notebook (no list of cells)")


def test_runs_dir_naming_a_file(cli, capsys, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    _one_line_error(capsys, cli(str(FIXTURE), "--runs-dir", str(f)), "is a file, not a directory")
    _one_line_error(capsys, cli(str(FIXTURE), "--runs-dir", str(f / "sub")), "is a file, not a directory")
    assert f.read_text() == "x"


def test_grid_file_naming_a_directory_or_not_utf8(capsys, tmp_path):
    code = sweepmod.main([str(FIXTURE), "--grid-file", str(tmp_path), "--runs-dir", str(tmp_path / "r")])
    _one_line_error(capsys, code, "is a directory, not a YAML file")
    latin = tmp_path / "g.yaml"
    latin.write_bytes("label: [\xe9]\n".encode("latin-1"))
    code = sweepmod.main([str(FIXTURE), "--grid-file", str(latin), "--runs-dir", str(tmp_path / "r")])
    _one_line_error(capsys, code, "is not UTF-8 text")
    assert not (tmp_path / "r").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address, expected", [
    ("tcp://nohost", "is not an address like tcp://HOST:PORT"),
    ("tcp://127.0.0.1:99999", "is not an address like tcp://HOST:PORT"),
    ("http://127.0.0.1:8786", "is not an address like tcp://HOST:PORT"),
    ("tcp://127.0.0.1:{free}", "no scheduler reachable at 127.0.0.1:{free} (Connection refused)"),
])
def test_bad_or_unreachable_dask_scheduler_fails_fast(capsys, tmp_path, monkeypatch, address, expected):
    distributed = pytest.importorskip("distributed")
    # failing fast means before a Client is made (its connect timeout is what took 30 s)
    monkeypatch.setattr(distributed, "Client", lambda *a, **k: pytest.fail("a Client was created"))
    port = _free_port()
    code = sweepmod.main([str(FIXTURE), "--grid", "x=1", "--dask-scheduler", address.format(free=port),
                          "--runs-dir", str(tmp_path / "r"), "--no-progress"])
    _one_line_error(capsys, code, expected.format(free=port))
    assert not (tmp_path / "r").exists()


def test_a_grid_too_large_to_expand(capsys, tmp_path):
    code = sweepmod.main([str(FIXTURE), "--grid", "seed=range(100000000)", "--runs-dir", str(tmp_path / "r")])
    _one_line_error(capsys, code, "has 100000000 values; a sweep runs at most 100000")
    code = sweepmod.main([str(FIXTURE), "--grid", "seed=range(1000)", "x=range(1000)",
                          "--runs-dir", str(tmp_path / "r")])
    _one_line_error(capsys, code, "the grid has 1000000 combinations (1000 seed x 1000 x)")
    assert not (tmp_path / "r").exists()


def test_kernel_side_error_line_reaches_the_console(capsys, tmp_path):
    code = runmod.main([str(FIXTURE), "-p", "fail", "True", "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    [line] = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert "sweep_fixture failed: RuntimeError: failing on purpose (x=1.0) (traceback in " in line


# --------------------------------------------------------------------------- Ctrl-C and kill -9


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _kernel_running(runs: Path) -> bool:
    """A temporary run dir exists and papermill has started writing the executed notebook."""
    return any((p / "notebook.ipynb").exists() for p in runs.glob("sweep_fixture/.tmp-*"))


def _no_half_written(runs: Path):
    for p in (runs / "sweep_fixture").iterdir():
        if p.is_dir() and not p.name.startswith(".") and not p.name.endswith(".failed"):
            assert is_complete(p), f"half-written run {p}"


def test_ctrl_c_on_a_single_run_prints_one_line(tmp_path):
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "allornone.run", str(FIXTURE), "-p", "seconds", "30",
                             "--runs-dir", str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(), start_new_session=True)
    wait_for(lambda: _kernel_running(runs), proc, "the kernel to start")
    time.sleep(1.0)  # the kernel is executing the sleeping cell
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    text = out + err
    assert "Traceback" not in text and "zmq" not in text.lower()
    lines = [ln for ln in text.replace("\r", "\n").splitlines() if ln.strip() and not ln.startswith("Executing")]
    assert len(lines) == 1 and lines[0].startswith("interrupted:"), text
    _no_half_written(runs)
    [failed] = (runs / "sweep_fixture").glob("*.failed")
    assert "KeyboardInterrupt" in (failed / "error.txt").read_text()
    assert not list((runs / "sweep_fixture").glob(".tmp-*"))


def _start_sweep(runs: Path, grid, out=subprocess.PIPE):
    cmd = [sys.executable, "-m", "allornone.sweep", str(FIXTURE), "--grid", *grid,
           "--workers", "2", "--runs-dir", str(runs), "--no-progress"]
    return subprocess.Popen(cmd, stdout=out, stderr=out, text=True, env=_env(), start_new_session=True)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_ctrl_c_on_a_sweep_prints_no_tracebacks(tmp_path):
    runs = tmp_path / "runs"
    proc = _start_sweep(runs, ["seconds=30,31", "x=1"])
    wait_for(lambda: len(list(runs.glob("sweep_fixture/.tmp-*/notebook.ipynb"))) == 2, proc, "both runs to start")
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err and "zmq" not in (out + err).lower()
    [line] = [ln for ln in err.splitlines() if ln.strip()]
    assert line.startswith("interrupted: 0 done, 0 failed, 2 not finished; table ") and line.endswith(
        "; rerun the same command to resume (finished runs are skipped)"), err
    assert [ln for ln in out.splitlines() if ln.strip()] == [
        "sweep_fixture: 2 runs, 0 already complete, 2 to run on 2 worker process(es)"], out
    _no_half_written(runs)


def test_kill_9_of_a_sweep_takes_its_workers_with_it(tmp_path):
    runs = tmp_path / "runs"
    with open(tmp_path / "out.txt", "w") as out:  # a file, not a pipe: surviving workers would hold a pipe open
        proc = _start_sweep(runs, ["seconds=30,31", "x=1"], out=out)
    wait_for(lambda: len(list(runs.glob("sweep_fixture/.tmp-*/notebook.ipynb"))) == 2, proc, "both runs to start")
    workers = [p for p in _children(proc.pid) if Path(f"/proc/{p}/cmdline").read_bytes().find(b"multiprocessing") >= 0]
    assert len(workers) >= 2, _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)  # only the sweep, not its process group
    proc.wait(timeout=30)
    deadline = time.time() + 60
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived their sweep"
    _no_half_written(runs)
    # the interrupted runs were moved aside, not left looking complete
    assert all(p.name.endswith(".failed") or p.name.startswith(".") for p in (runs / "sweep_fixture").iterdir())


def test_results_json_is_readable_by_the_group(tmp_path):
    from allornone.reruns.results import write_json_atomic

    old = os.umask(0o027)
    try:
        p = write_json_atomic(tmp_path / "results.json", {"a": 1})
    finally:
        os.umask(old)
    assert oct(p.stat().st_mode & 0o777) == oct(0o640)
    assert json.loads(p.read_text()) == {"a": 1}


def test_a_sweep_run_whose_input_vanished_is_a_failure_not_a_traceback(tmp_path):
    """Between planning and running, an input file can disappear: the worker reports it as a failed run."""
    out = sweepmod._run_one(str(DATA / "file_fixture.ipynb"), {"f_path": str(tmp_path / "gone.npy")},
                            str(tmp_path / "runs"), False)
    assert out["status"] == "failed" and out["error_file"] is None
    assert out["message"].startswith("refused before its kernel started: file_fixture: parameter f_path: file ")
    assert not (tmp_path / "runs").exists()
