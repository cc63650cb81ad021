"""The Delta log outlives deleted rows: it must never carry a person's data in min/max statistics."""

from __future__ import annotations

import json

from pyspark.sql import functions as F

from refinery import pipelines
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


DOCUMENT = {"doc_id", "text", "url", "source", "meta", "_file"}
CUSTOMER = {"customer_id", "full_name", "email", "phone", "national_id"}
# Written out here, not derived from the registry: the columns of each kind's tables that may hold a person's data.
PERSONAL = {
    ("text", "bronze"): DOCUMENT,
    ("text", "silver"): DOCUMENT,
    ("text", "silver_dedup"): DOCUMENT,
    ("text", "gold"): DOCUMENT - {"meta", "_file"},
    ("text", "release"): DOCUMENT - {"meta", "_file"},
    ("tabular", "bronze"): CUSTOMER | {"birth_date", "zip", "doc_id", "source", "_file"},
    ("tabular", "silver"): CUSTOMER | {"doc_id", "_file"},
    ("tabular", "silver_dedup"): CUSTOMER | {"doc_id", "_file"},
    ("tabular", "gold"): {"customer_id"},
    ("tabular", "release"): {"customer_id"},
    **{(kind, "rejects"): {"doc_id", "record", "detail", "_file"} for kind in ("text", "tabular")},
    **{(kind, "signatures"): {"doc_id", "signature", "bands"} for kind in ("text", "tabular")},
    **{(kind, "ingest_files"): {"path"} for kind in ("text", "tabular")},
    **{(kind, "forget_log"): {"item"} for kind in ("text", "tabular")},
}


def test_every_table_of_every_kind_keeps_statistics_on_its_other_columns_only():
    for kind in pipelines.KINDS:
        for name, spec in TABLES.items():
            if spec.schema is None:
                continue
            schema = table_schema(name, kind)
            assert set(schema.personal) == PERSONAL.get((kind, name), set()), (kind, name)
            properties = schema.table_properties
            indexed = set(properties.get("delta.dataSkippingStatsColumns", "").split(",")) - {""}
            assert not indexed & PERSONAL.get((kind, name), set()), (kind, name)
            scalars = {f.name for f in schema.struct.fields if f.dataType.simpleString().isidentifier()}
            expected = scalars - set(schema.personal) - set(schema.partition_by)
            assert indexed == expected or properties == {"delta.dataSkippingNumIndexedCols": "0"}, (kind, name)
