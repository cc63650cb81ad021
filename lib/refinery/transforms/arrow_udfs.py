"""Scalar UDFs over Arrow arrays, without pandas in between: pyspark's `arrow_udf` (4.1 and later), or on older
pyspark a pandas UDF that hands the function the same Arrow arrays and takes an Arrow array back."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import DataType, StructType

ArrowFunction = Callable[..., pa.Array]


def arrow_batch_udf(return_type: DataType) -> Callable[[ArrowFunction], Callable]:
    """Decorate `fn(*arrays) -> array` (equal lengths) as a Column function evaluated a whole batch at a time."""

    def wrap(fn: ArrowFunction):
        if hasattr(F, "arrow_udf"):
            return F.arrow_udf(fn, return_type)

        def to_struct(*series: pd.Series) -> pd.DataFrame:
            result = fn(*(pa.Array.from_pandas(s) for s in series))
            return pd.DataFrame({f.name: result.field(i).to_pandas() for i, f in enumerate(result.type)})

        def to_column(*series: pd.Series) -> pd.Series:
            return fn(*(pa.Array.from_pandas(s) for s in series)).to_pandas()

        return pandas_udf(to_struct if isinstance(return_type, StructType) else to_column, return_type)

    return wrap


def utf8_buffers(texts: pa.Array):
    """(UTF-8 bytes, int64 offsets per row) of a string array, without copying its text; nulls are empty."""
    if pa.types.is_large_string(texts.type):
        offset_type = np.int64
    elif pa.types.is_string(texts.type):
        offset_type = np.int32
    else:
        raise TypeError(f"expected a string array, got {texts.type}")
    _, offsets, data = texts.buffers()
    offsets = np.frombuffer(offsets, dtype=offset_type)[texts.offset : texts.offset + len(texts) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return data, offsets.astype(np.int64)
