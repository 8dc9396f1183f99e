"""Generate the small example model of the page *Audit your own model*.

Run from anywhere: ``python data/audit_example/make_example.py``. It writes
``F.npy`` (40 contexts × 6) and ``G.npy`` (30 tokens × 6) next to this file.
The construction is deterministic (seed 2025) and uses only the library:

1. ``allornone.properties.relational_example``: a diverse 4-dimensional model
   in which rows 0–11 are contexts ``s``, rows 12–23 the strings ``s ⊕ q``
   with ``f(s ⊕ q) = A_q f(s) + a_q``, rows 24–39 other contexts, and tokens
   1–4 the answers of the query;
2. the unembeddings of tokens 5–8 are set so that ``g(6) − g(5) = g(8) − g(7)``
   (parallel offsets, ``λ = 1``);
3. a lift (move M5) by two zero coordinates of ``f`` and two random
   coordinates of ``g``, then a random reparametrisation (move M2): the
   distribution is unchanged, ``d = 6``, but now ``N ≠ ℝ⁶`` and the parallel
   offsets of step 2 are broken outside ``N``.
"""

from pathlib import Path

import numpy as np

import allornone as aon
from allornone import properties as P

HERE = Path(__file__).resolve().parent


def make(seed: int = 2025):
    rng = np.random.default_rng(seed)
    model, query, _ = P.relational_example(rng, n_base=12, n_extra=16, n_tokens=30, dim=4, n_answers=4)
    G = model.G.copy()
    G[6] = G[5] + (G[8] - G[7])
    model = model.with_tables(G=G)
    model = aon.lift_unembeddings(model, rng.normal(size=(model.n_tokens, 2)))
    model = aon.reparametrize(model, aon.random_invertible(6, rng))
    return model


if __name__ == "__main__":
    m = make()
    np.save(HERE / "F.npy", m.F)
    np.save(HERE / "G.npy", m.G)
    print(f"wrote F.npy {m.F.shape} and G.npy {m.G.shape} to {HERE}")
