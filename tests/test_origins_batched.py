"""The batched trainer (closed-form gradient, stacked runs, per-run stopping) gives the one-run loop's results."""

from __future__ import annotations

import numpy as np
import pytest

from allornone.origins import latent as L
from allornone.origins.batched import plan_groups, train_many
from allornone.origins.train import plateaued, train

METRICS = ("unembedding", "embedding", "between")


def _dists(m, n, masks=0, support=None):
    out = []
    for s in range(n):
        rng = np.random.default_rng(s)
        lm = L.random_latent_model(m, rng, support_size=support)
        out.append(L.context_distribution(lm, patterns=L.random_patterns(m, masks, rng) if masks else None))
    return out


CASES = {
    "exact-gd": (3, 4, 0, None, dict(method="exact", optimizer="sgd", lr=0.27, steps=3000, log_every=50,
                                     stop_excess=5e-3)),
    "exact-adam-incomplete": (4, 3, 6, 8, dict(method="exact", optimizer="adam", lr=0.05, steps=300, log_every=50,
                                               stop_excess=2e-3)),
    "sampled-sgd-plateau": (3, 3, 0, None, dict(method="sgd", optimizer="sgd", lr=0.1, steps=2000, log_every=100,
                                                stop_plateau=(2, 0.03))),
    "sampled-adam-masks": (3, 3, 5, None, dict(method="sgd", optimizer="adam", lr=0.01, steps=800, log_every=100,
                                               stop_plateau=(3, 0.01))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_batched_equals_one_run_loop(case):
    m, n, masks, support, kw = CASES[case]
    dists = _dists(m, n, masks, support)
    one = [train(d, m, seed=s, dtype="float64", **kw) for s, d in enumerate(dists)]
    many = train_many(dists, m, seeds=range(n), dtype="float64", **kw)
    assert [r.steps_run for r in many] == [r.steps_run for r in one]
    # the stopping rules must actually have cut some runs short at different steps
    if case != "sampled-adam-masks":
        assert len({r.steps_run for r in one}) > 1 or max(r.steps_run for r in one) < kw["steps"]
    for a, b in zip(one, many):
        assert np.allclose(a.F, b.F, atol=1e-8, rtol=0) and np.allclose(a.G, b.G, atol=1e-8, rtol=0)
        ca, cb = a.cosines(), b.cosines()
        for k in METRICS:
            assert np.isnan(ca[k]) == np.isnan(cb[k])
            if np.isfinite(ca[k]):
                assert abs(ca[k] - cb[k]) < 1e-8
        assert a.history["step"] == b.history["step"]
        assert np.allclose(a.history["loss"], b.history["loss"], atol=1e-10)


def test_stacked_and_one_by_one_groups_agree():
    dists = _dists(3, 5)
    kw = dict(method="exact", optimizer="adam", lr=0.05, steps=300, log_every=50, dtype="float64")
    stacked = train_many(dists, 3, seeds=range(5), **kw)
    single = train_many(dists, 3, seeds=range(5), group_entries=1, **kw)
    assert {r.params["group_size"] for r in stacked} == {5} and {r.params["group_size"] for r in single} == {1}
    for a, b in zip(stacked, single):
        assert a.steps_run == b.steps_run and np.allclose(a.G, b.G, atol=1e-12)


def test_float32_close_to_float64():
    dists = _dists(4, 2)
    kw = dict(method="exact", optimizer="sgd", lr=0.01 * 81, steps=400)
    a = train_many(dists, 4, seeds=[0, 1], dtype="float32", **kw)
    b = train_many(dists, 4, seeds=[0, 1], dtype="float64", **kw)
    for x, y in zip(a, b):
        assert abs(x.cosines()["unembedding"] - y.cosines()["unembedding"]) < 1e-4


def test_plan_groups():
    assert plan_groups(10, 27, 8, group_entries=27 * 8 * 4) == [range(0, 4), range(4, 8), range(8, 10)]
    assert plan_groups(3, 2187, 128, group_entries=1000) == [range(0, 1), range(1, 2), range(2, 3)]


def test_plateau_rule():
    h = {"step": list(range(6)), "unembedding": [0.1, 0.5, 0.9, 0.91, 0.91, 0.92],
         "embedding": [0.2] * 6, "between": [0.3] * 6}
    assert plateaued(h, 2, 0.011) and not plateaued(h, 2, 0.009)   # window means 0.905, then 0.915
    assert not plateaued(h, 3, 0.1)            # window means 0.5, then 0.913
    assert not plateaued(h, 4, 1.0)            # fewer than 2 * window logs
    h["between"][-1] = float("nan")
    assert not plateaued(h, 2, 1.0)


def test_bad_arguments():
    d = _dists(3, 1)
    with pytest.raises(ValueError, match="seeds"):
        train_many(d, 3, seeds=[0, 1], steps=1)
    with pytest.raises(ValueError, match="same m"):
        train_many(d + _dists(4, 1), 3, seeds=[0, 1], steps=1)
    with pytest.raises(ValueError, match="stop_plateau"):
        train_many(d, 3, seeds=[0], steps=1, stop_plateau=(2, 0.1))
    with pytest.raises(ValueError, match="method"):
        train_many(d, 3, seeds=[0], steps=1, method="lbfgs")
    with pytest.raises(ValueError, match="dists"):
        train_many([], 3, seeds=[], steps=1)
