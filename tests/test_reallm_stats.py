"""Permutation baselines, counts and rank curves of allornone.reallm.geometry, on small synthetic tables."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from allornone.reallm import geometry as geo


def _parallel_relation(rng, n=8, d=6):
    a = rng.normal(size=(n, d))
    u = rng.normal(size=d)
    return a, a + (1 + rng.random(n))[:, None] * u


def test_permutation_test_of_parallel_offsets_has_the_smallest_p_value():
    rng = np.random.default_rng(0)
    Ga, Gb = _parallel_relation(rng)
    t = geo.permutation_test(Ga, Gb, geo.mean_pairwise_cosine, 99, rng)
    assert t.observed == pytest.approx(1.0)
    assert t.null.shape == (99,) and np.all(t.null < 1.0)
    assert t.p_value == pytest.approx(1 / 100) and t.beats(0.05) and not t.flagged
    # a statistic that ignores the pairing cannot beat its own baseline: p = 1
    const = geo.permutation_test(Ga, Gb, lambda D: 0.5, 20, rng)
    assert const.p_value == 1.0 and not const.beats()


def test_permutation_null_uses_derangements_of_the_targets():
    rng = np.random.default_rng(1)
    Ga = np.arange(5.0)[:, None] * np.ones((5, 2))
    Gb = Ga + 100.0
    seen = []
    geo.permutation_test(Ga, Gb, lambda D: seen.append(D.copy()) or 0.0, 30, rng)
    for D in seen[1:]:                                   # seen[0] is the observed offsets
        targets = D + Ga
        assert sorted(targets[:, 0]) == sorted(Gb[:, 0])            # the same targets, permuted ...
        assert not np.any(np.isclose(D[:, 0], 100.0))                # ... never with the true partner


def test_small_relations_are_flagged_and_never_beat_the_baseline():
    rng = np.random.default_rng(2)
    Ga, Gb = _parallel_relation(rng, n=4)
    t = geo.permutation_test(Ga, Gb, geo.mean_pairwise_cosine, 50, rng)
    assert t.flagged and geo.MIN_PAIRS == 5
    assert t.p_value < 0.05 and not t.beats(0.05)


def test_relation_baselines_kinds_and_skips():
    rng = np.random.default_rng(3)
    G = rng.normal(size=(60, 5))
    F = rng.normal(size=(30, 5))
    ids = {"r1": np.array([[i, i + 10] for i in range(6)]), "one": np.array([[1, 2]]), "r2": np.array([[20, 30], [21, 31], [22, 32]])}
    out = geo.relation_baselines(G, ids, 10, rng, F=F, W=geo.whitener(G))
    assert set(out) == {"raw", "whitened", "log-ratio"}
    assert set(out["raw"]) == {"r1", "r2"}
    assert out["raw"]["r1"].observed == pytest.approx(geo.mean_pairwise_cosine(geo.pair_differences(G, ids["r1"])))
    lr = geo.log_ratio_consistency(geo.log_ratios(F, geo.pair_differences(G, ids["r1"])))
    assert out["log-ratio"]["r1"].observed == pytest.approx(lr)
    assert out["raw"]["r2"].flagged and not out["raw"]["r1"].flagged


def test_gathering_functions_neither_copy_nor_scan_all_of_G():
    rng = np.random.default_rng(4)
    G = rng.normal(size=(20000, 100))                    # 16 MB
    G[-1, 0] = np.nan                                     # a bad row the calls below never read
    pairs = np.array([[0, 1], [2, 3], [4, 5]])
    tracemalloc.start()
    geo.pair_differences(G, pairs)
    geo.shuffled_differences(G, pairs, rng)
    geo.relation_baselines(G, {"r": pairs}, 20, rng)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000
    with pytest.raises(ValueError, match="finite"):
        geo.pair_differences(G, np.array([[0, 19999]]))


def test_whitener_without_centred_copy_matches_numpy_cov():
    rng = np.random.default_rng(5)
    G = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4)) + 3.0
    w, V = np.linalg.eigh(np.cov(G, rowvar=False))
    assert np.allclose(geo.whitener(G), (V / np.sqrt(w)) @ V.T, atol=1e-10)


def test_diagonal_dominance_per_row():
    H = np.array([[0.9, 0.1, 0.95], [0.1, 0.5, 0.2], [0.95, 0.2, 0.96]])
    assert geo.diagonal_dominant(H).tolist() == [False, True, True]
    with pytest.raises(ValueError, match="square"):
        geo.diagonal_dominant(np.ones((2, 3)))


def test_numerical_rank_curve_stops_at_the_span():
    rng = np.random.default_rng(6)
    F = rng.normal(size=(10, 3)) @ rng.normal(size=(3, 7))        # rank 3 in R^7
    assert geo.numerical_rank_curve(F, [1, 2, 3, 5, 10]).tolist() == [1, 2, 3, 3, 3]
    with pytest.raises(ValueError, match="counts"):
        geo.numerical_rank_curve(F, [11])
