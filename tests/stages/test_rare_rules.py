"""The rules the sample and the other stage tests never reach, each reached by a record written for it and run
through the real stages: a text lake (JSONL, WARC and CSV sources; curate once with the pipeline's language
filter and once without it) and a tabular lake of four change records. Together with the other tests, every
rule of refinery.rejects is emitted by a stage (tests/test_rejects.py checks that at the end of the suite)."""

from __future__ import annotations

import json
from io import BytesIO

from pyspark.sql import functions as F
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from refinery.cli import main
from tests.tabular import KEY, privacy_key

GOOD = (  # a sample document that passes every curation filter
    "Fresh basil should be added at the very end so that its aroma survives the heat. Bees play an essential role "
    "in pollinating fruit trees and many vegetables.\nResearchers measured the water temperature at twelve stations "
    "along the coastline. Regular backups are the simplest protection against losing important files. Reading "
    "aloud to children every day helps them build vocabulary and confidence. A sourdough starter needs regular "
    "feeding with flour and water to stay active."
)
SHORT_LINES = (  # English that passes Gopher and C4, with most lines under 30 characters (FineWeb)
    "Apples wait softly at sea.\nRivers drift rarely at sea.\nStones open freely in May.\nClouds drift to the sea and "
    "back.\nGardens bloom gently in spring.\nBridges grow early at dawn.\nForests shine softly on time.\nMarkets turn "
    "warmly by night.\nIslands stand brightly in town.\nPlanets turn with the stars.\nEngines bloom quietly at sea."
    "\nMountains turn early in spring.\nValleys wait slowly by noon.\nRabbits wait early in rain.\nCandles drift "
    "quietly in spring.\nViolins turn rarely at dawn.\nBaskets bloom warmly by night.\nPencils drift softly in May.\n"
    "Harbors stand rarely at home.\nMeadows turn quietly in town.\nLanterns turn brightly in rain.\nKettles shine "
    "brightly in town.\nLadders stand quietly in May.\nMirrors flow early by noon.\nOrchards shine warmly by night.\n"
    "Pillows flow early in town.\nSaddles open freely in town.\nTunnels grow rarely at home.\nWagons rise gently in "
    "town.\nZebras wait quietly by night."
)
DUTCH = (
    "De gemeenteraad heeft dinsdagavond een nieuwe begroting voor de openbare bibliotheken goedgekeurd. "
    "Zonnepanelen op het dak van de school dekken nu bijna de helft van de elektriciteit. Vrijwilligers hebben de "
    "rivieroever schoongemaakt en meer dan tweehonderd zakken afval verzameld."
)
DOCUMENTS = {
    "good": {"text": GOOD},
    "no-text-page": {"text": "<html><head><script>var a = 1;</script></head><body></body></html>"},
    "dutch": {"text": DUTCH},
    "lorem": {"text": GOOD + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."},
    "short-lines": {"text": SHORT_LINES},
    "iban": {"text": GOOD + " Donations go to the account DE89 3704 0044 0532 0130 00 of the garden club."},
    "empty": {"text": ""},
}
SOURCES = (
    "ingest.sources=[{name: web, format: jsonl, glob: '*.jsonl'}, {name: crawl, format: warc, glob: '*.warc.gz'},"
    " {name: sheet, format: csv, glob: '*.csv'}]"
)


def write_text_lake(raw) -> None:
    raw.mkdir(parents=True)
    lines = [json.dumps({"id": doc_id, **fields}) for doc_id, fields in DOCUMENTS.items()]
    (raw / "docs.jsonl").write_text("\n".join(lines) + "\n")
    (raw / "sheet.csv").write_text("id,text\nc-1," + "x" * 200_000 + "\n")  # a field beyond the CSV field limit
    with open(raw / "crawl.warc.gz", "wb") as out:
        writer = WARCWriter(out, gzip=True)
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        empty = writer.create_warc_record(
            "https://a.example.com/", "response", payload=BytesIO(b""), http_headers=headers
        )
        writer.write_record(empty)


def rules(spark, lake, pipeline: str) -> dict[tuple[str, str], str]:
    """The rule of each reject: by raw file for ingest's (whose ids are hashes of positions), by doc id later."""
    rejects = spark.read.format("delta").load(str(lake / "rejects" / pipeline)).collect()  # a handful of rows
    return {(r.stage, r._file if r.stage == "ingest" else r.doc_id): r.rule for r in rejects}


def test_each_rare_text_rule_is_reached_by_its_record(spark, tmp_path):
    lake = tmp_path / "lake"
    write_text_lake(lake / "raw" / "web_text")
    settings = ["--set", SOURCES, "--set", "curate.pii.iban=drop", "-q"]
    assert main(["ingest", "--lake", str(lake), *settings]) == 0
    assert main(["curate", "--lake", str(lake), *settings]) == 0
    found = rules(spark, lake, "web_text")
    assert found[("ingest", "sheet.csv")] == "malformed_csv"
    assert found[("ingest", "crawl.warc.gz")] == "empty_record"
    assert {doc: found[("curate", doc)] for doc in DOCUMENTS if doc != "good"} == {
        "no-text-page": "html:no_text",
        "dutch": "language:not_kept",
        "lorem": "c4:lorem_ipsum",
        "short-lines": "fineweb:short_line_ratio",
        "iban": "pii:iban",
        "empty": "language:low_score",  # nothing to judge scores 0: the language filter comes first
    }
    silver = spark.read.format("delta").load(str(lake / "silver" / "web_text"))
    assert [r.doc_id for r in silver.select("doc_id").collect()] == ["good"]
    kept = {r.doc_id: r.record for r in spark.read.format("delta").load(str(lake / "rejects" / "web_text")).collect()}
    assert kept["lorem"].startswith("Fresh basil") and "Lorem ipsum" in kept["lorem"]  # the text its filter judged
    assert "Donations go to" in kept["iban"] and "DE89 3704" not in kept["iban"]  # PII redacted

    everything = ["--set", "curate.language.min_score=0", "--set", "curate.language.keep=[]"]
    assert main(["curate", "--lake", str(lake), *settings, *everything]) == 0
    assert rules(spark, lake, "web_text")[("curate", "empty")] == "quality:empty"


def test_each_rare_tabular_rule_is_reached_by_its_record(spark, tmp_path):
    customer = {
        "full_name": "Ada Example",
        "email": "ada@example.org",
        "birth_date": "1980-02-03",
        "zip": "12345",
        "gender": "f",
        "segment": "retail",
        "region": "east",
        "channel": "online",
        "income": 50000.0,
        "opened_on": "2015-01-01",
    }
    changes = [
        {"customer_id": "C-1", **customer, "churned": 0, "op": "insert", "seq": 1},
        {"customer_id": "C-2", **customer, "op": "insert", "seq": 2},  # no label
        {"customer_id": "C-3", **customer, "churned": 1, "op": "upsert", "seq": 3},
        {"customer_id": "C-4", **customer, "churned": 1, "nickname": "ada", "op": "insert", "seq": 4},
    ]
    lake = tmp_path / "lake"
    raw = lake / "raw" / "tabular"
    raw.mkdir(parents=True)
    (raw / "changes.jsonl").write_text("\n".join(json.dumps(change) for change in changes) + "\n")
    with privacy_key(KEY):
        args = ["run", "--pipeline", "tabular", "--lake", str(lake), "--set", "tabular.expectations=[]", "-q"]
        assert main(args) == 0
    rejects = spark.read.format("delta").load(str(lake / "rejects" / "tabular"))
    by_stage = sorted((r.stage, r.rule) for r in rejects.select("stage", "rule").collect())
    assert by_stage == [
        ("ingest", "unknown_field"),
        ("ingest", "unknown_operation"),
        ("publish", "k_anonymity"),  # the one labelled customer is a class of one (k = 3)
        ("publish", "missing_label"),
    ]
    assert spark.read.format("delta").load(str(lake / "gold" / "tabular")).count() == 0
    assert rejects.where(F.col("record").contains("Ada")).count() == 0  # identifiers withheld from records
