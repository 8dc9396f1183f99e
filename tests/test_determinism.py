"""Rerunning a notebook with the same parameters gives a byte-identical results.json.

Every notebook under notebooks/ is discovered with glob, so a new chapter is
covered automatically; it runs twice (fresh kernels, separate run
directories) at the small parameters of SMALL below, or at its defaults when
it has no entry. The two runs execute side by side. Notebooks that need the real language model (19-22) are
marked ``slow`` and ``reallm``, so the default tier stays fast.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from allornone.reruns.run import run_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

# notebook stem -> small parameters (a notebook without an entry runs at its defaults).
# Stems are in single quotes on purpose: test_notebook_conventions looks for each
# stem in double quotes to find the test that runs it, and this file must not count.
SMALL = {
    '01_next_token_predictors': dict(n_contexts=7, n_tokens=5, dim=2, pivot=3, seed=1),
    '02_linear_equivalence': dict(n_contexts=12, n_tokens=9, dim=3, n_pairs=6, dim_M_bad=2, seed=3),
    '03_effective_complexity': dict(n_contexts=12, n_tokens=10, max_dim=4, n_base=3, max_extra=3,
                                    ex_dim=6, ex_dim_N=5, ex_dim_M=4, ex_dim_N_in_M_perp=2, seed=5),
    '04_extended_linear_equivalence': dict(n_contexts=14, n_tokens=11, seed=7),
    '05_identifiability_theorem': dict(n_contexts=15, n_tokens=12, dim=4, dim_N=3, dim_M=2,
                                       n_models=12, n_nudged=6, seed=2),
}

# Wall-clock measurements a page makes on purpose and glues into its prose (page 16: the measured reason for the
# exact objective in Tables 3-4; page 19: the load and embedding times). They cannot repeat to the bit, so they
# are compared for presence and sign only; every other result must be byte-identical.
TIMED = {
    '16_origins_incomplete': {"why_exact_ms", "why_exact12_ms", "why_exact_total_min", "why_sgd_ms",
                              "why_sgd_run_min", "why_sgd_total_h"},
    '19_smollm2': {"load_seconds", "embed_seconds"},
}

# the real-LM chapters load SmolLM2 weights: minutes each, so not in the default tier
HEAVY_PREFIXES = ("19_", "20_", "21_", "22_")


def _param(path: Path):
    marks = [pytest.mark.slow, pytest.mark.reallm] if path.stem.startswith(HEAVY_PREFIXES) else []
    return pytest.param(path, marks=marks, id=path.stem)


def test_notebooks_are_discovered():
    assert any(p.stem == '01_next_token_predictors' for p in NOTEBOOKS)


@pytest.mark.parametrize("path", [_param(p) for p in NOTEBOOKS])
def test_same_parameters_same_results_json(path, tmp_path):
    params = SMALL.get(path.stem, {})
    # the two runs are independent kernels: run them side by side (two cores -> half the wall time)
    with ThreadPoolExecutor(2) as pool:
        dirs = list(pool.map(lambda d: run_notebook(path, params, runs_dir=tmp_path / d, force=True,
                                                    log=lambda *_: None), ["a", "b"]))
    a, b = ((d / "results.json").read_bytes() for d in dirs)
    timed = TIMED.get(path.stem, set())
    if timed:
        ra, rb = json.loads(a)["results"], json.loads(b)["results"]
        for k in timed:
            assert k in ra and k in rb and ra[k] > 0 and rb[k] > 0, (path.stem, k, ra.get(k), rb.get(k))
        a, b = (json.dumps({k: v for k, v in r.items() if k not in timed}, sort_keys=True) for r in (ra, rb))
    if a != b:
        ra, rb = json.loads(a), json.loads(b)
        ra, rb = ra.get("results", ra), rb.get("results", rb)
        differ = sorted(k for k in ra.keys() | rb.keys() if ra.get(k) != rb.get(k))
        pytest.fail(f"{path.stem} with {params}: results.json differs between two runs in {differ}: "
                    + "; ".join(f"{k}: {ra.get(k)!r} vs {rb.get(k)!r}" for k in differ[:5]))
