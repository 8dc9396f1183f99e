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

#: the public names, imported from their module on first use (PEP 562): ``python -m allornone.run``
#: and the notebooks' glue need none of them, and numpy alone costs ~0.1 s per process (issue 12, point 9)
_LAZY = {
    **dict.fromkeys([
        "ELMap", "el_map_from_forms", "lift", "lift_unembeddings", "log_odds_difference", "max_prob_difference",
        "nudge_off_class", "perturb_embeddings", "perturb_unembeddings", "projection_maps", "random_equivalent",
        "random_invertible", "recover_el_map", "reduce", "reparametrize", "same_distribution", "shift",
    ], "theory.equivalence"),
    **dict.fromkeys(["NextTokenPredictor", "log_softmax", "softmax"], "theory.model"),
    **dict.fromkeys([
        "EffectiveForm", "effective_complexity", "effective_form", "effective_subspace",
        "embedding_difference_span", "embedding_span", "has_embedding_diversity", "has_unembedding_diversity",
        "is_diverse", "unembedding_difference_span",
    ], "theory.subspaces"),
    "audit": "theory.audit",
}

_install_aliases(__name__)

__version__ = "0.1.0"


def __getattr__(name):
    """The public functions (:data:`_LAZY`), ``aon.subspaces`` and the other flat 0.1 module names,
    imported on first use."""
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    from ._compat import ALIASES

    if name in ALIASES or name in ("theory", "origins", "reallm", "reruns"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "NextTokenPredictor", "softmax", "log_softmax",
    "effective_complexity", "effective_form", "EffectiveForm", "effective_subspace",
    "embedding_span", "embedding_difference_span", "unembedding_difference_span",
    "has_embedding_diversity", "has_unembedding_diversity", "is_diverse",
    "shift", "reparametrize", "perturb_embeddings", "perturb_unembeddings", "lift",
    "lift_unembeddings", "reduce", "random_invertible", "random_equivalent", "nudge_off_class",
    "same_distribution", "log_odds_difference", "max_prob_difference", "ELMap", "recover_el_map", "el_map_from_forms", "projection_maps",
    "audit",
]
