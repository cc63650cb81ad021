"""Compiled text primitives over code points: `quality.words_of` as word spans, segment hashing and grouping.

Texts are uint32 code-point arrays; a word, line or paragraph is a span [start, end) into them. Every function
here mirrors a line of Python in `refinery.transforms.quality` or `refinery.transforms.repetition`, which stay
the reference (tests/transforms/test_quality_kernel.py compares them document by document).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from refinery.transforms.kernels.charclass import ALNUM, SPACE, WORD_PREFIX, WORD_SUFFIX

DOT, DASH, ELLIPSIS, NEWLINE, APOSTROPHE, RIGHT_QUOTE = 0x2E, 0x2D, 0x2026, 0x0A, 0x27, 0x2019
LONG_S = 0x17F  # `re`'s IGNORECASE matches it for "s"
BASE = np.uint64(0x100000001B3)  # repetition._BASE: the same n-gram hashes as the reference
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_HTTP = (0x68, 0x74, 0x74, 0x70)  # http
_FTP = (0x66, 0x74, 0x70)  # ftp
_SCHEME_END = (0x3A, 0x2F, 0x2F)  # ://
_WWW = (0x77, 0x77, 0x77, 0x2E)  # www.


@njit(cache=True)
def all_alnum(cp, a, b, flags):
    if b <= a:
        return False
    for i in range(a, b):
        if not flags[cp[i]] & ALNUM:
            return False
    return True


@njit(cache=True)
def has_at(cp, at, b, literal):
    """cp[at:] starts with `literal` (a tuple of code points), within [at, b)."""
    if b - at < len(literal):
        return False
    for k in range(len(literal)):
        if cp[at + k] != literal[k]:
            return False
    return True


@njit(cache=True)
def strip(cp, a, b, flags):
    """str.strip(): the span without leading and trailing whitespace."""
    while a < b and flags[cp[a]] & SPACE:
        a += 1
    while b > a and flags[cp[b - 1]] & SPACE:
        b -= 1
    return a, b


@njit(cache=True)
def _is_url(cp, a, b):
    if has_at(cp, a, b, _WWW):
        return True
    if has_at(cp, a, b, _FTP):
        return has_at(cp, a + 3, b, _SCHEME_END)
    if has_at(cp, a, b, _HTTP):
        at = a + 5 if b - a > 4 and cp[a + 4] == 0x73 else a + 4  # https
        return has_at(cp, at, b, _SCHEME_END)
    return False


@njit(cache=True)
def _prefix_end(cp, a, b, flags):
    """End of quality._PREFIX's match at a, or -1."""
    c = cp[a]
    if c == DOT and b - a >= 3 and cp[a + 1] == DOT and cp[a + 2] == DOT:
        return a + 3
    if c == ELLIPSIS:
        return a + 1
    if c == DASH:
        j = a
        while j < b and cp[j] == DASH:
            j += 1
        return j
    if flags[c] & WORD_PREFIX:
        return a + 1
    return -1


@njit(cache=True)
def _suffix_start(cp, a, b, flags):
    """Start of quality._SUFFIX's leftmost match in [a, b) (it ends at b), or -1."""
    last = cp[b - 1]
    if last == DOT:
        if b - a >= 3 and cp[b - 2] == DOT and cp[b - 3] == DOT:
            return b - 3
        return b - 1
    if last == ELLIPSIS:
        return b - 1
    if last == DASH:
        j = b - 1
        while j > a and cp[j - 1] == DASH:
            j -= 1
        return j
    if flags[last] & WORD_SUFFIX:
        return b - 1
    return -1


@njit(cache=True)
def _ascii_letter(c):
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


@njit(cache=True)
def _abbreviation(cp, a, b):
    """quality._ABBREVIATION: "U.S.", "e.g." or "U.S.A"."""
    pairs, i = 0, a
    while i + 1 < b and _ascii_letter(cp[i]) and cp[i + 1] == DOT:
        pairs += 1
        i += 2
    return (i == b and pairs >= 1) or (i == b - 1 and pairs >= 2 and _ascii_letter(cp[i]))


@njit(cache=True)
def _is(c, lower):
    """`re`'s IGNORECASE equality of c with an ASCII lower-case letter."""
    return c == lower or c == lower - 32 or (lower == 0x73 and c == LONG_S)


@njit(cache=True)
def _apostrophe(c):
    return c == APOSTROPHE or c == RIGHT_QUOTE


@njit(cache=True)
def _contraction_cut(cp, a, b):
    """Where quality._CONTRACTION splits [a, b) ("do|n't", "it|'s"), or -1."""
    if b - a >= 4:
        s = b - 3
        if _is(cp[s], 0x6E) and _apostrophe(cp[s + 1]) and _is(cp[s + 2], 0x74):  # n't
            return s
        if _apostrophe(cp[s]) and (
            (_is(cp[s + 1], 0x72) and _is(cp[s + 2], 0x65))  # 're
            or (_is(cp[s + 1], 0x76) and _is(cp[s + 2], 0x65))  # 've
            or (_is(cp[s + 1], 0x6C) and _is(cp[s + 2], 0x6C))  # 'll
        ):
            return s
    if b - a >= 3:
        s = b - 2
        if _apostrophe(cp[s]) and (_is(cp[s + 1], 0x73) or _is(cp[s + 1], 0x64) or _is(cp[s + 1], 0x6D)):
            return s
    return -1


@njit(cache=True)
def _infix(cp, a, b, flags, starts, ends, n):
    """quality._INFIX.split: parts between hyphen runs inside a word and dots in "lower.Upper", with them."""
    segment, p = a, a
    while p < b:
        c = cp[p]
        if c == DASH and p > a and flags[cp[p - 1]] & ALNUM:
            q = p
            while q < b and cp[q] == DASH:
                q += 1
            if q < b and flags[cp[q]] & ALNUM:
                if p > segment:
                    starts[n], ends[n] = segment, p
                    n += 1
                starts[n], ends[n] = p, q
                n += 1
                segment = p = q
                continue
        elif c == DOT and p > a and 0x61 <= cp[p - 1] <= 0x7A and p + 1 < b and 0x41 <= cp[p + 1] <= 0x5A:
            if p > segment:
                starts[n], ends[n] = segment, p
                n += 1
            starts[n], ends[n] = p, p + 1
            n += 1
            segment = p + 1
        p += 1
    if b > segment:
        starts[n], ends[n] = segment, b
        n += 1
    return n


@njit(cache=True)
def _split_chunk(cp, a, b, flags, starts, ends, n, stack):
    """quality._split_chunk: prefixes, the middle split at infixes (or a contraction), suffixes."""
    if _is_url(cp, a, b):
        starts[n], ends[n] = a, b
        return n + 1
    end, top = b, 0
    while a < b:
        cut = _prefix_end(cp, a, b, flags)
        if cut >= 0 and b > cut:
            starts[n], ends[n] = a, cut
            n += 1
            a = cut
            continue
        if not _abbreviation(cp, a, b):
            cut = _suffix_start(cp, a, b, flags)
            if cut > a:
                stack[top] = cut
                top += 1
                b = cut
                continue
        break
    first = n
    n = _infix(cp, a, b, flags, starts, ends, n)
    if n - first == 1:
        cut = _contraction_cut(cp, starts[first], ends[first])
        if cut > 0:
            starts[n], ends[n] = cut, ends[first]
            ends[first] = cut
            n += 1
    for k in range(top - 1, -1, -1):
        starts[n], ends[n] = stack[k], stack[k - 1] if k > 0 else end
        n += 1
    return n


@njit(cache=True)
def _plain_ending(c):
    return c == 0x2C or c == 0x2E or c == 0x3B or c == 0x3A or c == 0x21 or c == 0x3F  # , . ; : ! ?


@njit(cache=True)
def split_words(cp, a, b, flags, starts, ends, stack):
    """quality.words_of over [a, b): the words' spans in starts/ends[0:n]; returns n."""
    n, i = 0, a
    while i < b:
        while i < b and flags[cp[i]] & SPACE:
            i += 1
        if i >= b:
            break
        j = i
        while j < b and not flags[cp[j]] & SPACE:
            j += 1
        if all_alnum(cp, i, j, flags):
            starts[n], ends[n] = i, j
            n += 1
        elif j - i > 2 and _plain_ending(cp[j - 1]) and all_alnum(cp, i, j - 1, flags):
            starts[n], ends[n] = i, j - 1
            starts[n + 1], ends[n + 1] = j - 1, j
            n += 2
        else:
            n = _split_chunk(cp, i, j, flags, starts, ends, n, stack)
        i = j
    return n


@njit(cache=True)
def span_hash(cp, a, b):
    """repetition._word_hash's polynomial hash of cp[a:b], modulo 2**64."""
    h = np.uint64(0)
    for i in range(a, b):
        h = h * BASE + np.uint64(cp[i])
    return h


@njit(cache=True)
def same_text(x, a, b, y, c, d):
    """x[a:b] == y[c:d], for two arrays of code points or bytes (or one array twice)."""
    if b - a != d - c:
        return False
    for k in range(b - a):
        if x[a + k] != y[c + k]:
            return False
    return True


@njit(cache=True)
def group(keys, m, table, ids, first):
    """Number equal keys[0:m] by first occurrence: ids[i] is the group of key i, first[g] the index where group
    g first occurs; returns the group count. `table` (from `group_table`) is scratch reused across calls: a slot
    belongs to this call when its stamp is this call's, so nothing is cleared between calls."""
    slots, slot_stamp, slot_id, shift, calls = table
    calls[0] += 1
    stamp = calls[0]
    mask = np.int64(slots.size - 1)
    groups = 0
    for i in range(m):
        key = keys[i]
        slot = np.int64((key * _GOLDEN) >> shift)
        while slot_stamp[slot] == stamp and slots[slot] != key:
            slot = (slot + np.int64(1)) & mask
        if slot_stamp[slot] == stamp:
            ids[i] = slot_id[slot]
        else:
            slot_stamp[slot], slots[slot], slot_id[slot] = stamp, key, groups
            ids[i] = groups
            first[groups] = i
            groups += 1
    return groups


def group_table(capacity: int):
    """Scratch for `group` over up to `capacity` keys: an open-addressing table at most half full."""
    size = 1 << max(4, int(2 * capacity).bit_length())
    shift = np.uint64(64 - (size.bit_length() - 1))
    return np.zeros(size, np.uint64), np.zeros(size, np.int64), np.zeros(size, np.int64), shift, np.zeros(1, np.int64)
