"""MinHash signatures and LSH band hashes, vectorized over Arrow batches.

A document's shingles are its word (or character) n-grams after lower-casing. Each shingle is hashed
to 32 bits; each of `num_perm` universal hash functions (multiply-add-shift, Dietzfelbinger) maps the
shingle hashes and keeps the minimum, which gives the signature. Rows of the signature are grouped into
LSH bands, each band hashed to one 64-bit value: two documents that share a band hash are candidates.

Bands x rows is picked the way datasketch does: minimize the weighted sum of the false-positive
probability (pairs below the threshold that share a band) and the false-negative probability (pairs
above it that share none), integrated over Jaccard similarity.

Everything here works a batch at a time with numpy and pyarrow compute, never a Python loop per shingle; the
signatures themselves come from a compiled kernel (`refinery.transforms.kernels.minhash`) held equal to the
numpy version kept here; `refinery.transforms.minhash_spark` runs it over DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from refinery.transforms.ngrams import mix64, ngram_hashes, powers, utf8_words
from refinery.transforms.params import MinHashParams

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_ROW_BASE = 0xC2B2AE3D27D4EB4F  # the polynomial base for signature rows of a band
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


# ----------------------------------------------------------------------------- the hasher


class MinHasher:
    """MinHash as `settings` (refinery.transforms.params.MinHashParams) describe it: `MinHasher(settings)`,
    or `MinHasher(ngram=5, ...)` with the fields of MinHashParams. Its fields read through (`.ngram`).

    The same (shingle, ngram, num_perm, seed) always gives the same signatures, on any machine, in any
    partitioning: `params` names them, so stored signatures can be checked before they are reused.
    """

    def __init__(self, settings: MinHashParams | None = None, **values) -> None:
        self.settings = settings if settings is not None else MinHashParams(**values)
        weights = (1.0 - self.false_negative_weight, self.false_negative_weight)
        self.bands: LshBands = optimal_bands(self.threshold, self.num_perm, *weights)
        rng = np.random.default_rng(self.seed)
        # Multiply-add-shift needs 64-bit a (odd) and b for 32-bit keys: ((a*x + b) mod 2**64) >> 32.
        multipliers = rng.integers(0, 2**64, size=self.num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1)
        increments = rng.integers(0, 2**64, size=self.num_perm, dtype=np.uint64, endpoint=False)
        self._multipliers, self._increments = multipliers[:, None], increments[:, None]

    def __getattr__(self, name: str):
        if name == "settings":  # not set yet (while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.settings, name)

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
            return mix64(flat.astype(np.uint64) + np.uint64(0x9E37)), counts
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
        """(signatures uint32 [docs x num_perm], shingle count per document), by the compiled kernel."""
        from refinery.transforms.kernels.minhash import signatures  # numba: imported where batches run

        hashes, counts = self.shingles(texts)
        out = np.full((len(counts), self.num_perm), _NO_SHINGLE, dtype=np.uint32)
        signatures(hashes, counts, self._multipliers[:, 0], self._increments[:, 0], out)
        return out, counts

    def signatures_reference(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """`signatures` with numpy alone: the reference the kernel is held equal to."""
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
        combined = (used * powers(_ROW_BASE, rows)[::-1]).sum(axis=2, dtype=np.uint64)
        return mix64(combined).view(np.int64)


# ----------------------------------------------------------------------------- comparing pairs


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
