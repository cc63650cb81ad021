"""MinHash signatures and LSH band hashes, vectorized over Arrow batches.

A document's shingles are its word (or character) n-grams after lower-casing. Each shingle is hashed
to 32 bits; each of `num_perm` universal hash functions (multiply-add-shift, Dietzfelbinger) maps the
shingle hashes and keeps the minimum, which gives the signature. Rows of the signature are grouped into
LSH bands, each band hashed to one 64-bit value: two documents that share a band hash are candidates.

Bands x rows is picked the way datasketch does: minimize the weighted sum of the false-positive
probability (pairs below the threshold that share a band) and the false-negative probability (pairs
above it that share none), integrated over Jaccard similarity.

Everything here works a batch at a time with numpy and pyarrow compute, never a Python loop per shingle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, DoubleType, IntegerType, LongType, StructField, StructType

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_NO_SHINGLE = np.uint32(0xFFFFFFFF)  # signature value of a document without shingles
_CHUNK_ELEMENTS = 1 << 19  # permutations x shingles per numpy step: 4 MiB of uint64, cache-sized


@dataclass(frozen=True)
class LshBands:
    bands: int
    rows: int

    def collision_probability(self, jaccard: float) -> float:
        """Probability that two documents with this Jaccard similarity share at least one band."""
        return 1.0 - (1.0 - jaccard**self.rows) ** self.bands


def _integrate(function, low: float, high: float, steps: int = 200) -> float:
    """Simpson's rule; the integrands are smooth polynomials in s, so 200 steps are plenty."""
    if high <= low:
        return 0.0
    width = (high - low) / steps
    total = function(low) + function(high)
    for i in range(1, steps):
        total += (4 if i % 2 else 2) * function(low + i * width)
    return total * width / 3


def optimal_bands(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> LshBands:
    """The bands x rows (bands * rows <= num_perm) with the least weighted false-positive + false-negative area."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    if num_perm < 2:
        raise ValueError(f"num_perm must be at least 2, got {num_perm}")
    best, best_error = LshBands(1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            candidate = LshBands(bands, rows)
            false_positive = _integrate(candidate.collision_probability, 0.0, threshold)
            false_negative = _integrate(lambda s, c=candidate: 1.0 - c.collision_probability(s), threshold, 1.0)
            error = false_positive_weight * false_positive + false_negative_weight * false_negative
            if error < best_error:
                best, best_error = candidate, error
    return best


# ----------------------------------------------------------------------------- hashing helpers


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over the whole 64-bit word (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _powers(base: int, count: int) -> np.ndarray:
    """base**0 .. base**(count-1) modulo 2**64."""
    out = np.empty(max(count, 1), dtype=np.uint64)
    value = 1
    for i in range(len(out)):
        out[i] = value
        value = (value * base) & 0xFFFFFFFFFFFFFFFF
    return out


_BYTE_BASE = 0x100000001B3  # FNV prime: the polynomial base for bytes of a token
_TOKEN_BASE = 0x9E3779B97F4A7C15  # golden ratio: the polynomial base for tokens of an n-gram
_ROW_BASE = 0xC2B2AE3D27D4EB4F  # the polynomial base for signature rows of a band
_MAX_POWER = 255  # bytes further than this from a token's end share one weight (only odd, huge tokens)
_BYTE_POWERS = _powers(_BYTE_BASE, _MAX_POWER + 1)


def _word_byte_table() -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    for low, high in ((ord("0"), ord("9")), (ord("a"), ord("z")), (ord("A"), ord("Z"))):
        table[low : high + 1] = True
    table[ord("_")] = True
    table[0x80:] = True  # bytes of multi-byte UTF-8 characters: letters, except the punctuation below
    return table


_WORD_BYTE = _word_byte_table()


def utf8_words(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash of each word, word count per text): words are runs of letters, digits and `_`.

    A byte scan with numpy over the whole batch (lower-cased first). Non-ASCII characters are letters
    except the common punctuation blocks: Latin-1 punctuation (U+00A0-U+00BF, e.g. no-break space,
    guillemets), General Punctuation (U+2000-U+206F: dashes, curly quotes, ellipsis) and CJK punctuation
    (U+3000-U+303F). A null text has no words.
    """
    lowered = pc.utf8_lower(texts.fill_null("").cast(pa.large_string()))
    if isinstance(lowered, pa.ChunkedArray):
        lowered = lowered.combine_chunks()
    offsets = np.frombuffer(lowered.buffers()[1], dtype=np.int64)[lowered.offset : lowered.offset + len(lowered) + 1]
    data = np.frombuffer(lowered.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    is_word = _WORD_BYTE[data]
    if len(data) >= 2:
        latin1 = np.flatnonzero((data[:-1] == 0xC2) & (data[1:] >= 0xA0) & (data[1:] <= 0xBF))
        is_word[latin1] = is_word[latin1 + 1] = False
    if len(data) >= 3:
        second = data[1:-1]
        punctuation = ((data[:-2] == 0xE2) & ((second == 0x80) | (second == 0x81))) | (
            (data[:-2] == 0xE3) & (second == 0x80)
        )
        at = np.flatnonzero(punctuation)
        is_word[at] = is_word[at + 1] = is_word[at + 2] = False
    doc_start = np.zeros(len(data) + 1, dtype=bool)
    doc_start[offsets[:-1]] = True
    doc_start[-1] = True
    continues_left = np.concatenate([[False], is_word[:-1]]) & ~doc_start[:-1]
    continues_right = np.concatenate([is_word[1:], [False]]) & ~doc_start[1:]
    first_bytes = np.flatnonzero(is_word & ~continues_left)
    last_bytes = np.flatnonzero(is_word & ~continues_right)
    lengths = last_bytes - first_bytes + 1
    counts = np.bincount(np.searchsorted(offsets[1:], first_bytes, side="right"), minlength=len(texts))
    if len(first_bytes) == 0:
        return np.zeros(0, dtype=np.uint64), counts.astype(np.int64)
    word_bytes = np.flatnonzero(is_word)  # the words' bytes, word after word
    from_end = np.minimum(np.repeat(last_bytes, lengths) - word_bytes, _MAX_POWER)
    terms = data[word_bytes].astype(np.uint64) * _BYTE_POWERS[from_end]
    hashes = np.add.reduceat(terms, np.cumsum(lengths) - lengths)
    return _mix64(hashes ^ lengths.astype(np.uint64)), counts.astype(np.int64)


def ngram_hashes(tokens: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hash of each n-gram of consecutive tokens, n-gram count per document), documents in order.

    `tokens` are token hashes of all documents concatenated, `counts` the tokens per document. A document
    shorter than `n` tokens has one n-gram, all of its tokens; an empty one has none.
    """
    ends = np.cumsum(counts)
    starts = ends - counts
    doc_of_token = np.repeat(np.arange(len(counts)), counts)
    end_of_token = ends[doc_of_token]
    position = np.arange(len(tokens), dtype=np.int64)
    # N-gram at token i: sum over k < n of token[i+k] * base**(n-1-k), tokens past the doc's end count 0.
    padded = np.concatenate([tokens, np.zeros(n, dtype=np.uint64)])
    token_powers = _powers(_TOKEN_BASE, n)
    combined = np.zeros(len(tokens), dtype=np.uint64)
    for k in range(n):
        inside = (position + k) < end_of_token
        combined += np.where(inside, padded[k : k + len(tokens)], np.uint64(0)) * token_powers[n - 1 - k]
    full = (position + n) <= end_of_token
    short_doc_first = (counts[doc_of_token] < n) & (position == starts[doc_of_token])
    keep = full | short_doc_first
    return _mix64(combined[keep]), np.bincount(doc_of_token[keep], minlength=len(counts)).astype(np.int64)


def word_ngram_hashes(texts: pa.Array, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hashes of lower-cased word n-grams, n-gram count per text) for a string array."""
    return ngram_hashes(*utf8_words(texts), n)


# ----------------------------------------------------------------------------- the hasher


@dataclass(frozen=True)
class MinHasher:
    """MinHash with `num_perm` permutations over `ngram`-shingles of words or characters, seeded.

    The same (shingle, ngram, num_perm, seed) always gives the same signatures, on any machine, in any
    partitioning: `params` names them, so stored signatures can be checked before they are reused.
    A `false_negative_weight` above 0.5 picks more, shorter bands: more candidates, fewer missed pairs,
    which is right when candidates are verified afterwards.
    """

    ngram: int = 5
    num_perm: int = 128
    threshold: float = 0.8
    seed: int = 42
    shingle: Literal["word", "char"] = "word"
    false_negative_weight: float = 0.5  # vs 1 - this for false positives, when choosing bands x rows
    bands: LshBands = field(init=False)
    _multipliers: np.ndarray = field(init=False, repr=False, compare=False)
    _increments: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {self.ngram}")
        if not 0.0 < self.false_negative_weight < 1.0:
            raise ValueError(f"false_negative_weight must be between 0 and 1, got {self.false_negative_weight}")
        weights = (1.0 - self.false_negative_weight, self.false_negative_weight)
        object.__setattr__(self, "bands", optimal_bands(self.threshold, self.num_perm, *weights))
        rng = np.random.default_rng(self.seed)
        # Multiply-add-shift needs 64-bit a (odd) and b for 32-bit keys: ((a*x + b) mod 2**64) >> 32.
        multipliers = rng.integers(0, 2**64, size=self.num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1)
        increments = rng.integers(0, 2**64, size=self.num_perm, dtype=np.uint64, endpoint=False)
        object.__setattr__(self, "_multipliers", multipliers[:, None])
        object.__setattr__(self, "_increments", increments[:, None])

    @property
    def params(self) -> str:
        """What a stored signature was made with; a signature is reused only when this matches."""
        return f"{self.shingle}{self.ngram}/p{self.num_perm}/s{self.seed}/b{self.bands.bands}x{self.bands.rows}"

    # -------------------------------------------------------------- shingles

    def _tokens(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(token hashes, token count per document) for a string array; null text has no tokens."""
        if self.shingle == "char":
            lowered = pc.utf8_lower(texts.cast(pa.large_string()))
            collapsed = pc.utf8_trim_whitespace(pc.replace_substring_regex(lowered, r"\s+", " "))
            chars = [
                np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) if text else np.zeros(0, np.uint32)
                for text in collapsed.to_pylist()
            ]
            counts = np.array([len(c) for c in chars], dtype=np.int64)
            flat = np.concatenate(chars) if chars else np.zeros(0, np.uint32)
            return _mix64(flat.astype(np.uint64) + np.uint64(0x9E37)), counts
        return utf8_words(texts)

    def shingles(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(32-bit shingle hashes as uint64, shingle count per document), documents in order.

        A document shorter than `ngram` tokens has one shingle, all of its tokens; an empty one has none.
        """
        hashes, counts = ngram_hashes(*self._tokens(texts), self.ngram)
        return hashes >> np.uint64(32), counts

    def shingle_sets(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(each document's distinct shingle hashes, sorted and concatenated; distinct count per document)."""
        hashes, counts = self.shingles(texts)
        doc_of_shingle = np.repeat(np.arange(len(counts)), counts)
        order = np.lexsort((hashes, doc_of_shingle))
        hashes, doc_of_shingle = hashes[order], doc_of_shingle[order]
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = (hashes[1:] != hashes[:-1]) | (doc_of_shingle[1:] != doc_of_shingle[:-1])
        return hashes[first], np.bincount(doc_of_shingle[first], minlength=len(counts)).astype(np.int64)

    # -------------------------------------------------------------- signatures

    def signatures(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(signatures uint32 [docs x num_perm], shingle count per document)."""
        hashes, counts = self.shingles(texts)
        signatures = np.full((len(counts), self.num_perm), _NO_SHINGLE, dtype=np.uint32)
        has_shingles = np.flatnonzero(counts)
        if len(has_shingles) == 0:
            return signatures, counts
        starts = (np.cumsum(counts) - counts)[has_shingles]
        # Walk the documents in groups whose shingles fit one cache-sized step; a document bigger than a
        # step is walked in steps of its own. The shift by 32 is monotone, so it is applied to the minima.
        per_step = max(1, _CHUNK_ELEMENTS // self.num_perm)
        buffer = np.empty((self.num_perm, per_step), dtype=np.uint64)
        group_start = 0
        while group_start < len(has_shingles):
            first = starts[group_start]
            group_end = max(int(np.searchsorted(starts, first + per_step, side="right")) - 1, group_start + 1)
            last = starts[group_end] if group_end < len(has_shingles) else len(hashes)
            if last - first <= per_step:
                permuted = self._permute(hashes[first:last], buffer)
                minima = np.minimum.reduceat(permuted, starts[group_start:group_end] - first, axis=1)
            else:  # one document with more shingles than a step
                minima = np.full((self.num_perm, 1), np.iinfo(np.uint64).max, dtype=np.uint64)
                for step in range(first, last, per_step):
                    permuted = self._permute(hashes[step : min(step + per_step, last)], buffer)
                    np.minimum(minima, permuted.min(axis=1, keepdims=True), out=minima)
            signatures[has_shingles[group_start:group_end]] = (minima.T >> np.uint64(32)).astype(np.uint32)
            group_start = group_end
        return signatures, counts

    def _permute(self, hashes: np.ndarray, buffer: np.ndarray) -> np.ndarray:
        """(a * x + b) mod 2**64 for every permutation (rows) and shingle hash (columns), into `buffer`."""
        permuted = buffer[:, : len(hashes)]
        np.multiply(self._multipliers, hashes, out=permuted)
        np.add(permuted, self._increments, out=permuted)
        return permuted

    def band_hashes(self, signatures: np.ndarray) -> np.ndarray:
        """One signed 64-bit hash per LSH band: [docs x bands]."""
        rows = self.bands.rows
        used = signatures[:, : self.bands.bands * rows].astype(np.uint64).reshape(len(signatures), -1, rows)
        combined = (used * _powers(_ROW_BASE, rows)[::-1]).sum(axis=2, dtype=np.uint64)
        return _mix64(combined).view(np.int64)


# ----------------------------------------------------------------------------- Spark transforms

SIGNATURE_FIELDS = [
    StructField("n_shingles", IntegerType(), False),
    StructField("signature", ArrayType(IntegerType(), False), False),
    StructField("bands", ArrayType(LongType(), False), False),
]


def _list_array(rows: np.ndarray, present: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """A [n x width] numpy matrix as an Arrow list array: row i's values, or an empty list where not present."""
    width = rows.shape[1]
    offsets = np.concatenate([[0], np.cumsum(np.where(present, width, 0))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(rows[present].reshape(-1), type=arrow_type))


def _arrow_list(value_type: pa.DataType) -> pa.DataType:
    return pa.list_(pa.field("element", value_type, nullable=False))


_SIGNATURE_ARROW_FIELDS = [
    pa.field("n_shingles", pa.int32(), nullable=False),
    pa.field("signature", _arrow_list(pa.int32()), nullable=False),
    pa.field("bands", _arrow_list(pa.int64()), nullable=False),
]


def add_minhash(df: DataFrame, hasher: MinHasher, *, text_column: str = "text", keep_text: bool = True) -> DataFrame:
    """Add each document's MinHash signature and LSH band hashes.

    Requires: `text_column`. Adds: `n_shingles` (int), `signature` (array<int>, num_perm values,
    unsigned 32-bit stored as signed), `bands` (array<bigint>, one hash per band). Documents without
    shingles get `n_shingles` 0 and empty arrays: they are nobody's near-duplicate. With `keep_text`
    False the text is dropped (and not sent back from Python).
    """
    text_index = df.columns.index(text_column)
    passed = [i for i in range(len(df.columns)) if keep_text or i != text_index]
    schema = StructType([df.schema.fields[i] for i in passed] + SIGNATURE_FIELDS)
    arrow_schema = None

    def signed_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        nonlocal arrow_schema
        for batch in batches:
            signatures, counts = hasher.signatures(batch.column(text_index))
            present = counts > 0
            if arrow_schema is None:
                arrow_schema = pa.schema([*(batch.schema.field(i) for i in passed), *_SIGNATURE_ARROW_FIELDS])
            yield pa.RecordBatch.from_arrays(
                [
                    *(batch.column(i) for i in passed),
                    pa.array(counts.astype(np.int32)),
                    _list_array(signatures.view(np.int32), present, pa.int32()),
                    _list_array(hasher.band_hashes(signatures), present, pa.int64()),
                ],
                schema=arrow_schema,
            )

    return df.mapInArrow(signed_batches, schema)


def to_shingle_sets(df: DataFrame, hasher: MinHasher, *, text_column: str = "text") -> DataFrame:
    """Replace each document's text by its distinct shingle hashes, for exact Jaccard of candidate pairs.

    Requires: `text_column`. Returns the other columns plus `shingle_set` (array<int>: sorted 32-bit
    shingle hashes, stored as signed), without the text.
    """
    kept = [f for f in df.schema.fields if f.name != text_column]
    schema = StructType(kept + [StructField("shingle_set", ArrayType(IntegerType(), False), False)])
    text_index = df.columns.index(text_column)
    arrow_schema = None

    def with_sets(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        nonlocal arrow_schema
        for batch in batches:
            values, counts = hasher.shingle_sets(batch.column(text_index))
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            column = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.astype(np.uint32).view(np.int32)))
            others = [c for i, c in enumerate(batch.columns) if i != text_index]
            if arrow_schema is None:
                fields = [f for i, f in enumerate(batch.schema) if i != text_index]
                arrow_schema = pa.schema([*fields, pa.field("shingle_set", _arrow_list(pa.int32()), nullable=False)])
            yield pa.RecordBatch.from_arrays([*others, column], schema=arrow_schema)

    return df.mapInArrow(with_sets, schema)


def set_jaccard(left: pa.ListArray, right: pa.ListArray) -> np.ndarray:
    """Jaccard similarity of each row's two sets of distinct 32-bit values (0 for two empty sets).

    One sort over the whole batch: each value is tagged with its row in the high 32 bits, so a value
    both sets hold appears twice in a row after sorting.
    """
    sizes_left, sizes_right = np.diff(np.asarray(left.offsets)), np.diff(np.asarray(right.offsets))
    rows = np.arange(len(left), dtype=np.uint64)
    tagged = np.concatenate(
        [
            (np.repeat(rows, sizes_left) << np.uint64(32)) | _flat_uint32(left),
            (np.repeat(rows, sizes_right) << np.uint64(32)) | _flat_uint32(right),
        ]
    )
    tagged.sort()
    repeated = tagged[1:][tagged[1:] == tagged[:-1]]
    shared = np.bincount((repeated >> np.uint64(32)).astype(np.int64), minlength=len(left))
    union = sizes_left + sizes_right - shared
    return np.where(union > 0, shared / np.maximum(union, 1), 0.0)


def _flat_uint32(lists: pa.ListArray) -> np.ndarray:
    """The values a list array's rows hold (honouring slicing), as uint64 holding unsigned 32-bit values."""
    offsets = np.asarray(lists.offsets)
    values = np.asarray(lists.values)[offsets[0] : offsets[-1]]
    return values.view(np.uint32).astype(np.uint64)


def signature_agreement(left: pa.ListArray, right: pa.ListArray) -> np.ndarray:
    """Share of equal values in each row's two signatures: the MinHash estimate of Jaccard similarity."""
    width = len(left.flatten()) // max(len(left), 1)
    if width == 0 or len(right.flatten()) != width * len(right):
        raise ValueError("signatures to compare must be non-empty and equally long")
    same = np.asarray(left.flatten()).reshape(-1, width) == np.asarray(right.flatten()).reshape(-1, width)
    return same.mean(axis=1)


def add_pair_similarity(
    df: DataFrame,
    left: str,
    right: str,
    measure: Callable[[pa.ListArray, pa.ListArray], np.ndarray],
    *,
    output: str = "similarity",
) -> DataFrame:
    """Add the similarity of two list columns, by `measure` (`set_jaccard` or `signature_agreement`).

    Requires: `left`, `right` (array<int>: shingle sets from `to_shingle_sets`, or signatures). Adds:
    `output` (double). Vectorized with numpy over each Arrow batch (Spark's array functions and
    higher-order functions work a row and a value at a time).
    """
    schema = StructType(df.schema.fields + [StructField(output, DoubleType(), True)])
    left_index, right_index = df.columns.index(left), df.columns.index(right)

    def similarities(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, pa.array(measure(batch.column(left_index), batch.column(right_index)))],
                schema=pa.schema([*batch.schema, pa.field(output, pa.float64())]),
            )

    return df.mapInArrow(similarities, schema)
