"""The latent-concept generator: indexing, DAGs, sampling and the exact conditional."""

from __future__ import annotations

import numpy as np
import pytest

from allornone import latent as L


def test_indexing_round_trips():
    C, D = L.all_concepts(3), L.all_contexts(3)
    assert C.shape == (8, 3) and D.shape == (27, 3)
    assert np.array_equal(L.concept_index(C), np.arange(8))
    assert np.array_equal(L.context_index(D), np.arange(27))
    assert set(np.unique(D)) == {-1, 0, 1}


def test_random_dag_is_acyclic_and_cpts_in_range():
    for seed in range(5):
        lm = L.random_latent_model(5, np.random.default_rng(seed))
        pos = {node: k for k, node in enumerate(lm.order)}
        for i, pa in enumerate(lm.parents):
            assert all(pos[j] < pos[i] for j in pa)
            assert lm.cpt[i].shape == (2 ** len(pa),)
            assert np.all((lm.cpt[i] >= 0.3) & (lm.cpt[i] <= 0.7))
        p = lm.joint()
        assert abs(p.sum() - 1) < 1e-12 and p.min() > 0.3**5 - 1e-15


def test_ancestral_samples_match_joint():
    lm = L.random_latent_model(3, np.random.default_rng(1))
    c = L.sample(lm, 200_000, np.random.default_rng(2))
    freq = np.bincount(L.concept_index(c), minlength=8) / len(c)
    assert np.abs(freq - lm.joint()).max() < 0.005


def test_exact_conditional_matches_empirical_frequencies():
    lm = L.random_latent_model(3, np.random.default_rng(3))
    rng = np.random.default_rng(4)
    c = L.sample(lm, 300_000, rng)
    d = L.mask(c, rng)
    n_d, n_dc = L.empirical_conditional(c, d, 3)
    P = L.exact_conditional(lm)
    seen = n_d > 2000
    assert seen.sum() == 27                       # every context occurs under Bernoulli(1/2) masks
    emp = n_dc[seen] / n_d[seen, None]
    assert np.abs(emp - P[seen]).max() < 0.03
    # zeros exactly where c disagrees with d, and the context law matches too
    assert np.all(emp[P[seen] == 0] == 0)
    dist = L.context_distribution(lm)
    assert np.abs(n_d / n_d.sum() - dist.weights).max() < 0.003


def test_distribution_sampler_matches_context_distribution():
    lm = L.random_latent_model(3, np.random.default_rng(5))
    dist = L.context_distribution(lm)
    ctx, tok = dist.sample(200_000, np.random.default_rng(6))
    n_d, n_dc = L.empirical_conditional(L.all_concepts(3)[tok], L.all_contexts(3)[ctx], 3)
    assert np.abs(n_d / n_d.sum() - dist.weights).max() < 0.003
    assert np.abs(n_dc / n_dc.sum() - dist.weights[:, None] * dist.P).max() < 0.003


def test_rows_are_distributions_and_consistent():
    lm = L.random_latent_model(4, np.random.default_rng(7))
    P = L.exact_conditional(lm)
    assert np.allclose(P.sum(axis=1), 1)
    assert np.allclose(P[L.context_index(np.full(4, -1))], lm.joint())   # all-unknown context = prior
    full = L.context_index(L.all_concepts(4))
    assert np.allclose(P[full], np.eye(16))                                # fully observed = point mass
    assert L.context_distribution(lm).entropy > 0


def test_incomplete_contexts_and_concepts():
    rng = np.random.default_rng(8)
    lm = L.random_latent_model(6, rng, support_size=10)
    pats = L.random_patterns(6, 5, rng)
    dist = L.context_distribution(lm, patterns=pats)
    assert len(dist.tokens) == 10 and set(dist.tokens) == set(lm.support)
    D = L.all_contexts(6)[dist.contexts]
    kept = (D != -1).astype(int) @ (2 ** np.arange(6))
    assert set(kept) <= set(pats)
    c = L.sample(lm, 1000, rng)
    assert np.isin(L.concept_index(c), lm.support).all()
    d = L.mask(c, rng, patterns=pats)
    assert np.isin(L.context_index(d), dist.contexts).all()
    assert abs(dist.weights.sum() - 1) < 1e-12 and np.allclose(dist.P.sum(axis=1), 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="m"):
        L.all_concepts(0)
    with pytest.raises(ValueError, match="low and high"):
        L.random_latent_model(3, 0, low=0.8, high=0.2)
    with pytest.raises(ValueError, match="edge_prob"):
        L.random_dag(3, 0, edge_prob=2.0)
    with pytest.raises(ValueError, match="c must be"):
        L.mask(np.array([[2, 0]]), 0)
    with pytest.raises(ValueError, match="patterns"):
        L.context_distribution(L.random_latent_model(3, 0), patterns=[9])
