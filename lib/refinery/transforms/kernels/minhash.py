"""MinHash signatures compiled: for each document and permutation, min over its shingles of (a * x + b) mod 2**64,
shifted to 32 bits, the same values `MinHasher.signatures_reference` computes with numpy, without the
permutations x shingles matrix numpy fills and reduces."""

from __future__ import annotations

import numpy as np
from numba import njit

_HIGHEST = np.uint64(0xFFFFFFFFFFFFFFFF)
_SHIFT = np.uint64(32)


@njit(cache=True)
def signatures(hashes, counts, multipliers, increments, out):
    """Write each document's signature into out[doc] (documents without shingles are left as they are)."""
    start = 0
    for doc in range(counts.size):
        end = start + counts[doc]
        if end > start:
            for p in range(multipliers.size):
                a, b = multipliers[p], increments[p]
                lowest = _HIGHEST
                for k in range(start, end):
                    value = a * hashes[k] + b
                    if value < lowest:
                        lowest = value
                out[doc, p] = np.uint32(lowest >> _SHIFT)
        start = end
