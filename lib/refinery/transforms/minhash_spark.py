"""MinHash over DataFrames: the Spark `mapInArrow` glue around `refinery.transforms.minhash`.

Signatures and band hashes, shingle sets, and the similarity of candidate pairs, each computed a whole
Arrow batch at a time by the numpy code in `minhash`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, DoubleType, IntegerType, LongType, StructField, StructType

from refinery.transforms.minhash import MinHasher

SIGNATURE_FIELDS = [
    StructField("n_shingles", IntegerType(), False),
    StructField("signature", ArrayType(IntegerType(), False), False),
    StructField("bands", ArrayType(LongType(), False), False),
]


def _list_array(rows: np.ndarray, present: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """A [n x width] numpy matrix as an Arrow list array: row i's values, or an empty list where not present."""
    width = rows.shape[1]
    offsets = np.concatenate([[0], np.cumsum(np.where(present, width, 0))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(rows[present].reshape(-1), type=arrow_type))


def _arrow_list(value_type: pa.DataType) -> pa.DataType:
    return pa.list_(pa.field("element", value_type, nullable=False))


_SIGNATURE_ARROW_FIELDS = [
    pa.field("n_shingles", pa.int32(), nullable=False),
    pa.field("signature", _arrow_list(pa.int32()), nullable=False),
    pa.field("bands", _arrow_list(pa.int64()), nullable=False),
]


def add_minhash(df: DataFrame, hasher: MinHasher, *, text_column: str = "text", keep_text: bool = True) -> DataFrame:
    """Add each document's MinHash signature and LSH band hashes.

    Requires: `text_column`. Adds: `n_shingles` (int), `signature` (array<int>, num_perm values,
    unsigned 32-bit stored as signed), `bands` (array<bigint>, one hash per band). Documents without
    shingles get `n_shingles` 0 and empty arrays: they are nobody's near-duplicate. With `keep_text`
    False the text is dropped (and not sent back from Python).
    """
    text_index = df.columns.index(text_column)
    passed = [i for i in range(len(df.columns)) if keep_text or i != text_index]
    schema = StructType([df.schema.fields[i] for i in passed] + SIGNATURE_FIELDS)
    arrow_schema = None

    def signed_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        nonlocal arrow_schema
        for batch in batches:
            signatures, counts = hasher.signatures(batch.column(text_index))
            present = counts > 0
            if arrow_schema is None:
                arrow_schema = pa.schema([*(batch.schema.field(i) for i in passed), *_SIGNATURE_ARROW_FIELDS])
            yield pa.RecordBatch.from_arrays(
                [
                    *(batch.column(i) for i in passed),
                    pa.array(counts.astype(np.int32)),
                    _list_array(signatures.view(np.int32), present, pa.int32()),
                    _list_array(hasher.band_hashes(signatures), present, pa.int64()),
                ],
                schema=arrow_schema,
            )

    return df.mapInArrow(signed_batches, schema)


def to_shingle_sets(df: DataFrame, hasher: MinHasher, *, text_column: str = "text") -> DataFrame:
    """Replace each document's text by its distinct shingle hashes, for exact Jaccard of candidate pairs.

    Requires: `text_column`. Returns the other columns plus `shingle_set` (array<int>: sorted 32-bit
    shingle hashes, stored as signed), without the text.
    """
    kept = [f for f in df.schema.fields if f.name != text_column]
    schema = StructType(kept + [StructField("shingle_set", ArrayType(IntegerType(), False), False)])
    text_index = df.columns.index(text_column)
    arrow_schema = None

    def with_sets(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        nonlocal arrow_schema
        for batch in batches:
            values, counts = hasher.shingle_sets(batch.column(text_index))
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            column = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.astype(np.uint32).view(np.int32)))
            others = [c for i, c in enumerate(batch.columns) if i != text_index]
            if arrow_schema is None:
                fields = [f for i, f in enumerate(batch.schema) if i != text_index]
                arrow_schema = pa.schema([*fields, pa.field("shingle_set", _arrow_list(pa.int32()), nullable=False)])
            yield pa.RecordBatch.from_arrays([*others, column], schema=arrow_schema)

    return df.mapInArrow(with_sets, schema)


def add_pair_similarity(
    df: DataFrame,
    left: str,
    right: str,
    measure: Callable[[pa.ListArray, pa.ListArray], np.ndarray],
    *,
    output: str = "similarity",
) -> DataFrame:
    """Add the similarity of two list columns, by `measure` (`set_jaccard` or `signature_agreement`).

    Requires: `left`, `right` (array<int>: shingle sets from `to_shingle_sets`, or signatures). Adds:
    `output` (double). Vectorized with numpy over each Arrow batch (Spark's array functions and
    higher-order functions work a row and a value at a time).
    """
    schema = StructType(df.schema.fields + [StructField(output, DoubleType(), True)])
    left_index, right_index = df.columns.index(left), df.columns.index(right)

    def similarities(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield pa.RecordBatch.from_arrays(
                [*batch.columns, pa.array(measure(batch.column(left_index), batch.column(right_index)))],
                schema=pa.schema([*batch.schema, pa.field(output, pa.float64())]),
            )

    return df.mapInArrow(similarities, schema)
