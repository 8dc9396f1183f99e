"""Speed and memory of the real-LM part (pages 19-22); results go to benchmarks/reallm.json.

Everything is measured side by side in one run, on this machine under whatever load it has (the
load average before and after is recorded), so the ratios mean more than the seconds:

* ``load``: loading SmolLM2 straight from its GGUF file (``cache=False``: transformers dequantises it)
  against loading the converted cache (safetensors + tokenizer.json), with and without the
  transformer; each in a fresh Python process, so each pays the same imports (timed separately);
* ``per_call``: one geometry call on the real ``G`` (49152 × 576) the old way (``as_matrix`` copies and
  validates all of ``G``, as every call did before) against the new way (only the gathered rows):
  time and peak traced memory;
* ``baseline``: permutation baselines for 27 relations × 200 shuffles (raw cosine, whitened cosine and
  log-ratio consistency over the page-19 contexts): the book's relations, the fixture's, and relations of
  random word pairs to make 27, as in Park et al.'s concept set. Target: under 2 minutes on 2 cores.
  The old cost is extrapolated from the old per-call cost;
* ``pages``: peak RSS and wall time of each real-LM page at its defaults, run by ``python -m allornone.run``
  under ``/usr/bin/time`` (the maximum over the runner and its kernel). Target: at most 1.5 GB each.

    python benchmarks/reallm.py            # everything (the pages take minutes)
    python benchmarks/reallm.py --quick    # skip the pages
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["19_smollm2", "20_real_parallelism", "21_real_identifiability", "22_real_geometry"]
RSS_TARGET_MB = 1500
BASELINE_TARGET_S = 120
N_RELATIONS, N_SHUFFLES = 27, 200


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "lib") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _child(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


LOAD = """
import json, time
t0 = time.perf_counter()
import torch, transformers
from allornone import reallm
t1 = time.perf_counter()
lm = reallm.load_model("smollm2", with_model={with_model}, cache={cache})
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1, "loaded_from": lm.info["loaded_from"],
                   "logit_error": lm.logit_error, "G_sum": float(lm.G.sum())}}))
"""


def bench_load() -> dict:
    _child(LOAD.format(with_model=False, cache=True))        # make sure the cache exists (converts once)
    cold = _child(LOAD.format(with_model=True, cache=False))
    cached = _child(LOAD.format(with_model=True, cache=True))
    no_model = _child(LOAD.format(with_model=False, cache=True))
    assert cold["G_sum"] == cached["G_sum"] == no_model["G_sum"], "the cache must hold the same G"
    return {"gguf_cold": cold, "cache_with_model": cached, "cache_without_model": no_model,
            "speedup_with_model": cold["load_s"] / cached["load_s"],
            "speedup_without_model": cold["load_s"] / no_model["load_s"]}


def _time_call(fn, repeat=5):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"median_s": float(np.median(ts)), "peak_traced_MiB": peak / 2**20}


def _relations(lm, rng):
    from allornone import reallm

    rel = reallm.read_relations(ROOT / "data" / "relations")
    rel.update(reallm.read_relations(ROOT / "tests" / "data" / "wordlists"))
    ids = {n: reallm.filter_single_token_pairs(lm.tokenizer, p)[1] for n, p in rel.items()}
    ids = {n: i for n, i in ids.items() if len(i) >= 2}
    pool = np.unique(np.concatenate(list(ids.values())).ravel())
    k = 0
    while len(ids) < N_RELATIONS:
        ids[f"random_{k}"] = rng.choice(pool, size=(30, 2), replace=False)
        k += 1
    return ids


def bench_geometry() -> dict:
    from allornone import reallm
    from allornone._validate import as_matrix
    from allornone.reallm import geometry as geo

    lm = reallm.load_model("smollm2", with_model=False)
    G = lm.G
    rng = np.random.default_rng(0)
    ids = _relations(lm, rng)
    pairs = ids["superlative"]

    def old():      # what every geometry call did before: copy and validate all of G, then gather
        Gc = as_matrix("G", G)
        return Gc[pairs[:, 1]] - Gc[pairs[:, 0]]

    per_call = {"old": _time_call(old), "new": _time_call(lambda: geo.pair_differences(G, pairs))}
    per_call["speedup"] = per_call["old"]["median_s"] / per_call["new"]["median_s"]
    contexts = reallm.read_contexts(ROOT / "data" / "contexts" / "contexts.txt")
    F = reallm.load_cached_embeddings(contexts, lm)
    t = time.perf_counter()
    W = geo.whitener(G)
    t_w = time.perf_counter() - t
    t = time.perf_counter()
    out = geo.relation_baselines(G, ids, N_SHUFFLES, rng, F=F, W=W)
    t_b = time.perf_counter() - t
    n_calls = sum(len(v) for v in out.values()) * (N_SHUFFLES + 1)
    return {"per_call": per_call, "baseline": {
        "n_relations": len(ids), "n_shuffles": N_SHUFFLES, "kinds": sorted(out), "n_contexts": None if F is None else len(F),
        "whitener_s": t_w, "seconds": t_b, "target_s": BASELINE_TARGET_S, "meets_target": t_b + t_w < BASELINE_TARGET_S,
        "old_extrapolated_s": n_calls * per_call["old"]["median_s"],
        "note": "old_extrapolated_s = statistic evaluations × the old per-call copy of G (one gather per evaluation)"}}


def bench_pages(pages=PAGES) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            cmd = ["/usr/bin/time", "-f", "%M %e", sys.executable, "-m", "allornone.run", page, "--force",
                   "--runs-dir", tmp]
            r = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True)
            last = r.stderr.strip().splitlines()[-1].split()
            rss_mb, wall = int(last[0]) / 1024, float(last[1])
            out[page] = {"returncode": r.returncode, "peak_rss_MiB": rss_mb, "wall_s": wall,
                         "meets_target": r.returncode == 0 and rss_mb <= RSS_TARGET_MB}
            if r.returncode:
                out[page]["stderr_tail"] = r.stderr.strip().splitlines()[-5:]
    out["target_MiB"] = RSS_TARGET_MB
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="skip running the pages")
    p.add_argument("--only", default="load,geometry,pages", help="comma-separated parts to (re)measure; "
                   "the others are kept from an existing --out file")
    p.add_argument("--pages", default=",".join(PAGES), help="comma-separated pages for the pages part")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "reallm.json"))
    args = p.parse_args(argv)
    only = set(args.only.split(","))
    res = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() and only != {"load", "geometry", "pages"} else {}
    stamp = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
             "nproc": len(os.sched_getaffinity(0)), "loadavg_before": list(os.getloadavg())}
    if "load" in only:
        res["load"] = {**bench_load(), **stamp}
    if "geometry" in only:
        res.update(bench_geometry())
        res["baseline"].update(stamp)
    if "pages" in only and not args.quick:
        res.setdefault("pages", {"target_MiB": RSS_TARGET_MB}).update(bench_pages(args.pages.split(",")))
        res["pages"]["measured"] = {**stamp, "pages": args.pages}
    res["loadavg_after"] = list(os.getloadavg())
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
