"""Compiled line-level work of the quality filters: duplicated lines and paragraphs, C4's line removal and
sentence count, FineWeb's line ratios. Each mirrors its Python in `refinery.transforms.quality`."""

from __future__ import annotations

import numpy as np
from numba import njit

from refinery.transforms.kernels.charclass import ALNUM, DECIMAL, SPACE, TERMINAL
from refinery.transforms.kernels.words import DOT, NEWLINE, group, has_at, same_text, span_hash, split_words, strip

# C4's phrases, matched in line.lower() (ASCII code points)
LOREM = tuple(map(ord, "lorem ipsum"))
JAVASCRIPT = tuple(map(ord, "javascript"))
TERMS, PRIVACY = tuple(map(ord, "terms of use")), tuple(map(ord, "privacy policy"))
COOKIE = tuple(map(ord, "cookie policy"))
USES, USE_OF, USE = tuple(map(ord, "uses cookies")), tuple(map(ord, "use of cookies")), tuple(map(ord, "use cookies"))
_EDIT, _NEEDED = tuple(map(ord, "[edit]")), tuple(map(ord, "[citation needed]"))
_LEFT_BRACKET, _RIGHT_BRACKET, _CURLY, _UNDERSCORE = 0x5B, 0x5D, 0x7B, 0x5F
_C4_ENDS = (0x2E, 0x3F, 0x21, 0x22, 0x27)  # . ? ! " '
LOREM_FOUND, CURLY_FOUND, FEW_SENTENCES = 1, 2, 3  # c4_lines' verdicts (0: kept)
FW_EMPTY, FW_PUNCT, FW_SHORT, FW_DUPLICATES, FW_LIST = 1, 2, 3, 4, 5  # fineweb's verdicts (0: kept)
COLLISION = -1  # two different lines share a hash: the caller hands the document to the Python reference


@njit(cache=True)
def duplicates(cp, seg_a, seg_b, k, table, ids, first, hashes):
    """quality._duplicates over spans: (repeats, their characters), or (COLLISION, 0)."""
    for i in range(k):
        hashes[i] = span_hash(cp, seg_a[i], seg_b[i])
    group(hashes, k, table, ids, first)
    count = chars = 0
    for i in range(k):
        f = first[ids[i]]
        if f != i:
            if not same_text(cp, seg_a[i], seg_b[i], cp, seg_a[f], seg_b[f]):
                return COLLISION, 0
            count += 1
            chars += seg_b[i] - seg_a[i]
    return count, chars


@njit(cache=True)
def split_runs(cp, a, b, min_run, seg_a, seg_b):
    """re.split(r"\\n{min_run,}", text[a:b]) as spans; returns their count."""
    k, start, i = 0, a, a
    while i < b:
        if cp[i] == NEWLINE:
            j = i
            while j < b and cp[j] == NEWLINE:
                j += 1
            if j - i >= min_run:
                seg_a[k], seg_b[k] = start, i
                k += 1
                start = j
            i = j
        else:
            i += 1
    seg_a[k], seg_b[k] = start, b
    return k + 1


@njit(cache=True)
def has_lower(buf, a, b, lower, phrase):
    """`phrase in text[a:b].lower()` for an ASCII phrase."""
    first, size = phrase[0], len(phrase)
    for i in range(a, b - size + 1):
        if lower[buf[i]] == first:
            k = 1
            while k < size and lower[buf[i + k]] == phrase[k]:
                k += 1
            if k == size:
                return True
    return False


@njit(cache=True)
def count_sentences(buf, a, b, flags):
    """quality._count_sentences: matches of _SENTENCE_END, plus one when alphanumerics follow the last."""
    count, last, p = 0, a, a
    while p < b:
        c = buf[p]
        if c == DOT or c == 0x21 or c == 0x3F:
            before = buf[p - 1] if p > a else 0
            after_initial = 0x41 <= before <= 0x5A and (
                p - 2 < a or not (flags[buf[p - 2]] & ALNUM or buf[p - 2] == _UNDERSCORE)
            )
            if not after_initial:
                q = p
                while q < b and (buf[q] == DOT or buf[q] == 0x21 or buf[q] == 0x3F):
                    q += 1
                if q == b or flags[buf[q]] & SPACE:
                    count += 1
                    last = p = q
                    continue
            if c == DOT and 0x61 <= before <= 0x7A and p > a and p + 1 < b and 0x41 <= buf[p + 1] <= 0x5A:
                count += 1
                p += 1
                last = p
                continue
        p += 1
    for i in range(last, b):
        if flags[buf[i]] & ALNUM:
            return count + 1
    return count


@njit(cache=True)
def _copy_without_citations(cp, a, b, flags, out, w):
    """_CITATION.sub("", text[a:b]) written at out[w:]; returns the end."""
    i = a
    while i < b:
        if cp[i] == _LEFT_BRACKET:
            j = i + 1
            while j < b and flags[cp[j]] & DECIMAL:
                j += 1
            if j < b and cp[j] == _RIGHT_BRACKET:
                i = j + 1
                continue
            if has_at(cp, i, b, _EDIT):
                i += len(_EDIT)
                continue
            if has_at(cp, i, b, _NEEDED):
                i += len(_NEEDED)
                continue
        out[w] = cp[i]
        w += 1
        i += 1
    return w


@njit(cache=True)
def c4_lines(cp, a, b, flags, lower, c4, out):
    """QualityFilters._c4 over text[a:b], the kept lines written to out[a:] -> (verdict, sentences, kept span).

    `c4` holds (remove_citations, filter_no_terminal_punct, min_num_sentences, min_words_per_line,
    max_word_length, filter_lorem_ipsum, filter_javascript, filter_curly_bracket, filter_policy)."""
    citations, terminal, min_sentences, min_words, max_word, lorem, javascript, curly, policy = c4
    w, kept, sentences, pos = a, 0, 0, a
    while pos < b:
        end = pos
        while end < b and cp[end] != NEWLINE:
            end += 1
        ls, le = strip(cp, pos, end, flags)
        pos = end + 1
        words, longest, i = 0, 0, ls
        while i < le:
            while i < le and flags[cp[i]] & SPACE:
                i += 1
            if i < le:
                j = i
                while j < le and not flags[cp[j]] & SPACE:
                    j += 1
                words += 1
                longest = max(longest, j - i)
                i = j
        if max_word > 0 and longest > max_word:
            continue
        x = w + 1 if kept else w  # the line goes after a separator
        if citations:
            y = _copy_without_citations(cp, ls, le, flags, out, x)
        else:
            y = x + le - ls
            out[x:y] = cp[ls:le]
        if terminal:
            last = out[y - 1] if y > x else 0
            if last not in _C4_ENDS or (y - x >= 3 and out[y - 2] == DOT and out[y - 3] == DOT and last == DOT):
                continue
        if words < min_words:
            continue
        if lorem and has_lower(out, x, y, lower, LOREM):
            return LOREM_FOUND, 0, a, b
        if javascript and has_lower(out, x, y, lower, JAVASCRIPT):
            continue
        if curly:
            found = False
            for k in range(x, y):
                if out[k] == _CURLY:
                    found = True
                    break
            if found:
                return CURLY_FOUND, 0, a, b
        if policy and (
            has_lower(out, x, y, lower, TERMS)
            or has_lower(out, x, y, lower, PRIVACY)
            or has_lower(out, x, y, lower, COOKIE)
            or has_lower(out, x, y, lower, USES)
            or has_lower(out, x, y, lower, USE_OF)
            or has_lower(out, x, y, lower, USE)
        ):
            continue
        sentences += count_sentences(out, x, y, flags)
        if kept:
            out[w] = NEWLINE
        kept += 1
        w = y
    if min_sentences > 0 and sentences < min_sentences:
        return FEW_SENTENCES, sentences, a, b
    oa, ob = strip(out, a, w, flags)
    return 0, sentences, oa, ob


@njit(cache=True)
def fineweb(buf, a, b, flags, fw, scratch):
    """QualityFilters._fineweb over buf[a:b] -> (verdict, value); verdict COLLISION: undecided.

    `fw` holds (line_punct_thr, line_punct_exclude_zero, short_line_thr, short_line_length,
    char_duplicates_ratio, new_line_ratio)."""
    punct_thr, exclude_zero, short_thr, short_length, dup_ratio, newline_ratio = fw
    starts, ends, stack, seg_a, seg_b, seg_h, ids, first, table = scratch
    k, pos, newlines = 0, a, 0
    while pos <= b:
        end = pos
        while end < b and buf[end] != NEWLINE:
            end += 1
        for i in range(pos, end):
            if not flags[buf[i]] & SPACE:
                seg_a[k], seg_b[k] = pos, end
                k += 1
                break
        if end < b:
            newlines += 1
        pos = end + 1
    if k == 0:
        return FW_EMPTY, 0.0
    ending = short = 0
    for i in range(k):
        ending += (flags[buf[seg_b[i] - 1]] & TERMINAL) != 0
        short += seg_b[i] - seg_a[i] <= short_length
    ratio = ending / k
    if ratio < punct_thr and not (ratio == 0 and exclude_zero):
        return FW_PUNCT, ratio
    ratio = short / k
    if ratio > short_thr:
        return FW_SHORT, ratio
    characters = (b - a) - newlines
    repeated, chars = duplicates(buf, seg_a, seg_b, k, table, ids, first, seg_h)
    if repeated == COLLISION:
        return COLLISION, 0.0
    ratio = chars / characters if characters else 0.0
    if ratio > dup_ratio:
        return FW_DUPLICATES, ratio
    n = split_words(buf, a, b, flags, starts, ends, stack)
    ratio = newlines / n if n else np.inf
    if ratio > newline_ratio:
        return FW_LIST, ratio
    return 0, 0.0
