"""Part IV of the book: the latent-concept model of Jiang et al. (ICML 2024).

Modules: :mod:`.latent` (DAGs, masking, exact conditionals), :mod:`.train`
(the torch trainer), :mod:`.metrics` (the Origins cosines) and :mod:`.runs`
(the stored paper-scale runs, ``python -m allornone.origins_runs``).
torch is imported only inside the functions that train.
"""
