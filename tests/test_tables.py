"""The table registry: each table declared once; keys name tables independently of the lake's root."""

from __future__ import annotations

import pytest

from refinery import tables
from refinery.config import LakeConfig
from refinery.lake import Lake
from refinery.schemas import table_schema


def test_keys_round_trip_for_every_scope():
    for key in ("gold/web_text", "_refinery/runs", "releases/web_text/v1.2", "raw/web_text", "rejects/p"):
        assert tables.parse_key(key).key == key
    with pytest.raises(ValueError, match="not a table of the lake"):
        tables.parse_key("gold")
    with pytest.raises(ValueError, match="not a table of the lake"):
        tables.parse_key("_refinery/gold")


def test_every_delta_table_has_a_schema_with_its_partition_columns():
    for name, spec in tables.TABLES.items():
        if spec.schema is None:
            continue
        schema = table_schema(name, "text")
        assert set(spec.partition_by) <= set(schema.column_names), name
        assert set(spec.personal) <= set(schema.column_names), name


def test_lake_resolves_keys_by_path_or_catalog_name(spark, tmp_path):
    by_path = Lake(spark, LakeConfig(root=f"file:{tmp_path}/"))
    assert by_path.table("gold", "p").path == str(tmp_path.resolve() / "gold" / "p")
    assert by_path.table("gold", "p").key == "gold/p"
    assert by_path.resolve(str(tmp_path / "silver" / "p")).key == "silver/p"  # an old absolute row
    by_name = Lake(spark, LakeConfig(root="dbfs:/unused", catalog="main", schema="ml"))
    assert by_name.table("runs").name == "main.ml.refinery_runs"
    assert by_name.release_table("p", "v1.0").name == "main.ml.release_p_v1_0"
    assert by_name.resolve("gold/p").name == "main.ml.gold_p"


def test_a_lake_rooted_at_a_file_uri_with_a_trailing_slash_writes_where_a_plain_path_reads(spark, tmp_path):
    schema = table_schema("runs")
    uri_lake = Lake(spark, LakeConfig(root=f"file://{tmp_path}/lake/"))
    uri_lake.ensure_table(uri_lake.table("runs"), schema)
    plain = Lake(spark, LakeConfig(root=str(tmp_path / "lake")))
    assert plain.exists(plain.table("runs")) and plain.version(plain.table("runs")) == 0
