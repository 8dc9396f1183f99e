"""Part II pages 02-04 executed through papermill at small parameters; assertions on results.json."""

from __future__ import annotations


def test_linear_equivalence(run_nb):
    r = run_nb("02_linear_equivalence", n_contexts=12, n_tokens=9, dim=3, n_pairs=6, dim_M_bad=2, seed=3)["results"]
    # under diversity the proof's A relates both tables in every pair
    assert r["n_diverse_pairs"] == r["n_pairs"] == r["n_pairs_ok"] == 6
    assert r["max_resid_f"] < 1e-9 and r["max_resid_g"] < 1e-9 and r["max_A_err"] < 1e-9
    assert r["max_dp_pairs"] < 1e-12
    # without unembedding diversity: same distribution, no linear map
    assert r["bad_dim_M"] == 2 and r["bad_unembedding_diverse"] is False and r["bad_embedding_diverse"] is True
    assert r["bad_max_dp"] < 1e-12 < 1e-2 < r["bad_fit_rel"]
    # the lifted model has another dimension and the same distribution
    assert r["lift_dim"] == r["dim_glued"] + 2 and r["lift_max_dp"] < 1e-12
