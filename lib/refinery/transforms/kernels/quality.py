"""`QualityFilters.check` for a whole batch in compiled code, with the same verdict, rule, detail and text.

The batch's texts become one uint32 code-point array; `filters.judge_batch` judges every document in it and
writes C4's kept lines to a second array. A document the kernel cannot decide exactly (a line break other
than `\\n`, two different lines with one hash) is judged by `QualityFilters.check`, the reference.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from refinery.rejects import C4, FINEWEB, GOPHER_QUALITY, GOPHER_REPETITION, QUALITY_EMPTY
from refinery.transforms.kernels import filters
from refinery.transforms.kernels.charclass import ascii_lower, flags
from refinery.transforms.kernels.words import group_table, span_hash
from refinery.transforms.quality_verdict import Verdict, fails

# verdict code -> (family, comparison, threshold's parameter, unit); the reason is filters.CODES[code]
_RULES = {
    filters.PARA: (GOPHER_REPETITION, ">", "dup_para_frac", ""),
    filters.PARA + 1: (GOPHER_REPETITION, ">", "dup_para_char_frac", ""),
    filters.LINE: (GOPHER_REPETITION, ">", "dup_line_frac", ""),
    filters.LINE + 1: (GOPHER_REPETITION, ">", "dup_line_char_frac", ""),
    filters.TOP: (GOPHER_REPETITION, ">", "top_n_grams", ""),
    filters.DUP: (GOPHER_REPETITION, ">", "dup_n_grams", ""),
    filters.SHORT_DOC: (GOPHER_QUALITY, "<", "min_doc_words", "words"),
    filters.LONG_DOC: (GOPHER_QUALITY, ">", "max_doc_words", "words"),
    filters.BELOW_AVG: (GOPHER_QUALITY, "<", "min_avg_word_length", ""),
    filters.ABOVE_AVG: (GOPHER_QUALITY, ">", "max_avg_word_length", ""),
    filters.HASHES: (GOPHER_QUALITY, ">", "max_symbol_word_ratio", ""),
    filters.ELLIPSES: (GOPHER_QUALITY, ">", "max_symbol_word_ratio", ""),
    filters.BULLETS: (GOPHER_QUALITY, ">", "max_bullet_lines_ratio", ""),
    filters.END_ELLIPSES: (GOPHER_QUALITY, ">", "max_ellipsis_lines_ratio", ""),
    filters.ALPHA_WORDS: (GOPHER_QUALITY, "<", "min_alpha_words_ratio", ""),
    filters.STOP_WORDS: (GOPHER_QUALITY, "<", "min_stop_words", "stop words"),
    filters.C4_FIRST + 2: (C4, "<", "min_num_sentences", "sentences in kept lines"),
    filters.FINEWEB_FIRST + 1: (FINEWEB, "<", "line_punct_thr", ""),
    filters.FINEWEB_FIRST + 2: (FINEWEB, ">", "short_line_thr", ""),
    filters.FINEWEB_FIRST + 3: (FINEWEB, ">", "char_duplicates_ratio", ""),
    filters.FINEWEB_FIRST + 4: (FINEWEB, ">", "new_line_ratio", ""),
}
_COUNTS = {filters.SHORT_DOC, filters.LONG_DOC, filters.STOP_WORDS, filters.C4_FIRST + 2}  # shown as integers
_FIXED = {
    filters.EMPTY: (QUALITY_EMPTY.name, "no text"),
    filters.C4_FIRST: (C4.of("lorem_ipsum"), "the text contains 'lorem ipsum'"),
    filters.C4_FIRST + 1: (C4.of("curly_bracket"), "the text contains a curly bracket"),
    filters.FINEWEB_FIRST: (FINEWEB.of("empty"), "no lines left"),
}


def _code_points(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts as one uint32 array, and where each starts (offsets[d]:offsets[d + 1])."""
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(text) for text in texts], out=offsets[1:])
    joined = "".join(texts).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(joined, dtype=np.uint32), offsets


def _text(points: np.ndarray) -> str:
    return points.tobytes().decode("utf-32-le", "surrogatepass")


class QualityKernel:
    """The compiled counterpart of one `QualityFilters`: `check_batch` gives `check`'s verdict for each text."""

    def __init__(self, reference):
        self.reference = reference
        rep, qual, c4, fw = reference.repetition, reference.quality, reference.c4, reference.fineweb
        self.on = (rep.enabled, qual.enabled, c4.enabled, fw.enabled)
        self.rep = _floats(rep, "dup_para_frac dup_para_char_frac dup_line_frac dup_line_char_frac")
        self.top = _thresholds(rep.top_n_grams)
        self.dup = _thresholds(rep.dup_n_grams)
        self.qual = _floats(
            qual,
            "min_doc_words max_doc_words min_avg_word_length max_avg_word_length max_symbol_word_ratio "
            "max_bullet_lines_ratio max_ellipsis_lines_ratio min_alpha_words_ratio min_stop_words",
        )
        self.c4 = _floats(
            c4,
            "remove_citations filter_no_terminal_punct min_num_sentences min_words_per_line max_word_length "
            "filter_lorem_ipsum filter_javascript filter_curly_bracket filter_policy",
        )
        self.fw = _floats(
            fw,
            "line_punct_thr line_punct_exclude_zero short_line_thr short_line_length char_duplicates_ratio "
            "new_line_ratio",
        )
        self.languages, self.stops = _stop_words(reference.stop_words)
        self.fallbacks = 0  # documents of the last batch the reference judged

    def check_batch(self, texts: Sequence[str | None], langs: Sequence[str | None]):
        """`QualityFilters.check(text, lang)` for each pair, as a list of its `Verdict`s."""
        given = [text or "" for text in texts]
        cp, offsets = _code_points(given)
        lang_ids = np.array([self.languages.get(lang or "", -1) for lang in langs], dtype=np.int64)
        longest = int(np.diff(offsets).max(initial=0)) + 2
        codes, values, sizes, spans, in_out, out = filters.judge_batch(
            cp, offsets, lang_ids, flags(), ascii_lower(), self.on, self.rep, *self.top, *self.dup, self.qual,
            self.stops, self.c4, self.fw, _scratch(longest),
        )  # fmt: skip
        verdicts = []
        self.fallbacks = int((codes == filters.FALLBACK).sum())
        for d, text in enumerate(given):
            code = int(codes[d])
            if code == filters.FALLBACK:
                verdicts.append(self.reference.check(texts[d], langs[d]))
                continue
            kept = _text(out[spans[d, 0] : spans[d, 1]]) if in_out[d] else text
            if code == 0:
                verdicts.append(Verdict(kept))
            else:
                verdicts.append(Verdict(kept, *self._rule(code, float(values[d]), int(sizes[d]))))
        return verdicts

    def _rule(self, code: int, value: float, size: int) -> tuple[str, str]:
        if code in _FIXED:
            return _FIXED[code]
        family, op, parameter, unit = _RULES[code]
        reason = filters.CODES[code].format(n=size)
        params = {GOPHER_REPETITION: self.reference.repetition, GOPHER_QUALITY: self.reference.quality,
                  C4: self.reference.c4, FINEWEB: self.reference.fineweb}[family]  # fmt: skip
        threshold = getattr(params, parameter)
        if size:
            threshold = threshold[size]
        return fails(family.of(reason), int(value) if code in _COUNTS else value, op, threshold, unit)


def _floats(params, names: str) -> tuple[float, ...]:
    """The named fields of a parameter class, in the order the kernel unpacks them, as floats."""
    return tuple(float(getattr(params, name)) for name in names.split())


def _thresholds(by_n: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    ordered = sorted(by_n.items())
    return np.array([n for n, _ in ordered], dtype=np.int64), np.array([t for _, t in ordered], dtype=np.float64)


def _stop_words(by_language: dict[str, frozenset[str]]):
    """Language -> id, and the stop words of every language as code points sorted by hash within a language."""
    languages, words, lang_first = {}, [], [0]
    for lang, stop_words in by_language.items():
        languages[lang] = len(languages)
        points = [np.frombuffer(w.encode("utf-32-le", "surrogatepass"), np.uint32) for w in stop_words]
        words += sorted(points, key=lambda p: int(span_hash(p, 0, p.size)))
        lang_first.append(len(words))
    stop_cp = np.concatenate(words) if words else np.zeros(0, np.uint32)
    ends = np.cumsum([w.size for w in words], dtype=np.int64)
    starts = ends - np.array([w.size for w in words], dtype=np.int64)
    hashes = np.array([span_hash(w, 0, w.size) for w in words], dtype=np.uint64)
    found = np.zeros(len(words), dtype=np.bool_)
    return languages, (stop_cp, starts, ends, hashes, np.array(lang_first, dtype=np.int64), found)


@functools.lru_cache(maxsize=4)
def _scratch(size: int):
    """Per-document working arrays for documents up to `size` code points, reused by every batch."""
    size = 1 << max(10, (size - 1).bit_length())  # few distinct sizes, so the cache keeps them
    index = lambda: np.zeros(size, np.int64)  # noqa: E731
    words = lambda: np.zeros(size, np.uint64)  # noqa: E731
    return (
        index(), index(), index(), words(), words(), np.zeros(size + 1, np.int64), words(), index(), index(),
        index(), np.zeros(size, np.bool_), index(), index(), words(), group_table(size),
    )  # fmt: skip
