"""Part V of the book: real pretrained language models as next-token predictors.

Modules: :mod:`.lm` (loading, the logits check, word-pair and context readers,
the f(x) cache) and :mod:`.geometry` (offsets, baselines, log-ratios, whitening).
``from allornone.reallm import load_smollm2`` keeps working: the names of
:mod:`.lm` are re-exported here. torch and transformers are imported only
inside the functions that need them.
"""

from .lm import *  # noqa: F401,F403  (lm defines __all__)
from .lm import __all__  # noqa: F401
