"""Gopher's n-gram repetition measures over a document's words, with numpy instead of n-gram strings.

Each n-gram is a 64-bit polynomial hash of its characters, built from per-word hashes (cached across
documents) by numpy over every position at once: `H(a + b) = H(a) * B**len(b) + H(b)` modulo 2**64.
The "top n-gram" measure hashes the words joined by a space and the "duplicated n-grams" measure the
words joined with nothing, as Gopher (and DataTrove) join them, so n-grams are equal exactly when
their strings are (up to a 64-bit hash collision). Only a document that has a repeated n-gram walks
its positions in Python, on integers, for the non-overlapping count the definition asks for.
"""

from __future__ import annotations

import bisect
import functools
from collections import Counter

import numpy as np

_MASK = (1 << 64) - 1
_BASE = 0x100000001B3  # odd, so powers never vanish modulo 2**64
_SPACE = ord(" ")


@functools.lru_cache(maxsize=1 << 16)  # the frequent words; under 20 MB per Python worker
def _word_hash(word: str) -> tuple[int, int, int]:
    """(polynomial hash of the word's characters, BASE ** len(word), len(word)); hashes modulo 2**64."""
    value = 0
    for character in word:
        value = (value * _BASE + ord(character)) & _MASK
    return value, pow(_BASE, len(word), 1 << 64), len(word)


class NGrams:
    """A document's words, hashed once, for Gopher's top-n-gram and duplicated-n-gram measures."""

    def __init__(self, words: list[str]):
        table = np.array(list(map(_word_hash, words)), dtype=np.uint64).reshape(-1, 3)
        self.count = len(words)
        self.hashes, self.powers = table[:, 0], table[:, 1]
        lengths = table[:, 2].astype(np.int64)
        self.ends = np.cumsum(lengths)  # characters up to each word's end
        self.starts = self.ends - lengths
        self._grams: dict[tuple[int, int | None], np.ndarray] = {(1, _SPACE): self.hashes, (1, None): self.hashes}

    def _joined(self, n: int, separator: int | None) -> np.ndarray:
        """Hash of each n-gram's words joined by `separator` (a character code) or by nothing; each n extends
        the (n - 1)-grams by one word."""
        if (n, separator) not in self._grams:
            shorter = self._joined(n - 1, separator)[:-1]
            with np.errstate(over="ignore"):
                if separator is not None:
                    shorter = shorter * np.uint64(_BASE) + np.uint64(separator)
                self._grams[(n, separator)] = shorter * self.powers[n - 1 :] + self.hashes[n - 1 :]
        return self._grams[(n, separator)]

    def _chars(self, n: int) -> np.ndarray:
        """Characters of each n-gram's words, without separators."""
        return self.ends[n - 1 :] - self.starts[: self.count - n + 1]

    def top_gram_chars(self, n: int) -> int:
        """len(most common space-joined n-gram) * its count; ties go to the n-gram seen first (as Counter's)."""
        grams = self._joined(n, _SPACE).tolist()
        gram, most = Counter(grams).most_common(1)[0]
        at = grams.index(gram)
        return (int(self._chars(n)[at]) + n - 1) * most

    def repeated_gram_chars(self, n: int) -> int:
        """Characters in n-grams (words joined with nothing) that repeat an earlier n-gram, not counting
        overlaps: the walk over positions jumps past a repeat, and skipped positions are not remembered
        (Gopher's definition). Only positions whose n-gram occurred before can repeat, so the walk visits
        those alone; the first occurrence of an n-gram counts as seen unless a jump skipped it."""
        grams = self._joined(n, None)
        if len(set(grams.tolist())) == grams.size:  # the common case: no n-gram repeats
            return 0
        _, first_at, which = np.unique(grams, return_index=True, return_inverse=True)
        first_of = first_at[which]
        later = np.flatnonzero(first_of < np.arange(grams.size)).tolist()
        chars, which, first_of = self._chars(n), which.tolist(), first_of.tolist()
        jumps: list[int] = []  # positions of repeats: each hides the n - 1 positions after it
        seen_later: set[int] = set()  # n-grams seen again at a visited, not repeated, later position
        repeated = resume = 0
        for position in later:
            if position < resume:
                continue
            gram = which[position]
            if gram in seen_later or not _hidden(first_of[position], jumps, n):
                repeated += int(chars[position])
                jumps.append(position)
                resume = position + n
            else:
                seen_later.add(gram)
        return repeated


def _hidden(position: int, jumps: list[int], n: int) -> bool:
    """Whether a jump skipped `position`: it lies in (jump, jump + n) for the last jump before it."""
    at = bisect.bisect_left(jumps, position) - 1
    return at >= 0 and position < jumps[at] + n
