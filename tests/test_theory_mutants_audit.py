"""Sharp tests of allornone.theory.audit's readers and report text, written to kill the mutants
`make mutation` found alive: every ValueError of ``load_model`` and ``parse_property`` names
the argument and the offending file or text, and the printed report says what the fields say.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from allornone import properties as P
from allornone.theory.audit import AuditReport, load_model, parse_property


# --- load_model ------------------------------------------------------------------------------
def _save(tmp_path, name, arr):
    path = tmp_path / name
    np.save(path, arr)
    return path


def test_load_model_reads_integer_tables_as_float64(tmp_path):
    f = _save(tmp_path, "F.npy", np.array([[1, 2], [3, 4], [5, 6]], dtype=np.int32))
    g = _save(tmp_path, "G.npy", np.array([[0, 1], [1, 0]], dtype=np.int64))
    m = load_model(f, g)
    assert m.F.dtype == np.float64 and m.G.dtype == np.float64
    np.testing.assert_array_equal(m.F, [[1, 2], [3, 4], [5, 6]])
    # one context and one dimension are enough (a 1 x 1 table is not empty)
    m1 = load_model(_save(tmp_path, "F1.npy", np.array([[2.0]])), _save(tmp_path, "G1.npy", np.array([[0.0], [1.0]])))
    assert (m1.n_contexts, m1.dim, m1.n_tokens) == (1, 1, 2)


def test_load_model_errors_name_the_argument_and_the_file(tmp_path):
    good = _save(tmp_path, "good.npy", np.ones((3, 2)))
    missing = tmp_path / "nope.npy"
    with pytest.raises(ValueError, match=rf"^f_path: no such file {re.escape(repr(str(missing)))}$"):
        load_model(missing, good)
    with pytest.raises(ValueError, match=rf"^g_path: no such file {re.escape(repr(str(missing)))}$"):
        load_model(good, missing)
    text = tmp_path / "text.npy"
    text.write_text("not an array")
    with pytest.raises(ValueError, match=rf"^f_path: {re.escape(repr(str(text)))} is not a readable \.npy array \("):
        load_model(text, good)
    objects = _save(tmp_path, "obj.npy", np.array([[1, "a"]], dtype=object))
    with pytest.raises(ValueError, match=r"^g_path: .* is not a readable \.npy array \(.*allow_pickle"):
        load_model(good, objects)


@pytest.mark.parametrize(
    "arr, message",
    [
        (np.array([["a", "b"]]), r"must hold a real numeric array; got dtype <U1$"),
        (np.ones((2, 2), dtype=complex), r"must hold a real numeric array; got dtype complex128$"),
        (np.ones(3), r"must be a 2-D array \(rows x dimension d\); got shape \(3,\)$"),
        (np.ones((0, 2)), r"is empty; got shape \(0, 2\)$"),
        (np.ones((2, 0)), r"is empty; got shape \(2, 0\)$"),
        (np.array([[1.0, np.nan], [np.inf, 0.0], [1.0, 1.0]]), r"has 2 NaN or inf entries$"),
    ],
)
def test_load_model_rejects_bad_tables_with_the_file_name(tmp_path, arr, message):
    bad = _save(tmp_path, "bad.npy", arr)
    good = _save(tmp_path, "good.npy", np.ones((3, 2)))
    with pytest.raises(ValueError, match=rf"^f_path: {re.escape(repr(str(bad)))} " + message):
        load_model(bad, good)


def test_load_model_needs_two_tokens_and_one_dimension(tmp_path):
    F = _save(tmp_path, "F.npy", np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"^g_path: G needs at least two tokens \(rows\); got shape \(1, 2\)$"):
        load_model(F, _save(tmp_path, "G1.npy", np.ones((1, 2))))
    # two tokens, two dimensions: fine (a 2 x 2 G is not "fewer than two tokens")
    assert load_model(F, _save(tmp_path, "G2.npy", np.ones((2, 2)))).n_tokens == 2
    with pytest.raises(ValueError, match=r"^F and G must have the same dimension d \(columns\); got F \(3, 2\) and G \(4, 3\)$"):
        load_model(F, _save(tmp_path, "G3.npy", np.ones((4, 3))))


# --- parse_property ---------------------------------------------------------------------------
def test_parse_ranges_lists_and_empty_items():
    q, form = parse_property("relational_strong", "0-2, ,4;5,,6-8;1,3")
    assert form == "relational_strong"
    assert (q.base, q.queried, q.answers) == ((0, 1, 2, 4), (5, 6, 7, 8), (1, 3))
    prop, form = parse_property("parallel_embedding", "0,1;2,3")
    assert isinstance(prop, P.ParallelEmbedding) and prop.pairs == ((0, 1), (2, 3)) and form == "parallel_embedding"
    prop, _ = parse_property("parallel_unembedding", " 1 , 2 ; 3,4 ")
    assert isinstance(prop, P.ParallelUnembedding) and prop.pairs == ((1, 2), (3, 4))


@pytest.mark.parametrize(
    "kind, spec, message",
    [
        ("linear_probe", "0;1;2", r"^kind must be one of \['parallel_unembedding', 'parallel_embedding', "
                                  r"'relational_strong', 'relational_projected', 'linear_subspace'\] \(probes and "
                                  r"steering vectors need a vector: use audit\(\) with witness=\.\.\.\); got 'linear_probe'$"),
        ("parallel_unembedding", "  ", r"^spec must be a non-empty string$"),
        ("parallel_unembedding", "1,2", r"^spec for parallel_unembedding must be two pairs 'a1,b1;a2,b2'; got '1,2'$"),
        ("parallel_embedding", "1,2,3;4,5", r"^spec for parallel_embedding must be two pairs 'a1,b1;a2,b2'; got '1,2,3;4,5'$"),
        ("relational_projected", "0-3;4-7", r"^spec for relational_projected must be 'base;queried;answers'; got '0-3;4-7'$"),
        ("relational_strong", "0-3;x;1", r"^queried: cannot read 'x' as an index or a range like 0-9$"),
        ("relational_strong", "0-3;4-7;,", r"^answers is empty$"),
        ("linear_subspace", "a;4;1", r"^base: cannot read 'a' as an index or a range like 0-9$"),
        ("parallel_unembedding", "1,z;3,4", r"^spec: cannot read 'z' as an index or a range like 0-9$"),
    ],
)
def test_parse_errors_name_what_is_wrong(kind, spec, message):
    with pytest.raises(ValueError, match=message):
        parse_property(kind, spec)


# --- AuditReport.__str__ ---------------------------------------------------------------------
def _report(*, condition_holds, decidable, equivalent_object):
    return AuditReport(
        kind="parallel_unembedding", holds=True, residual=0.5,
        condition=P.Condition("SC-test", condition_holds), identifiable=True,
        equivalent_object=equivalent_object, explanation="because", verdict="all",
        justification="thm-test", scope="every member", decidable=decidable, reason="too few contexts",
        check=P.Check(True, 0.5), distribution=P.Check(True, 0.25),
    )


def test_report_text_says_what_the_fields_say():
    text = str(_report(condition_holds=True, decidable=True, equivalent_object={"lambda": 1.0 / 3.0}))
    lines = text.split("\n")
    assert "condition:   SC-test: holds" in lines
    assert "distribution level: True (residual 2.50e-01, the same for every equivalent model)" in lines
    assert "equivalent object lambda: 0.3333" in lines
    assert not any(line.startswith("undecided:") for line in lines)
    assert lines[-1] == "because" and lines[0] == "property:    parallel_unembedding"

    text = str(_report(condition_holds=False, decidable=False, equivalent_object={"v": np.arange(10.0) / 7.0}))
    lines = text.split("\n")
    assert "condition:   SC-test: FAILS" in lines
    assert "undecided:   too few contexts" in lines
    (obj,) = [line for line in lines if line.startswith("equivalent object v: ")]
    assert obj == "equivalent object v: [0.     0.1429 0.2857 ... 1.     1.1429 1.2857]"


def test_report_prints_short_arrays_in_full():
    text = str(_report(condition_holds=True, decidable=True, equivalent_object={"w": np.arange(8.0)}))
    assert "equivalent object w: [0. 1. 2. 3. 4. 5. 6. 7.]" in text.split("\n")
    text = str(_report(condition_holds=True, decidable=True, equivalent_object={"w": np.arange(9.0)}))
    assert "equivalent object w: [0. 1. 2. ... 6. 7. 8.]" in text.split("\n")


def test_load_model_refuses_an_npz_archive_under_an_npy_name(tmp_path):
    archive = tmp_path / "F.npy"
    with open(archive, "wb") as fh:
        np.savez(fh, F=np.ones((3, 2)))
    good = _save(tmp_path, "G.npy", np.ones((3, 2)))
    with pytest.raises(ValueError, match=rf"^f_path: {re.escape(repr(str(archive)))} must hold a real numeric array; got dtype \?$"):
        load_model(archive, good)


def test_class_level_verdicts_say_their_scope():
    import allornone as aon
    from allornone.theory.audit import audit
    from allornone.theory.examples import random_model

    m = random_model(30, 20, 4, 1)
    prop = P.ParallelUnembedding(((1, 2), (3, 4)))
    lifted = aon.lift_unembeddings(m, np.random.default_rng(0).normal(size=(m.n_tokens, 2)))
    r = audit(lifted, prop)                                   # no theorem; the property fails at the distribution level
    assert (r.verdict, r.scope, r.reason) == ("none", "every member of the class", "")
    k = P.KINDS["parallel_unembedding"]
    mp, pp, _ = k.example(0)
    other = aon.random_equivalent(mp, mp.dim + 2, 1)          # N ≠ R^d: the condition fails
    r = audit(other, pp)
    assert (r.verdict, r.scope, r.reason) == ("not identifiable", "every member of the class", "")
    assert r.pair is not None and r.pair.max_dp < 1e-12
    assert f"max |Δp| = {r.pair.max_dp:.1e}" in str(r)
