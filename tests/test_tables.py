"""The table registry: each table declared once; keys name tables independently of the lake's root."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from refinery import pipelines, tables
from refinery.config import LakeConfig
from refinery.lake.schemas import table_schema
from refinery.lake.store import Lake


def test_keys_round_trip_for_every_scope():
    for key in ("gold/web_text", "_refinery/runs", "releases/web_text/v1.2", "raw/web_text", "rejects/p"):
        assert tables.parse_key(key).key == key
    with pytest.raises(ValueError, match="not a table of the lake"):
        tables.parse_key("gold")
    with pytest.raises(ValueError, match="not a table of the lake"):
        tables.parse_key("_refinery/gold")


def test_every_delta_table_of_every_kind_has_a_schema_with_its_partition_and_personal_columns():
    for kind in pipelines.KINDS:
        for name, spec in tables.TABLES.items():
            if spec.schema is None:
                continue
            schema = table_schema(name, kind)
            assert set(schema.partition_by) <= set(schema.column_names), (kind, name)
            assert set(spec.personal) <= set(schema.column_names), (kind, name)  # a registry name must exist
    assert table_schema("gold", "text").partition_by == ("split", "lang")
    assert table_schema("gold", "tabular").partition_by == ("split",)  # record data has no language
    assert table_schema("release", "tabular").partition_by == ("split",)


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


def test_writes_know_their_commits_and_the_log_reader_agrees_with_history(spark, tmp_path):
    lake = Lake(spark, LakeConfig(root=str(tmp_path / "lake")))
    by_history = Lake(spark, LakeConfig(root=str(tmp_path / "lake")))
    by_history._log_reader = None  # what a platform without a driver JVM (Spark Connect) reads through
    schema, ref = table_schema("leases"), lake.table("leases")
    assert lake.version(ref) is None and by_history.version(ref) is None

    now = datetime.now(UTC)
    rows = spark.createDataFrame([(p, "run-1", "host", 1, now, now) for p in ("a", "b")], schema.struct)
    first = lake.append(ref, rows, schema, txn=("test-app", 1))
    again = lake.append(ref, rows, schema, txn=("test-app", 1))  # the same transaction: no second commit
    replaced = lake.overwrite(ref, rows.limit(1), schema, metadata={"why": "test"})

    assert (first.version, first.rows_written, first.committed) == (1, 2, True)
    assert (again.version, again.rows_written, again.committed) == (1, 0, False)
    assert (replaced.version, replaced.rows_written) == (2, 1)
    assert lake.commit_metadata(ref, 2) == by_history.commit_metadata(ref, 2) == {"why": "test"}
    assert lake.version(ref) == by_history.version(ref) == 2
    assert lake.commits(ref, 0) == by_history.commits(ref, 0)
    assert [commit.version for commit in lake.commits(ref, 1)] == [2, 1]
