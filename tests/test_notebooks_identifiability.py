"""Parts I and II executed through papermill at small parameters; assertions on results.json."""

from __future__ import annotations


def test_next_token_predictors(run_nb):
    r = run_nb("01_next_token_predictors", n_contexts=7, n_tokens=5, dim=2, pivot=3, seed=1)["results"]
    assert r["n_entries"] == 35
    assert r["logodds_identity_err"] < 1e-10
    assert r["shift_max_dp"] < 1e-12 < r["shift_logit_change"]
    assert r["pivot_change_err"] < 1e-10
    assert r["stable_row_sum_err"] < 1e-12
