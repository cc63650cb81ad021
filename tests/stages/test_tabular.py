"""The tabular pipeline end to end on the bundled customer sample: real Delta tables, MERGE of out-of-order
changes, expectations, pseudonyms, k-anonymity, a release read by the Spark-free matrix loader, and the card.

What silver must hold is worked out here in plain Python from the raw files, independently of the stages.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from refinery.cli import main
from refinery.commands.tabular_card import tabular_card_numbers, write_tabular_card
from refinery.config import load_config
from refinery.lake.store import Lake
from refinery.loader.tabular import iter_matrices
from refinery.session import spark_log_file
from refinery.stages import run_stages
from refinery.stages.base import StageContext, StageFailed
from refinery.transforms.pseudonyms import Pseudonymizer
from refinery.transforms.tabular.params import Expectation
from tests.tabular import KEY, MANIFEST, SAMPLE, privacy_key
from tests.tabular import tabular_cli as cli

IDENTIFIERS = ("customer_id", "full_name", "email", "phone", "national_id")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")


def raw_changes() -> list[dict]:
    """Every change record of the sample as delivered (CSV cells are strings, '' is missing)."""
    rows = []
    for name in MANIFEST["files"]:
        text = (SAMPLE / name).read_text()
        if name.endswith(".csv"):
            rows += [{k: (v or None) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]
        else:
            rows += [json.loads(line) for line in text.splitlines() if line.strip()]
    return rows


def passes(row: dict) -> bool:
    """The sample pipeline's drop expectations, in plain Python (a delete needs its key only)."""
    if not row.get("customer_id"):
        return False
    if row["op"] == "delete":
        return True
    closed, opened = row.get("closed_on"), row.get("opened_on")
    return (
        (row.get("email") is None or EMAIL.fullmatch(row["email"]) is not None)
        and (row.get("income") is None or float(row["income"]) >= 0)
        and (row.get("birth_date") is None or date.fromisoformat(row["birth_date"]) <= date(2008, 1, 1))
        and (row.get("segment") is None or row["segment"] in ("retail", "premium", "business"))
        and (closed is None or opened is None or closed >= opened)
    )


def expected_state(rows: list[dict]) -> dict[str, dict]:
    """Key -> winning change: the highest sequence among the changes that pass (a delete wins a tie)."""
    winners: dict[str, dict] = {}
    for row in (r for r in rows if passes(r)):
        best = winners.get(row["customer_id"])
        rank = (int(row["seq"]), row["op"] == "delete")
        if best is None or rank > (int(best["seq"]), best["op"] == "delete"):
            winners[row["customer_id"]] = row
    return winners


def token(value: str, label: str) -> str:
    return Pseudonymizer(KEY.encode(), 16).token(value, label)


@pytest.fixture
def lake(tabular_lake):
    return tabular_lake


def read(spark, lake: Path, *parts: str):
    return spark.read.format("delta").load(str(lake.joinpath(*parts)))


def ledger(spark, lake: Path, stage: str):
    runs = read(spark, lake, "_refinery", "runs").where((F.col("stage") == stage) & (F.col("status") == "ok"))
    return runs.orderBy(F.col("ended_at").desc()).first()


def test_silver_is_the_current_state_of_the_valid_changes(spark, lake):
    lake, _ = lake
    expected = expected_state(raw_changes())
    silver = {r["customer_id"]: r for r in read(spark, lake, "silver", "tabular").collect()}
    assert silver.keys() == {token(k, "customer_id") for k in expected}
    for key, change in expected.items():
        row = silver[token(key, "customer_id")]
        assert (row["_op"], row["_seq"]) == (change["op"], int(change["seq"]))
        if change["op"] == "delete":  # a tombstone: no personal value survives
            assert row["email"] is None and row["balance"] is None
        else:
            assert row["email"] == token(change["email"], "email")
            assert row["balance"] == pytest.approx(float(change["balance"]))
    deleted = sum(r["_op"] == "delete" for r in silver.values())
    assert deleted == MANIFEST["expected"]["deleted_customers"]


def test_every_change_is_merged_or_rejected_with_its_rule(spark, lake):
    lake, _ = lake
    rows = raw_changes()
    curate = ledger(spark, lake, "curate")
    assert curate["rows_in"] == len(rows) == sum(MANIFEST["rows"].values())
    assert curate["rows_out"] == len(expected_state(rows))
    rejects = read(spark, lake, "rejects", "tabular").where(F.col("stage") == "curate")
    by_rule = {r["rule"]: r["count"] for r in rejects.groupBy("rule").count().collect()}
    failing = [r for r in rows if not passes(r)]
    assert sum(n for rule, n in by_rule.items() if rule != "superseded") == len(failing)
    assert by_rule["missing_key"] == MANIFEST["planted"]["invalid:missing_customer_id"]
    assert by_rule["superseded"] == len(rows) - len(failing) - len(expected_state(rows))
    assert curate["metrics"]["expect.enough_rows"] == str(sum(r["op"] != "delete" for r in rows))


def test_no_raw_identifier_past_bronze(spark, lake):
    lake, printed = lake
    values = {str(r[c]) for r in raw_changes() for c in IDENTIFIERS if r.get(c)}
    assert len(values) > 2_000
    assert "curate: done in" in printed  # the log lines were captured too
    texts = [printed]
    if jvm_log := spark_log_file(spark):  # the JVM's own log of this test session
        texts.append(Path(jvm_log).read_text(errors="replace"))
    for parts in (("silver", "tabular"), ("gold", "tabular"), ("rejects", "tabular"), ("_refinery", "runs")):
        texts += [r[0] for r in read(spark, lake, *parts).select(F.to_json(F.struct("*"))).collect()]
    for path in lake.rglob("*"):  # every file but bronze's data and the raw files (bronze's log: no statistics)
        parts = path.relative_to(lake).parts
        if path.is_file() and parts[0] != "raw" and (parts[0] != "bronze" or "_delta_log" in parts):
            texts.append(path.read_bytes().decode("latin-1"))
    found = [v for v in values if any(v in text for text in texts)]
    assert found == []
    gold_columns = set(read(spark, lake, "gold", "tabular").columns)
    assert not gold_columns & {"full_name", "email", "phone", "national_id", "birth_date", "zip", "closed_on"}


def test_gold_is_k_anonymous_stratified_and_encoded_with_the_train_fit(spark, lake):
    lake, _ = lake
    gold = read(spark, lake, "gold", "tabular")
    smallest = gold.groupBy("age_band", "zip_prefix").count().agg(F.min("count")).first()[0]
    assert smallest >= 3
    publish = ledger(spark, lake, "publish")
    suppressed = int(publish["metrics"]["rejected.k_anonymity"])
    assert suppressed > 0
    # Before suppression the classes below k held exactly the rows suppressed; after it, none is below k.
    assert int(publish["metrics"]["anonymity.before.rows_below_k"]) == suppressed
    assert publish["metrics"]["anonymity.classes_below_k"] == "0"
    ratios = {"train": 0.8, "validation": 0.1, "test": 0.1}
    for label in (0, 1):
        counts = {
            r["split"]: r["count"] for r in gold.where(F.col("churned") == label).groupBy("split").count().collect()
        }
        total, cumulative = sum(counts.values()), 0.0
        for split, ratio in ratios.items():  # each split's share of the stratum, to within one row
            share = round(total * (cumulative + ratio)) - round(total * cumulative)
            cumulative += ratio
            assert abs(counts.get(split, 0) - share) <= 1
    history = spark.sql(f"DESCRIBE HISTORY delta.`{lake / 'gold' / 'tabular'}`").orderBy(F.desc("version")).first()
    fit = json.loads(json.loads(history["userMetadata"])["feature_fit"])
    train = gold.where(F.col("split") == "train")
    mean, std, rows = train.agg(F.avg("income"), F.stddev_pop("income"), F.count("*")).first()
    assert fit["rows"] == rows and fit["numeric"]["income"]["mean"] == pytest.approx(mean)
    assert fit["numeric"]["income"]["std"] == pytest.approx(std)
    assert gold.agg(F.avg("income")).first()[0] != pytest.approx(mean)  # the other splits would move it
    held_out = gold.where(F.col("split") != "train").select("income", "income_z", "segment", "segment_idx").collect()
    vocabulary = fit["categorical"]["segment"]
    for row in held_out:
        assert row["income_z"] == pytest.approx((row["income"] - mean) / std)
        assert row["segment_idx"] == (vocabulary.index(row["segment"]) if row["segment"] in vocabulary else 0)


def test_a_rerun_merges_nothing_and_late_changes_lose(spark, lake, tmp_path):
    lake, _ = lake
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    code, printed = cli(copy, "run")
    assert code == 0, printed
    assert ledger(spark, copy, "ingest")["metrics"]["files"] == "0"
    assert ledger(spark, copy, "curate")["metrics"]["silver.rows_merged"] == "0"
    state = expected_state(raw_changes())
    deleted = next(k for k, r in state.items() if r["op"] == "delete")
    kept = next(k for k, r in state.items() if r["op"] != "delete")
    late = [
        {**state[kept], "customer_id": deleted, "op": "update", "seq": int(state[deleted]["seq"]) - 1},
        {**state[kept], "balance": 1234.5, "seq": int(state[kept]["seq"]) + 10_000, "op": "update"},
        {**state[kept], "balance": 1234.5, "seq": int(state[kept]["seq"]) + 10_000, "op": "update"},  # twice
    ]
    (copy / "raw" / "tabular" / "changes-late.jsonl").write_text("".join(json.dumps(r) + "\n" for r in late))
    code, printed = cli(copy, "run")
    assert code == 0, printed
    assert ledger(spark, copy, "curate")["metrics"]["silver.rows_merged"] == "1"
    silver = {r["customer_id"]: r for r in read(spark, copy, "silver", "tabular").collect()}
    assert silver[token(deleted, "customer_id")]["_op"] == "delete"
    assert silver[token(kept, "customer_id")]["balance"] == 1234.5


def test_a_release_feeds_the_matrix_loader_and_the_card_states_spark_aggregates(spark, lake, tmp_path):
    lake, _ = lake
    code, printed = cli(lake, "release", "create", "v1")
    assert code == 0, printed
    release = read(spark, lake, "releases", "tabular", "v1")
    train = release.where(F.col("split") == "train")
    batches = list(iter_matrices(str(lake), "tabular", "v1", "train", batch_size=100, shuffle=False))
    assert sum(len(b.label) for b in batches) == train.count()
    first = batches[0]
    assert first.features.dtype.name == "float32" and first.features.shape == (100, 9)
    assert first.columns[:2] == ("income_z", "balance_z") and first.sample_weight is not None
    assert sum(b.label.sum() for b in batches) == train.agg(F.sum("churned")).first()[0]

    config = load_config("tabular")
    numbers = tabular_card_numbers(Lake(spark, replace(config.lake, root=str(lake))), config, "v1")
    by_group = {(r["split"], r["group"]): r for r in numbers.fairness["gender"]}
    aggregates = release.groupBy("split", "gender").agg(F.count("*").alias("n"), F.avg("churned").alias("rate"))
    for r in aggregates.collect():
        assert by_group[(r["split"], r["gender"])]["rows"] == r["n"]
        assert by_group[(r["split"], r["gender"])]["label_rate"] == pytest.approx(r["rate"])
    train_rates = [r["label_rate"] for (split, _), r in by_group.items() if split == "train" and not r["small"]]
    assert by_group[("train", "f")]["parity_difference"] == pytest.approx(max(train_rates) - min(train_rates))
    card = write_tabular_card(
        Lake(spark, replace(config.lake, root=str(lake))), config, tmp_path / "card", release="v1"
    )
    text = card.read_text()
    assert "demographic parity difference" in text and "95% interval" in text
    assert "Before suppression (publish's input" in text
    assert (tmp_path / "card" / "fairness_gender.png").stat().st_size > 0


def test_a_failing_expectation_stops_curate_naming_its_measure(spark, lake, tmp_path):
    lake, _ = lake
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    config = load_config("tabular")
    huge = Expectation("a_million_customers", "row_count", min=1_000_000, severity="fail")
    config = replace(
        config,
        lake=replace(config.lake, root=str(copy)),
        tabular=replace(config.tabular, expectations=[*config.tabular.expectations, huge]),
    )
    silver_before = spark.sql(f"DESCRIBE HISTORY delta.`{copy / 'silver' / 'tabular'}`").count()
    with privacy_key(KEY), pytest.raises(StageFailed):
        run_stages(StageContext(spark=spark, config=config, lake=Lake(spark, config.lake)), ["curate"])
    failed = read(spark, copy, "_refinery", "runs").where(F.col("status") == "failed").first()
    assert "a_million_customers" in failed["error"] and "row_count 622" in failed["error"]
    assert spark.sql(f"DESCRIBE HISTORY delta.`{copy / 'silver' / 'tabular'}`").count() == silver_before


def test_profile_prints_expectations_without_personal_values(spark, lake):
    lake, _ = lake
    code, printed = cli(lake, "profile", "-q")
    assert code == 0, printed
    import yaml

    suggested = yaml.safe_load(printed)["expectations"]
    columns = {e.get("column") for e in suggested}
    assert {"segment", "income"} <= columns and not columns & {"email", "birth_date", "zip", "full_name"}
    allowed = next(e for e in suggested if e["name"] == "segment_allowed")
    assert set(allowed["values"]) == {"retail", "premium", "business", "platinum"}


def test_without_the_key_or_on_a_text_stage_the_command_exits_2(tmp_path, capsys):
    (tmp_path / "raw" / "tabular").mkdir(parents=True)
    with privacy_key(None):
        assert main(["run", "--pipeline", "tabular", "--lake", str(tmp_path)]) == 2
    assert "REFINERY_PRIVACY_KEY" in capsys.readouterr().err
    with privacy_key(KEY):
        assert main(["dedup", "--pipeline", "tabular", "--lake", str(tmp_path)]) == 2
    assert "no dedup stage" in capsys.readouterr().err
