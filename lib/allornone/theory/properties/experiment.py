"""The all-or-none experiment: draw random equivalent models and count who has a property."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..._validate import as_int, as_rng
from ..equivalence import max_prob_difference, random_equivalent
from ..model import NextTokenPredictor
from .base import check_model

__all__ = ["AllOrNone", "all_or_none"]


@dataclass(frozen=True)
class AllOrNone:
    """Counts of an all-or-none experiment over random equivalent models.

    ``n_condition`` models satisfied the condition, ``n_condition_property`` of
    them had the property; ``n_other`` did not satisfy it and
    ``n_other_property`` of those had the property. ``max_dp`` is the largest
    ``max |Δp|`` between the model and any drawn member; ``dims`` the dimensions drawn.
    """

    n_drawn: int
    n_condition: int
    n_condition_property: int
    n_other: int
    n_other_property: int
    max_dp: float
    dims: tuple = field(default=())

    @property
    def all_with_condition(self) -> bool:
        return self.n_condition > 0 and self.n_condition_property == self.n_condition

    @property
    def none_with_condition(self) -> bool:
        return self.n_condition > 0 and self.n_condition_property == 0


def all_or_none(model: NextTokenPredictor, dims, n_models: int, rng,
                condition: Callable[[NextTokenPredictor], bool],
                has_property: Callable[[NextTokenPredictor], bool], *, max_draws: int | None = None) -> AllOrNone:
    """Draw random equivalent models (``aon.random_equivalent``, cycling through
    ``dims``) until ``n_models`` of them satisfy ``condition`` (or ``max_draws``,
    default ``30 · n_models``, is reached), and count who has the property.

    ``condition(m)`` and ``has_property(m)`` receive each drawn member ``m``.
    """
    model = check_model("model", model)
    n_models = as_int("n_models", n_models, min=1)
    rng = as_rng("rng", rng)
    dims = tuple(as_int("dims", d, min=1) for d in np.atleast_1d(dims))
    if not dims:
        raise ValueError("dims must hold at least one dimension")
    max_draws = 30 * n_models if max_draws is None else as_int("max_draws", max_draws, min=n_models)
    counts = [0, 0, 0, 0]
    drawn, max_dp, seen = 0, 0.0, set()
    while counts[0] < n_models and drawn < max_draws:
        d = dims[drawn % len(dims)]
        m = random_equivalent(model, d, rng)
        drawn += 1
        seen.add(d)
        max_dp = max(max_dp, max_prob_difference(model, m))
        c, p = bool(condition(m)), bool(has_property(m))
        if c:
            counts[0] += 1
            counts[1] += p
        else:
            counts[2] += 1
            counts[3] += p
    return AllOrNone(drawn, counts[0], counts[1], counts[2], counts[3], max_dp, tuple(sorted(seen)))
