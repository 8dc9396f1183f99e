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


def test_effective_complexity(run_nb):
    r = run_nb("03_effective_complexity", n_contexts=12, n_tokens=10, max_dim=4, n_base=3, max_extra=3,
               ex_dim=6, ex_dim_N=5, ex_dim_M=4, ex_dim_N_in_M_perp=2, seed=5)["results"]
    # every valid configuration with d <= 4 (counted independently here) and all four formulas agree
    expected = sum(1 for d in range(1, 5) for dN in range(d + 1) for dM in range(d + 1)
                   for j in range(max(0, dN - dM), min(dN, d - dM) + 1))
    assert r["grid_size"] == expected == r["grid_agree"]
    assert r["grid_k_min"] == 0 and r["grid_k_max"] == 4
    assert r["n_equiv_same_k"] == r["n_equiv"] == 3 * 4 and r["n_shapes"] > 1 and r["equiv_max_dp"] < 1e-9
    # the example: k = 5 - 2 = 3, reduce reaches dimension k with N = M = R^k
    assert r["ex_k"] == 3 == r["reduced_dim"] and r["reduced_diverse"] is True and r["reduced_max_dp"] < 1e-12
    # rank k-1 is not enough: a gap at sigma_k, and the truncated model has another distribution
    assert r["sigma_k"] > 1e-3 and r["sigma_k1_rel"] < 1e-10
    assert 0 < r["trunc_rel_fro"] < 1 and r["trunc_max_dp"] > 1e-4
