import numpy as np
import pyarrow as pa
import pytest

from refinery.transforms.minhash import LshBands, MinHasher, optimal_bands
from refinery.transforms.minhash_spark import add_minhash


@pytest.mark.parametrize(
    ("threshold", "num_perm", "expected"),
    # datasketch's MinHashLSH(threshold, num_perm).b, .r for the same inputs
    [(0.8, 128, LshBands(9, 13)), (0.5, 128, LshBands(25, 5)), (0.9, 256, LshBands(9, 28))],
)
def test_bands_match_datasketch(threshold, num_perm, expected):
    assert optimal_bands(threshold, num_perm) == expected


def test_collision_probability_is_an_s_curve_around_the_threshold():
    bands = optimal_bands(0.8, 128)
    assert bands.bands * bands.rows <= 128
    assert bands.collision_probability(0.95) > 0.99
    assert bands.collision_probability(0.5) < 0.01


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="threshold"):
        optimal_bands(1.5, 128)


# ----------------------------------------------------------------------------- signatures

HASHER = MinHasher(ngram=5, num_perm=128, threshold=0.8, seed=42)


def jaccard(hasher, a, b):
    values, counts = hasher.shingle_sets(pa.array([a, b]))
    left, right = set(values[: counts[0]]), set(values[counts[0] :])
    return len(left & right) / len(left | right)


def words(n, seed):
    rng = np.random.default_rng(seed)
    return [f"w{int(i)}" for i in rng.integers(0, 50_000, size=n)]


def test_words_ignore_case_and_punctuation_including_unicode():
    same = HASHER.shingles(pa.array(["Hello, world — it’s “fine”: done_now 42!", "hello world it s fine done_now 42"]))
    hashes, counts = same
    assert list(counts) == [3, 3]
    assert list(hashes[:3]) == list(hashes[3:])


def test_short_and_empty_documents():
    _, counts = HASHER.shingles(pa.array(["two words", "", None, "   ...  "]))
    assert list(counts) == [1, 0, 0, 0]  # shorter than ngram: one shingle of all its words


def test_char_shingles_see_characters():
    hasher = MinHasher(ngram=3, shingle="char")
    _, counts = hasher.shingles(pa.array(["abcd", "ab", "Ünï"]))
    assert list(counts) == [2, 1, 1]


def test_signature_agreement_estimates_jaccard():
    base = words(300, seed=1)
    errors = []
    for edits in range(0, 40, 4):
        changed = list(base)
        for position in np.linspace(10, 290, edits, dtype=int) if edits else []:
            changed[position] = f"x{position}"
        a, b = " ".join(base), " ".join(changed)
        signatures, _ = HASHER.signatures(pa.array([a, b]))
        errors.append(abs((signatures[0] == signatures[1]).mean() - jaccard(HASHER, a, b)))
    assert max(errors) < 0.15  # 128 permutations: standard error about 0.04
    assert np.mean(errors) < 0.05


def test_signatures_are_seeded_and_bands_follow_the_rows():
    texts = pa.array([" ".join(words(50, seed=s)) for s in range(4)])
    first, _ = HASHER.signatures(texts)
    again, _ = MinHasher(seed=42).signatures(texts)
    other, _ = MinHasher(seed=7).signatures(texts)
    assert (first == again).all() and not (first == other).all()
    bands = HASHER.band_hashes(np.vstack([first[0], first[0], first[1]]))
    assert (bands[0] == bands[1]).all() and not (bands[0] == bands[2]).any()


def test_recall_weight_picks_more_bands():
    assert MinHasher(false_negative_weight=0.9).bands.bands > MinHasher(false_negative_weight=0.5).bands.bands


def test_spark_signatures_do_not_depend_on_partitioning(spark):
    rows = [(f"d{i}", " ".join(words(40, seed=i))) for i in range(30)] + [("empty", "")]
    df = spark.createDataFrame(rows, "doc_id string, text string")
    one = {r["doc_id"]: (r["signature"], r["bands"]) for r in add_minhash(df.coalesce(1), HASHER).collect()}
    many = {r["doc_id"]: (r["signature"], r["bands"]) for r in add_minhash(df.repartition(7), HASHER).collect()}
    assert one == many
    assert one["empty"] == ([], [])
    assert len(one["d0"][0]) == 128 and len(one["d0"][1]) == HASHER.bands.bands


def test_a_document_bigger_than_one_numpy_step_gets_the_true_minima():
    big = " ".join(words(12_000, seed=9))  # ~12k shingles: walked in steps of 4,096
    hashes, _ = HASHER.shingles(pa.array([big]))
    permuted = (HASHER._multipliers * hashes + HASHER._increments).min(axis=1) >> np.uint64(32)
    signatures, counts = HASHER.signatures(pa.array(["small doc here", big, "another small one"]))
    assert counts[1] == len(hashes)
    assert (signatures[1] == permuted.astype(np.uint32)).all()


def test_the_compiled_signatures_are_the_numpy_ones():
    """Stored signatures stay valid: the kernel gives the numpy reference's values, shingle kinds and sizes mixed
    (empty, shorter than the n-gram, bigger than one numpy step, other scripts)."""
    rng = np.random.default_rng(36)
    texts = [" ".join(words(int(n), seed=int(n))) for n in rng.integers(0, 400, size=300)]
    texts += ["", "one two", " ".join(words(9_000, seed=3)), "Städte und Flüsse, 東京 と 大阪"]
    for hasher in (HASHER, MinHasher(shingle="char", ngram=5, num_perm=64, seed=7)):
        got, got_counts = hasher.signatures(pa.array(texts))
        expected, expected_counts = hasher.signatures_reference(pa.array(texts))
        assert (got_counts == expected_counts).all()
        assert (got == expected).all()
