"""Near-dedup quality: refinery's MinHash-LSH against exact Jaccard ground truth, at thresholds 0.7/0.8/0.9.

The corpus (bench/dedup_corpus.py) is real docstring prose with planted near-duplicates at known edit
rates plus the natural near-duplicates docstrings have. Ground truth is the exact Jaccard similarity of
the same shingle sets (word 5-grams, as refinery hashes them) for every pair at or above 0.7, found
exactly by prefix filtering (a pair with Jaccard >= t shares a token in the first |A| - ceil(t|A|) + 1
tokens of each set under one global order), then checked pair by pair. refinery runs its dedup
transforms on a local[2] Spark session. Printed: precision, recall and F1 of duplicate pairs (the
similar pairs refinery found vs the true pairs) and of clusters (pairs of docs put in one cluster,
counted from the contingency table), per threshold and per verification mode.

    .venv/bin/python bench/dedup_quality.py [--docs 20000]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_corpus import make_corpus  # noqa: E402

THRESHOLDS = (0.7, 0.8, 0.9)


def shingle_sets(texts: list[str]) -> list[frozenset[int]]:
    from refinery.transforms.minhash import MinHasher

    hasher, sets = MinHasher(ngram=5), []
    for start in range(0, len(texts), 5000):
        values, counts = hasher.shingle_sets(pa.array(texts[start : start + 5000]))
        sets += [frozenset(part.tolist()) for part in np.split(values, np.cumsum(counts)[:-1])]
    return sets


def true_pairs(sets: list[frozenset[int]], at_least: float) -> dict[tuple[int, int], float]:
    """Every pair (i < j) with Jaccard >= at_least, exactly (prefix filtering + a size filter + a check)."""
    frequency = Counter(token for s in sets for token in s)
    postings: dict[int, list[int]] = defaultdict(list)
    for doc, s in enumerate(sets):
        if not s:
            continue
        ordered = sorted(s, key=lambda token: (frequency[token], token))
        for token in ordered[: len(s) - math.ceil(at_least * len(s)) + 1]:
            postings[token].append(doc)
    found: dict[tuple[int, int], float] = {}
    for docs in postings.values():
        for x in range(len(docs)):
            for y in range(x + 1, len(docs)):
                i, j = docs[x], docs[y]
                key = (i, j) if i < j else (j, i)
                if key in found:
                    continue
                small, large = sorted((len(sets[i]), len(sets[j])))
                if small < at_least * large:
                    continue
                jaccard = len(sets[i] & sets[j]) / len(sets[i] | sets[j])
                if jaccard >= at_least:
                    found[key] = jaccard
    return found


def clusters_of(pairs, n: int) -> list[int]:
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [find(x) for x in range(n)]


def prf(true_positive: int, predicted: int, actual: int) -> tuple[float, float, float]:
    precision = true_positive / predicted if predicted else 1.0
    recall = true_positive / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def cluster_scores(ours: list[int], truth: list[int]) -> tuple[float, float, float]:
    """Pair-counting precision/recall/F1: pairs of docs in one cluster, without listing the pairs."""

    def together(counts):
        return sum(c * (c - 1) // 2 for c in counts.values())

    both = together(Counter(zip(ours, truth, strict=True)))
    return prf(both, together(Counter(ours)), together(Counter(truth)))


def run_refinery(spark, corpus, threshold: float, verify: str):
    from refinery.transforms.dedup import (
        add_doc_key,
        candidate_pairs,
        near_duplicate_clusters,
        shingle_sets_of_pairs,
        similar_pairs,
    )
    from refinery.transforms.minhash import MinHasher
    from refinery.transforms.minhash_spark import add_minhash

    fnw = 0.98 if verify != "none" else 0.5  # as conf/base.yaml; datasketch's even weights without a check
    hasher = MinHasher(ngram=5, num_perm=128, threshold=threshold, seed=42, false_negative_weight=fnw)
    df = spark.createDataFrame([(d.doc_id, d.text) for d in corpus], "doc_id string, text string").repartition(8)
    keyed = add_doc_key(df)
    start = time.perf_counter()
    signed = add_minhash(keyed, hasher, keep_text=False).persist()
    pairs = candidate_pairs(signed, max_bucket=200).persist()
    sets = shingle_sets_of_pairs(pairs, keyed, hasher).persist() if verify == "exact" else None
    edges = similar_pairs(pairs, hasher, verify=verify, signed=signed, sets=sets).persist()
    doc_of = {r.doc_key: r.doc_id for r in signed.select("doc_key", "doc_id").collect()}
    found = [(doc_of[r.key_a], doc_of[r.key_b]) for r in edges.collect()]
    clusters, _ = near_duplicate_clusters(edges, signed, keep="smallest_doc_id")
    cluster_of = {r.doc_id: r.cluster for r in clusters.select("doc_id", "cluster").collect()}
    seconds = time.perf_counter() - start
    candidates = pairs.count()
    for frame in (signed, pairs, sets, edges):
        if frame is not None:
            frame.unpersist()
    return found, cluster_of, candidates, seconds, hasher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "lib"))
    from refinery.config import load_config
    from refinery.session import get_session

    corpus = make_corpus(args.docs)
    index = {d.doc_id: i for i, d in enumerate(corpus)}
    start = time.perf_counter()
    sets = shingle_sets([d.text for d in corpus])
    truth_all = true_pairs(sets, min(THRESHOLDS))
    print(
        f"corpus: {args.docs} docs, {sum(d.planted_from is not None for d in corpus)} planted copies; "
        f"ground truth: {len(truth_all)} pairs >= {min(THRESHOLDS)} in {time.perf_counter() - start:.0f}s"
    )
    spark = get_session(load_config("web_text", "local").spark)
    runs = [(t, "exact") for t in THRESHOLDS] + [(0.8, "signature"), (0.8, "none")]
    rows = []
    for threshold, verify in runs:
        truth = {p for p, j in truth_all.items() if j >= threshold}
        found, cluster_of, candidates, seconds, hasher = run_refinery(spark, corpus, threshold, verify)
        ours_pairs = {tuple(sorted((index[a], index[b]))) for a, b in found}
        pair = prf(len(ours_pairs & truth), len(ours_pairs), len(truth))
        ours_clusters = [cluster_of.get(d.doc_id, ("alone", i)) for i, d in enumerate(corpus)]
        cluster = cluster_scores(ours_clusters, clusters_of(truth, len(corpus)))
        rows.append(
            {
                "threshold": threshold,
                "verify": verify,
                "bands": f"{hasher.bands.bands}x{hasher.bands.rows}",
                "true_pairs": len(truth),
                "candidates": candidates,
                "found_pairs": len(ours_pairs),
                "pair_precision": pair[0],
                "pair_recall": pair[1],
                "pair_f1": pair[2],
                "cluster_precision": cluster[0],
                "cluster_recall": cluster[1],
                "cluster_f1": cluster[2],
                "seconds": seconds,
            }
        )
    header = (
        f"{'t':>4} {'verify':<9} {'bands':>6} {'true':>6} {'cand.':>7} {'found':>6} "
        f"{'pair P':>7} {'pair R':>7} {'pair F1':>7} {'clu P':>7} {'clu R':>7} {'clu F1':>7} {'s':>5}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['threshold']:>4} {r['verify']:<9} {r['bands']:>6} {r['true_pairs']:>6} {r['candidates']:>7} "
            f"{r['found_pairs']:>6} {r['pair_precision']:>7.4f} {r['pair_recall']:>7.4f} {r['pair_f1']:>7.4f} "
            f"{r['cluster_precision']:>7.4f} {r['cluster_recall']:>7.4f} {r['cluster_f1']:>7.4f} "
            f"{r['seconds']:>5.1f}"
        )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "dedup_quality.json").write_text(json.dumps({"docs": args.docs, "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
