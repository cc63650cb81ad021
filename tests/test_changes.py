"""Change data MERGEd into a current-state table: newest sequence wins whatever the arrival order, duplicates
change nothing, a delete stays deleted against late older changes, and Delta's history keeps the past."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql.types import LongType, StringType, StructField, StructType

from refinery.config import LakeConfig
from refinery.lake.changes import apply_changes
from refinery.lake.schemas import TableSchema
from refinery.lake.store import Lake
from refinery.transforms.tabular.changes import current_rows

SCHEMA = TableSchema(
    name="accounts",
    struct=StructType(
        [
            StructField("account_id", StringType(), False),
            StructField("email", StringType()),
            StructField("balance", LongType()),
            StructField("_seq", LongType(), False),
            StructField("_op", StringType(), False),
            StructField("_file", StringType()),
        ]
    ),
)
DDL = "account_id string, email string, balance long, _seq long, _op string, _file string"
BATCHES = [
    [  # the first extract
        ("a1", "a1@mail.example", 10, 1, "insert", "initial"),
        ("a2", "a2@mail.example", 20, 2, "insert", "initial"),
        ("a3", "a3@mail.example", 30, 3, "insert", "initial"),
        ("a4", "a4@mail.example", 40, 4, "insert", "initial"),
    ],
    [  # changes, one of them twice
        ("a1", "a1@mail.example", 11, 10, "update", "c1"),
        ("a2", None, None, 11, "delete", "c1"),
        ("a3", "a3@new.example", 31, 12, "update", "c1"),
        ("a3", "a3@new.example", 31, 12, "update", "c1"),
        ("a5", "a5@mail.example", 50, 13, "insert", "c1"),
    ],
    [  # late: older than what is applied, after a delete, a delete of an unknown key, then its older insert
        ("a1", "a1@old.example", 5, 5, "update", "c2"),
        ("a2", "a2@mail.example", 21, 9, "update", "c2"),
        ("a3", "a3@new.example", 31, 12, "update", "c2"),
        ("a6", None, None, 20, "delete", "c2"),
        ("a6", "a6@mail.example", 60, 15, "insert", "c2"),
    ],
]
EXPECTED = [
    ("a1", "a1@mail.example", 11, 10, "update", "c1"),
    ("a2", None, None, 11, "delete", "c1"),
    ("a3", "a3@new.example", 31, 12, "update", "c1"),
    ("a4", "a4@mail.example", 40, 4, "insert", "initial"),
    ("a5", "a5@mail.example", 50, 13, "insert", "c1"),
    ("a6", None, None, 20, "delete", "c2"),
]


def apply_all(spark, lake, ref, batches):
    return [apply_changes(lake, ref, spark.createDataFrame(batch, DDL), SCHEMA, key="account_id") for batch in batches]


def test_newest_wins_duplicates_are_idempotent_and_deletes_stay(spark, tmp_path):
    lake = Lake(spark, LakeConfig(root=str(tmp_path)))
    ref = lake.table("silver", "accounts")
    first, second, third = apply_all(spark, lake, ref, BATCHES)
    assert (first.rows_written, second.rows_written, third.rows_written) == (4, 4, 1)  # a6's tombstone only
    table = lake.read(ref)
    assert_df_equality(table, spark.createDataFrame(EXPECTED, DDL), ignore_row_order=True, ignore_nullable=True)
    assert sorted(r.account_id for r in current_rows(table).collect()) == ["a1", "a3", "a4", "a5"]

    again = apply_all(spark, lake, ref, BATCHES[1:])  # the same changes delivered again
    assert [r.rows_written for r in again] == [0, 0]
    assert lake.read(ref).exceptAll(table).count() == 0

    past = lake.read(ref, first.version)  # history keeps the state before the changes
    assert {r.account_id: r.balance for r in past.collect()} == {"a1": 10, "a2": 20, "a3": 30, "a4": 40}


def test_the_reverse_arrival_order_gives_the_same_state(spark, tmp_path):
    lake = Lake(spark, LakeConfig(root=str(tmp_path)))
    ref = lake.table("silver", "accounts")
    backwards = [row for batch in BATCHES for row in batch][::-1]
    apply_all(spark, lake, ref, [backwards[i : i + 5] for i in range(0, len(backwards), 5)])
    table = lake.read(ref).drop("_file")  # which copy of a duplicated change landed may differ
    expected = spark.createDataFrame(EXPECTED, DDL).drop("_file")
    assert_df_equality(table, expected, ignore_row_order=True, ignore_nullable=True)


def test_complete_changes_make_the_table_exactly_their_winners(spark, tmp_path):
    lake = Lake(spark, LakeConfig(root=str(tmp_path)))
    ref = lake.table("silver", "accounts")
    everything = [row for batch in BATCHES for row in batch]

    def apply(rows):
        return apply_changes(lake, ref, spark.createDataFrame(rows, DDL), SCHEMA, key="account_id", complete=True)

    assert apply(everything).rows_written == 6
    expected = spark.createDataFrame(EXPECTED, DDL)
    assert_df_equality(lake.read(ref), expected, ignore_row_order=True, ignore_nullable=True)
    assert apply(everything).rows_written == 0  # a rerun over the same changes
    # Under a new config a4's only change is rejected and a1's winner is curated differently (same sequence).
    recurated = [
        ("a1", "<EMAIL_token>", *row[2:]) if row[:2] == ("a1", "a1@mail.example") and row[3] == 10 else row
        for row in everything
        if row[0] != "a4"
    ]
    assert apply(recurated).rows_written == 2
    current = {r["account_id"]: r for r in lake.read(ref).collect()}
    assert "a4" not in current and current["a1"]["email"] == "<EMAIL_token>" and current["a1"]["_seq"] == 10
