"""Web-text quality filters: Gopher repetition, Gopher quality, C4 and FineWeb, each rule named.

The heuristics and default thresholds are the published ones (Rae et al. 2021, Table A1; Raffel et
al. 2020; Penedo et al. 2024), written to make the same decisions as DataTrove's filters of the same
names. A document is tokenized once and every filter reads the same words, lines and paragraphs; the
C4 filter also removes lines (javascript, policy notices, lines without terminal punctuation or with
too few words), and the FineWeb filter sees the text after that.

`QualityFilters.check` is plain Python, the reference; `check_batch` gives its verdicts for a whole batch from
the compiled kernel in `refinery.transforms.kernels` (tests/transforms/test_quality_kernel.py holds them equal),
and `flag_quality` runs that over a DataFrame in an Arrow-batched pandas UDF. Rules are `<filter>:<reason>`
with DataTrove's reason names, e.g.
`gopher_repetition:dup_line_frac`, `gopher_quality:gopher_short_doc`, `c4:curly_bracket`,
`fineweb:line_punct_ratio`; the detail gives the measured value and the threshold.
"""

from __future__ import annotations

import functools
import re

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from refinery.rejects import C4, FINEWEB, GOPHER_QUALITY, GOPHER_REPETITION, QUALITY_EMPTY
from refinery.transforms.arrow_udfs import arrow_batch_udf
from refinery.transforms.params import C4Params, FineWebParams, GopherQualityParams, GopherRepetitionParams
from refinery.transforms.punctuation import PUNCTUATION_SET, TERMINAL_PUNCTUATION
from refinery.transforms.quality_verdict import Verdict, fails
from refinery.transforms.repetition import NGrams
from refinery.transforms.rules import already_flagged, flag_computed

# Words as spaCy's rule-based tokenizer (which DataTrove uses) cuts them, in its order: split on whitespace;
# peel prefix and suffix punctuation off each chunk (keeping abbreviations like "U.S." and "F." whole);
# split the rest at hyphens between letters or digits, at a dot between a lower- and an upper-case letter, and
# before English contractions ("do", "n't"; "it", "'s"). URLs stay whole.
_PREFIX = re.compile(r"^(?:\.\.\.|…|-+|[\"'“‘(\[{<*`~#$£€§¿¡:_])")
_SUFFIX = re.compile(r"(?:\.\.\.|…|-+|[\"'”’)\]}>*`:;,!?%._])$")
_ABBREVIATION = re.compile(r"^(?:[A-Za-z]\.)+$|^(?:[A-Za-z]\.){2,}[A-Za-z]?$")
_INFIX = re.compile(r"(?<=[^\W_])(-+)(?=[^\W_])|(?<=[a-z])(\.)(?=[A-Z])")
_CONTRACTION = re.compile(r"(?i)^(.+?)(n['’]t|['’](?:s|re|ve|ll|d|m))$")
_URL = re.compile(r"^(?:https?|ftp)://|^www\.")


def _split_chunk(chunk: str) -> list[str]:
    if chunk.isalnum() or _URL.match(chunk):
        return [chunk]
    prefixes: list[str] = []
    suffixes: list[str] = []
    while chunk:
        if (found := _PREFIX.match(chunk)) and len(chunk) > found.end():
            prefixes.append(found.group())
            chunk = chunk[found.end() :]
        elif not _ABBREVIATION.match(chunk) and (found := _SUFFIX.search(chunk)) and found.start() > 0:
            suffixes.append(found.group())
            chunk = chunk[: found.start()]
        else:
            break
    middle = [part for part in _INFIX.split(chunk) if part]
    if len(middle) == 1 and (contraction := _CONTRACTION.match(middle[0])):
        middle = list(contraction.groups())
    return prefixes + middle + suffixes[::-1]


_PLAIN_ENDINGS = frozenset(",.;:!?")  # a word followed by one of these splits in two, whatever the word


def words_of(text: str) -> list[str]:
    words: list[str] = []
    keep = words.append
    for chunk in text.split():
        if chunk.isalnum():
            keep(chunk)
        elif len(chunk) > 2 and chunk[-1] in _PLAIN_ENDINGS and chunk[:-1].isalnum():  # not an initial like "F."
            keep(chunk[:-1])
            keep(chunk[-1])
        else:
            words += _split_chunk(chunk)
    return words


_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile(r"\n+")
_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
# Sentence ends as spaCy's sentencizer finds them: end marks before a space or the end of the line, and
# a dot between a lower-case and an upper-case letter ("pandas.Series"); not after an initial ("F. Dubois").
_SENTENCE_END = re.compile(r"(?<!\b[A-Z])[.!?]+(?=\s|$)|(?<=[a-z])\.(?=[A-Z])")
_C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
_POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
_TERMINAL = tuple(TERMINAL_PUNCTUATION)


class QualityFilters:
    """All configured quality filters, applied in order: Gopher repetition, Gopher quality, C4, FineWeb."""

    def __init__(
        self,
        gopher_repetition: GopherRepetitionParams,
        gopher_quality: GopherQualityParams,
        c4: C4Params,
        fineweb: FineWebParams,
    ):
        self.repetition = gopher_repetition
        self.quality = gopher_quality
        self.c4 = c4
        self.fineweb = fineweb
        self.stop_words = {lang: frozenset(words) for lang, words in gopher_quality.stop_words.items()}
        self._kernel = None

    def check_batch(self, texts: list[str | None], langs: list[str | None]) -> list[Verdict]:
        """`check` for each (text, lang), by the compiled kernel (built once per process)."""
        if self._kernel is None:
            from refinery.transforms.kernels.quality import QualityKernel

            self._kernel = QualityKernel(self)
        return self._kernel.check_batch(texts, langs)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_kernel": None}  # a worker builds its own

    def check(self, text: str, lang: str | None = None) -> Verdict:
        if not text or not text.strip():
            return Verdict(text or "", QUALITY_EMPTY.name, "no text")
        words = words_of(text)
        if self.repetition.enabled and (failed := self._gopher_repetition(text, words)):
            return Verdict(text, *failed)
        if self.quality.enabled and (failed := self._gopher_quality(text, words, lang)):
            return Verdict(text, *failed)
        if self.c4.enabled:
            text, failed = self._c4(text)
            if failed:
                return Verdict(text, *failed)
        if self.fineweb.enabled:
            failed = self._fineweb(text)
            if failed:
                return Verdict(text, *failed)
        return Verdict(text)

    # ------------------------------------------------------------------------------ Gopher repetition

    def _gopher_repetition(self, text: str, words: list[str]) -> tuple[str, str] | None:
        cfg, length = self.repetition, len(text)
        paragraphs = _PARAGRAPH_BREAK.split(text.strip())
        duplicates, duplicate_chars = _duplicates(paragraphs)
        if cfg.dup_para_frac and duplicates / len(paragraphs) > cfg.dup_para_frac:
            return fails(GOPHER_REPETITION.of("dup_para_frac"), duplicates / len(paragraphs), ">", cfg.dup_para_frac)
        if cfg.dup_para_char_frac and duplicate_chars / length > cfg.dup_para_char_frac:
            return fails(
                GOPHER_REPETITION.of("dup_para_char_frac"), duplicate_chars / length, ">", cfg.dup_para_char_frac
            )
        lines = _LINE_BREAKS.split(text)
        duplicates, duplicate_chars = _duplicates(lines)
        if cfg.dup_line_frac and duplicates / len(lines) > cfg.dup_line_frac:
            return fails(GOPHER_REPETITION.of("dup_line_frac"), duplicates / len(lines), ">", cfg.dup_line_frac)
        if cfg.dup_line_char_frac and duplicate_chars / length > cfg.dup_line_char_frac:
            return fails(
                GOPHER_REPETITION.of("dup_line_char_frac"), duplicate_chars / length, ">", cfg.dup_line_char_frac
            )
        grams = NGrams(words)
        for n, threshold in sorted(cfg.top_n_grams.items()):
            if len(words) < n:
                continue
            top = grams.top_gram_chars(n)
            if top / length > threshold:
                return fails(GOPHER_REPETITION.of(f"top_{n}_gram"), top / length, ">", threshold)
        for n, threshold in sorted(cfg.dup_n_grams.items()):
            repeated = grams.repeated_gram_chars(n) if len(words) >= n else 0
            if repeated / length > threshold:
                return fails(GOPHER_REPETITION.of(f"duplicated_{n}_n_grams"), repeated / length, ">", threshold)
        return None

    # ------------------------------------------------------------------------------ Gopher quality

    def _gopher_quality(self, text: str, words: list[str], lang: str | None) -> tuple[str, str] | None:
        cfg = self.quality
        n_words = len(words)
        kinds = [_word_kind(w) for w in words]
        non_symbol = [w for w, (content, _) in zip(words, kinds, strict=True) if content]
        if cfg.min_doc_words and len(non_symbol) < cfg.min_doc_words:
            return fails(GOPHER_QUALITY.of("gopher_short_doc"), len(non_symbol), "<", cfg.min_doc_words, "words")
        if cfg.max_doc_words and len(non_symbol) > cfg.max_doc_words:
            return fails(GOPHER_QUALITY.of("gopher_long_doc"), len(non_symbol), ">", cfg.max_doc_words, "words")
        mean_length = sum(len(w) for w in non_symbol) / len(non_symbol) if non_symbol else 0.0
        if cfg.min_avg_word_length and mean_length < cfg.min_avg_word_length:
            return fails(GOPHER_QUALITY.of("gopher_below_avg_threshold"), mean_length, "<", cfg.min_avg_word_length)
        if cfg.max_avg_word_length and mean_length > cfg.max_avg_word_length:
            return fails(GOPHER_QUALITY.of("gopher_above_avg_threshold"), mean_length, ">", cfg.max_avg_word_length)
        if cfg.max_symbol_word_ratio and text.count("#") / n_words > cfg.max_symbol_word_ratio:
            return fails(
                GOPHER_QUALITY.of("gopher_too_many_hashes"), text.count("#") / n_words, ">", cfg.max_symbol_word_ratio
            )
        ellipses = text.count("...") + text.count("…")
        if cfg.max_symbol_word_ratio and ellipses / n_words > cfg.max_symbol_word_ratio:
            return fails(
                GOPHER_QUALITY.of("gopher_too_many_ellipsis"), ellipses / n_words, ">", cfg.max_symbol_word_ratio
            )
        lines = text.splitlines()
        bullets = sum(line.lstrip().startswith(("•", "-")) for line in lines) / len(lines)
        if cfg.max_bullet_lines_ratio and bullets > cfg.max_bullet_lines_ratio:
            return fails(GOPHER_QUALITY.of("gopher_too_many_bullets"), bullets, ">", cfg.max_bullet_lines_ratio)
        ending = sum(line.rstrip().endswith(("...", "…")) for line in lines) / len(lines)
        if cfg.max_ellipsis_lines_ratio and ending > cfg.max_ellipsis_lines_ratio:
            return fails(GOPHER_QUALITY.of("gopher_too_many_end_ellipsis"), ending, ">", cfg.max_ellipsis_lines_ratio)
        alpha = sum(letter for _, letter in kinds) / n_words
        if cfg.min_alpha_words_ratio and alpha < cfg.min_alpha_words_ratio:
            return fails(GOPHER_QUALITY.of("gopher_below_alpha_threshold"), alpha, "<", cfg.min_alpha_words_ratio)
        stop_words = self.stop_words.get(lang or "")
        if cfg.min_stop_words and stop_words is not None:
            found = len(stop_words.intersection(words))
            if found < cfg.min_stop_words:
                return fails(
                    GOPHER_QUALITY.of("gopher_enough_stop_words"), found, "<", cfg.min_stop_words, "stop words"
                )
        return None

    # ------------------------------------------------------------------------------ C4

    def _c4(self, text: str) -> tuple[str, tuple[str, str] | None]:
        cfg = self.c4
        kept, sentences = [], 0
        for line in text.splitlines():
            line = line.strip()
            words = line.split()
            if cfg.max_word_length > 0 and any(len(word) > cfg.max_word_length for word in words):
                continue
            if cfg.remove_citations:
                line = _CITATION.sub("", line)
            if cfg.filter_no_terminal_punct and (not line.endswith(_C4_END_PUNCTUATION) or line.endswith("...")):
                continue
            if len(words) < cfg.min_words_per_line:
                continue
            lower = line.lower()
            if cfg.filter_lorem_ipsum and "lorem ipsum" in lower:
                return text, (C4.of("lorem_ipsum"), "the text contains 'lorem ipsum'")
            if cfg.filter_javascript and "javascript" in lower:
                continue
            if cfg.filter_curly_bracket and "{" in line:
                return text, (C4.of("curly_bracket"), "the text contains a curly bracket")
            if cfg.filter_policy and any(phrase in lower for phrase in _POLICY_SUBSTRINGS):
                continue
            sentences += _count_sentences(line)
            kept.append(line)
        if cfg.min_num_sentences > 0 and sentences < cfg.min_num_sentences:
            return text, fails(
                C4.of("too_few_sentences"), sentences, "<", cfg.min_num_sentences, "sentences in kept lines"
            )
        return "\n".join(kept).strip(), None

    # ------------------------------------------------------------------------------ FineWeb

    def _fineweb(self, text: str) -> tuple[str, str] | None:
        cfg = self.fineweb
        lines = [line for line in text.split("\n") if line.strip() != ""]
        if not lines:
            return FINEWEB.of("empty"), "no lines left"
        ratio = sum(line.endswith(_TERMINAL) for line in lines) / len(lines)
        if ratio < cfg.line_punct_thr and not (ratio == 0 and cfg.line_punct_exclude_zero):
            return fails(FINEWEB.of("line_punct_ratio"), ratio, "<", cfg.line_punct_thr)
        ratio = sum(len(line) <= cfg.short_line_length for line in lines) / len(lines)
        if ratio > cfg.short_line_thr:
            return fails(FINEWEB.of("short_line_ratio"), ratio, ">", cfg.short_line_thr)
        characters = len(text.replace("\n", ""))
        ratio = _duplicates(lines)[1] / characters if characters else 0.0
        if ratio > cfg.char_duplicates_ratio:
            return fails(FINEWEB.of("char_dup_ratio"), ratio, ">", cfg.char_duplicates_ratio)
        words = words_of(text)
        ratio = text.count("\n") / len(words) if words else float("inf")
        if ratio > cfg.new_line_ratio:
            return fails(FINEWEB.of("list_ratio"), ratio, ">", cfg.new_line_ratio)
        return None


_PUNCTUATION_CHARACTERS = "".join(PUNCTUATION_SET)


@functools.lru_cache(maxsize=1 << 16)  # the frequent words; under 20 MB per Python worker
def _word_kind(word: str) -> tuple[bool, bool]:
    """(the word has a character that is not punctuation, the word has a letter); words recur across documents."""
    return bool(word.strip(_PUNCTUATION_CHARACTERS)), any(ch.isalpha() for ch in word)


def _count_sentences(line: str) -> int:
    ends = list(_SENTENCE_END.finditer(line))
    trailing = line[ends[-1].end() :] if ends else line
    return len(ends) + (1 if any(ch.isalnum() for ch in trailing) else 0)


def _duplicates(items: list[str]) -> tuple[int, int]:
    """How many items repeat an earlier one, and their total characters."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


_VERDICT = StructType(
    [StructField("text", StringType()), StructField("rule", StringType()), StructField("detail", StringType())]
)


def flag_quality(df: DataFrame, filters: QualityFilters) -> DataFrame:
    """Run the quality filters; keep the C4-cleaned text, flag dropped documents.

    Requires: `text`, `lang`. Adds: the reject flags (rules `gopher_repetition:*`, `gopher_quality:*`,
    `c4:*`, `fineweb:*`); rewrites `text` (C4 line removal) for rows not flagged before.
    """

    @arrow_batch_udf(_VERDICT)
    def judge(texts: pa.Array, langs: pa.Array) -> pa.Array:
        verdicts = filters.check_batch(texts.to_pylist(), langs.to_pylist())
        columns = [pa.array([v.text for v in verdicts], pa.string()), pa.array([v.rule for v in verdicts], pa.string()),
                   pa.array([v.detail for v in verdicts], pa.string())]  # fmt: skip
        return pa.StructArray.from_arrays(columns, names=["text", "rule", "detail"])

    earlier = already_flagged(df)
    # Rows an earlier transform flagged are not judged again: the UDF gets null text for them.
    judged = df.withColumn("_quality", judge(F.when(~earlier, F.col("text")), F.col("lang")))
    kept_text = F.when(~earlier & F.col("_quality.rule").isNull(), F.col("_quality.text")).otherwise(F.col("text"))
    flagged = flag_computed(judged.withColumn("text", kept_text), F.col("_quality.rule"), F.col("_quality.detail"))
    return flagged.drop("_quality")
