"""A tiny causal LM the tests write themselves, so the generic loader is tested with no download."""

from __future__ import annotations

import pytest


def write_tiny_model(directory, words, *, seed=0):
    """A random tiny LlamaForCausalLM (d = 16, tied embeddings) with a word-level tokenizer over ``words``,
    saved as a Hugging Face model directory in ``directory``."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")

    vocab = {w: i for i, w in enumerate(["<unk>", "<eos>", *words])}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>")
    config = transformers.LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32,
                                      num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                      max_position_embeddings=64, tie_word_embeddings=True,
                                      eos_token_id=1, pad_token_id=None, bos_token_id=None)
    torch.manual_seed(seed)
    transformers.LlamaForCausalLM(config).eval().save_pretrained(str(directory))
    fast.save_pretrained(str(directory))
    return directory
