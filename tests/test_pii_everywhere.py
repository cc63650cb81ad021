"""No raw PII from silver on, nor in any lineage column: PII planted in every field a raw record or its file
name can carry (id, text, URL, source, meta, the file's folder, a malformed line, a rejected and a duplicated
document) is scanned for in every table of the lake but bronze (the raw mirror), and in bronze's lineage."""

from __future__ import annotations

import json

from pyspark.sql import functions as F

from refinery.cli import main
from refinery.stages.ingest_files import logged_name
from refinery.transforms.pii import lineage_safe
from tests.stages.test_empty_and_noop import PERMISSIVE, unique_doc

FOLDER_EMAIL = "grace.hopper@example.net"
ID_EMAIL = "ada.lovelace@example.org"
DUPLICATE_ID_EMAIL = "hedy.lamarr@example.org"
SHORT_DOC_ID_EMAIL = "katherine.johnson@example.org"
URL_EMAIL = "alan.turing@example.com"
SOURCE_EMAIL = "edsger.dijkstra@example.nl"
TEXT_EMAIL = "barbara.liskov@example.com"
MALFORMED_EMAIL = "margaret.hamilton@example.org"
META_PHONE = "+44 20 7946 0958"
PLANTED = (
    FOLDER_EMAIL,
    ID_EMAIL,
    DUPLICATE_ID_EMAIL,
    SHORT_DOC_ID_EMAIL,
    URL_EMAIL,
    SOURCE_EMAIL,
    TEXT_EMAIL,
    MALFORMED_EMAIL,
    META_PHONE,
)


def planted_records() -> list[str]:
    carrier = unique_doc(1)
    records = [
        {
            "id": ID_EMAIL,
            "text": carrier["text"] + f" Write to {TEXT_EMAIL} for more.",
            "url": f"https://example.com/contact?email={URL_EMAIL}",
            "source": f"mailbox of {SOURCE_EMAIL}",
            "meta": {"phone": META_PHONE, "topic": "rivers"},
        },
        {"id": DUPLICATE_ID_EMAIL, "text": carrier["text"] + f" Write to {TEXT_EMAIL} for more."},  # exact dup
        {"id": ID_EMAIL, "text": unique_doc(2)["text"]},  # the same id again: an ingest reject
        {"id": SHORT_DOC_ID_EMAIL, "text": "far too short"},  # a curate reject
        *(unique_doc(i) for i in range(3, 12)),
    ]
    lines = [json.dumps(r) for r in records]
    lines.insert(3, f'{{"id": "broken", "text": "mail {MALFORMED_EMAIL}"')  # not JSON: the record is quarantined
    return lines


def test_planted_pii_is_in_no_table_from_silver_on_nor_in_lineage(spark, tmp_path, capsys):
    raw = tmp_path / "raw" / "web_text" / FOLDER_EMAIL
    raw.mkdir(parents=True)
    (raw / "part-1.jsonl").write_text("\n".join(planted_records()) + "\n")
    overrides = [arg for setting in PERMISSIVE for arg in ("--set", setting)]
    assert main(["run", "--lake", str(tmp_path), "-q", *overrides]) == 0

    scanned = {}
    for log in sorted(tmp_path.glob("**/_delta_log")):
        table = log.parent
        if table.relative_to(tmp_path).parts[0] == "bronze":
            continue
        rows = spark.read.format("delta").load(str(table))
        scanned[str(table.relative_to(tmp_path))] = [
            r[0] for r in rows.select(F.to_json(F.struct(*rows.columns))).collect()
        ]
    assert {"silver/web_text", "silver_dedup/web_text", "gold/web_text", "rejects/web_text"} <= set(scanned)
    assert {"_refinery/ingest_files", "_refinery/runs"} <= set(scanned)
    for table, rows in scanned.items():
        for value in PLANTED:
            assert not any(value in row for row in rows), f"{value} in {table}"

    bronze = spark.read.format("delta").load(str(tmp_path / "bronze" / "web_text"))
    lineage = [json.dumps(r.asDict()) for r in bronze.select("doc_id", "_file").collect()]
    for value in PLANTED:
        assert not any(value in row for row in lineage), f"{value} in bronze's lineage"

    # What was planted is still there in a form that keeps it useful: ids unique and findable, rules named.
    rejects = {
        (r.stage, r.rule, r.doc_id)
        for r in spark.read.format("delta").load(str(tmp_path / "rejects" / "web_text")).collect()
    }
    assert ("ingest", "duplicate_id", lineage_safe(ID_EMAIL)) in rejects
    assert ("curate", "gopher_quality:gopher_short_doc", lineage_safe(SHORT_DOC_ID_EMAIL)) in rejects
    assert ("ingest", "malformed_json") in {(stage, rule) for stage, rule, _ in rejects}
    silver = spark.read.format("delta").load(str(tmp_path / "silver" / "web_text"))
    planted = silver.where(F.col("doc_id") == lineage_safe(ID_EMAIL)).first()
    assert planted.url == "https://example.com/contact?email=<EMAIL>"
    assert planted.meta == {"phone": "<PHONE>", "topic": "rivers"}
    assert planted.source == "mailbox of <EMAIL>"
    assert planted.pii["email"] == 3 and planted.pii["phone"] == 1
    assert planted._file == f"{lineage_safe(FOLDER_EMAIL)}/part-1.jsonl"

    capsys.readouterr()
    assert main(["explain", ID_EMAIL, "--lake", str(tmp_path), "--json"]) == 0  # found by the id as given
    explained = json.loads(capsys.readouterr().out)
    assert explained["doc_id"] == lineage_safe(ID_EMAIL) and explained["origin"]["file"] == planted._file

    assert main(["ingest", "--lake", str(tmp_path), "-q"]) == 0  # the renamed file is not taken twice
    assert spark.read.format("delta").load(str(tmp_path / "bronze" / "web_text")).count() == bronze.count()


def test_an_absolute_uri_keeps_its_storage_authority():
    uri = "abfss://raw@account.dfs.core.windows.net/dumps/ada@example.org/part-1.jsonl"  # a source outside raw/
    expected = f"abfss://raw@account.dfs.core.windows.net/dumps/{lineage_safe('ada@example.org')}/part-1.jsonl"
    assert logged_name(uri) == expected
