"""The torch trainer: loss decreases, seeds fix results, the exact objective is the expected batch loss."""

from __future__ import annotations

import numpy as np
import pytest

from allornone import latent as L
from allornone.origins.train import expected_cross_entropy, train


@pytest.fixture(scope="module")
def dist():
    return L.context_distribution(L.random_latent_model(3, np.random.default_rng(0)))


@pytest.mark.parametrize("method,optimizer,lr", [("exact", "sgd", 0.3), ("exact", "adam", 0.05), ("sgd", "sgd", 0.1),
                                                 ("sgd", "adam", 0.01)])
def test_loss_decreases(dist, method, optimizer, lr):
    r = train(dist, 3, steps=400, method=method, optimizer=optimizer, lr=lr, seed=1, log_every=100)
    loss = np.array(r.history["loss"])
    assert loss[-1] < loss[0] - 0.1
    assert np.all(np.array(r.history["excess"]) > -1e-9)      # never below the conditional entropy
    assert r.F.shape == (27, 3) and r.G.shape == (8, 3) and r.steps_run == 400


def test_same_seed_same_result_other_seed_differs(dist):
    a = train(dist, 3, steps=150, method="sgd", optimizer="sgd", lr=0.1, seed=3)
    b = train(dist, 3, steps=150, method="sgd", optimizer="sgd", lr=0.1, seed=3)
    c = train(dist, 3, steps=150, method="sgd", optimizer="sgd", lr=0.1, seed=4)
    assert np.array_equal(a.F, b.F) and np.array_equal(a.G, b.G)
    assert not np.allclose(a.G, c.G)
    e1 = train(dist, 3, steps=50, seed=3)
    e2 = train(dist, 3, steps=50, seed=3)
    assert np.array_equal(e1.G, e2.G)


def test_exact_objective_is_expected_batch_loss(dist):
    import torch

    rng = np.random.default_rng(2)
    F, G = rng.normal(size=(27, 3)), rng.normal(size=(8, 3))
    exact = expected_cross_entropy(dist, F, G)
    ctx, tok = dist.sample(400_000, rng)
    logits = torch.as_tensor(F[ctx] @ G.T)
    mc = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(tok)))
    assert mc == pytest.approx(exact, rel=0.01)
    assert exact > dist.entropy


def test_training_aligns_steering_vectors(dist):
    r = train(dist, 3, steps=1500, method="exact", optimizer="sgd", lr=0.27, seed=0)
    cos = r.cosines()
    assert cos["unembedding"] > 0.9 and cos["embedding"] > 0.9 and cos["between"] > 0.9
    assert r.predictor().n_contexts == 27


def test_stop_rules(dist):
    r = train(dist, 3, steps=5000, lr=0.05, seed=0, log_every=50, stop_excess=0.05)
    assert r.steps_run < 5000 and r.history["excess"][-1] <= 0.05
    r = train(dist, 3, steps=5000, lr=0.05, seed=0, log_every=50, stop_at={"unembedding": 0.9})
    assert r.steps_run < 5000 and r.history["unembedding"][-1] >= 0.9


def test_bad_arguments(dist):
    with pytest.raises(ValueError, match="method"):
        train(dist, 3, steps=1, method="lbfgs")
    with pytest.raises(ValueError, match="optimizer"):
        train(dist, 3, steps=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="dist"):
        train("nope", 3, steps=1)
    with pytest.raises(ValueError, match="stop_excess"):
        train(dist, 3, steps=1, stop_excess=0.1)


def test_import_allornone_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, allornone, allornone.latent, allornone.metrics, allornone.train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
