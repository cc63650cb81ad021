"""Near-duplicate removal on crafted docs whose Jaccard similarity is known."""

import numpy as np
import pyarrow as pa
import pytest

from refinery.transforms.dedup import (
    candidate_pairs,
    flag_near_duplicates,
    near_duplicate_clusters,
    similar_pairs,
)
from refinery.transforms.minhash import MinHasher, add_minhash

HASHER = MinHasher(ngram=5, num_perm=128, threshold=0.8, seed=42, false_negative_weight=0.9)


def base_words(seed, n=200):
    rng = np.random.default_rng(seed)
    return [f"w{int(i)}" for i in rng.integers(0, 100_000, size=n)]


def edited(words, positions, tag):
    """Replace the words at `positions`: each edit changes 5 of the word 5-grams."""
    out = list(words)
    for p in positions:
        out[p] = f"{tag}{p}"
    return out


def jaccard(a, b):
    values, counts = HASHER.shingle_sets(pa.array([a, b]))
    left, right = set(values[: counts[0]]), set(values[counts[0] :])
    return len(left & right) / len(left | right)


def text(words):
    return " ".join(words)


A = base_words(1)
DOCS = {
    "a": text(A),
    "a_near": text(edited(A, [20, 80, 140, 190], "n")),  # 4 edits: Jaccard 0.815, just above 0.8
    "a_far": text(edited(A, [10, 50, 90, 130, 170], "f")),  # 5 edits: 0.774, just below
    "c1": text(base_words(2)),
    "c2": text(edited(base_words(2), [15, 75, 135], "x")),  # 3 edits from c1: 0.858
    "c3": text(edited(edited(base_words(2), [15, 75, 135], "x"), [45, 105, 165], "y")),  # 3 from c2, 6 from c1
    "lone": text(base_words(3)),
    "lone_copy": text(base_words(3)),
    "empty": "",
}


def test_crafted_similarities_are_what_the_tests_claim():
    assert 0.8 < jaccard(DOCS["a"], DOCS["a_near"]) < 0.83
    assert 0.75 < jaccard(DOCS["a"], DOCS["a_far"]) < 0.8
    assert jaccard(DOCS["c1"], DOCS["c2"]) > 0.8 and jaccard(DOCS["c2"], DOCS["c3"]) > 0.8
    assert jaccard(DOCS["c1"], DOCS["c3"]) < 0.8  # a chain: c1 ~ c2 ~ c3, c1 !~ c3


def dedup(spark, docs, *, verify="exact", keep="smallest_doc_id", partitions=2, protected=()):
    rows = [(doc_id, body, doc_id in protected) for doc_id, body in docs.items()]
    df = spark.createDataFrame(rows, "doc_id string, text string, _protected boolean").repartition(partitions)
    signed = add_minhash(df, HASHER)
    pairs = candidate_pairs(signed, max_bucket=100)
    edges = similar_pairs(pairs, signed, HASHER, verify=verify, texts=df)
    clusters, _ = near_duplicate_clusters(edges, df, keep=keep)
    flagged = flag_near_duplicates(df, clusters)
    return {r["doc_id"]: r["_reject_detail"] for r in flagged.collect()}


def test_near_chain_and_identical_are_removed_far_and_lone_stay(spark):
    removed = dedup(spark, DOCS)
    assert removed == {
        "a": None,
        "a_near": "near duplicate of a (cluster of 2)",
        "a_far": None,
        "c1": None,
        "c2": "near duplicate of c1 (cluster of 3)",
        "c3": "near duplicate of c1 (cluster of 3)",
        "lone": None,
        "lone_copy": "near duplicate of lone (cluster of 2)",
        "empty": None,
    }


def test_kept_doc_is_the_same_across_partitionings_and_reruns(spark):
    first = dedup(spark, DOCS, partitions=1)
    assert dedup(spark, DOCS, partitions=5) == first
    assert dedup(spark, DOCS, partitions=5) == first


def test_keep_longest(spark):
    docs = {"a": DOCS["a"], "b": DOCS["a"] + " and one more sentence at the end of it"}
    assert dedup(spark, docs, keep="longest") == {"a": "near duplicate of b (cluster of 2)", "b": None}


def test_a_protected_doc_stays_and_the_new_copy_goes(spark):
    docs = {"a": DOCS["a"], "z_published": DOCS["a_near"], "y_published": DOCS["lone"], "x": DOCS["c1"]}
    assert dedup(spark, docs, protected={"z_published", "y_published"}) == {
        "a": "near duplicate of z_published (cluster of 2)",
        "z_published": None,
        "y_published": None,
        "x": None,
    }


@pytest.mark.parametrize("verify", ["signature", "none"])
def test_other_verifications_find_the_clear_duplicates(spark, verify):
    docs = {k: DOCS[k] for k in ("c1", "c2", "lone", "lone_copy")}
    removed = dedup(spark, docs, verify=verify)
    assert removed["lone_copy"] == "near duplicate of lone (cluster of 2)"
    assert removed["c2"] == "near duplicate of c1 (cluster of 2)"
