"""Near-duplicate removal on crafted docs whose Jaccard similarity is known."""

import numpy as np
import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from refinery.stages.dedup import _with_unique_keys
from refinery.transforms.dedup import (
    _pairs_of_sorted_buckets,
    add_doc_key,
    candidate_pairs,
    flag_near_duplicates,
    key_collisions,
    near_duplicate_clusters,
    shingle_sets_of_pairs,
    similar_pairs,
)
from refinery.transforms.minhash import MinHasher, set_jaccard
from refinery.transforms.minhash_spark import add_minhash

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
    keyed = add_doc_key(df)
    signed = add_minhash(keyed, HASHER)
    pairs = candidate_pairs(signed, max_bucket=100)
    sets = shingle_sets_of_pairs(pairs, keyed, HASHER)
    edges = similar_pairs(pairs, HASHER, verify=verify, signed=signed, sets=sets)
    clusters, _ = near_duplicate_clusters(edges, keyed, keep=keep)
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


def int32_lists(rows):
    """Sets of unsigned 32-bit values stored as signed, as `to_shingle_sets` stores them."""
    offsets = pa.array(np.cumsum([0] + [len(r) for r in rows]).astype(np.int32))
    values = np.array([v for r in rows for v in r], dtype=np.uint32).view(np.int32)
    return pa.ListArray.from_arrays(offsets, pa.array(values, type=pa.int32()))


def test_set_jaccard_matches_python_sets_and_honours_slices():
    rng = np.random.default_rng(5)
    rows = [sorted({int(v) for v in rng.integers(0, 2**32, size=n)}) for n in (0, 1, 40, 300, 7)]
    left, right = int32_lists(rows), int32_lists(rows[1:] + rows[:1])
    shared = [sorted(set(rows[1]) | {1, 2})] * len(rows)  # overlaps row 1 only

    def expected(a, b):
        return len(set(a) & set(b)) / len(set(a) | set(b)) if a or b else 0.0

    assert set_jaccard(left, left).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert set_jaccard(left, right).tolist() == [expected(a, b) for a, b in zip(rows, rows[1:] + rows[:1], strict=True)]
    sliced = int32_lists(shared).slice(1, 3)
    assert set_jaccard(left.slice(1, 3), sliced).tolist() == pytest.approx(
        [expected(a, b) for a, b in zip(rows[1:4], shared[1:4], strict=True)]
    )


def bucket_rows(buckets):
    """(doc_key, _protected, band, band_hash) batches of 3 rows, sorted by bucket then key; negative keys
    are protected docs."""
    rows = [(key, key < 0, band, band) for band, keys in enumerate(buckets) for key in sorted(keys)]
    table = pa.table({name: [r[i] for r in rows] for i, name in enumerate(["k", "p", "band", "hash"])})
    return table.to_batches(max_chunksize=3)


def listed_pairs(batches, max_bucket):
    out = [pa.Table.from_batches([b]) for b in _pairs_of_sorted_buckets(iter(batches), max_bucket)]
    table = pa.concat_tables(out)
    return sorted(zip(table.column("key_a").to_pylist(), table.column("key_b").to_pylist(), strict=True))


def test_buckets_that_span_batches_give_all_their_pairs_once():
    batches = bucket_rows([[1], [2, 3, 4, 5], [6, 7], [8, 9, 10, 11, 12]])
    assert listed_pairs(batches, max_bucket=10) == sorted(
        [(2, 3), (2, 4), (2, 5), (3, 4), (3, 5), (4, 5), (6, 7)]
        + [(a, b) for a in range(8, 13) for b in range(a + 1, 13)]
    )


def test_big_buckets_link_to_their_smallest_key_and_protected_pairs_are_skipped():
    assert listed_pairs(bucket_rows([[5, 1, 9, 7], [2, 3]]), max_bucket=3) == [(1, 5), (1, 7), (1, 9), (2, 3)]
    assert listed_pairs(bucket_rows([[-3, -2, 4]]), max_bucket=10) == [(-3, 4), (-2, 4)]


def test_doc_keys_are_unique_for_distinct_ids(spark):
    df = spark.createDataFrame([(f"doc-{i}",) for i in range(2000)] + [("doc-7",)], "doc_id string")
    keyed = add_doc_key(df)
    assert keyed.select("doc_key").distinct().count() == 2000
    assert key_collisions(keyed).isEmpty()  # a repeated doc_id shares its key: that is no collision
    forced = keyed.withColumn("doc_key", F.when(F.col("doc_id").isin("doc-1", "doc-2"), 1).otherwise(F.col("doc_key")))
    assert [tuple(r) for r in key_collisions(forced).collect()] == [(1, "doc-1", "doc-2")]
    rekeyed, seed = _with_unique_keys(forced)  # what the stage does with a collision: the next seed
    assert seed == 1 and rekeyed.select("doc_key").distinct().count() == 2000
