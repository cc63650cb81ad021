"""Word n-gram hashing, vectorized over Arrow string arrays: what MinHash shingles and decontamination share.

A text's words are its runs of word bytes (ASCII letters, digits, `_`, and the bytes of multi-byte
UTF-8 characters), lower-cased; each word is hashed by a polynomial over its bytes and each n-gram by a
polynomial over its words' hashes, all in wrapping 64-bit arithmetic with numpy, never a Python loop
per word.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over the whole 64-bit word (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def powers(base: int, count: int) -> np.ndarray:
    """base**0 .. base**(count-1) modulo 2**64."""
    out = np.empty(max(count, 1), dtype=np.uint64)
    value = 1
    for i in range(len(out)):
        out[i] = value
        value = (value * base) & 0xFFFFFFFFFFFFFFFF
    return out


_BYTE_BASE = 0x100000001B3  # FNV prime: the polynomial base for bytes of a token
_TOKEN_BASE = 0x9E3779B97F4A7C15  # golden ratio: the polynomial base for tokens of an n-gram
_MAX_POWER = 255  # bytes further than this from a token's end share one weight (only odd, huge tokens)
_BYTE_POWERS = powers(_BYTE_BASE, _MAX_POWER + 1)


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
    return mix64(hashes ^ lengths.astype(np.uint64)), counts.astype(np.int64)


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
    token_powers = powers(_TOKEN_BASE, n)
    combined = np.zeros(len(tokens), dtype=np.uint64)
    for k in range(n):
        inside = (position + k) < end_of_token
        combined += np.where(inside, padded[k : k + len(tokens)], np.uint64(0)) * token_powers[n - 1 - k]
    full = (position + n) <= end_of_token
    short_doc_first = (counts[doc_of_token] < n) & (position == starts[doc_of_token])
    keep = full | short_doc_first
    return mix64(combined[keep]), np.bincount(doc_of_token[keep], minlength=len(counts)).astype(np.int64)


def word_ngram_hashes(texts: pa.Array, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit hashes of lower-cased word n-grams, n-gram count per text) for a string array."""
    return ngram_hashes(*utf8_words(texts), n)
