"""``python -m allornone.audit`` (``allornone.reallm.audit_cli``): bad inputs fail in one line before any
model is loaded; the audit on tables gives the verdicts the theory predicts and the same verdicts for a
distribution-equivalent reparametrisation; a real run on a tiny model the test writes itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import allornone as aon
from allornone.reallm import audit_cli
from allornone.reallm import lm as reallm_lm
from tiny_model import write_tiny_model as _write_tiny_model

ROOT = Path(__file__).resolve().parents[1]


# --- bad inputs: one line, exit 2, no model loaded ----------------------------------------------

@pytest.fixture()
def no_loading(monkeypatch):
    """Any attempt to load a model fails the test."""
    def boom(*_a, **_k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(audit_cli, "load_lm", boom)
    monkeypatch.setattr(reallm_lm, "load_model", boom)
    monkeypatch.setattr(reallm_lm, "load_smollm2", boom)


@pytest.fixture()
def files(tmp_path):
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "plural.tsv").write_text("cat\tcats\ndog\tdogs\n")
    (tmp_path / "ctx.txt").write_text("the cat sat\nthe dog sat\n")
    return tmp_path


def _bad_cases(d: Path):
    (d / "three.tsv").write_text("cat\tcats\tkitten\n")
    (d / "one.tsv").write_text("cat\tcats\n")
    (d / "empty_dir").mkdir()
    (d / "blank.txt").write_text("# only a comment\n\n")
    (d / "nogguf.bin").write_text("x")
    (d / "fake.gguf").write_bytes(b"NOPE1234")
    (d / "modeldir").mkdir()
    ok = ["--pairs", str(d / "rel"), "--contexts", str(d / "ctx.txt")]
    return {
        "missing pairs": (["--pairs", str(d / "nope.tsv"), "--contexts", str(d / "ctx.txt")], "--pairs"),
        "unparsable pairs": (["--pairs", str(d / "three.tsv"), "--contexts", str(d / "ctx.txt")], "three.tsv:1"),
        "one pair": (["--pairs", str(d / "one.tsv"), "--contexts", str(d / "ctx.txt")], "at least 2"),
        "folder without pairs": (["--pairs", str(d / "empty_dir"), "--contexts", str(d / "ctx.txt")], "--pairs"),
        "missing contexts": (["--pairs", str(d / "rel"), "--contexts", str(d / "nope.txt")], "--contexts"),
        "empty contexts": (["--pairs", str(d / "rel"), "--contexts", str(d / "blank.txt")], "--contexts"),
        "unknown property": (ok + ["--properties", "parallel-unembeddings,telepathy"], "telepathy"),
        "empty property list": (ok + ["--properties", ","], "--properties"),
        "tol zero": (ok + ["--tol", "0"], "--tol"),
        "tol one": (ok + ["--tol", "1"], "--tol"),
        "tol nan": (ok + ["--tol", "nan"], "--tol"),
        "tol text": (ok + ["--tol", "small"], "--tol"),
        "max-contexts": (ok + ["--max-contexts", "1"], "--max-contexts"),
        "max-pairs": (ok + ["--max-pairs", "x"], "--max-pairs"),
        "vocab-sample": (ok + ["--vocab-sample", "-3"], "--vocab-sample"),
        "json folder": (ok + ["--json", str(d / "nodir" / "out.json")], "--json"),
        "model path": (ok + ["--model", str(d / "nope.gguf")], "--model"),
        "model not gguf": (ok + ["--model", str(d / "nogguf.bin")], "--model"),
        "model bad magic": (ok + ["--model", str(d / "fake.gguf")], "GGUF"),
        "model dir without config": (ok + ["--model", str(d / "modeldir")], "config.json"),
        "unknown option": (ok + ["--colour", "red"], "--colour"),
    }


@pytest.mark.parametrize("case", [
    "missing pairs", "unparsable pairs", "one pair", "folder without pairs", "missing contexts", "empty contexts",
    "unknown property", "empty property list", "tol zero", "tol one", "tol nan", "tol text", "max-contexts",
    "max-pairs", "vocab-sample", "json folder", "model path", "model not gguf", "model bad magic",
    "model dir without config", "unknown option"])
def test_bad_input_is_one_line_and_exit_2_before_loading(case, files, no_loading, capsys):
    argv, needle = _bad_cases(files)[case]
    assert audit_cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("allornone.audit: error: ") and needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_missing_optional_model_is_one_line(files, no_loading, monkeypatch, capsys):
    real = reallm_lm._package_dir
    monkeypatch.setattr(reallm_lm, "_package_dir", lambda p: None if p.startswith("gemma3") else real(p))
    argv = ["--model", "gemma3-270m", "--pairs", str(files / "rel"), "--contexts", str(files / "ctx.txt")]
    assert audit_cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "make extras" in err


def test_good_inputs_reach_the_loader(files, monkeypatch):
    """The checks above are not simply refusing everything: valid inputs get as far as the loader."""
    called = []

    def fake(spec):
        called.append(spec)
        raise RuntimeError("stop here")

    monkeypatch.setattr(audit_cli, "load_lm", fake)
    tiny = files / "m"
    tiny.mkdir()
    (tiny / "config.json").write_text("{}")
    argv = ["--model", str(tiny), "--pairs", str(files / "rel"), "--contexts", str(files / "ctx.txt"), "--tol", "0.2"]
    assert audit_cli.main(argv) == 1 and called == [str(tiny)]


def test_python_dash_m_allornone_audit_prints_one_line_and_no_warning(tmp_path):
    out = subprocess.run([sys.executable, "-m", "allornone.audit", "--tol", "2"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines() == ["allornone.audit: error: --tol must be a number in (0, 1) "
                                               "(a residual |sin angle|); got '2'"], out.stderr
    help_ = subprocess.run([sys.executable, "-m", "allornone.audit", "--help"], capture_output=True, text=True)
    assert help_.returncode == 0 and "--properties" in help_.stdout
    assert "RuntimeWarning" not in help_.stderr + out.stderr


def test_pair_folders_of_both_formats_are_read():
    rel = audit_cli.read_pair_source(ROOT / "tests" / "data" / "wordlists")
    assert "noun - plural" in rel and ("bottle", "bottles") in rel["noun - plural"]
    one = audit_cli.read_pair_source(ROOT / "tests" / "data" / "wordlists" / "[noun - plural].txt")
    assert one == {"noun - plural": rel["noun - plural"]}


# --- the audit on tables: verdicts the theory predicts ------------------------------------------------

def _tables(rng, n_contexts=30, d=4, n_tokens=24):
    F = rng.normal(size=(n_contexts, d))
    G = rng.normal(size=(n_tokens, d))
    G[3] = G[2] + 2.0 * (G[1] - G[0])            # δ(2→3) = 2 δ(0→1): parallel offsets
    G[5] = G[4] + 0.5 * (G[1] - G[0])            # and δ(4→5) as well
    return F, G


PAIRS = {"parallel": np.array([[0, 1], [2, 3], [4, 5]]), "random": np.array([[6, 7], [8, 9], [10, 11]])}


def test_exact_parallel_offsets_get_all_and_random_ones_none():
    F, G = _tables(np.random.default_rng(0))
    out = audit_tables_unemb(F, G)
    rels = out["properties"]["parallel-unembeddings"]["relations"]
    assert rels["parallel"]["holds"] and rels["parallel"]["verdict"] == "all"
    assert rels["parallel"]["justification"].startswith("thm-parallelism")
    assert rels["parallel"]["invariant"]["mean_residual"] < 1e-9
    assert not rels["random"]["holds"] and rels["random"]["verdict"] == "none"
    assert rels["random"]["invariant"]["mean_residual"] > 0.05


def test_too_few_contexts_is_not_all_or_none():
    """With 3 contexts in d = 4 embedding diversity fails: parallel offsets are not identifiable (M4 moves
    them along N^⊥)."""
    F, G = _tables(np.random.default_rng(1), n_contexts=3)
    rels = audit_tables_unemb(F, G)["properties"]["parallel-unembeddings"]["relations"]
    assert rels["parallel"]["holds"]
    assert rels["parallel"]["verdict"] not in ("all", "none")
    assert rels["parallel"]["condition"]["holds"] is False


def audit_tables_unemb(F, G, tol=0.05):
    return audit_cli.audit_tables(F, G, PAIRS, ("parallel-unembeddings",), tol=tol)


def _equivalent(F, G, rng, cond=30.0):
    m = aon.NextTokenPredictor(F, G)
    A = aon.random_invertible(F.shape[1], rng, cond)
    other = aon.shift(aon.reparametrize(m, A), rng.normal(size=F.shape[1]))
    assert aon.max_prob_difference(m, other) < 1e-9
    return other, A


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_verdicts_and_invariants_are_the_same_for_an_equivalent_model(seed):
    """F, G and (F Aᵀ, G A⁻¹ + shift) give the same verdicts and invariant statistics for both properties; the
    Euclidean figures move. Noisy offsets make the Euclidean and the invariant residuals differ."""
    rng = np.random.default_rng(seed)
    F, G = _tables(rng, n_contexts=40, d=6, n_tokens=40)
    G[3] += 0.3 * rng.normal(size=6)                      # approximately parallel only
    Fw = {n: rng.normal(size=(3, 2, 6)) for n in PAIRS}
    Fw["parallel"][:, 1] = Fw["parallel"][:, 0] + np.outer([1.0, 2.0, -1.5], rng.normal(size=6)) \
        + 0.2 * rng.normal(size=(3, 6))
    other, A = _equivalent(F, G, rng)
    Fw2 = {n: v @ A.T for n, v in Fw.items()}             # f ↦ A f on the word contexts too
    props = ("parallel-unembeddings", "parallel-embeddings")
    a = audit_cli.audit_tables(F, G, PAIRS, props, tol=0.3, F_words=Fw)
    b = audit_cli.audit_tables(other.F, other.G, PAIRS, props, tol=0.3, F_words=Fw2)
    moved = 0.0
    for prop in props:
        for n in PAIRS:
            ra, rb = a["properties"][prop]["relations"][n], b["properties"][prop]["relations"][n]
            assert ra["verdict"] == rb["verdict"], (prop, n, ra["verdict"], rb["verdict"])
            assert ra["justification"] == rb["justification"]
            for k in ("consistency", "correlation", "mean_residual"):
                assert abs(ra["invariant"][k] - rb["invariant"][k]) < 1e-8, (prop, n, k)
            moved = max(moved, abs(ra["this_parametrisation"]["mean_cosine"] - rb["this_parametrisation"]["mean_cosine"]))
    assert moved > 0.01          # the Euclidean figure is this parametrisation's: it moved


def test_vocabulary_sample_keeps_pair_tokens_and_log_ratios():
    F, G = _tables(np.random.default_rng(3), n_tokens=200)
    full = audit_cli.audit_tables(F, G, PAIRS, ("parallel-unembeddings",), tol=0.05)
    part = audit_cli.audit_tables(F, G, PAIRS, ("parallel-unembeddings",), tol=0.05, vocab_sample=20, seed=1)
    assert full["n_tokens_audited"] == 200 and part["n_tokens_audited"] == 12 + 20
    for n in PAIRS:
        x, y = (r["properties"]["parallel-unembeddings"]["relations"][n] for r in (full, part))
        assert x["verdict"] == y["verdict"] and abs(x["invariant"]["correlation"] - y["invariant"]["correlation"]) < 1e-12


def test_report_names_every_relation_and_verdict():
    F, G = _tables(np.random.default_rng(0))
    text = audit_cli.format_report(audit_tables_unemb(F, G))
    assert "parallel-unembeddings" in text and "thm-parallelism" in text
    for n, v in (("parallel", "all"), ("random", "none")):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(n))
        assert v in line


# --- a real run on a tiny model the test writes itself ---------------------------------------------------

WORDS = ["the", "a", "cat", "cats", "dog", "dogs", "big", "bigger", "small", "smaller", "sat", "on", "mat",
         "old", "older", "man", "men", "is", "was", "very"]


def write_tiny_model(directory, seed=0):
    """The tiny model of tests/tiny_model.py over this file's WORDS."""
    return _write_tiny_model(directory, WORDS, seed=seed)


def test_real_run_on_a_tiny_model(tmp_path, capsys):
    model = write_tiny_model(tmp_path / "tiny")
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "plural.tsv").write_text("cat\tcats\ndog\tdogs\nman\tmen\nkitten\tkittens\n")
    (rel / "[adjective - comparative].txt").write_text("big bigger\nsmall smaller\nold older\n")
    rng = np.random.default_rng(0)
    words = [w for w in WORDS if w not in ("<unk>",)]
    ctx = tmp_path / "ctx.txt"
    ctx.write_text("\n".join(" ".join(rng.choice(words, size=rng.integers(2, 7))) for _ in range(40)) + "\n")
    out_json = tmp_path / "out.json"
    argv = ["--model", str(model), "--pairs", str(rel), "--contexts", str(ctx), "--max-contexts", "30",
            "--tol", "0.3", "--json", str(out_json), "--no-progress"]
    assert audit_cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "parallel-unembeddings" in text and "parallel-embeddings" in text
    r = json.loads(out_json.read_text())
    assert r["model"]["dim"] == 16 and r["model"]["logit_error"] < 1e-4
    assert r["data"]["n_contexts"] == 30
    assert r["data"]["relations"]["plural"]["n_kept"] == 3
    assert "kitten" in r["data"]["relations"]["plural"]["dropped"][0]["reason"]
    for prop in ("parallel-unembeddings", "parallel-embeddings"):
        rels = r["properties"][prop]["relations"]
        assert set(rels) == {"plural", "adjective - comparative"}
        for v in rels.values():
            assert v["verdict"] in audit_cli.VERDICTS and v["justification"]
            assert v["n_comparisons"] == 3
    # 30 contexts in d = 16: embedding diversity holds, so parallel unembeddings are all-or-none
    ue = r["properties"]["parallel-unembeddings"]["relations"]
    assert all(v["condition"]["holds"] for v in ue.values())
    assert all(v["verdict"] in ("all", "none") for v in ue.values())
