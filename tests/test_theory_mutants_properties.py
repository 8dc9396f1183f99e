"""Sharp tests of allornone.theory.properties, written for the functions `make mutation` found
reached by no fast test: every kind's ``transfer`` through the interface, ``steering_effects``
and the truth value of ``Check`` and ``Condition``.

The transfer theorems are tested as they are stated: the transferred witness makes the
property hold, with power, in a random equivalent member of the same dimension (which is
diverse, so every theorem's condition holds in it too); the numbers the transfer of the
parallelisms returns are the ratios ``λ`` measured by hand on the other member's tables.
"""

from __future__ import annotations

import numpy as np
import pytest

import allornone as aon
from allornone import properties as P
from allornone.theory.examples import random_model
from allornone.theory.properties.base import Check, Condition
from allornone.theory.properties.steering import SteeringTarget, steering_effects

KIND_NAMES = sorted(P.KINDS)


def _example(kind, seed):
    k = P.KINDS[kind]
    if kind == "linear_subspace":
        return k.example(seed, sub_dim=2)
    return k.example(seed)


@pytest.mark.parametrize("kind", KIND_NAMES)
@pytest.mark.parametrize("seed", [0, 1])
def test_transferred_witness_holds_in_an_equivalent_member(kind, seed):
    k = P.KINDS[kind]
    m, inst, w = _example(kind, seed)
    other = aon.random_equivalent(m, m.dim, 10 + seed)
    assert aon.is_diverse(other)
    wt = k.transfer(m, other, inst, w)
    c = k.check(other, inst, wt)
    assert c.decidable, c.reason
    assert c.holds and c.residual < 1e-7


def _ratio(u, v):
    """λ with u = λ v, by hand, and how far u is from λ v."""
    lam = float(u @ v / (v @ v))
    return lam, float(np.linalg.norm(u - lam * v) / np.linalg.norm(u))


def test_parallel_unembeddings_transfer_is_the_ratio_of_the_other_members_offsets():
    k = P.KINDS["parallel_unembedding"]
    m, prop, _ = k.example(3, lam=-2.5)
    other = aon.random_equivalent(m, m.dim, 4)
    (a1, b1), (a2, b2) = prop.pairs
    lam, off = _ratio(other.G[b1] - other.G[a1], other.G[b2] - other.G[a2])
    assert off < 1e-9
    np.testing.assert_allclose(k.transfer(m, other, prop), lam, rtol=1e-8)
    np.testing.assert_allclose(lam, -2.5, rtol=1e-8)


def test_parallel_embeddings_transfer_is_the_ratio_of_the_other_members_offsets():
    k = P.KINDS["parallel_embedding"]
    m, prop, _ = k.example(5)
    other = aon.random_equivalent(m, m.dim, 6)
    (a1, b1), (a2, b2) = prop.pairs
    lam, off = _ratio(other.F[b1] - other.F[a1], other.F[b2] - other.F[a2])
    assert off < 1e-9
    np.testing.assert_allclose(k.transfer(m, other, prop), lam, rtol=1e-8)


@pytest.mark.parametrize("kind", ["parallel_unembedding", "parallel_embedding"])
def test_parallelism_transfer_refuses_a_model_without_the_property(kind):
    k = P.KINDS[kind]
    m = random_model(30, 20, 4, 1)  # no structure: offsets in general position
    prop = P.ParallelUnembedding(((1, 2), (3, 4))) if kind == "parallel_unembedding" else P.ParallelEmbedding(((1, 2), (3, 4)))
    assert not k.distribution(m, prop).holds
    with pytest.raises(ValueError, match=r"not proportional.*nothing to transfer$"):
        k.transfer(m, m, prop)


def test_steering_effects_by_hand():
    # d = 2; g(y) rows chosen so that v = (1, 2) gives the logit effects e = G v = [0, 5, 1, 1, 4]
    G = np.array([[0.0, 0.0], [1.0, 2.0], [1.0, 0.0], [-1.0, 1.0], [2.0, 1.0]])
    m = aon.NextTokenPredictor(np.eye(2), G)
    t = SteeringTarget(target=(1, 0), off_target=(2, 3, 4))
    kappa, off = steering_effects(m, t, [1.0, 2.0])
    assert kappa == 5.0          # e[1] - e[0]
    assert off == 3.0            # max - min of e[2], e[3], e[4] = 4 - 1
    kappa, off = steering_effects(m, SteeringTarget(target=(0, 4), off_target=(2, 3)), [1.0, 2.0])
    assert kappa == -4.0 and off == 0.0


def test_steering_effects_validate_their_arguments():
    m = aon.NextTokenPredictor(np.eye(2), np.eye(3, 2))
    t = SteeringTarget(target=(1, 0), off_target=(1, 2))
    with pytest.raises(ValueError, match=r"^model must be a NextTokenPredictor; got str$"):
        steering_effects("m", t, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"^v must have length 2; got length 3$"):
        steering_effects(m, t, [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"^target must be a SteeringTarget; got tuple$"):
        steering_effects(m, (1, 0), [1.0, 0.0])


@pytest.mark.parametrize("holds", [True, False])
def test_check_and_condition_are_true_exactly_when_they_hold(holds):
    assert bool(Check(holds=holds, residual=0.5)) is holds
    assert bool(Condition(name="c", holds=holds)) is holds
    # `holds` decides, not the residual
    assert bool(Check(holds=holds, residual=0.0)) is holds
    assert bool(Condition(name="c", holds=holds, residual=1.0)) is holds
