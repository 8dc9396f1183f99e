"""Parts I-III of the book: next-token predictors, identifiability, linear properties.

Modules: :mod:`.model` (the predictor), :mod:`.subspaces` (N, M, K, effective
complexity), :mod:`.equivalence` (the moves M1-M6 and the ~EL map),
:mod:`.linear` (~L under diversity), :mod:`.examples`, :mod:`.properties`
(a package: one module per linear property, one shared interface) and
:mod:`.audit` (one verdict rule over that interface). numpy float64 throughout.
"""
