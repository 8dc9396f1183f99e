"""Part III (linear properties, all or none) executed through papermill at small parameters."""

from __future__ import annotations

import numpy as np
import pytest

from allornone.reruns.run import RunFailed


def test_transfer_lemma(run_nb):
    r = run_nb("06_transfer_lemma", n_contexts=15, n_tokens=12, n_models=12, seed=1)["results"]
    assert r["n_w_ok"] == r["n_v_ok"] == r["n_models"] == 12
    assert r["dim_NcapMperp"] >= 1 and r["dim_McapNperp"] >= 1
    assert r["max_dp"] < 1e-9 and r["m3_max_dp"] < 1e-12 and r["m4_max_dp"] < 1e-12
    assert r["m3_change"] > 0.1 and r["m4_change"] > 0.1


def test_parallelism(run_nb):
    r = run_nb("07_parallelism", n_contexts=15, n_tokens=12, dim=3, lam=-0.5, n_models=12, seed=2)["results"]
    assert r["n_cond"] == r["n_cond_prop"] == 12 and r["n_within_N"] == r["n_drawn"]
    assert r["lam_dev"] < 1e-6 and r["max_dp"] < 1e-9
    assert r["none_cond_prop"] == 0 and r["none_logratio"] == 0
    assert r["cex_sin"] > 1e-3 and r["cex_max_dp"] < 1e-12
    assert r["emb_cond"] == r["emb_cond_prop"] == 12 and r["emb_cex_max_dp"] < 1e-12


def test_relational_linearity(run_nb):
    r = run_nb("08_relational_linearity", n_base=8, n_extra=4, n_tokens=12, dim=3, n_answers=3, n_models=12, seed=3)["results"]
    assert r["s_cond"] == r["s_cond_prop"] == 12 and r["s_transfer_err"] < 1e-8
    assert r["p_drawn"] == r["p_cond"] == r["p_prop"] == 12 and r["p_transfer_err"] < 1e-8
    assert r["cex1_max_dp"] < 1e-12 and r["cex1_residual"] > 1e-6
    assert r["sc_residual"] < 1e-9 and r["sc_cond_residual"] > 1e-3
    assert r["cex2_max_dp"] < 1e-12 and r["cex2_residual"] > 1e-6


def test_linear_subspaces(run_nb):
    r = run_nb("09_linear_subspaces", n_base=10, n_extra=4, n_tokens=12, dim=4, sub_dim=2, n_answers=5,
               n_models=12, seed=4)["results"]
    assert r["m_proj"] == r["m_logodds"] == 2
    assert r["n_cond"] == r["n_cond_prop"] == 12 and r["n_proj_same"] == r["n_drawn"]
    assert r["cex_unproj"] == r["m_unproj"] + 2 and r["cex_proj"] == r["m_proj"] and r["cex_max_dp"] < 1e-12


def test_linear_probing(run_nb):
    r = run_nb("10_linear_probing", n_contexts=15, n_tokens=12, dim=3, n_pairs=6, n_models=12, seed=5)["results"]
    assert r["n_ok"] == r["n_models"] == 12 and r["max_score_err"] < 1e-8
    assert r["orig_acc"] == 1.0 and r["cex_bound"] <= 0.5 and r["cex_max_dp"] < 1e-12


def test_linear_steering(run_nb):
    r = run_nb("11_linear_steering", n_contexts=15, n_tokens=12, dim=4, n_off=2, n_models=12, seed=6)["results"]
    assert r["n_ok"] == r["n_models"] == 12 and r["max_steered_dp"] < 1e-9
    assert r["cex_off0"] < 1e-12 and r["cex_off1"] > 1e-6 and r["cex_max_dp"] < 1e-12 and r["cex_steered_dp"] > 1e-3


def test_summary(run_nb):
    r = run_nb("12_summary", n_models=12, dim=3, seed=7)["results"]
    assert r["n_rows"] == r["n_rows_all"] == r["n_rows_cex"] == 7
    for i in range(7):
        assert r[f"row{i}_with_property"] == r[f"row{i}_with_condition"] == 12
        assert r[f"row{i}_cex_max_dp"] < 1e-9


def test_audit_your_model_default(run_nb):
    r = run_nb("13_audit_your_model")["results"]
    assert (r["n_contexts"], r["n_tokens"], r["d"], r["k"]) == (40, 30, 6, 4)
    assert r["holds"] == "False" and r["condition_holds"] == "False" and r["identifiable"] == "False"
    assert r["rel_holds"] == "True" and r["rel_identifiable"] == "True"


def test_audit_your_model_other_input(run_nb, tmp_path):
    from allornone import properties as P

    model, prop = P.parallel_unembedding_example(0, n_contexts=12, n_tokens=8, dim=3)
    np.save(tmp_path / "F.npy", model.F)
    np.save(tmp_path / "G.npy", model.G)
    r = run_nb("13_audit_your_model", f_path=str(tmp_path / "F.npy"), g_path=str(tmp_path / "G.npy"),
               spec="1,2;3,4", relation_spec="")["results"]
    assert r["holds"] == "True" and r["identifiable"] == "True" and r["rel_holds"] == "not audited"


def test_audit_your_model_bad_file(run_nb, tmp_path):
    np.save(tmp_path / "F.npy", np.ones((4, 3)))
    np.save(tmp_path / "G.npy", np.ones((5, 2)))
    with pytest.raises(RunFailed) as info:
        run_nb("13_audit_your_model", f_path=str(tmp_path / "F.npy"), g_path=str(tmp_path / "G.npy"))
    assert "same dimension" in (info.value.failed_dir / "error.txt").read_text()
    with pytest.raises(RunFailed) as info:
        run_nb("13_audit_your_model", f_path=str(tmp_path / "missing.npy"))
    assert "no such file" in (info.value.failed_dir / "error.txt").read_text()
