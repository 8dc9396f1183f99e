"""Shared fixtures: run a notebook through the real runner at small parameters."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from allornone.reruns.results import load_results
from allornone.reruns.run import run_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

# `make mutation` (tools/mutation/run.py) passes --hypothesis-profile=mutation: every mutant meets the
# same examples, no example database carries failures from one mutant to the next, and a failure is not
# shrunk (a mutant only needs to fail).
settings.register_profile("mutation", derandomize=True, database=None, deadline=None, print_blob=False,
                          phases=(Phase.explicit, Phase.generate))
MUTATION_MAX_EXAMPLES = 10


def pytest_configure(config):
    """A test run started in the background by a non-interactive shell (``make test &``, ``nohup``) inherits
    SIGINT *ignored*, and so would every process the tests start: the Ctrl-C tests (a single run, a sweep,
    ``origins_runs all``) would see their SIGINT vanish and the run complete. Give SIGINT back its default
    handler, which the started processes then inherit as the default disposition."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config, items):
    """Under the mutation profile, cap the examples of every @given test (their own @settings win over a profile)."""
    if config.getoption("hypothesis_profile", None) != "mutation":
        return
    for item in items:
        fn = getattr(item, "obj", None)
        own = getattr(fn, "_hypothesis_internal_use_settings", None)
        if own is not None and own.max_examples > MUTATION_MAX_EXAMPLES:
            fn._hypothesis_internal_use_settings = settings(own, max_examples=MUTATION_MAX_EXAMPLES)


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def run_nb(runs_dir):
    """``run_nb("05_identifiability_theorem", n_models=20)`` executes the
    notebook with papermill via ``allornone.run`` and returns its
    ``results.json`` dict (``{"notebook": ..., "results": {...}}``)."""

    def _run(name: str, **params) -> dict:
        run_dir = run_notebook(name, params, runs_dir=runs_dir, force=True, log=lambda *_: None)
        return load_results(run_dir)

    return _run
