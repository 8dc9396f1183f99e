"""Approximate properties: the verdict at tol > 0 rests on the distribution-level
residual, identical across the class; the Euclidean residual is this
parametrisation's and moves by at most the conditioning of the members."""

from __future__ import annotations

import numpy as np
import pytest

import allornone as aon
from allornone import properties as P
from allornone.theory.audit import audit


def _approximately_parallel(seed, noise=0.08):
    m, prop = P.parallel_unembedding_example(seed, n_contexts=60, n_tokens=30, dim=4)
    G = m.G.copy()
    G[prop.pairs[0][1]] += noise * np.random.default_rng(seed).normal(size=m.dim)
    return m.with_tables(G=G), prop


def _squeeze(model, prop, cond):
    """M2 with κ(A) = cond that shrinks the part of δ_1 orthogonal to δ_2 in A⁻ᵀ δ."""
    D = P.unembedding_offsets(model, prop)
    e2 = D[1] / np.linalg.norm(D[1])
    u = D[0] - (D[0] @ e2) * e2
    u /= np.linalg.norm(u)
    # A⁻ᵀ = I + (cond − 1) u uᵀ  stretches u; A = I + (1/cond − 1) u uᵀ (symmetric)
    A = np.eye(model.dim) + (1.0 / cond - 1.0) * np.outer(u, u)
    return aon.reparametrize(model, A), A


def test_smollm2_bug_equivalent_diverse_members_agree_at_tol():
    m, prop = _approximately_parallel(0)
    other, A = _squeeze(m, prop, cond=50.0)
    assert aon.has_embedding_diversity(m) and aon.has_embedding_diversity(other)
    assert aon.same_distribution(m, other)
    e, eo = P.check_parallel_unembeddings(m, prop), P.check_parallel_unembeddings(other, prop)
    tol = 0.3
    assert e.residual < tol < eo.residual                 # the Euclidean angles disagree about tol
    r, ro = audit(m, prop, tol=tol), audit(other, prop, tol=tol)
    assert r.verdict == ro.verdict == "all"
    assert r.distribution_residual == pytest.approx(ro.distribution_residual, abs=1e-10)
    assert r.parametrisation_residual < tol < ro.parametrisation_residual
    assert not ro.holds and "not invariant" in ro.explanation and "not invariant" not in r.explanation
    # and a tolerance below the invariant figure gives "none" for both
    low = 0.5 * r.distribution_residual
    assert audit(m, prop, tol=low).verdict == audit(other, prop, tol=low).verdict == "none"


@pytest.mark.parametrize("cond", [2.0, 10.0, 100.0])
def test_euclidean_sine_moves_by_at_most_kappa(cond):
    m, prop = _approximately_parallel(1)
    other, A = _squeeze(m, prop, cond)
    s, so = P.check_parallel_unembeddings(m, prop).residual, P.check_parallel_unembeddings(other, prop).residual
    kappa = np.linalg.cond(A)
    assert kappa == pytest.approx(cond)
    assert so <= kappa * s * (1 + 1e-9) and s <= kappa * so * (1 + 1e-9)
    assert so > 1.5 * s                                   # the move is real


def test_distribution_sine_within_kappa_F_of_euclidean_in_diverse_member():
    m, prop = _approximately_parallel(2)
    for member in (m, _squeeze(m, prop, 30.0)[0]):
        s_e = P.check_parallel_unembeddings(member, prop).residual
        s_d = P.check_same_log_ratios(member, prop).residual
        kF = np.linalg.cond(member.F)
        assert s_d <= kF * s_e * (1 + 1e-9) and s_e <= kF * s_d * (1 + 1e-9)


def test_canonical_member_euclidean_equals_distribution_level():
    m, prop = _approximately_parallel(3)
    c = P.canonical_member(m, "embeddings")
    assert aon.same_distribution(m, c) and np.allclose(c.F.T @ c.F, np.eye(c.dim), atol=1e-9)
    assert P.check_parallel_unembeddings(c, prop).residual == pytest.approx(
        P.check_same_log_ratios(m, prop).residual, rel=1e-9)
    me, pe = P.parallel_embedding_example(3)
    ce = P.canonical_member(me, "unembeddings")
    assert P.check_parallel_embeddings(ce, pe).residual == pytest.approx(
        P.check_parallel_log_odds_differences(me, pe).residual, abs=1e-9)
    with pytest.raises(ValueError, match="whiten"):
        P.canonical_member(m, "both")


def test_approximate_relational_verdict_rests_on_log_odds_fit():
    m, q, _ = P.relational_example(4, n_base=16)
    F = m.F.copy()
    F[list(q.queried)] += 0.01 * np.random.default_rng(0).normal(size=(16, m.dim))
    noisy = m.with_tables(F=F)
    other = aon.reparametrize(noisy, aon.random_invertible(m.dim, 1, cond=1e3))
    d, do = P.check_relational_log_odds(noisy, q), P.check_relational_log_odds(other, q)
    assert d.decidable and d.residual == pytest.approx(do.residual, rel=1e-6) and d.residual > 1e-4
    tol = 2 * d.residual
    assert audit(noisy, q, tol=tol).verdict == audit(other, q, tol=tol).verdict == "all"
    assert audit(noisy, q, tol=d.residual / 2).verdict == "not identifiable"


def test_member_projected_residual_never_exceeds_the_log_odds_one():
    """colspan[Λ_S, 1] ⊆ colspan[F_S, 1], so the member's 7b residual is ≤ the
    identifiable one, with equality in the reduced model (N_S ⊆ M = ℝ^k)."""
    m, q, _ = P.relational_sc_example(5, n_base=16)
    F = m.F.copy()
    F[list(q.queried)] += 0.3 * np.random.default_rng(5).normal(size=(16, m.dim))
    noisy = m.with_tables(F=F)
    rho = P.check_relational_log_odds(noisy, q).residual
    for d in (3, 4, 6):
        other = aon.random_equivalent(noisy, d, np.random.default_rng(d))
        c = P.check_relational_projected(other, q)
        assert c.decidable and c.residual <= rho + 1e-9
    assert P.check_relational_projected(noisy, q).residual < 0.9 * rho     # strictly smaller here (SC-RL fails)
    assert P.check_relational_projected(aon.reduce(noisy), q).residual == pytest.approx(rho, rel=1e-6)
