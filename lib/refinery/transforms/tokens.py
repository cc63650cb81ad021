"""Token counts with a real BPE tokenizer (OpenAI's cl100k_base / o200k_base).

The vocabularies ship inside the `bpe-openai` wheel (a Rust BPE with tiktoken-compatible output), so
counting needs no download at run time, on a laptop, a cluster or Databricks alike.
"""

from __future__ import annotations

import functools

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType

ENCODINGS = ("cl100k_base", "o200k_base")


@functools.cache
def encoding(name: str):
    """The named BPE encoding, loaded once per Python process (each executor worker)."""
    import bpe_openai

    return bpe_openai.get_encoding(name)


def count_tokens(texts: pd.Series, name: str) -> pd.Series:
    """Tokens per text; special-token strings such as `<|endoftext|>` count as plain text."""
    enc = encoding(name)
    return texts.map(lambda text: len(enc.encode_ordinary(text)) if isinstance(text, str) else 0).astype("int32")


def add_token_count(df: DataFrame, *, encoding_name: str = "cl100k_base", text_column: str = "text") -> DataFrame:
    """Requires: `text_column`. Adds: `n_tokens`, the BPE tokens of the text under `encoding_name`."""
    if encoding_name not in ENCODINGS:
        raise ValueError(f"unknown tokenizer encoding '{encoding_name}' (known: {', '.join(ENCODINGS)})")

    @F.pandas_udf(IntegerType())
    def n_tokens(texts: pd.Series) -> pd.Series:
        return count_tokens(texts, encoding_name)

    return df.withColumn("n_tokens", n_tokens(F.col(text_column)))
