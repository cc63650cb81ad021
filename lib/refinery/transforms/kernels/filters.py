"""The four quality filters (Gopher repetition, Gopher quality, C4, FineWeb), compiled: `QualityFilters.check`
step by step over each document of a batch's code points, giving a verdict code (`CODES`), the measured value,
the n of an n-gram rule and the span of the text after C4's line removal.

Thresholds arrive as one float tuple per filter (`refinery.transforms.kernels.quality.QualityKernel` builds them
from the parameter classes); a threshold of 0 turns its check off, as in Python.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from refinery.transforms.kernels import lines
from refinery.transforms.kernels.charclass import ALPHA, OTHER_BREAK, PUNCT
from refinery.transforms.kernels.words import BASE, DOT, ELLIPSIS, NEWLINE, group, same_text, split_words, strip

CODES = (
    "kept", "quality:empty", "dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac",
    "top_{n}_gram", "duplicated_{n}_n_grams",
    "gopher_short_doc", "gopher_long_doc", "gopher_below_avg_threshold", "gopher_above_avg_threshold",
    "gopher_too_many_hashes", "gopher_too_many_ellipsis", "gopher_too_many_bullets", "gopher_too_many_end_ellipsis",
    "gopher_below_alpha_threshold", "gopher_enough_stop_words",
    "lorem_ipsum", "curly_bracket", "too_few_sentences",
    "empty", "line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio",
)  # fmt: skip
FALLBACK = -1  # the kernel cannot decide this document exactly (a rare line break, a hash collision)
EMPTY, PARA, LINE, TOP, DUP = 1, 2, 4, 6, 7
SHORT_DOC, LONG_DOC, BELOW_AVG, ABOVE_AVG, HASHES, ELLIPSES = range(8, 14)
BULLETS, END_ELLIPSES, ALPHA_WORDS, STOP_WORDS = range(14, 18)
C4_FIRST, FINEWEB_FIRST = 18, 21  # + lines.c4_lines' and lines.fineweb's verdicts - 1
_HASH, _BULLET, _HYPHEN = 0x23, 0x2022, 0x2D


@njit(cache=True)
def _word_hashes(cp, starts, ends, n, hashes, powers, cum):
    """Each word's polynomial hash and BASE ** len; cum[i] = characters of the words before word i."""
    cum[0] = 0
    for i in range(n):
        h, p = np.uint64(0), np.uint64(1)
        for k in range(starts[i], ends[i]):
            h = h * BASE + np.uint64(cp[k])
            p = p * BASE
        hashes[i], powers[i] = h, p
        cum[i + 1] = cum[i] + ends[i] - starts[i]


@njit(cache=True)
def _extend(grams, size, target, hashes, powers, n, spaced):
    """repetition.NGrams._joined: `size`-gram hashes in place -> `target`-gram hashes (words joined by a space
    or by nothing)."""
    while size < target:
        for i in range(n - size):
            h = grams[i]
            if spaced:
                h = h * BASE + np.uint64(32)
            grams[i] = h * powers[i + size] + hashes[i + size]
        size += 1
    return size


@njit(cache=True)
def _top_gram_chars(grams, m, size, cum, table, ids, first, counts):
    """repetition.NGrams.top_gram_chars: len(most common n-gram) * its count; ties to the one seen first."""
    groups = group(grams, m, table, ids, first)
    counts[:groups] = 0
    for i in range(m):
        counts[ids[i]] += 1
    best = 0
    for g in range(1, groups):
        if counts[g] > counts[best]:
            best = g
    at = first[best]
    return (cum[at + size] - cum[at] + size - 1) * counts[best]


@njit(cache=True)
def _repeated_gram_chars(grams, m, size, cum, table, ids, first, seen):
    """repetition.NGrams.repeated_gram_chars: Gopher's walk, which jumps past each repeated n-gram."""
    groups = group(grams, m, table, ids, first)
    if groups == m:
        return 0
    seen[:groups] = False
    repeated, i = 0, 0
    while i < m:
        g = ids[i]
        if seen[g]:
            repeated += cum[i + size] - cum[i]
            i += size
        else:
            seen[g] = True
            i += 1
    return repeated


@njit(cache=True)
def _duplicated(cp, a, b, run, frac, chars, length, sc):
    """Gopher's duplicated paragraphs (run 2) or lines (run 1) -> (0 | 1: by count | 2: by characters | -1
    collision, value)."""
    ids, first, seg_a, seg_b, seg_h, table = sc[7], sc[8], sc[11], sc[12], sc[13], sc[14]
    k = lines.split_runs(cp, a, b, run, seg_a, seg_b)
    repeated, repeated_chars = lines.duplicates(cp, seg_a, seg_b, k, table, ids, first, seg_h)
    if repeated == lines.COLLISION:
        return -1, 0.0
    if frac and repeated / k > frac:
        return 1, repeated / k
    if chars and repeated_chars / length > chars:
        return 2, repeated_chars / length
    return 0, 0.0


@njit(cache=True)
def gopher_repetition(cp, a, b, n, flags, rep, top_ns, top_thr, dup_ns, dup_thr, sc):
    """QualityFilters._gopher_repetition -> (code, value, n of an n-gram rule)."""
    hashes, powers, cum, grams, ids, first, counts, seen = sc[3:11]
    table = sc[14]
    para_frac, para_chars, line_frac, line_chars = rep
    length = b - a
    sa, sb = strip(cp, a, b, flags)
    code, value = _duplicated(cp, sa, sb, 2, para_frac, para_chars, length, sc)
    if code:
        return PARA + code - 1 if code > 0 else FALLBACK, value, 0
    code, value = _duplicated(cp, a, b, 1, line_frac, line_chars, length, sc)
    if code:
        return LINE + code - 1 if code > 0 else FALLBACK, value, 0
    size = 1
    grams[:n] = hashes[:n]
    for j in range(top_ns.size):
        if n < top_ns[j]:
            continue
        size = _extend(grams, size, top_ns[j], hashes, powers, n, True)
        top = _top_gram_chars(grams, n - size + 1, size, cum, table, ids, first, counts)
        if top / length > top_thr[j]:
            return TOP, top / length, top_ns[j]
    size = 1
    grams[:n] = hashes[:n]
    for j in range(dup_ns.size):
        repeated = 0
        if n >= dup_ns[j]:
            size = _extend(grams, size, dup_ns[j], hashes, powers, n, False)
            repeated = _repeated_gram_chars(grams, n - size + 1, size, cum, table, ids, first, seen)
        if repeated / length > dup_thr[j]:
            return DUP, repeated / length, dup_ns[j]
    return 0, 0.0, 0


@njit(cache=True)
def _stop_words_found(cp, starts, ends, n, hashes, stops, lang):
    """len(stop_words.intersection(words)) for the document's language."""
    stop_cp, stop_a, stop_b, stop_h, lang_first, found = stops
    lo, hi = lang_first[lang], lang_first[lang + 1]
    found[lo:hi] = False
    distinct = 0
    for i in range(n):
        h = hashes[i]
        at = lo + np.searchsorted(stop_h[lo:hi], h)
        while at < hi and stop_h[at] == h:
            if not found[at] and same_text(cp, starts[i], ends[i], stop_cp, stop_a[at], stop_b[at]):
                found[at] = True
                distinct += 1
            at += 1
    return distinct


@njit(cache=True)
def gopher_quality(cp, a, b, n, flags, qual, stops, lang, sc):
    """QualityFilters._gopher_quality -> (code, value)."""
    starts, ends, hashes = sc[0], sc[1], sc[3]
    min_words, max_words, min_avg, max_avg, symbols, max_bullets, max_end_ellipses, min_alpha, min_stop = qual
    content = content_chars = letters = 0
    for i in range(n):
        has_content = has_letter = False
        for k in range(starts[i], ends[i]):
            f = flags[cp[k]]
            has_content = has_content or not f & PUNCT
            has_letter = has_letter or (f & ALPHA) != 0
        if has_content:
            content += 1
            content_chars += ends[i] - starts[i]
        letters += has_letter
    if min_words and content < min_words:
        return SHORT_DOC, float(content)
    if max_words and content > max_words:
        return LONG_DOC, float(content)
    mean = content_chars / content if content else 0.0
    if min_avg and mean < min_avg:
        return BELOW_AVG, mean
    if max_avg and mean > max_avg:
        return ABOVE_AVG, mean
    hashes_seen = ellipses = 0
    i = a
    while i < b:
        c = cp[i]
        if c == _HASH:
            hashes_seen += 1
        elif c == ELLIPSIS:
            ellipses += 1
        elif c == DOT and i + 2 < b and cp[i + 1] == DOT and cp[i + 2] == DOT:
            ellipses += 1
            i += 2
        i += 1
    if symbols and hashes_seen / n > symbols:
        return HASHES, hashes_seen / n
    if symbols and ellipses / n > symbols:
        return ELLIPSES, ellipses / n
    count = bullets = end_ellipses = 0
    pos = a
    while pos < b:  # str.splitlines(): no empty line after a final newline
        end = pos
        while end < b and cp[end] != NEWLINE:
            end += 1
        la, lb = strip(cp, pos, end, flags)
        count += 1
        bullets += la < lb and (cp[la] == _BULLET or cp[la] == _HYPHEN)
        end_ellipses += la < lb and (
            cp[lb - 1] == ELLIPSIS or (lb - la >= 3 and cp[lb - 1] == DOT and cp[lb - 2] == DOT and cp[lb - 3] == DOT)
        )
        pos = end + 1
    if max_bullets and bullets / count > max_bullets:
        return BULLETS, bullets / count
    if max_end_ellipses and end_ellipses / count > max_end_ellipses:
        return END_ELLIPSES, end_ellipses / count
    if min_alpha and letters / n < min_alpha:
        return ALPHA_WORDS, letters / n
    if min_stop and lang >= 0:
        found = _stop_words_found(cp, starts, ends, n, hashes, stops, lang)
        if found < min_stop:
            return STOP_WORDS, float(found)
    return 0, 0.0


@njit(cache=True)
def judge(cp, a, b, flags, lower, on, rep, top_ns, top_thr, dup_ns, dup_thr, qual, stops, lang, c4, fw, out, sc):
    """QualityFilters.check over cp[a:b] -> (code, value, n, kept text span, whether that span is in `out`)."""
    starts, ends, stack, hashes, powers, cum = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5]
    sa, sb = strip(cp, a, b, flags)
    if sa == sb:
        return EMPTY, 0.0, 0, a, b, False
    for i in range(a, b):
        if flags[cp[i]] & OTHER_BREAK:
            return FALLBACK, 0.0, 0, a, b, False
    n = split_words(cp, a, b, flags, starts, ends, stack)
    _word_hashes(cp, starts, ends, n, hashes, powers, cum)
    if on[0]:
        code, value, size = gopher_repetition(cp, a, b, n, flags, rep, top_ns, top_thr, dup_ns, dup_thr, sc)
        if code:
            return code, value, size, a, b, False
    if on[1]:
        code, value = gopher_quality(cp, a, b, n, flags, qual, stops, lang, sc)
        if code:
            return code, value, 0, a, b, False
    buf, x, y, in_out = cp, a, b, False
    if on[2]:
        code, sentences, x, y = lines.c4_lines(cp, a, b, flags, lower, c4, out)
        if code:
            return C4_FIRST + code - 1, float(sentences), 0, a, b, False
        buf, in_out = out, True
    if on[3]:
        fw_scratch = (starts, ends, stack, sc[11], sc[12], sc[13], sc[7], sc[8], sc[14])
        code, value = lines.fineweb(buf, x, y, flags, fw, fw_scratch)
        if code == lines.COLLISION:
            return FALLBACK, 0.0, 0, a, b, False
        if code:
            return FINEWEB_FIRST + code - 1, value, 0, x, y, in_out
    return 0, 0.0, 0, x, y, in_out


@njit(cache=True)
def judge_batch(cp, offsets, langs, flags, lower, on, rep, top_ns, top_thr, dup_ns, dup_thr, qual, stops, c4, fw, sc):
    """`judge` for each document: offsets[d]:offsets[d + 1] is document d in `cp`; C4's kept lines of document d
    are written to the same range of the returned `out`."""
    docs = offsets.size - 1
    codes, values = np.zeros(docs, np.int32), np.zeros(docs, np.float64)
    sizes, spans, in_out = np.zeros(docs, np.int32), np.zeros((docs, 2), np.int64), np.zeros(docs, np.bool_)
    out = np.empty_like(cp)
    for d in range(docs):
        code, value, size, x, y, moved = judge(
            cp, offsets[d], offsets[d + 1], flags, lower, on, rep, top_ns, top_thr, dup_ns, dup_thr, qual, stops,
            langs[d], c4, fw, out, sc,
        )  # fmt: skip
        codes[d], values[d], sizes[d], spans[d, 0], spans[d, 1], in_out[d] = code, value, size, x, y, moved
    return codes, values, sizes, spans, in_out, out
