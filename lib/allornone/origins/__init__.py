"""Part IV of the book: the latent-concept model of Jiang et al. (ICML 2024).

Modules: :mod:`.latent` (DAGs, masking, exact conditionals), :mod:`.train`
(the one-run torch trainer, the reference), :mod:`.batched` (many runs at once
with the closed-form gradient; same results), :mod:`.metrics` (the Origins
cosines), :mod:`.compare` (stored rows beside the paper's numbers) and
:mod:`.runs` (the stored paper-scale runs, ``python -m allornone.origins_runs``).
torch is imported only inside the functions that train.
"""
