import pytest
from pyspark.sql.types import ArrayType, IntegerType, LongType, MapType, StringType

from refinery.lake.schemas import SchemaMismatchError, load_schema, parse_type, table_schema


def test_parse_type():
    assert parse_type("bigint") == LongType()
    assert parse_type("map<string,int>") == MapType(StringType(), IntegerType())
    assert parse_type("array<map<string, string>>") == ArrayType(MapType(StringType(), StringType()))
    with pytest.raises(ValueError, match="unsupported"):
        parse_type("blob")


def test_declared_schemas_load():
    gold = table_schema("gold", "text")
    assert gold.partition_by == ("split", "lang")
    assert gold.column_names == [
        "doc_id",
        "text",
        "source",
        "url",
        "lang",
        "split",
        "shard",
        "copy",
        "shuffle_key",
        "n_tokens",
        "_run_id",
    ]
    assert table_schema("rejects").partition_by == ("stage",)
    assert load_schema("rejects").partition_by == ()  # schema files hold columns; the registry, partitioning


def test_conform_orders_columns_and_rejects_drift(spark):
    schema = load_schema("text/gold")
    df = spark.createDataFrame(
        [("t", "d", "s", None, "en", "train", 1, 0, 7, 3, "r")],
        "text string, doc_id string, source string, url string, lang string, split string, shard int, "
        "copy int, shuffle_key bigint, n_tokens int, _run_id string",
    )
    assert schema.conform(df).columns == schema.column_names
    with pytest.raises(SchemaMismatchError, match="shard is bigint, declared int"):
        schema.conform(df.withColumn("shard", df.shard.cast("bigint")))
    with pytest.raises(SchemaMismatchError, match="missing column"):
        schema.conform(df.drop("lang"))
