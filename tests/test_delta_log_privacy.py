"""The Delta log outlives deleted rows: it must never carry a person's data in min/max statistics."""

from __future__ import annotations

import json

from pyspark.sql import functions as F

from refinery.lake.schemas import table_schema
from refinery.tables import TABLES


def test_no_personal_column_has_statistics_in_any_delta_log(spark, sample_lakes):
    lake = sample_lakes.root / "saved-released"
    bronze = spark.read.format("delta").load(str(lake / "bronze" / "web_text"))
    # The values min/max statistics would hold: the smallest and largest id, URL and source file.
    bounds = bronze.agg(*(f(c) for c in ("doc_id", "url", "_file") for f in (F.min, F.max))).first()
    logs = [p for p in lake.rglob("*") if p.is_file() and "_delta_log" in p.parts]
    assert any("bronze" in p.parts for p in logs) and any("gold" in p.parts for p in logs)
    assert [(p, v) for p in logs for v in bounds if v.encode() in p.read_bytes()] == []

    stats = [
        json.loads(action["add"]["stats"])
        for p in (lake / "bronze" / "web_text" / "_delta_log").glob("*.json")
        for action in map(json.loads, p.read_text().splitlines())
        if "add" in action and action["add"].get("stats")
    ]
    assert stats and all(set(s["minValues"]) == {"_line", "_ingested_at", "_run_id"} for s in stats)


def test_every_table_keeps_statistics_on_its_other_columns_only():
    for name, spec in TABLES.items():
        if spec.schema is None:
            continue
        properties = table_schema(name).table_properties
        indexed = properties.get("delta.dataSkippingStatsColumns", "").split(",")
        assert not set(indexed) & set(spec.personal), name
