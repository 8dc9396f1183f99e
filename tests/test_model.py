"""Unit tests of allornone.model (def-next-token-predictor, def-log-odds)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allornone as aon
from allornone.theory.examples import random_model


def test_probs_are_distributions_and_match_naive_softmax():
    m = random_model(9, 7, 3, 0)
    P = m.probs()
    naive = np.exp(m.logits()) / np.exp(m.logits()).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(P, naive, rtol=1e-12)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-14)
    np.testing.assert_allclose(m.log_probs(), np.log(P), atol=1e-12)


def test_softmax_is_stable_for_huge_logits():
    P = aon.softmax(np.array([[1e4, 1e4 - 1.0, -1e4]]))
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P[0, :2] / P[0, :2].sum(), [1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1))])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), pivot=st.integers(0, 5))
def test_log_odds_are_log_probability_differences(seed, pivot):
    m = random_model(8, 6, 3, seed)
    lp = m.log_probs()
    np.testing.assert_allclose(m.log_odds(pivot), lp - lp[:, [pivot]], atol=1e-10)
    assert np.all(m.log_odds(pivot)[:, pivot] == 0)


def test_tables_are_read_only_copies():
    F, G = np.ones((2, 3)), np.ones((4, 3))
    m = aon.NextTokenPredictor(F, G)
    F[0, 0] = 5.0
    assert m.F[0, 0] == 1.0
    with pytest.raises(ValueError):
        m.F[0, 0] = 2.0


@pytest.mark.parametrize(
    "F, G, message",
    [
        (np.ones((2, 3)), np.ones((4, 2)), "same number of columns"),
        (np.ones(3), np.ones((4, 3)), "F must be a 2-D array"),
        (np.array([[1.0, np.nan]]), np.ones((4, 2)), "F must be finite"),
        (np.ones((2, 2)), np.array([[np.inf, 0.0]]), "G must be finite"),
        (np.ones((0, 2)), np.ones((4, 2)), "at least one row"),
        ("abc", np.ones((4, 2)), "F must be a numeric"),
    ],
)
def test_bad_tables_raise_value_error_naming_the_argument(F, G, message):
    with pytest.raises(ValueError, match=message):
        aon.NextTokenPredictor(F, G)


@pytest.mark.parametrize("pivot", [-1, 6, 1.0, True, "0"])
def test_wrong_pivot(pivot):
    m = random_model(4, 6, 2, 0)
    with pytest.raises(ValueError, match="pivot must be an integer index in \\[0, 6\\)"):
        m.log_odds(pivot)
