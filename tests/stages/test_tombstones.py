"""Tombstones stop a forgotten subject from coming back: a re-delivered record is rejected as `forgotten`,
with neither its id nor its record kept, and a run that needs the key and has none stops with one line."""

from __future__ import annotations

import json

from refinery.cli import main
from refinery.config import load_config
from refinery.lake.store import Lake
from refinery.privacy.deletion import Request, record_tombstones
from tests.stages.test_empty_and_noop import PERMISSIVE, unique_doc, write_jsonl

KEY = "a-key-of-at-least-16-bytes"
TEXT = "The river runs past the old mill and the children walk to school with their dogs every morning."


def test_ingest_rejects_records_of_forgotten_subjects(spark, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REFINERY_PRIVACY_KEY", KEY)
    config = load_config("web_text", "local", [f"lake.root={tmp_path}"])
    requests = [Request("doc_id", "gone-1"), Request("contains", "ada@example.org")]
    record_tombstones(Lake(spark, config.lake), "web_text", requests, KEY.encode(), run_id="test")
    raw = tmp_path / "raw" / "web_text"
    raw.mkdir(parents=True)
    records = [
        {"id": "gone-1", "text": TEXT},
        {"id": "kept-1", "text": TEXT + " Write to ada@example.org."},
        {"id": "kept-2", "text": TEXT},
    ]
    (raw / "redelivered.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["ingest", "--lake", str(tmp_path), "-q"]) == 0

    bronze = spark.read.format("delta").load(str(tmp_path / "bronze" / "web_text"))
    assert [r.doc_id for r in bronze.collect()] == ["kept-2"]
    rejects = spark.read.format("delta").load(str(tmp_path / "rejects" / "web_text")).collect()
    assert sorted((r.rule, r.detail, r.doc_id, r.record, r._line) for r in rejects) == [
        ("forgotten", "matches a deletion request", None, None, 1),
        ("forgotten", "matches a deletion request", None, None, 2),
    ]

    monkeypatch.delenv("REFINERY_PRIVACY_KEY")
    (raw / "later.jsonl").write_text(json.dumps({"id": "kept-3", "text": TEXT}) + "\n")
    capsys.readouterr()
    assert main(["ingest", "--lake", str(tmp_path), "-q"]) == 2  # tombstones exist: the key is needed
    assert "no privacy key is set" in capsys.readouterr().err


def test_curate_and_publish_drop_subjects_forgotten_after_ingest(spark, tmp_path, monkeypatch):
    """A request recorded while rows are already on their way (a forget that has not reached them yet, or a
    concurrent run) is honoured by the next stage that reads them."""
    monkeypatch.setenv("REFINERY_PRIVACY_KEY", KEY)
    write_jsonl(tmp_path / "raw" / "web_text" / "part-1.jsonl", [unique_doc(i) for i in range(6)])
    lake = Lake(spark, load_config("web_text", "local", [f"lake.root={tmp_path}"]).lake)
    settings = [arg for setting in PERMISSIVE for arg in ("--set", setting)]
    assert main(["ingest", "--lake", str(tmp_path), "-q", *settings]) == 0
    record_tombstones(lake, "web_text", [Request("doc_id", "u0001")], KEY.encode(), run_id="test")
    assert main(["curate", "--lake", str(tmp_path), "-q", *settings]) == 0
    assert main(["dedup", "--lake", str(tmp_path), "-q", *settings]) == 0
    record_tombstones(lake, "web_text", [Request("contains", unique_doc(2)["text"].split()[3])], KEY.encode(), "t2")
    assert main(["publish", "--lake", str(tmp_path), "-q", *settings]) == 0

    def ids(layer):
        return {r.doc_id for r in spark.read.format("delta").load(str(tmp_path / layer / "web_text")).collect()}

    assert "u0001" not in ids("silver") and "u0002" in ids("silver_dedup")
    assert ids("gold") == {"u0000", "u0003", "u0004", "u0005"}
    rejects = spark.read.format("delta").load(str(tmp_path / "rejects" / "web_text")).collect()
    assert sorted((r.stage, r.rule, r.doc_id) for r in rejects) == [
        ("curate", "forgotten", None),
        ("publish", "forgotten", None),
    ]
