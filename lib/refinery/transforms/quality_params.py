"""The quality filters' parameters: thresholds and switches, with the published defaults.

One frozen dataclass per filter (`refinery.transforms.quality` applies them); the config's
`curate.<filter>` sections are these classes, so a threshold, its default and its valid range are
declared here only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from refinery.errors import require_order, require_range


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
