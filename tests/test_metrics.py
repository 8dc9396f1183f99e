"""The Origins cosine metrics."""

from __future__ import annotations

import numpy as np
import pytest

from allornone import latent as L
from allornone import metrics as M


def _brute_pairwise(V):
    U = V / np.linalg.norm(V, axis=1, keepdims=True)
    C = U @ U.T
    n = len(V)
    return (C.sum() - np.trace(C)) / (n * (n - 1))


def test_fast_averages_equal_brute_force():
    rng = np.random.default_rng(0)
    V, W = rng.normal(size=(9, 4)), rng.normal(size=(6, 4))
    assert M.mean_pairwise_cosine(V) == pytest.approx(_brute_pairwise(V), abs=1e-12)
    U1 = V / np.linalg.norm(V, axis=1, keepdims=True)
    U2 = W / np.linalg.norm(W, axis=1, keepdims=True)
    assert M.mean_cross_cosine(V, W) == pytest.approx((U1 @ U2.T).mean(), abs=1e-12)
    assert np.isnan(M.mean_pairwise_cosine(V[:1]))


def test_pairs_are_counterfactual():
    m = 4
    for i in range(m):
        a, b = M.unembedding_pairs(m, i)
        Ca, Cb = L.all_concepts(m)[a], L.all_concepts(m)[b]
        assert len(a) == 2 ** (m - 1)
        assert np.all(Ca[:, i] == 1) and np.all(Cb[:, i] == 0)
        assert np.array_equal(np.delete(Ca, i, 1), np.delete(Cb, i, 1))
        a, b = M.embedding_pairs(m, i)
        Da, Db = L.all_contexts(m)[a], L.all_contexts(m)[b]
        assert len(a) == 3 ** (m - 1)
        assert np.all(Da[:, i] == 1) and np.all(Db[:, i] == 0)
        assert np.array_equal(np.delete(Da, i, 1), np.delete(Db, i, 1))


def test_perfectly_linear_tables_score_one_and_orthogonal_concepts_zero():
    m = 3
    # g(c) = 2c + b, f(d) = 3·1[d=1] − 3·1[d=0]: every steering vector of concept i is along e_i
    G = 2.0 * L.all_concepts(m) + 0.5
    D = L.all_contexts(m)
    F = 3.0 * (D == 1) - 3.0 * (D == 0) + 0.0
    out = M.origins_cosines(F, G, m)
    assert out["unembedding"] == pytest.approx(1) and out["embedding"] == pytest.approx(1)
    assert out["between"] == pytest.approx(1)
    X = M.cross_concept_cosines(G, m)
    assert np.allclose(X, np.eye(m))
    assert np.allclose(M.cross_concept_cosines(F, m, kind="embedding"), np.eye(m))


def test_random_tables_score_near_zero():
    rng = np.random.default_rng(1)
    m = 5
    out = M.origins_cosines(rng.normal(size=(3**m, 40)), rng.normal(size=(2**m, 40)), m)
    assert max(abs(out[k]) for k in ("unembedding", "embedding", "between")) < 0.05
    assert out["per_concept"].shape == (m, 3)


def test_subsets_restrict_pairs():
    m = 3
    a, _ = M.unembedding_pairs(m, 0, tokens=[0, 1, 2])    # only (1,0) has both ends
    assert list(a) == [1]
    a, _ = M.embedding_pairs(m, 0, contexts=[1, 2, 4])   # 1 = (0,⋄,⋄), 2 = (1,⋄,⋄)
    assert list(a) == [2]


def test_bad_arguments():
    with pytest.raises(ValueError, match="G must have"):
        M.origins_cosines(np.ones((27, 2)), np.ones((7, 2)), 3)
    with pytest.raises(ValueError, match="kind"):
        M.cross_concept_cosines(np.ones((8, 2)), 3, kind="both")
    with pytest.raises(ValueError, match="i must"):
        M.unembedding_pairs(3, 3)


def test_concept_log_odds_and_kl_per_context():
    import numpy as np

    from allornone import latent
    from allornone.origins.metrics import concept_log_odds, kl_per_context

    m = 3
    lm = latent.random_latent_model(m, np.random.default_rng(0))
    P = latent.context_distribution(lm).P
    logP = np.log(np.where(P > 0, P, 1.0))
    ref = concept_log_odds(logP, P, m)
    assert ref.size > 0 and np.all(np.isfinite(ref))
    # a model equal to the target on the finite log-odds but shifted per context keeps them
    shifted = logP + np.arange(3**m)[:, None]
    np.testing.assert_allclose(concept_log_odds(shifted, P, m), ref)
    # KL of a table with itself is 0; against a uniform table it is positive where p is not uniform
    assert np.allclose(kl_per_context(logP, logP), 0)
    uniform = np.full_like(logP, -np.log(2**m))
    logp_model = np.log(np.full_like(P, 1 / 2**m))
    assert np.all(kl_per_context(logp_model, uniform) < 1e-12)
    assert kl_per_context(np.log(np.where(P > 0, P, 1e-300)), uniform).max() > 0.1
