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


# --- the one-off run's start-up (benchmarks/reruns.py measures the time; these check the behaviour) ---

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

from allornone.reruns import run as runmod  # noqa: E402
from allornone.reruns.results import load_results  # noqa: E402

PROBE = [  # which kernel ran the cells: the runner's own launcher blocks debugpy
    "import os, sys\n",
    "from allornone.reruns.results import Results\n",
    "res = Results('probe', out_dir)\n",
    "res.record('debugpy_blocked', sys.modules.get('debugpy', 0) is None)\n",
    "res.record('mark', os.environ.get('AON_KERNELSPEC_MARK', ''))\n",
    "res.record('myst_nb_imported', 'myst_nb' in sys.modules)\n",
    "res.save()",
]


def _probe_notebook(tmp_path) -> Path:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": meta, "outputs": [],
              "source": src} for i, (meta, src) in enumerate([({"tags": ["parameters"]}, ["out_dir = None"]),
                                                               ({}, PROBE)])]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "probe.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_import_allornone_is_light_and_every_public_name_still_resolves():
    code = (
        "import sys, importlib, allornone as aon\n"
        "assert 'numpy' not in sys.modules, 'import allornone imported numpy'\n"
        "import allornone.audit\n"  # the 0.1 module name first: aon.audit must stay the function
        "assert callable(aon.audit) and not isinstance(aon.audit, type(sys)), aon.audit\n"
        "for name in aon.__all__:\n"
        "    mod = importlib.import_module('allornone.' + aon._LAZY[name])\n"
        "    assert getattr(aon, name) is getattr(mod, name), name\n"
        "assert set(aon.__all__) <= set(dir(aon))\n"
        "ns = {}; exec('from allornone import *', ns); assert ns['shift'] is aon.shift\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


def test_the_kernel_started_before_papermill_runs_the_cells(tmp_path):
    run = runmod.run_notebook(_probe_notebook(tmp_path), {}, runs_dir=tmp_path / "runs", log=lambda *_: None)
    assert load_results(run)["results"] == {"debugpy_blocked": True, "mark": "", "myst_nb_imported": False}
    assert not list(tmp_path.glob("runs/probe/.tmp-*"))


def test_a_custom_python3_kernelspec_is_honoured(tmp_path, monkeypatch):
    """A user's own ``python3`` kernelspec (here: one setting an environment variable) is not
    replaced by the runner's early kernel: that one is killed and the kernelspec's is started."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (custom)", "language": "python", "env": {"AON_KERNELSPEC_MARK": "custom"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    run = runmod.run_notebook(_probe_notebook(tmp_path), {}, runs_dir=tmp_path / "runs", log=lambda *_: None)
    assert load_results(run)["results"] == {"debugpy_blocked": False, "mark": "custom", "myst_nb_imported": False}


def test_a_kernel_that_dies_at_start_gives_one_line_and_no_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runmod, "KERNEL_LAUNCHER", "import sys; sys.exit(3)")
    runs = tmp_path / "runs"
    code = runmod.main([str(_probe_notebook(tmp_path)), "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip() and not ln.startswith("Executing")]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: probe failed: RuntimeError: Kernel died before replying to kernel_info"), err
    [failed] = (runs / "probe").iterdir()  # no run, no .tmp-* directory: only the failed attempt
    assert failed.name.endswith(".failed") and (failed / "error.txt").exists()


@pytest.mark.parametrize("value", [0.25, 3, "text", [1.0, 2.0], {"a": 1}])
def test_our_glue_displays_what_myst_nb_glue_displays(value, monkeypatch):
    import IPython.display
    import myst_nb.ext.glue as mg
    import numpy as np

    from allornone.reruns.results import glue

    shown = []
    monkeypatch.setattr(mg, "ipy_display", lambda *a, **k: shown.append(("myst_nb", a, k)))
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append(("ours", a, k)))
    for v in (value, np.asarray(value) if isinstance(value, (float, list)) else value):
        shown.clear()
        mg.glue("key_1", v, display=False)
        glue("key_1", v)
        (_, a1, k1), (who, a2, k2) = shown
        assert who == "ours" and a1 == a2 and k1 == k2 and any(m.startswith(mg.GLUE_PREFIX) for m in a1[0])
