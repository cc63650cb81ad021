"""Ingest on raw files unlike the sample (issue 14, defects 3-5; issue 34, defect 5): repeated ids, odd names,
framing, hidden files, symbolic links.

One lake for the module: a first ingest of every case, then later batches on top of it.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

import refinery.stages.ingest as ingest_stage
from refinery.cli import main
from refinery.lake.ledger import final_rows

SOURCES = "ingest.sources=[{name: web, format: jsonl, glob: '*.jsonl*'},{name: sheets, format: csv, glob: '*.csv'}]"


def lines(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def ingest(lake: Path) -> int:
    return main(["ingest", "--lake", str(lake), "-q", "--set", SOURCES])


def read(spark, lake: Path, *parts: str):
    return spark.read.format("delta").load(str(lake.joinpath(*parts)))


def rejects(spark, lake: Path) -> dict[tuple[str, str | None], str]:
    """(rule, doc_id) -> detail of every ingest reject."""
    rows = read(spark, lake, "rejects", "web_text").collect()
    return {(r.rule, r.doc_id or r._file): r.detail for r in rows}


def last_run(spark, lake: Path):
    runs = final_rows(read(spark, lake, "_refinery", "runs")).where("stage = 'ingest'")
    return runs.orderBy(F.desc("ended_at")).first()


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    lake = tmp_path_factory.mktemp("edge")
    raw = lake / "raw" / "web_text"
    (raw / "_tmp").mkdir(parents=True)
    (raw / "ids-a.jsonl").write_text(
        lines(
            {"id": 12345, "text": "an integer id"},
            {"id": " padded ", "text": "an id with spaces around it"},
            {"id": "twice", "text": "first in its file"},
            {"id": "twice", "text": "second in its file"},
        )
    )
    (raw / "ids-b.jsonl").write_text(lines({"id": "12345", "text": "the same id as a string"}, {"id": "padded"}))
    (raw / "a: b.jsonl").write_text(lines({"id": "colon-1", "text": "x"}, {"id": "colon-2", "text": "y"}))
    (raw / "data[1].jsonl").write_text(lines({"id": "brackets", "text": "glob characters in the name"}))
    (raw / "trailing.jsonl").write_text(lines('{"id": "t", "text": "ok"} trailing', {"id": "t2", "text": "fine"}))
    (raw / "lone-cr.jsonl").write_bytes(b'{"id": "cr1", "text": "a"}\r{"id": "cr2", "text": "b"}\r{"id": "cr3"}\r')
    (raw / "bom.jsonl").write_bytes(codecs.BOM_UTF8 + lines({"id": "bom1", "text": "a"}, {"id": "bom2"}).encode())
    (raw / "bom.csv").write_bytes(codecs.BOM_UTF8 + b"id,text\ncsv-1,from a sheet\n")
    for hidden in ("_hidden.jsonl", ".dot.jsonl", "_tmp/part.jsonl"):
        (raw / hidden).write_text(lines({"id": f"hidden-{hidden}", "text": "never read"}))
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "outside.jsonl").write_text(lines({"id": "outside", "text": "a file outside the lake"}))
    (raw / "outside.jsonl").symlink_to(elsewhere / "outside.jsonl")
    (raw / "passwd.jsonl").symlink_to("/etc/passwd")
    (raw / "elsewhere").symlink_to(elsewhere, target_is_directory=True)
    (raw / "gone.jsonl").symlink_to(raw / "no-such-file.jsonl")
    (raw / "linked.jsonl").symlink_to(raw / "_tmp" / "part.jsonl")  # inside the folder: read under the link's name
    (raw / "loop").symlink_to(raw, target_is_directory=True)  # a cycle: listed once, as skipped
    assert ingest(lake) == 0
    return lake


def test_ids_are_unique_in_bronze_and_repeats_are_rejected_naming_the_first(spark, lake):
    bronze = read(spark, lake, "bronze", "web_text")
    assert bronze.count() == bronze.select("doc_id").distinct().count()
    kept = {r.doc_id: r.text for r in bronze.collect()}
    assert kept["12345"] == "an integer id" and kept["padded"] == "an id with spaces around it"
    assert kept["twice"] == "first in its file"
    found = rejects(spark, lake)
    assert found[("duplicate_id", "12345")] == "id first seen in ids-a.jsonl at position 1"
    assert found[("duplicate_id", "twice")] == "id first seen in ids-a.jsonl at position 3"
    assert ("missing_field:text", "padded") in found  # a bad record never takes an id from a good one


def test_odd_names_lone_cr_and_bom_lose_nothing(spark, lake):
    kept = {r.doc_id for r in read(spark, lake, "bronze", "web_text").collect()}
    assert {"colon-1", "colon-2", "brackets", "cr1", "cr2", "bom1", "csv-1", "t2"} <= kept
    found = rejects(spark, lake)
    assert found[("malformed_json", "t")] == "text after the JSON value at character 27"
    assert ("missing_field:text", "cr3") in found and ("missing_field:text", "bom2") in found
    run = last_run(spark, lake)
    assert run.rows_in == run.rows_out + run.rows_rejected == 18


def test_hidden_files_and_links_not_followed_are_logged_as_skipped_and_counted(spark, lake):
    files = read(spark, lake, "_refinery", "ingest_files").where("status = 'skipped'").collect()
    notes = {r.path: r.note for r in files}  # names below the raw root: the log moves with the lake
    assert sorted(notes) == [
        ".dot.jsonl",
        "_hidden.jsonl",
        "_tmp/part.jsonl",
        "elsewhere",
        "gone.jsonl",
        "loop",
        "outside.jsonl",
        "passwd.jsonl",
    ]
    assert notes["loop"] == "symbolic link to a folder that holds it: not followed (a cycle)"
    assert all("hidden name" in notes[name] for name in (".dot.jsonl", "_hidden.jsonl", "_tmp/part.jsonl"))
    assert notes["gone.jsonl"] == "symbolic link whose target does not exist"
    assert all("outside the source folder" in notes[name] for name in ("elsewhere", "outside.jsonl", "passwd.jsonl"))
    assert last_run(spark, lake).metrics["files.skipped"] == "8"
    assert ingest(lake) == 0  # nothing new: the skipped files are not logged again
    assert read(spark, lake, "_refinery", "ingest_files").where("status = 'skipped'").count() == 8


def test_a_link_inside_the_folder_is_read_under_its_own_name_and_no_outside_path_is_recorded(spark, lake):
    bronze = read(spark, lake, "bronze", "web_text")
    assert bronze.where("doc_id = 'hidden-_tmp/part.jsonl'").first()._file == "linked.jsonl"
    assert bronze.where("doc_id = 'outside'").count() == 0
    logged = [r.path for r in read(spark, lake, "_refinery", "ingest_files").collect()]
    assert not [name for name in logged if name.startswith("/") or "elsewhere/" in name or "etc" in name]


def test_a_later_batch_repeating_a_bronze_id_is_rejected(spark, lake):
    (lake / "raw" / "web_text" / "later.jsonl").write_text(lines({"id": "12345", "text": "delivered again"}))
    assert ingest(lake) == 0
    assert rejects(spark, lake)[("duplicate_id", "12345")] in (
        "id ingested before from ids-a.jsonl at position 1",
        "id first seen in ids-a.jsonl at position 1",  # the first batch's reject of ids-b's copy
    )
    later = read(spark, lake, "rejects", "web_text").where("_file = 'later.jsonl'").first()
    assert (later.rule, later.detail) == ("duplicate_id", "id ingested before from ids-a.jsonl at position 1")
    assert json.loads(later.record)["text"] == "delivered again"  # the losing record is kept, as typed
    assert read(spark, lake, "bronze", "web_text").where("doc_id = '12345'").count() == 1


def test_a_planned_file_that_vanished_is_an_unreadable_file_reject(spark, lake, monkeypatch):
    raw = lake / "raw" / "web_text"
    (raw / "going.jsonl").write_text(lines({"id": "going", "text": "deleted before it was read"}))
    (raw / "staying.jsonl").write_text(lines({"id": "staying", "text": "still there"}))

    def crash(*_args, **_kwargs):
        raise RuntimeError("killed after planning")

    with monkeypatch.context() as patch:
        patch.setattr(ingest_stage, "_read_batch", crash)
        assert ingest(lake) == 1  # the batch is planned, nothing read
    (raw / "going.jsonl").unlink()
    assert ingest(lake) == 0  # the resumed batch completes
    run = last_run(spark, lake)
    assert run.metrics["resumed"] == "true" and run.rows_in == 2 and run.rows_rejected == 1
    going = read(spark, lake, "rejects", "web_text").where("_file = 'going.jsonl'").first()
    assert going.rule == "unreadable_file" and "after it was listed" in going.detail
    logged = read(spark, lake, "_refinery", "ingest_files").where("path LIKE '%going.jsonl'")
    assert [(r.status, r.records, r.rejected_rows) for r in logged.orderBy("at", "status").collect()][-1] == (
        "committed",
        1,
        1,
    )


def test_a_raw_file_that_changes_after_ingest_is_read_again_and_nothing_is_lost(spark, lake):
    raw = lake / "raw" / "web_text"
    growing = raw / "growing.jsonl"  # its writer is half-way through the third line when ingest reads it
    growing.write_text(lines({"id": "g1", "text": "first"}, {"id": "g2", "text": "second"}) + '{"id": "g3", "te')
    assert ingest(lake) == 0
    cut = read(spark, lake, "rejects", "web_text").where("_file = 'growing.jsonl'").collect()
    assert [(r._line, r.rule) for r in cut] == [(3, "malformed_json")]

    with growing.open("a") as writer:  # the writer ends its line and appends another
        writer.write('xt": "third"}\n' + json.dumps({"id": "g4", "text": "fourth"}) + "\n")
    (raw / "later.jsonl").write_text(lines({"id": "rewritten", "text": "other content under a name taken before"}))
    assert ingest(lake) == 0
    run = last_run(spark, lake)
    assert run.metrics["files.changed"] == "2"
    assert run.rows_in == run.rows_out + run.rows_rejected == 5 and run.rows_out == 3
    bronze = read(spark, lake, "bronze", "web_text")
    assert {r.doc_id for r in bronze.where("_file = 'growing.jsonl'").collect()} == {"g1", "g2", "g3", "g4"}
    assert bronze.where("doc_id IN ('g1', 'g2', '12345', 'rewritten')").groupBy("doc_id").count().collect()
    assert bronze.count() == bronze.select("doc_id").distinct().count()  # the first version's records stay
    again = read(spark, lake, "rejects", "web_text").where(f"_run_id = '{run.run_id}'")
    assert {(r.doc_id, r.rule, r.detail) for r in again.collect()} == {
        ("g1", "duplicate_id", "id ingested before from growing.jsonl at position 1"),
        ("g2", "duplicate_id", "id ingested before from growing.jsonl at position 2"),
    }
    assert ingest(lake) == 0 and last_run(spark, lake).metrics["files"] == "0"  # each version is taken once
