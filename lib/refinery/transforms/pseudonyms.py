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
    names = [check_field(name) for name in fields]
    columns = {name: pseudonymizer.column(F.col(name), name) for name in names if name in COLUMN_FIELDS}
    keys = [name.removeprefix(META_PREFIX) for name in names if name not in COLUMN_FIELDS]
    tokens = {f"_token_{i}": pseudonymizer.column(F.col("meta")[key], key) for i, key in enumerate(keys)}
    result = df.withColumns({**columns, **tokens})  # one projection for every field
    if not keys:
        return result
    return result.withColumn("meta", F.transform_values("meta", _entries_replaced_by_tokens(keys))).drop(*tokens)


def pseudonymize_columns(df: DataFrame, *, columns: Sequence[str], pseudonymizer: Pseudonymizer) -> DataFrame:
    """Replace each column's values (as strings) by keyed tokens labelled with the column's name: the direct
    identifiers of record data (a name, an e-mail address, a national id). Equal values, equal tokens, so
    a tokenized key still joins.

    Requires: the named columns. Rewrites them as strings (nulls stay null).
    """
    if not columns:
        return df
    return df.withColumns({c: pseudonymizer.column(F.col(c).cast("string"), c) for c in columns})


def _entries_replaced_by_tokens(keys: Sequence[str]):
    """A `transform_values` function: the value of each of `keys` becomes its token (`_token_<i>`, computed
    once per row before), the other entries stay."""

    def replaced(key: Column, value: Column) -> Column:
        chosen = value
        for i, name in reversed(list(enumerate(keys))):
            chosen = F.when(key == F.lit(name), F.col(f"_token_{i}")).otherwise(chosen)
        return chosen

    return replaced
