"""Many Origins runs at once: the closed-form gradient, stacked runs, per-run stopping (torch, CPU).

:func:`train_many` trains ``R`` independent lookup-table predictors (each
with its own :class:`~allornone.origins.latent.ContextDistribution`, i.e. its
own DAG, conditionals and mask pool, and its own seed for the initialisation
and the samples) and returns the same :class:`~allornone.origins.train.TrainResult`
objects as :func:`allornone.origins.train.train` run one by one, to float
tolerance (``tests/test_origins_batched.py`` checks stopping steps and cosines).

What makes it faster than the one-run loop:

* **the closed-form gradient** instead of autograd. For the exact objective
  ``L = −Σ_d Σ_c W[d, c] log softmax(Z_d)_c`` with ``Z = F Gᵀ`` and
  ``W[d, c] = w(d) p(c|d)``, ``∂L/∂Z = w(d)·softmax(Z_d) − W[d, ·]``
  (``p̂ − p``, weighted by the context probability), so ``∂L/∂F = (∂L/∂Z) G``
  and ``∂L/∂G = (∂L/∂Z)ᵀ F``. For a sampled mini-batch of ``B`` pairs the
  same with ``w = 1/B`` and a one-hot target;
* **stacking**: runs of one ``m`` are trained as one batched tensor program
  (``torch.bmm`` over a leading run axis) in groups of at most
  ``group_entries`` logit entries, so small problems share the per-step Python
  overhead while large ones (``m ≥ 7`` with the exact objective) run one at a
  time, where stacking no longer pays (``benchmarks/origins.py``);
* **preallocated buffers and in-place updates**: the logits, gradients and
  optimiser states live in buffers allocated once per group, so the per-step
  cost does not depend on the allocator; a run that stops is dropped from its
  group by compacting the buffers.

SGD and Adam (torch's update rule, replicated in place) are supported with the
exact objective (``method="exact"``) and sampled mini-batches
(``method="sgd"``); the stopping rules (``stop_excess``, ``stop_at``,
``stop_plateau``) are those of :func:`~allornone.origins.train.train`,
evaluated by the same function at the same logged steps. One torch thread:
the issue measured two threads helping only on an idle machine and making
small problems 2–15× slower under load.

Implements :prf:ref:`def-lookup-table-training`.
"""

from __future__ import annotations

import time

import numpy as np

from .._validate import as_int, as_positive_float
from .latent import ContextDistribution
from .train import TrainResult, check_training_options, log_and_check, new_history

__all__ = ["train_many", "plan_groups", "GROUP_ENTRIES"]

#: Largest number of logit entries (runs × rows × tokens) trained as one stacked program.
GROUP_ENTRIES = 2**17
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


def plan_groups(n_runs: int, n_rows: int, n_tok: int, group_entries: int = GROUP_ENTRIES) -> list[range]:
    """Split ``n_runs`` runs into consecutive groups of at most ``group_entries`` logit entries each (at least one run)."""
    size = max(1, group_entries // max(1, n_rows * n_tok))
    return [range(a, min(a + size, n_runs)) for a in range(0, n_runs, size)]


def train_many(dists, dim: int, *, seeds, steps: int, method: str = "exact", optimizer: str = "adam",
               lr: float = 0.05, batch_size: int = 100, init_scale: float | None = None, log_every: int = 0,
               stop_at: dict | None = None, stop_excess: float | None = None, stop_plateau: tuple | None = None,
               dtype: str = "float64", group_entries: int = GROUP_ENTRIES, threads: int = 1,
               progress: bool = False, desc: str | None = None) -> list[TrainResult]:
    """Train one predictor per distribution in ``dists`` (all with the same ``m``), run ``r`` from ``seeds[r]``.

    Arguments as :func:`allornone.origins.train.train` (each run gets the
    result that function gives for ``(dists[r], seed=seeds[r])``), plus
    ``group_entries`` (stacking budget, see :func:`plan_groups`) and
    ``threads`` (torch threads while training). ``TrainResult.seconds`` is the
    wall time of the run's group up to the run's last step, divided by the
    group size (the group trains its runs together).

    Implements :prf:ref:`def-lookup-table-training`.
    """
    import torch

    dists = list(dists)
    if not dists or not all(isinstance(d, ContextDistribution) for d in dists):
        raise ValueError("dists must be a non-empty list of ContextDistribution")
    m = dists[0].m
    if any(d.m != m for d in dists):
        raise ValueError(f"dists must all have the same m; got {sorted({d.m for d in dists})}")
    seeds = [as_int("seeds", s, min=0) for s in seeds]
    if len(seeds) != len(dists):
        raise ValueError(f"seeds must have one entry per distribution; got {len(seeds)} for {len(dists)}")
    dim, steps, lr, batch_size, log_every, stop_excess, stop_plateau = check_training_options(
        dim=dim, steps=steps, method=method, optimizer=optimizer, lr=lr, batch_size=batch_size, log_every=log_every,
        dtype=dtype, stop_at=stop_at, stop_excess=stop_excess, stop_plateau=stop_plateau)
    group_entries = as_int("group_entries", group_entries, min=1)
    threads = as_int("threads", threads, min=1)
    init_scale = dim**-0.5 if init_scale is None else as_positive_float("init_scale", init_scale)
    stops = dict(stop_excess=stop_excess, stop_at=stop_at, stop_plateau=stop_plateau)
    n_tok = 2**m
    n_rows = max(len(d.contexts) for d in dists)
    per_row = batch_size if method == "sgd" else n_rows
    groups = plan_groups(len(dists), per_row, n_tok, group_entries)
    params = {"dim": dim, "steps": steps, "method": method, "optimizer": optimizer, "lr": lr,
              "batch_size": batch_size, "init_scale": init_scale, "dtype": dtype, "stop_at": stop_at,
              "stop_excess": stop_excess, "stop_plateau": stop_plateau}
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(dists), desc=desc or f"m={m} {method}/{optimizer}", unit="run", leave=False)
    results: list = [None] * len(dists)
    try:
        for g in groups:
            out = _train_group([dists[r] for r in g], [seeds[r] for r in g], dim, steps=steps, method=method,
                               optimizer=optimizer, lr=lr, batch_size=batch_size, init_scale=init_scale,
                               log_every=log_every, stops=stops, dtype=dtype)
            for r, res in zip(g, out):
                res.params = {**params, "seed": seeds[r], "group_size": len(g)}
                results[r] = res
            if bar is not None:
                bar.update(len(g))
    finally:
        torch.set_num_threads(old_threads)
        if bar is not None:
            bar.close()
    return results


def _train_group(dists, seeds, dim, *, steps, method, optimizer, lr, batch_size, init_scale, log_every, stops, dtype):
    """One stacked program for the runs of a group; see :func:`train_many`."""
    import torch

    m, R = dists[0].m, len(dists)
    n_ctx, n_tok = 3**m, 2**m
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    n = max(len(d.contexts) for d in dists)           # rows per run (padded; pad rows carry zero weight)
    # ---- initialisation: exactly the draws of train() for each seed
    F0, F, G = [], torch.zeros(R, n, dim, dtype=tdtype), torch.empty(R, n_tok, dim, dtype=tdtype)
    for r, (d, s) in enumerate(zip(dists, seeds)):
        gen = torch.Generator().manual_seed(s)
        Ff = (torch.randn(n_ctx, dim, generator=gen, dtype=torch.float64) * init_scale).to(tdtype)
        G[r] = (torch.randn(n_tok, dim, generator=gen, dtype=torch.float64) * init_scale).to(tdtype)
        F[r, :len(d.contexts)] = Ff[torch.as_tensor(d.contexts)]
        F0.append(Ff)
    exact = method == "exact"
    if exact:
        W = torch.zeros(R, n, n_tok, dtype=tdtype)
        for r, d in enumerate(dists):
            W[r, :len(d.contexts)] = torch.as_tensor(d.weights[:, None] * d.P, dtype=tdtype)
        wsum = W.sum(dim=2, keepdim=True)             # w(d) as the row sums of W, as autograd sees them
        rows_per_step = n
    else:
        rngs = [np.random.default_rng(s) for s in seeds]
        row_of = []
        for d in dists:
            ro = np.full(n_ctx, -1, dtype=np.int64)
            ro[d.contexts] = np.arange(len(d.contexts))
            row_of.append(ro)
        chunk = 1000 * batch_size
        ctx_buf = torch.empty(R, chunk, dtype=torch.int64)
        tok_buf = torch.empty(R, chunk, dtype=torch.int64)
        pos = chunk                                   # forces a draw at the first step, as train() does
        rows_per_step = batch_size
        inv_b = 1.0 / batch_size
        offsets = torch.arange(R, dtype=torch.int64)[:, None] * n
        onehot_rows = torch.arange(R * batch_size)
    # ---- buffers, allocated once
    Z = torch.empty(R, rows_per_step, n_tok, dtype=tdtype)
    mx = torch.empty(R, rows_per_step, 1, dtype=tdtype)
    sm = torch.empty(R, rows_per_step, 1, dtype=tdtype)
    # gradients are computed transposed, (dim × rows): bmm(Gᵀ, Zᵀ) and bmm(Fᵀ, Z) are several times faster
    # than bmm(Z, G) and bmm(Zᵀ, F) when dim is small (measured at m = 10: 1.6 vs 3.9 ms and 1.5 vs 14 ms)
    dFT = torch.empty(R, dim, n, dtype=tdtype)
    dGT = torch.empty(R, dim, n_tok, dtype=tdtype)
    dF = None if exact else torch.empty(R, n, dim, dtype=tdtype)
    if not exact:
        dFb = torch.empty(R, batch_size, dim, dtype=tdtype)
        Fb = torch.empty(R, batch_size, dim, dtype=tdtype)
    adam = optimizer == "adam"
    if adam:
        b1, b2 = ADAM_BETAS
        mF, vF, mG, vG = (torch.zeros_like(F), torch.zeros_like(F), torch.zeros_like(G), torch.zeros_like(G))
        den_F, den_G = torch.empty_like(F), torch.empty_like(G)
    active = list(range(R))                            # run numbers, in buffer order
    histories = [new_history() for _ in range(R)]
    entropies = [d.entropy for d in dists]
    steps_run = [0] * R
    seconds = [0.0] * R
    t0 = time.perf_counter()

    def tables(slot, r):
        Fn = F0[r].double().numpy().copy()
        Fn[dists[r].contexts] = F[slot, :len(dists[r].contexts)].double().numpy()
        return Fn, G[slot].double().numpy().copy()

    def log_all(step):
        """Log every active run; returns the buffer slots of the runs that stop."""
        stopped = []
        for slot, r in enumerate(active):
            Fn, Gn = tables(slot, r)
            if log_and_check(dists[r], Fn, Gn, step, histories[r], entropy=entropies[r], **stops):
                stopped.append(slot)
        return stopped

    finals = [None] * R

    def retire(slots, step):
        nonlocal F, G, W, wsum, mF, vF, mG, vG
        for slot in slots:
            r = active[slot]
            finals[r] = tables(slot, r)
            steps_run[r] = step
            seconds[r] = (time.perf_counter() - t0) / R
        keep = [s for s in range(len(active)) if s not in set(slots)]
        if not keep:
            active.clear()
            return
        idx = torch.as_tensor(keep)
        k = len(keep)
        # compact the states into the first k slots of the same storage
        F[:k] = F.index_select(0, idx)
        G[:k] = G.index_select(0, idx)
        F, G = F[:k], G[:k]
        if exact:
            W[:k] = W.index_select(0, idx)
            wsum[:k] = wsum.index_select(0, idx)
            W, wsum = W[:k], wsum[:k]
        else:
            ctx_buf[:k] = ctx_buf.index_select(0, idx)
            tok_buf[:k] = tok_buf.index_select(0, idx)
        if adam:
            for name in ("mF", "vF", "mG", "vG"):
                t = {"mF": mF, "vF": vF, "mG": mG, "vG": vG}[name]
                t[:k] = t.index_select(0, idx)
            mF, vF, mG, vG = mF[:k], vF[:k], mG[:k], vG[:k]
        active[:] = [active[s] for s in keep]

    done = 0
    if log_every:
        retire(log_all(0), 0)
    while done < steps and active:
        k = len(active)
        Zk, mxk, smk = Z[:k], mx[:k], sm[:k]
        if exact:
            torch.bmm(F, G.transpose(1, 2), out=Zk)
        else:
            if pos + batch_size > chunk:
                for slot, r in enumerate(active):
                    c_idx, t_idx = dists[r].sample(chunk, rngs[r])
                    ctx_buf[slot] = torch.from_numpy(row_of[r][c_idx])
                    tok_buf[slot] = torch.from_numpy(t_idx)
                pos = 0
            flat = (ctx_buf[:k, pos:pos + batch_size] + offsets[:k]).reshape(-1)   # row in the stacked F
            tok = tok_buf[:k, pos:pos + batch_size].reshape(-1)
            pos += batch_size
            Fbk = Fb[:k]
            torch.index_select(F.reshape(-1, dim), 0, flat, out=Fbk.view(-1, dim))
            torch.bmm(Fbk, G.transpose(1, 2), out=Zk)
        # softmax in place, then ∂L/∂Z = w·softmax − W  (sampled: (softmax − onehot)/B)
        torch.amax(Zk, dim=2, keepdim=True, out=mxk)
        Zk.sub_(mxk).exp_()
        torch.sum(Zk, dim=2, keepdim=True, out=smk)
        Zk.div_(smk)
        if exact:
            Zk.mul_(wsum).sub_(W)
            torch.bmm(G.transpose(1, 2), Zk.transpose(1, 2), out=dFT[:k])
            torch.bmm(F.transpose(1, 2), Zk, out=dGT[:k])
        else:
            Zf = Zk.view(-1, n_tok)
            Zf[onehot_rows[:Zf.shape[0]], tok] -= 1.0
            Zk.mul_(inv_b)
            torch.bmm(Zk, G, out=dFb[:k])
            torch.bmm(Fbk.transpose(1, 2), Zk, out=dGT[:k])
            if adam:
                dF[:k].zero_()
                dF[:k].view(-1, dim).index_add_(0, flat, dFb[:k].view(-1, dim))
        done += 1
        gF = dFT[:k].transpose(1, 2) if exact else dF[:k]
        gG = dGT[:k].transpose(1, 2)
        if not adam:
            if exact:
                F.add_(gF, alpha=-lr)
            else:
                F.view(-1, dim).index_add_(0, flat, dFb[:k].view(-1, dim), alpha=-lr)
            G.add_(gG, alpha=-lr)
        else:
            bc1, bc2 = 1 - b1**done, 1 - b2**done
            step_size, bc2_sqrt = lr / bc1, bc2**0.5
            for p_, g_, m_, v_, den in ((F, gF, mF, vF, den_F[:k]), (G, gG, mG, vG, den_G[:k])):
                m_.lerp_(g_, 1 - b1)
                v_.mul_(b2).addcmul_(g_, g_, value=1 - b2)
                torch.sqrt(v_, out=den)
                den.div_(bc2_sqrt).add_(ADAM_EPS)
                p_.addcdiv_(m_, den, value=-step_size)
        if log_every and (done % log_every == 0 or done == steps):
            retire(log_all(done), done)
    if active:
        retire(list(range(len(active))), done)
    return [TrainResult(m=m, F=finals[r][0], G=finals[r][1], contexts=dists[r].contexts, tokens=dists[r].tokens,
                        history=histories[r], steps_run=steps_run[r], seconds=seconds[r]) for r in range(R)]
