"""Part V (SmolLM2) executed through papermill at small parameters; they load the real weights.

Pages 20 and 21 use the same 24 contexts as page 19, so they read its cached F (``.cache/reallm/``)
and skip the transformer when run after it (they compute F themselves otherwise)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.reallm


def test_smollm2(run_nb):
    r = run_nb("19_smollm2", n_contexts=24, batch_size=12)["results"]
    assert (r["dim"], r["n_vocab"]) == (576, 49152)
    assert r["logit_error"] < 1e-4
    assert r["p_paris"] > 0.5
    assert r["rank_M"] == 576
    assert r["rank_N"] == r["k_eff"] == 24 and r["codim_N"] == 552
    assert r["audit_condition_holds"] is False and r["audit_identifiable"] is False


def test_real_parallelism(run_nb):
    r = run_nb("20_real_parallelism", n_contexts=24, batch_size=12, n_random=60, seed=1)["results"]
    assert r["n_relations"] >= 8 and r["n_pairs_kept"] >= 8 * 15
    assert all(v >= 15 for v in r["kept_per_relation"].values())
    assert all(v > r["random_mean"] for v in r["cos_matched"].values())
    assert r["n_beat_shuffled"] >= r["n_relations"] - 1
    assert r["n_lr_beat_shuffled"] >= r["n_relations"] - 1
    assert r["n_contexts_used"] == 24


def test_real_identifiability(run_nb):
    r = run_nb("21_real_identifiability", n_contexts=24, batch_size=12, n_reparam=1, seed=2)["results"]
    assert r["dim_N"] == 24
    assert r["max_dp"] < 1e-9
    assert r["raw_change_m2"] > 0.01 and r["raw_change_m4"] > 0.05
    assert r["whitened_change_m2"] < 1e-8 < 1e-3 < r["whitened_change_m4"]
    assert r["lr_change"] < 1e-8


def test_real_geometry(run_nb):
    r = run_nb("22_real_geometry", synth_m=3, synth_steps=50, seed=3)["results"]
    assert r["diag_raw"] > r["offdiag_raw"] and r["diag_whitened"] > r["offdiag_whitened"]
    assert r["n_whitened_margin_pos"] >= r["n_relations"] - 1
    assert r["synth_diag"] > r["synth_offdiag"]
