"""Linear properties of next-token predictors, their subspace conditions, and
their transfer to distribution-equivalent models (part III of the book).

One module per property, each exposing the same :class:`~.base.LinearProperty`
interface (``check``, ``condition``, ``distribution``, ``transfer``,
``example``, ``counterexample``, ``realisation``) as its ``PROPERTY`` object,
plus the named functions the pages use:

=================================  ==================================  =====================================
module                             instance                            book
=================================  ==================================  =====================================
:mod:`.parallel_unembeddings`      :class:`ParallelUnembedding`        R-Def 6, R-Prop 3, R-Thm P, R-Prop 4
:mod:`.parallel_embeddings`        :class:`ParallelEmbedding`          R-Var P'
:mod:`.relational_strong`          :class:`RelationalQuery`            R-Def 7a, R-Thm RL (a)
:mod:`.relational_projected`       :class:`RelationalQuery`            R-Def 7b, SC-RL, R-Thm RL (b)
:mod:`.linear_subspace`            :class:`RelationalQuery` + ``dim``  R-Def 8, R-Thm S
:mod:`.probe`                      :class:`Concept` + ``(w, b)``       R-Def 9, R-Thm Pr
:mod:`.steering`                   :class:`SteeringTarget` + ``v``     R-Def 10, R-Thm St
=================================  ==================================  =====================================

:mod:`.base` holds :class:`Check`, :class:`Condition`, the interface, the
scale-aware fits and the transfer lemma (R-Lem 3); :data:`KINDS` maps each
kind name of :func:`allornone.theory.audit.audit` to its property object.
Everything is float64 numpy.
"""

from __future__ import annotations

from . import (linear_subspace, parallel_embeddings, parallel_unembeddings, probe, relational_projected,
               relational_strong, steering)
from .base import (DEFAULT_TOL, Check, Condition, LinearProperty, affine_dimension_residual, affine_fit,
                   canonical_member, direction_coefficients, functional_coefficients,
                   identifiable_embedding_directions, identifiable_unembedding_directions, parallel_residual,
                   resolve_tol as _tol, sum_member as _sum_member, transfer_direction, transfer_functional)
from .experiment import AllOrNone, all_or_none
from .linear_subspace import (affine_dimension, answer_subspace_dimension, check_linear_subspace,
                              check_log_odds_subspace, condition_linear_subspace, default_claimed_dimension,
                              subspace_counterexample, subspace_example)
from .parallel_embeddings import (ParallelEmbedding, check_parallel_embeddings, check_parallel_log_odds_differences,
                                  condition_parallel_embeddings, embedding_offsets, parallel_embedding_counterexample,
                                  parallel_embedding_example, transfer_parallel_embeddings)
from .parallel_unembeddings import (ParallelUnembedding, check_parallel_unembeddings, check_same_log_ratios,
                                    condition_parallel_unembeddings, log_ratio_vectors, parallel_unembedding_example,
                                    parallelism_counterexample, transfer_parallel_unembeddings, unembedding_offsets)
from .probe import (Concept, check_probe, check_probe_log_odds, condition_probe, probe_accuracy_bound,
                    probe_counterexample, probe_counterexample_model, probe_example, probe_flip, probe_scores,
                    transfer_probe)
from .relational import (RelationalQuery, answer_basis, answer_log_odds, relational_log_odds_fit,
                         relational_log_odds_map)
from .relational_projected import (check_relational_log_odds, check_relational_projected,
                                   condition_relational_projected, relational_projected_lift,
                                   relational_sc_counterexample, relational_sc_example, transfer_relational_projected)
from .relational_strong import (check_relational_strong, check_strong_log_odds, condition_relational_strong,
                                relational_example, relational_strong_counterexample, relational_strong_lift,
                                transfer_relational_strong)
from .steering import (SteeringTarget, check_steering, check_steering_log_odds, condition_steering, steered_probs,
                       steering_counterexample, steering_counterexample_model, steering_effects, steering_example,
                       steering_shift, transfer_steering)

#: kind name → property object (the ``form`` of :func:`~allornone.theory.audit.audit`)
KINDS = {p.kind: p for p in (parallel_unembeddings.PROPERTY, parallel_embeddings.PROPERTY, relational_strong.PROPERTY,
                             relational_projected.PROPERTY, linear_subspace.PROPERTY, probe.PROPERTY,
                             steering.PROPERTY)}

# old private names some pages use
_parallel = parallel_residual


def _base_model(n_contexts: int, n_tokens: int, dim: int, rng):
    from ..examples import random_model

    return random_model(n_contexts, n_tokens, dim, rng)


__all__ = [
    "DEFAULT_TOL", "Check", "Condition", "LinearProperty", "KINDS",
    "ParallelUnembedding", "ParallelEmbedding", "RelationalQuery", "Concept", "SteeringTarget",
    # shared figures and the transfer lemma
    "affine_fit", "affine_dimension_residual", "parallel_residual", "canonical_member",
    "identifiable_embedding_directions", "identifiable_unembedding_directions",
    "functional_coefficients", "direction_coefficients", "transfer_functional", "transfer_direction",
    # parallelism
    "unembedding_offsets", "embedding_offsets", "log_ratio_vectors",
    "check_parallel_unembeddings", "check_same_log_ratios", "condition_parallel_unembeddings",
    "transfer_parallel_unembeddings", "check_parallel_embeddings", "check_parallel_log_odds_differences",
    "condition_parallel_embeddings", "transfer_parallel_embeddings",
    # relational linearity
    "answer_basis", "answer_log_odds", "relational_log_odds_fit", "relational_log_odds_map",
    "check_relational_strong", "check_strong_log_odds", "condition_relational_strong", "transfer_relational_strong",
    "check_relational_projected", "check_relational_log_odds", "condition_relational_projected",
    "transfer_relational_projected",
    # linear subspace
    "affine_dimension", "answer_subspace_dimension", "check_linear_subspace", "check_log_odds_subspace",
    "condition_linear_subspace", "default_claimed_dimension",
    # probing
    "probe_scores", "check_probe", "check_probe_log_odds", "condition_probe", "transfer_probe",
    # steering
    "steering_effects", "check_steering", "check_steering_log_odds", "condition_steering", "transfer_steering",
    "steered_probs",
    # experiments
    "AllOrNone", "all_or_none",
    # constructed examples and counterexamples
    "parallel_unembedding_example", "parallelism_counterexample", "parallel_embedding_example",
    "parallel_embedding_counterexample", "relational_example", "relational_strong_counterexample",
    "relational_strong_lift", "relational_sc_example", "relational_sc_counterexample", "relational_projected_lift",
    "subspace_example", "subspace_counterexample", "probe_example", "probe_counterexample_model",
    "probe_counterexample", "probe_flip", "probe_accuracy_bound", "steering_example",
    "steering_counterexample_model", "steering_counterexample", "steering_shift",
]
