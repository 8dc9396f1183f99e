"""Part V (real LMs) executed through papermill at small parameters; they load the real SmolLM2 weights.

The pages share F through the f(x) cache (``.cache/reallm/F/``, keyed by model and contexts), so pages
20 and 21 skip the transformer when page 19 ran first on the same or more contexts. Page 20 also runs on
the external-style fixture in ``tests/data/wordlists/`` (``[a - b].txt`` files and a contexts file the book
did not write)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.reallm

FIXTURE = Path(__file__).parent / "data" / "wordlists"


def test_smollm2(run_nb):
    r = run_nb("19_smollm2", n_contexts=24, n_check=12, batch_size=12)["results"]
    assert (r["dim"], r["n_vocab"]) == (576, 49152)
    assert r["logit_error"] < 1e-4 and r["logit_error_load"] < 1e-4
    assert r["p_paris"] > 0.5 and r["rank_paris"] == 1
    assert r["rank_M"] == 576
    assert r["rank_N"] == r["k_eff"] == r["n_rank_tracks"] == 24 and r["codim_N"] == 552
    assert r["n_full_rank"] == -1 and r["rank_curve"]["24"] == 24
    # 24 contexts: no embedding diversity, but the log-ratios are not proportional, and parallel offsets imply
    # proportional log-ratios in every member: "none" over the whole class
    assert r["audit_condition_holds"] is False
    assert (r["audit_verdict"], r["audit_identifiable"]) == ("none", True)
    assert r["audit_justification"] == "prop-parallel-log-ratios"


def test_real_parallelism(run_nb):
    r = run_nb("20_real_parallelism", n_contexts=24, batch_size=12, n_shuffles=40, n_random=60, seed=1)["results"]
    assert r["n_relations"] == 10 and r["n_pairs_kept"] >= 10 * 15 and r["n_flagged"] == 0 and r["n_tested"] == 10
    assert all(v >= 15 for v in r["kept_per_relation"].values())
    assert r["n_above_random"] == 10
    assert r["n_beat_shuffled"] >= 8 and r["n_lr_beat_shuffled"] >= 7
    assert min(r["p_cos"].values()) == pytest.approx(1 / 41)              # the smallest p-value 40 shuffles allow
    assert r["cos_capital_function"] > r["cos_capital_content"]
    assert r["n_contexts_used"] == 24


def test_real_parallelism_on_external_word_lists_and_contexts(run_nb):
    r = run_nb("20_real_parallelism", relations_dir=str(FIXTURE), contexts_file=str(FIXTURE / "contexts.txt"),
               n_contexts=40, batch_size=20, n_shuffles=40, n_random=60)["results"]
    assert r["n_relations"] == 4 and r["n_flagged"] == 1 and r["n_tested"] == 3
    assert r["flagged"] == ["animal - young"]
    assert 0 <= r["n_beat_shuffled"] <= 3 and r["n_contexts_used"] == 40
    assert "no split of capitalisation" in r["capital_md"]


def test_real_identifiability(run_nb):
    r = run_nb("21_real_identifiability", n_contexts=24, batch_size=12, n_reparam=1, seed=2)["results"]
    assert r["dim_N"] == 24 and r["n_relations_scored"] == 10
    assert r["max_dp"] < 1e-9
    assert r["raw_change_m2"] > 0.01 and r["raw_change_m4"] > 0.05
    assert r["whitened_change_m2"] < 1e-8 < 1e-3 < r["whitened_change_m4"]
    assert r["lr_change"] < 1e-8
    assert r["n_raw_moved_m2"] == 10 and r["n_whitened_moved_m4"] >= 1


def test_real_geometry(run_nb):
    r = run_nb("22_real_geometry", n_shuffles=40, synth_m=3, synth_steps=50, seed=3)["results"]
    assert r["diag_raw"] > r["offdiag_raw"] and r["diag_whitened"] > r["offdiag_whitened"]
    assert r["mean_whitened"] < r["mean_raw"] and 1 <= r["n_rise"] < r["n_relations"]      # the mean drops, not every score
    assert r["n_whitened_beat"] >= r["n_tested"] - 1
    assert r["n_diag_dom_raw"] <= r["n_relations"] and r["n_diag_dom_whitened"] <= r["n_relations"]
    assert r["synth_diag"] > r["synth_offdiag"]


def test_bad_file_parameters_fail_before_the_kernel(tmp_path):
    from allornone.reruns.run import ParameterError, find_notebook, read_spec, resolve_parameters

    spec = read_spec(find_notebook("20_real_parallelism"))
    with pytest.raises(ParameterError, match="relations_dir"):
        resolve_parameters(spec, {"relations_dir": str(tmp_path / "missing")})
    (tmp_path / "empty.txt").write_text("# nothing here\n")
    with pytest.raises(ParameterError, match="contexts_file"):
        resolve_parameters(spec, {"contexts_file": str(tmp_path / "empty.txt")})
    (tmp_path / "[a - b].txt").write_text("one two three\n")
    with pytest.raises(ParameterError, match=r"relations_dir: .*\[a - b\]\.txt:1"):
        resolve_parameters(spec, {"relations_dir": str(tmp_path)})
    with pytest.raises(ParameterError, match="model"):
        resolve_parameters(spec, {"model": "no-such-model"})
