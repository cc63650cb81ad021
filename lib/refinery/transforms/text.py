"""Text normalization and simple text signals (word counts, content hash)."""

from __future__ import annotations

import unicodedata

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import StringType

# Java regexes (Spark's regexp_replace): control characters except tab and newline; horizontal space runs.
_CONTROL_CHARS = r"[\p{Cc}\p{Cf}&&[^\t\n\u200c\u200d]]"
_HORIZONTAL_SPACE = r"[\h\t]+"


@pandas_udf(StringType())
def nfc(texts: pd.Series) -> pd.Series:
    """Unicode NFC normalization (no Spark built-in does it); ASCII and already-NFC text pass through."""

    def normalize(text: str | None) -> str | None:
        if text is None or text.isascii() or unicodedata.is_normalized("NFC", text):
            return text
        return unicodedata.normalize("NFC", text)

    return texts.map(normalize)


def normalize_text_column(text: Column) -> Column:
    """NFC, no control characters, `\\n` line endings, single spaces, no blank-line runs, trimmed."""
    text = F.regexp_replace(text, r"\r\n?", "\n")
    text = F.regexp_replace(nfc(text), _CONTROL_CHARS, "")
    text = F.regexp_replace(text, _HORIZONTAL_SPACE, " ")
    text = F.regexp_replace(text, r" ?\n ?", "\n")
    text = F.regexp_replace(text, r"\n{3,}", "\n\n")
    return strip_whitespace(text)


def strip_whitespace(text: Column) -> Column:
    """Remove leading and trailing whitespace of any kind (Spark's `trim` only removes spaces)."""
    return F.regexp_replace(text, r"^\s+|\s+$", "")


def normalize_text(df: DataFrame, *, column: str = "text") -> DataFrame:
    """Normalize Unicode and whitespace in place.

    Requires: `column`. Adds: nothing (rewrites `column`).
    """
    return df.withColumn(column, normalize_text_column(F.col(column)))


def word_count(text: Column) -> Column:
    """Number of whitespace-separated words."""
    trimmed = strip_whitespace(text)
    return F.when(trimmed == "", F.lit(0)).otherwise(F.size(F.split(trimmed, r"\s+")))


def add_text_signals(df: DataFrame, *, lowercase: bool = True) -> DataFrame:
    """Requires: `text`. Adds: `n_words` (int), `content_hash` (sha256 of the whitespace-collapsed text,
    lower-cased first when `lowercase`, so case-only variants are exact duplicates)."""
    canonical = strip_whitespace(F.col("text"))
    if lowercase:
        canonical = F.lower(canonical)
    canonical = F.regexp_replace(canonical, r"\s+", " ")
    return df.withColumns({"n_words": word_count(F.col("text")).cast("int"), "content_hash": F.sha2(canonical, 256)})
