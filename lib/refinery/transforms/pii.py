"""PII redaction with Spark's regex built-ins: typed placeholders and counts by kind."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from refinery.transforms.rules import Rule, flag_rejects

# Java regexes. Phones need a country code, an area code in parentheses, or the 3-3-4 grouping,
# so dates, versions and order numbers are not taken for phone numbers.
PII_PATTERNS: dict[str, str] = {
    "email": r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])",
    "phone": (
        r"(?<![\w+])(?:"
        r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}"
        r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}"
        r"|\d{3}[.-]\d{3}[.-]\d{4}"
        r")(?![\w])"
    ),
}


def placeholder(kind: str) -> str:
    return f"<{kind.upper()}>"


def redact_column(text: Column, kinds: list[str] | tuple[str, ...] = tuple(PII_PATTERNS)) -> Column:
    """`text` with every match of the given kinds replaced by its placeholder."""
    for kind in kinds:
        text = F.regexp_replace(text, PII_PATTERNS[kind], placeholder(kind))
    return text


def redact_pii(df: DataFrame, *, actions: Mapping[str, str], column: str = "text") -> DataFrame:
    """Count PII by kind, redact the kinds whose action is `redact`, flag docs whose action is `drop`.

    Requires: `column`. Adds: `pii` (map<string,int>: matches by kind, every kind configured) and the
    reject flags (rule `pii:<kind>`); rewrites `column`.
    """
    unknown = sorted(set(actions) - set(PII_PATTERNS))
    if unknown:
        raise ValueError(f"unknown PII kind(s) {', '.join(unknown)}; known: {', '.join(PII_PATTERNS)}")
    kinds = sorted(actions)
    counts = {kind: F.size(F.regexp_extract_all(F.col(column), F.lit(PII_PATTERNS[kind]), 0)) for kind in kinds}
    pii = F.create_map(*(part for kind in kinds for part in (F.lit(kind), counts[kind]))).cast("map<string,int>")
    counted = df.withColumn("pii", pii)
    drop_rules = [
        Rule(f"pii:{kind}", F.col("pii")[kind] > 0, F.format_string(f"%d {kind} match(es)", F.col("pii")[kind]))
        for kind in kinds
        if actions[kind] == "drop"
    ]
    flagged = flag_rejects(counted, drop_rules)
    to_redact = [kind for kind in kinds if actions[kind] == "redact"]
    return flagged.withColumn(column, redact_column(F.col(column), to_redact))


def redact_text(text: str) -> str:
    """The same redaction for a Python string (error messages, logs), with the same placeholders."""
    import re

    for kind, pattern in PII_PATTERNS.items():
        text = re.sub(pattern, placeholder(kind), text)
    return text
