"""allornone: the library behind the companion book to *All or None*
(Marconato, Lachapelle, Weichwald, Gresele; AISTATS 2025).

The folders follow the book's parts: ``theory`` (Parts I-III), ``origins``
(Part IV), ``reallm`` (Part V) and ``reruns`` (runs, sweeps, glue). The flat
0.1 module names (``allornone.model``, ``allornone.run``, ...) still import,
through the alias finder of :mod:`._compat`.

Importing the package has no side effects beyond that finder: no files are
read, no devices touched, no plotting style set. Heavy modules (torch training, the real LM)
are imported only when used.
"""

from ._compat import install as _install_aliases
from .theory.equivalence import (
    ELMap,
    el_map_from_forms,
    lift,
    lift_unembeddings,
    max_prob_difference,
    nudge_off_class,
    perturb_embeddings,
    perturb_unembeddings,
    projection_maps,
    random_equivalent,
    random_invertible,
    recover_el_map,
    reduce,
    reparametrize,
    same_distribution,
    shift,
)
from .theory.model import NextTokenPredictor, log_softmax, softmax
from .theory.subspaces import (
    EffectiveForm,
    effective_complexity,
    effective_form,
    effective_subspace,
    embedding_difference_span,
    embedding_span,
    has_embedding_diversity,
    has_unembedding_diversity,
    is_diverse,
    unembedding_difference_span,
)

from .theory.audit import audit

_install_aliases(__name__)

__version__ = "0.1.0"


def __getattr__(name):
    """``aon.subspaces`` and the other flat 0.1 module names, imported on first use."""
    from ._compat import ALIASES

    if name in ALIASES or name in ("theory", "origins", "reallm", "reruns"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "NextTokenPredictor", "softmax", "log_softmax",
    "effective_complexity", "effective_form", "EffectiveForm", "effective_subspace",
    "embedding_span", "embedding_difference_span", "unembedding_difference_span",
    "has_embedding_diversity", "has_unembedding_diversity", "is_diverse",
    "shift", "reparametrize", "perturb_embeddings", "perturb_unembeddings", "lift",
    "lift_unembeddings", "reduce", "random_invertible", "random_equivalent", "nudge_off_class",
    "same_distribution", "max_prob_difference", "ELMap", "recover_el_map", "el_map_from_forms", "projection_maps",
    "audit",
]
