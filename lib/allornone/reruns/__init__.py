"""The rerun layer: ``results.json`` and glue (:mod:`.results`), parameter
checks (:mod:`.params`), single runs (:mod:`.run`, ``python -m allornone.run``)
and sweeps (:mod:`.sweep`, ``python -m allornone.sweep``).
"""
