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


def test_extended_linear_equivalence(run_nb):
    r = run_nb("04_extended_linear_equivalence", n_contexts=14, n_tokens=11, eps=0.5, outside_scale=5.0, seed=7)["results"]
    moves = ["M1", "M2", "M3", "M4", "M5a", "M5b", "M6"]
    assert max(r[f"dp_{m}"] for m in moves) <= 1e-9 < 1e-3 < r["dp_nudge"]
    assert [r[f"dim_{m}"] for m in moves] == [6, 6, 6, 6, 8, 8, 4] and r["dim_nudge"] == 6
    # worked example: dimensions 6 and 9, k = 4, T recovered, projection form exact, ranks k
    assert (r["we_dim_a"], r["we_dim_b"], r["we_k"]) == (6, 9, 4)
    assert max(r["we_res_phi"], r["we_res_gamma"], r["we_res_R"], r["we_res_Q"], r["we_res_ETE"]) < 1e-9
    assert r["we_rank_RF"] == r["we_rank_QG"] == 4 < r["we_rank_R"]
    # outside the subspace: moved freely, same p and same T
    assert r["far_max_dp"] < 1e-12 and r["far_T_change"] < 1e-9 and r["out_norm_far"] > 2 * r["out_norm_b"]
    # hand example and the equivalence-relation laws
    assert r["hand_k"] == 1 and abs(r["hand_abs_T"] - 1) < 1e-9 and r["hand_max_dp"] < 1e-12
    assert (r["rel_dim_a"], r["rel_dim_b"], r["rel_dim_c"]) == (5, 7, 9)
    assert max(r["rel_reflexive"], r["rel_symmetric"], r["rel_transitive"]) < 1e-8
