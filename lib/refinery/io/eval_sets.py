"""Evaluation-set files, read where they are: a local path on the driver, a URI through Spark.

An eval set named by a local path lives on the machine that runs the driver (the project folder, or an
installed wheel's copy of it); on a cluster the executors cannot see that path, so it is read here with
Arrow. A URI (s3a://, abfss://, dbfs:/ ...) is shared storage and is read by Spark.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from refinery import paths
from refinery.errors import InputNotFoundError
from refinery.io.listing import check_eval_set

_ARROW_FORMATS = {"jsonl": "json", "parquet": "parquet", "csv": "csv"}


def read_eval_texts(spark: SparkSession, name: str, location: str, fmt: str, fields: list[str]) -> pa.Array:
    """One string per eval-set record: its `fields` joined by newlines (null fields skipped)."""
    if paths.is_local(location):
        check_eval_set(name, location)
        local = paths.local_path(location)
        table = ds.dataset(local, format=_ARROW_FORMATS[fmt]).to_table()
        _check_fields(name, location, fields, table.column_names)
        columns = [pc.cast(table.column(field), pa.string()) for field in fields]
        return pc.binary_join_element_wise(*columns, "\n", null_handling="skip").combine_chunks()
    reader = spark.read.format("json" if fmt == "jsonl" else fmt)
    if fmt == "csv":
        reader = reader.option("header", True)
    records = reader.load(location)
    _check_fields(name, location, fields, records.columns)
    text = F.concat_ws("\n", *[F.col(field).cast("string") for field in fields]).alias("text")
    return records.select(text).toArrow().column("text").combine_chunks()  # eval-set sized


def _check_fields(name: str, location: str, fields: list[str], present: list[str]) -> None:
    missing = [field for field in fields if field not in present]
    if missing:
        raise InputNotFoundError(f"eval set '{name}': field '{missing[0]}' not in {location}")
