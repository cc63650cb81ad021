"""Keyed pseudonyms: a value becomes `<LABEL_hex>`, the hex an HMAC-SHA256 of the value under a secret key.

One key gives one token per value everywhere (joins and coreference survive: the same author, the same
e-mail address in two documents); another key gives unrelated tokens; without the key a token cannot be
turned back or recomputed from a guessed value. The key travels to the Python workers inside the UDF's
closure and is never part of a Column expression, a query plan, a log line or a repr.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import StringType

from refinery.transforms.params import COLUMN_FIELDS, META_PREFIX, check_field


@dataclass(frozen=True)
class Pseudonymizer:
    """Tokens `<LABEL_hex>` of `chars` hex characters of HMAC-SHA256(key, value)."""

    key: bytes = field(repr=False)
    chars: int = 16

    def token(self, value: str, label: str) -> str:
        digest = hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"<{label.upper()}_{digest[: self.chars]}>"

    def column(self, values: Column, label: str) -> Column:
        """`token` of each value as an Arrow-batched Column (nulls stay null)."""
        token = self.token

        @pandas_udf(StringType())
        def tokens(batch: pd.Series) -> pd.Series:
            return batch.map(lambda value: None if value is None else token(value, label))

        return tokens(values)


def pseudonymize_fields(df: DataFrame, *, fields: Sequence[str], pseudonymizer: Pseudonymizer) -> DataFrame:
    """Replace each field's values by keyed tokens labelled with the field's name.

    Requires: the named columns (`url`, `source`) and `meta` (map<string,string>) for `meta.<key>` fields.
    Rewrites them; every other column is untouched.
    """
    result = df
    for name in map(check_field, fields):
        if name in COLUMN_FIELDS:
            result = result.withColumn(name, pseudonymizer.column(F.col(name), name))
            continue
        key = name.removeprefix(META_PREFIX)
        result = result.withColumn("_token", pseudonymizer.column(F.col("meta")[key], key)).withColumn(
            "meta", F.transform_values("meta", _entry_replaced_by_token(key))
        )
    return result.drop("_token") if "_token" in result.columns else result


def pseudonymize_columns(df: DataFrame, *, columns: Sequence[str], pseudonymizer: Pseudonymizer) -> DataFrame:
    """Replace each column's values (as strings) by keyed tokens labelled with the column's name: the direct
    identifiers of record data (a name, an e-mail address, a national id). Equal values, equal tokens, so
    a tokenized key still joins.

    Requires: the named columns. Rewrites them as strings (nulls stay null).
    """
    if not columns:
        return df
    return df.withColumns({c: pseudonymizer.column(F.col(c).cast("string"), c) for c in columns})


def _entry_replaced_by_token(key: str):
    """A `transform_values` function: the value of `key` becomes the row's `_token`, the others stay."""
    return lambda k, v: F.when(k == F.lit(key), F.col("_token")).otherwise(v)
