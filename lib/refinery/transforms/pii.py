"""PII redaction: counts by kind, typed placeholders (`<EMAIL>` ...) or keyed tokens, documents dropped by kind.

The kinds, their patterns and `find_pii` are in `refinery.transforms.pii_patterns`. `scan` is plain Python, the
reference; the Arrow-batched UDFs (`redact_pii`, `redact_column`, `lineage_safe_column`) find the same spans with
`refinery.transforms.kernels.pii.find_pii_fast`, which tries each pattern only where a compiled pass says it can
start. `redact_text` / `redact_column` redact everything for logs, errors and quarantined raw records, and
`lineage_safe` turns the PII in ids and file names into unkeyed tokens (they must stay unique).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import IntegerType, MapType, StringType, StructField, StructType

from refinery.rejects import PII
from refinery.transforms.pii_patterns import KINDS, PII_KINDS, PiiSpan, find_pii, placeholder
from refinery.transforms.pseudonyms import Pseudonymizer
from refinery.transforms.rules import flag_computed

__all__ = ["KINDS", "PII_KINDS", "PiiSpan", "find_pii", "lineage_safe", "redact_pii", "redact_text", "scan"]


@dataclass(frozen=True)
class Scan:
    text: str
    counts: dict[str, int]
    drop: str | None = None  # the first kind whose action is `drop` and that was found


def scan(
    text: str,
    actions: Mapping[str, str],
    pseudonymizer: Pseudonymizer | None = None,
    find: Callable[[str, Collection[str]], list[PiiSpan]] = find_pii,
) -> Scan:
    """Find PII of each kind in `actions` (with `find`: `find_pii` or its fast equal); replace the `redact` kinds
    by placeholders and the `pseudonymize` kinds by keyed tokens (`pseudonymizer` is then required); count every
    kind."""
    spans = find(text, actions)
    counts = {name: 0 for name in actions}
    parts, position = [], 0
    for span in spans:
        counts[span.kind] += 1
        action = actions[span.kind]
        if action == "redact":
            parts += [text[position : span.start], placeholder(span.kind)]
            position = span.end
        elif action == "pseudonymize":
            parts += [text[position : span.start], pseudonymizer.token(text[span.start : span.end], span.kind)]
            position = span.end
    parts.append(text[position:])
    drop = next((name for name in actions if actions[name] == "drop" and counts[name]), None)
    return Scan("".join(parts), counts, drop)


def redact_text(text: str, find: Callable[[str, Collection[str]], list[PiiSpan]] = find_pii) -> str:
    """Every kind redacted: for error messages, logs and anything else a person may read."""
    return scan(text, dict.fromkeys(KINDS, "redact"), find=find).text


def _fast_finder() -> Callable[[str, Collection[str]], list[PiiSpan]]:
    from refinery.transforms.kernels.pii import find_pii_fast  # numba: imported where batches run

    return find_pii_fast


@pandas_udf(StringType())
def _redact_all(texts: pd.Series) -> pd.Series:
    find = _fast_finder()
    return texts.map(lambda text: None if text is None else redact_text(text, find))


def redact_column(text: Column) -> Column:
    """`redact_text` as a Column (Arrow-batched), for quarantined raw records."""
    return _redact_all(text)


def redact_pii(
    df: DataFrame,
    *,
    actions: Mapping[str, str],
    column: str = "text",
    also: Sequence[str] = (),
    pseudonymizer: Pseudonymizer | None = None,
) -> DataFrame:
    """Count PII by kind, redact the kinds whose action is `redact`, replace the `pseudonymize` kinds by keyed
    tokens, flag docs whose action is `drop`.

    Requires: `column` and the `also` columns (strings, or map<string,string> whose values are scanned), which
    are treated like `column`. Adds: `pii` (map<string,int>: matches by kind over all of them, every configured
    kind) and the reject flags (rule `pii:<kind>`, kept when already set); rewrites the scanned columns.
    """
    unknown = sorted(set(actions) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown PII kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    if pseudonymizer is None and "pseudonymize" in actions.values():
        raise ValueError("PII kinds set to pseudonymize need a Pseudonymizer (a key)")
    actions = dict(actions)
    scanned_columns = [column, *also]
    result_type = StructType(
        [StructField(name, df.schema[name].dataType) for name in scanned_columns]
        + [StructField("_pii", MapType(StringType(), IntegerType())), StructField("_drop", StringType())]
    )

    def scan_row(values: tuple, find: Callable[[str, Collection[str]], list[PiiSpan]]) -> dict:
        counts = dict.fromkeys(actions, 0)
        result = {}
        for name, value in zip(scanned_columns, values, strict=True):
            if value is None:
                result[name] = None
                continue
            if isinstance(value, str):
                scans = {None: scan(value, actions, pseudonymizer, find)}
                result[name] = scans[None].text
            else:  # a map: a dict, or Arrow's list of (key, value) pairs
                entries = value.items() if isinstance(value, dict) else value
                scans = {k: scan(v, actions, pseudonymizer, find) for k, v in entries if v is not None}
                result[name] = {k: scans[k].text if k in scans else None for k, _ in entries}
            for found in scans.values():
                for kind, n in found.counts.items():
                    counts[kind] += n
        drop = next((kind for kind in actions if actions[kind] == "drop" and counts[kind]), None)
        return {**result, "_pii": counts, "_drop": drop}

    @pandas_udf(result_type)
    def scan_batch(*series: pd.Series) -> pd.DataFrame:
        find = _fast_finder()
        rows = [scan_row(values, find) for values in zip(*series, strict=True)]
        return pd.DataFrame(rows, columns=result_type.names)

    found = df.withColumn("_scan", scan_batch(*[F.col(name) for name in scanned_columns]))
    drop = F.col("_scan._drop")
    scanned = found.withColumns(
        {name: F.col(f"_scan.{name}") for name in scanned_columns} | {"pii": F.col("_scan._pii")}
    )
    return flag_computed(
        scanned,
        F.when(drop.isNotNull(), F.concat(F.lit(PII.name), F.lit(":"), drop)),
        F.when(drop.isNotNull(), F.format_string("%d %s match(es)", F.col("_scan._pii")[drop], drop)),
    ).drop("_scan")


# Lineage values (record ids, file names) must stay unique and must not depend on a key or on config (a doc id
# that changed with them would break reruns): their PII spans become unkeyed SHA-256 tokens.
_LINEAGE_TOKENS = Pseudonymizer(key=b"", chars=16)
_EVERY_KIND_TOKENIZED = dict.fromkeys(KINDS, "pseudonymize")


def lineage_safe(value: str, find: Callable[[str, Collection[str]], list[PiiSpan]] = find_pii) -> str:
    """An id or a file name with each PII span replaced by `<KIND_hex>` (unkeyed); any other value unchanged.
    Applying it twice changes nothing more."""
    return scan(value, _EVERY_KIND_TOKENIZED, _LINEAGE_TOKENS, find).text


@pandas_udf(StringType())
def _lineage_safe_batch(values: pd.Series) -> pd.Series:
    find = _fast_finder()
    return values.map(lambda value: None if value is None else lineage_safe(value, find))


def lineage_safe_column(values: Column) -> Column:
    """`lineage_safe` as a Column (Arrow-batched)."""
    return _lineage_safe_batch(values)
