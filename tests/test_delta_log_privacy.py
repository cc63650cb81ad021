"""The Delta log outlives deleted rows: it must never carry a person's data in min/max statistics."""

from __future__ import annotations

import json
from pathlib import Path

from refinery.cli import main
from refinery.schemas import table_schema
from refinery.tables import TABLES

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "web_text"
PLANTED = ("ada.lovelace@example.org", "https://ada.example/private", "user-7781-ada", "Lovelace Press")


def log_files(lake: Path) -> list[Path]:
    return [p for p in lake.rglob("*") if p.is_file() and "_delta_log" in p.parts]


def test_no_personal_column_has_statistics_in_any_delta_log(spark, tmp_path):
    raw = tmp_path / "raw" / "web_text"
    raw.mkdir(parents=True)
    records = [json.loads(line) for line in (SAMPLE / "web-2026-10-01.jsonl").read_text().splitlines()[:5]]
    email, url, user, source = PLANTED
    records[0] |= {"id": email, "url": url, "source": source, "meta": {"user": user}}
    records.append({"id": "broken", "text": 5, "url": url})  # a reject whose raw record holds the URL
    (raw / f"{email}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    for command in ("ingest", "curate", "dedup"):
        assert main([command, "--lake", str(tmp_path), "-q"]) == 0

    logs = log_files(tmp_path)
    assert any("bronze" in p.parts for p in logs) and any("ingest_files" in p.parts for p in logs)
    found = [(p, value) for p in logs for value in PLANTED if value.encode() in p.read_bytes()]
    assert found == []

    stats = [
        json.loads(action["add"]["stats"])
        for p in (tmp_path / "bronze" / "web_text" / "_delta_log").glob("*.json")
        for action in map(json.loads, p.read_text().splitlines())
        if "add" in action and action["add"].get("stats")
    ]
    assert stats and all(set(s["minValues"]) == {"_line", "_ingested_at", "_run_id"} for s in stats)


def test_every_table_keeps_statistics_on_its_other_columns():
    for name, spec in TABLES.items():
        if spec.schema is None:
            continue
        properties = table_schema(name).table_properties
        indexed = properties.get("delta.dataSkippingStatsColumns", "").split(",")
        assert not set(indexed) & set(spec.personal), name
