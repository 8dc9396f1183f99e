"""Training lookup-table next-token predictors on the latent-concept model (torch, CPU).

The model of Jiang et al. (2024): one free embedding ``f(d) ∈ ℝ^dim`` per
context and one free unembedding ``g(c) ∈ ℝ^dim`` per concept vector, with
``p̂(c | d) = softmax_c(f(d)ᵀ g(c))``. Two objectives:

* ``method="sgd"``: the paper's recipe, cross-entropy on fresh mini-batches of
  sampled ``(d, c)`` pairs (SGD lr 0.1, batch 100; or Adam lr 1e-3);
* ``method="exact"``: the **expected** cross-entropy
  ``Σ_d w(d) Σ_c p(c|d) (−log p̂(c|d))`` over every context and token,
  computed in closed form from :func:`allornone.latent.context_distribution`.
  Its gradient is the expectation of the mini-batch gradient, so full-batch
  steps follow the noise-free path of the same recipe; with Adam it is the fast
  path the book uses for large runs.

torch is imported inside the functions; ``import allornone`` never imports it.
Each call sets its own seeds (``torch`` generator for the initialisation,
numpy for the samples) and runs on one thread, so a seed fixes the result.

Implements :prf:ref:`def-lookup-table-training` (book page *Tables 1 and 2*).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .._validate import as_int, as_positive_float
from .latent import ContextDistribution
from .metrics import origins_cosines

__all__ = ["TrainResult", "train", "expected_cross_entropy", "plateaued", "METHODS", "OPTIMIZERS"]

METHODS = ("exact", "sgd")
OPTIMIZERS = ("sgd", "adam")


@dataclass
class TrainResult:
    """Trained tables on the full index sets (``F``: ``3^m × dim``, ``G``: ``2^m × dim``, float64).

    Rows of ``F`` for contexts never trained keep their initial values;
    ``contexts``/``tokens`` say which rows were trained. ``history`` holds the
    logged ``step``, ``loss`` (the expected cross-entropy), ``excess``
    (loss minus the conditional entropy) and the three cosines.
    """

    m: int
    F: np.ndarray
    G: np.ndarray
    contexts: np.ndarray
    tokens: np.ndarray
    history: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    steps_run: int = 0
    seconds: float = 0.0

    def cosines(self) -> dict:
        """:func:`allornone.metrics.origins_cosines` on the trained rows."""
        return origins_cosines(self.F, self.G, self.m, contexts=self.contexts, tokens=self.tokens)

    def predictor(self):
        """The trained model on ``D̂`` as an :class:`allornone.NextTokenPredictor` (float64)."""
        from ..theory.model import NextTokenPredictor

        return NextTokenPredictor(self.F[self.contexts], self.G)


def expected_cross_entropy(dist: ContextDistribution, F, G) -> float:
    """``Σ_d w(d) Σ_c p(c|d)(−log softmax(f(d)ᵀG)_c)`` in float64 for full tables ``F``, ``G``."""
    from ..theory.model import log_softmax

    if not isinstance(dist, ContextDistribution):
        raise ValueError(f"dist must be a ContextDistribution; got {type(dist).__name__}")
    logp = log_softmax(np.asarray(F, dtype=np.float64)[dist.contexts] @ np.asarray(G, dtype=np.float64).T)
    return float(-(dist.weights[:, None] * np.where(dist.P > 0, dist.P * logp, 0.0)).sum())


COSINES = ("unembedding", "embedding", "between")


def plateaued(history: dict, window: int, tol: float) -> bool:
    """The plateau stopping rule: the cosines stopped changing.

    True once at least ``2·window`` entries are logged and, for each of the
    three cosines, the mean of the last ``window`` logged values differs from
    the mean of the ``window`` before them by at most ``tol``. Means over
    windows make the rule robust to the noise of sampled mini-batches. It looks
    at the training curve only, never at a target value.
    """
    if len(history["step"]) < 2 * window:
        return False
    for k in COSINES:
        v = history[k][-2 * window:]
        if not abs(sum(v[window:]) - sum(v[:window])) / window <= tol:     # NaN counts as not settled
            return False
    return True


def check_training_options(*, dim, steps, method, optimizer, lr, batch_size, log_every, dtype, stop_at,
                           stop_excess, stop_plateau):
    """The options :func:`train` and :func:`~allornone.origins.batched.train_many` share, checked once.

    Raises a one-line ``ValueError`` naming the bad argument; returns the normalised
    ``(dim, steps, lr, batch_size, log_every, stop_excess, stop_plateau)``.
    """
    dim = as_int("dim", dim, min=1)
    steps = as_int("steps", steps, min=0)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {optimizer!r}")
    lr = as_positive_float("lr", lr)
    batch_size = as_int("batch_size", batch_size, min=1)
    log_every = as_int("log_every", log_every, min=0)
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    if stop_at is not None:
        bad = set(stop_at) - {"unembedding", "embedding", "between"}
        if bad or not log_every:
            raise ValueError(f"stop_at needs keys among unembedding/embedding/between and log_every > 0; got {stop_at!r}")
    if stop_excess is not None:
        stop_excess = as_positive_float("stop_excess", stop_excess)
        if not log_every:
            raise ValueError("stop_excess needs log_every > 0")
    return dim, steps, lr, batch_size, log_every, stop_excess, check_stop_plateau(stop_plateau, log_every)


def check_stop_plateau(stop_plateau, log_every: int):
    """Validate ``stop_plateau = (window, tol)``; returns ``(int, float)`` or ``None``."""
    if stop_plateau is None:
        return None
    try:
        window, tol = stop_plateau
    except (TypeError, ValueError) as exc:
        raise ValueError(f"stop_plateau must be a pair (window, tol); got {stop_plateau!r}") from exc
    window = as_int("stop_plateau window", window, min=1)
    tol = as_positive_float("stop_plateau tol", tol)
    if not log_every:
        raise ValueError("stop_plateau needs log_every > 0")
    return window, tol


def log_and_check(dist: ContextDistribution, Fn, Gn, step: int, history: dict, *, stop_excess=None, stop_at=None,
                  stop_plateau=None, entropy: float | None = None) -> bool:
    """Append one logged step (loss, excess loss, cosines of the float64 tables) to ``history``; True to stop.

    Shared by :func:`train` and :func:`allornone.origins.batched.train_many`,
    so both trainers stop by the same rule at the same step.
    """
    cos = origins_cosines(Fn, Gn, dist.m, contexts=dist.contexts, tokens=dist.tokens)
    loss = expected_cross_entropy(dist, Fn, Gn)
    H = dist.entropy if entropy is None else entropy
    history["step"].append(step)
    history["loss"].append(loss)
    history["excess"].append(loss - H)
    for k in COSINES:
        history[k].append(cos[k])
    if stop_excess is not None and loss - H <= stop_excess:
        return True
    if stop_plateau is not None and plateaued(history, *stop_plateau):
        return True
    return stop_at is not None and all(cos[k] >= v for k, v in stop_at.items())


def new_history() -> dict:
    return {"step": [], "loss": [], "excess": [], "unembedding": [], "embedding": [], "between": []}


def train(dist: ContextDistribution, dim: int, *, steps: int, method: str = "exact", optimizer: str = "adam",
          lr: float = 0.05, batch_size: int = 100, seed: int = 0, init_scale: float | None = None,
          log_every: int = 0, stop_at: dict | None = None, stop_excess: float | None = None,
          stop_plateau: tuple | None = None, dtype: str = "float64",
          progress: bool = False, desc: str | None = None) -> TrainResult:
    """Train a lookup-table predictor of dimension ``dim`` on ``dist``.

    ``steps`` optimiser steps; ``method`` ``"exact"`` (full-distribution
    objective) or ``"sgd"`` (sampled mini-batches of ``batch_size``);
    ``optimizer`` ``"sgd"`` or ``"adam"`` with learning rate ``lr``.
    Initial entries are ``N(0, init_scale²)``, default ``init_scale = dim^{-1/2}``.
    ``log_every > 0`` records the loss and cosines every that many steps (and
    at the end). ``stop_at`` (e.g. ``{"unembedding": 0.995, ...}``) stops at
    the first logged step where every named cosine reaches its value;
    ``stop_excess`` stops at the first logged step where the expected
    cross-entropy is within that much of the conditional entropy (a
    convergence rule that looks at the loss only, never at the cosines);
    ``stop_plateau = (window, tol)`` stops once every cosine moved by at most
    ``tol`` over the last ``window`` logs (:func:`plateaued`).
    ``progress`` shows a tqdm bar. This is the one-run reference loop (autograd);
    :func:`allornone.origins.batched.train_many` trains many runs faster and
    gives the same results.

    Implements :prf:ref:`def-lookup-table-training`.
    """
    import torch

    if not isinstance(dist, ContextDistribution):
        raise ValueError(f"dist must be a ContextDistribution; got {type(dist).__name__}")
    seed = as_int("seed", seed, min=0)
    dim, steps, lr, batch_size, log_every, stop_excess, stop_plateau = check_training_options(
        dim=dim, steps=steps, method=method, optimizer=optimizer, lr=lr, batch_size=batch_size, log_every=log_every,
        dtype=dtype, stop_at=stop_at, stop_excess=stop_excess, stop_plateau=stop_plateau)
    init_scale = dim**-0.5 if init_scale is None else as_positive_float("init_scale", init_scale)

    m, n_ctx, n_tok = dist.m, 3**dist.m, 2**dist.m
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gen = torch.Generator().manual_seed(seed)
        rng = np.random.default_rng(seed)
        F = (torch.randn(n_ctx, dim, generator=gen, dtype=torch.float64) * init_scale).to(tdtype)
        G = (torch.randn(n_tok, dim, generator=gen, dtype=torch.float64) * init_scale).to(tdtype)
        rows = torch.as_tensor(dist.contexts)
        Ft = F[rows].clone().requires_grad_(True)       # only trained contexts are parameters
        Gt = G.clone().requires_grad_(True)
        opt = (torch.optim.SGD([Ft, Gt], lr=lr) if optimizer == "sgd" else torch.optim.Adam([Ft, Gt], lr=lr))
        row_of = np.full(n_ctx, -1, dtype=np.int64)
        row_of[dist.contexts] = np.arange(len(dist.contexts))
        if method == "exact":
            W = torch.as_tensor(dist.weights[:, None] * dist.P, dtype=tdtype)
        history = new_history()
        H = dist.entropy
        chunk, buf_ctx, buf_tok, pos = 1000 * batch_size, None, None, 0

        def tables():
            Fn = F.double().numpy().copy()
            Fn[dist.contexts] = Ft.detach().double().numpy()
            return Fn, Gt.detach().double().numpy().copy()

        def log(step):
            Fn, Gn = tables()
            return log_and_check(dist, Fn, Gn, step, history, stop_excess=stop_excess, stop_at=stop_at,
                                 stop_plateau=stop_plateau, entropy=H)

        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc=desc or f"m={m} {method}/{optimizer}", leave=False)
        t0 = time.perf_counter()
        done = 0
        stopped = log_every > 0 and log(0)
        while done < steps and not stopped:
            opt.zero_grad(set_to_none=True)
            if method == "exact":
                loss = -(W * torch.log_softmax(Ft @ Gt.T, dim=1)).sum()
            else:
                if buf_ctx is None or pos + batch_size > len(buf_ctx):
                    c_idx, t_idx = dist.sample(chunk, rng)
                    buf_ctx, buf_tok, pos = torch.as_tensor(row_of[c_idx]), torch.as_tensor(t_idx), 0
                bc, bt = buf_ctx[pos:pos + batch_size], buf_tok[pos:pos + batch_size]
                pos += batch_size
                loss = torch.nn.functional.cross_entropy(Ft[bc] @ Gt.T, bt)
            loss.backward()
            opt.step()
            done += 1
            if bar is not None and done % 100 == 0:
                bar.update(100)
            if log_every and (done % log_every == 0 or done == steps):
                stopped = log(done)
        if bar is not None:
            bar.close()
        seconds = time.perf_counter() - t0
        Fn, Gn = tables()
    finally:
        torch.set_num_threads(old_threads)
    params = {"dim": dim, "steps": steps, "method": method, "optimizer": optimizer, "lr": lr,
              "batch_size": batch_size, "seed": seed, "init_scale": init_scale, "dtype": dtype, "stop_at": stop_at,
              "stop_excess": stop_excess, "stop_plateau": stop_plateau}
    return TrainResult(m=m, F=Fn, G=Gn, contexts=dist.contexts, tokens=dist.tokens, history=history,
                       params=params, steps_run=done, seconds=seconds)
