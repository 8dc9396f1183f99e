"""Parts I and II executed through papermill at small parameters; assertions on results.json."""

from __future__ import annotations


def test_next_token_predictors(run_nb):
    r = run_nb("01_next_token_predictors", n_contexts=7, n_tokens=5, dim=2, pivot=3, seed=1)["results"]
    assert r["n_entries"] == 35
    assert r["logodds_identity_err"] < 1e-10
    assert r["shift_max_dp"] < 1e-12 < r["shift_logit_change"]
    assert r["pivot_change_err"] < 1e-10
    assert r["stable_row_sum_err"] < 1e-12


def test_identifiability_theorem(run_nb):
    r = run_nb("05_identifiability_theorem", n_contexts=15, n_tokens=12, dim=4, dim_N=3, dim_M=2,
               n_models=12, n_nudged=6, seed=2)["results"]
    assert r["k"] == 2
    assert (r["min_dim"], r["max_dim"]) == (2, 6)
    assert r["n_pairs"] == 13 * 12 // 2
    assert r["max_dp"] < 1e-9 and r["max_el_residual"] < 1e-8 and r["max_path_residual"] < 1e-8
    assert r["n_nudged_detected"] == 6
    assert r["min_nudged_dp"] > 1e3 * r["max_dp"]


def test_bad_parameter_is_refused_before_any_kernel(run_nb, runs_dir):
    import pytest

    from allornone.reruns.run import ParameterError

    with pytest.raises(ParameterError, match="dim_N must be <= 4"):
        run_nb("05_identifiability_theorem", dim=4, dim_N=5)
    with pytest.raises(ParameterError, match="valid parameters: n_contexts, n_tokens"):
        run_nb("05_identifiability_theorem", n_modles=3)
    assert not list(runs_dir.glob("05_identifiability_theorem/*.failed"))
