"""`refinery forget` on the finished sample with a release: the subjects leave every table, the release (amended,
readable by Spark and by the Spark-free loader) and the raw files; no byte of them is left anywhere under the
lake root; the ledger's audit row holds only keyed hashes; a re-delivered file does not bring them back."""

from __future__ import annotations

import gzip
import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from refinery.cli import main
from refinery.loader import iter_batches
from tests.processes import LAYERS, RELEASE, SAMPLE
from tests.test_raw_rewrite import write_crawl

KEY = "a-privacy-key-of-32-characters!!"
EMAIL = "tom.berg@mail7.example.com"  # once in the sample's raw text (redacted from silver on)


def table(spark, lake, name):
    return spark.read.format("delta").load(str(lake / name / "web_text"))


def files_holding(lake, values: list[str]) -> list[tuple[str, str]]:
    found = []
    for path in lake.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found += [(str(path.relative_to(lake)), v) for v in values if v.encode() in content]
    return found


@pytest.fixture
def lake(sample_lakes, tmp_path, monkeypatch):
    monkeypatch.setenv("REFINERY_PRIVACY_KEY", KEY)
    return sample_lakes.restore("released", at=tmp_path / "lake")


def test_forget_removes_the_subjects_everywhere_and_for_good(spark, lake, capsys):
    # Documents with ids of their own (an id hashed from file and line names that position, not the content).
    gold = table(spark, lake, "gold").where("copy = 0 AND doc_id LIKE 'doc-%'").orderBy("doc_id").collect()
    by_id = gold[0]  # two published documents, one named by its id, one by its URL
    by_url = next(row for row in reversed(gold) if row.url and row.doc_id != by_id.doc_id)
    by_email = table(spark, lake, "bronze").where(F.col("text").contains(EMAIL)).first().doc_id
    thread = table(spark, lake, "bronze").where("meta['thread'] IS NOT NULL").orderBy("doc_id").first().meta["thread"]
    by_field = {r.doc_id for r in table(spark, lake, "bronze").where(F.col("meta")["thread"] == thread).collect()}
    subjects = {by_id.doc_id, by_url.doc_id, by_email, *by_field}  # an author's, or here a forum thread's, posts
    assert len(subjects) == 3 + len(by_field)
    planted = [by_id.doc_id, by_url.url, EMAIL, by_email]
    assert files_holding(lake, planted)  # they are there before
    release_before = spark.read.format("delta").load(str(lake / "releases" / "web_text" / RELEASE)).count()
    for layer in ("bronze", "silver"):  # as on Databricks, where new tables have deletion vectors
        spark.sql(
            f"ALTER TABLE delta.`{lake / layer / 'web_text'}` SET TBLPROPERTIES (delta.enableDeletionVectors = true)"
        )

    args = [
        "--doc-id",
        by_id.doc_id,
        "--url-prefix",
        by_url.url,
        "--contains",
        EMAIL,
        "--field",
        f"meta.thread={thread}",
    ]
    assert main(["forget", *args, "--lake", str(lake), "-q"]) == 0
    out, err = capsys.readouterr()
    assert not [v for v in planted if v in out + err]  # the console never repeats a value

    for layer in LAYERS:
        assert table(spark, lake, layer).where(F.col("doc_id").isin(list(subjects))).count() == 0, layer
    release = spark.read.format("delta").load(str(lake / "releases" / "web_text" / RELEASE))
    gone = release_before - release.count()
    assert gone >= 2 and release.where(F.col("doc_id").isin(list(subjects))).count() == 0
    record = spark.read.format("delta").load(str(lake / "_refinery" / "releases")).first()
    assert record.settings["amended_by_forget"] and record.table_version > 0
    loaded = [b for b in iter_batches(str(lake), "web_text", RELEASE, "train", columns=["doc_id"])]
    assert not subjects & {d for b in loaded for d in b.column("doc_id").to_pylist()}

    assert files_holding(lake, planted) == []  # data files, Delta logs and checkpoints, raw files, the ledger
    for layer in ("bronze", "silver"):  # the deletes left deletion vectors, and the purge rewrote their files
        history = {r.operation for r in DeltaTable.forPath(spark, str(lake / layer / "web_text")).history().collect()}
        assert "REORG" in history, layer

    assert table(spark, lake, "rejects").count() > 0  # still readable after the purge
    runs = spark.read.format("delta").load(str(lake / "_refinery" / "runs")).where("stage = 'forget' AND status = 'ok'")
    row = runs.first()
    assert len(row.metrics["requests"].split()) == 4 and row.rows_in == row.rows_rejected >= len(subjects)
    assert {k for k in row.metrics if k.startswith("table.")} >= {
        "table.bronze",
        "table.gold",
        f"table.release.{RELEASE}",
    }

    # A second forget amends the amended release again; the same requests again remove nothing more.
    another = next(r.doc_id for r in gold if r.doc_id not in subjects)
    assert main(["forget", "--doc-id", another, "--lake", str(lake), "-q"]) == 0
    assert main(["forget", *args, "--lake", str(lake), "-q"]) == 0
    release = spark.read.format("delta").load(str(lake / "releases" / "web_text" / RELEASE))
    assert release.where(F.col("doc_id") == another).count() == 0 and release.count() == release_before - gone - 1
    runs = spark.read.format("delta").load(str(lake / "_refinery" / "runs")).where("stage = 'forget' AND status = 'ok'")
    assert sorted(r.rows_in for r in runs.collect())[0] == 0
    subjects.add(another)

    # The same raw files delivered again: ingest rejects the subjects as `forgotten`.
    raw = lake / "raw" / "web_text"
    for path in SAMPLE.glob("*.jsonl*"):
        shutil.copy(path, raw / f"again-{path.name}")
    assert main(["ingest", "--lake", str(lake), "-q"]) == 0
    bronze = table(spark, lake, "bronze")
    assert bronze.where(F.col("doc_id").isin(list(subjects))).count() == 0
    rejects = table(spark, lake, "rejects").where("stage = 'ingest' AND rule = 'forgotten'")
    assert rejects.count() == len(subjects) and rejects.where("doc_id IS NOT NULL OR record IS NOT NULL").count() == 0

    # Explain: a document forgotten by its id is named as such; one forgotten by its URL leaves no trace.
    capsys.readouterr()
    assert main(["explain", by_id.doc_id, "--json", "--lake", str(lake), "-q"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["forgotten"]["request"] == "doc_id" and found["stages"] == [] and found["forgotten"]["run_id"]
    assert main(["explain", by_url.doc_id, "--lake", str(lake), "-q"]) == 2
    assert "no deletion request named this id" in capsys.readouterr().err


def test_forget_blanks_the_subject_in_raw_files_of_every_format(spark, tmp_path, monkeypatch, capsys):
    """One lake fed by CSV, JSON, text, WARC and Parquet files: after a forget, no byte of the subject is left
    under the lake root, the other records are where they were, and the subject delivered again stays out."""
    monkeypatch.setenv("REFINERY_PRIVACY_KEY", "a-key-of-at-least-16-bytes")
    raw = tmp_path / "raw" / "web_text"
    raw.mkdir(parents=True)
    words = "the river runs past the old mill and the children walk to school every morning"
    subject = f"{words}, mail {EMAIL}"
    (raw / "posts.csv").write_text(f'id,text\nc-1,{words}\nc-2,"{subject}"\nc-3,{words} again\n')
    (raw / "dump.json").write_text(json.dumps([{"id": "j-1", "text": words}, {"id": "j-2", "text": subject}]))
    (raw / "note.txt").write_text(subject)
    page = f'<script type="application/json">{{"owner":"{EMAIL}","id":7}}</script><p>{words}</p>'
    (raw / "page.txt").write_text(page)  # the address inside markup: no space around it
    write_crawl(raw / "crawl.warc.gz", [("https://a.example/1", f"<p>{words}</p>"), ("https://b.example/2", subject)])
    table = pa.table({"id": ["p-1", "p-2", "p-3"], "text": [words, subject, words + " again"]})
    pq.write_table(table, raw / "dump.parquet", compression="none")  # uncompressed: its bytes can be scanned
    formats = {"csv": "*.csv", "json": "*.json", "text": "*.txt", "warc": "*.warc.gz", "parquet": "*.parquet"}
    sources = [{"name": f"{fmt}_files", "format": fmt, "glob": glob} for fmt, glob in formats.items()]
    source = "ingest.sources=" + json.dumps(sources)
    assert main(["ingest", "--lake", str(tmp_path), "-q", "--set", source]) == 0
    before = {
        r.doc_id: (r._file, r._line)
        for r in spark.read.format("delta").load(str(tmp_path / "bronze" / "web_text")).collect()
    }
    assert len(before) == 12 and files_holding(tmp_path, [EMAIL])

    def forget(*args: str) -> int:
        return main(["forget", *args, "--lake", str(tmp_path), "-q", "--set", source])

    def last_forget():
        runs = spark.read.format("delta").load(str(tmp_path / "_refinery" / "runs")).where("stage = 'forget'")
        return runs.where("status = 'ok'").orderBy(F.desc("ended_at")).first().metrics

    # A dry run says what each request would remove and changes nothing.
    assert forget("--contains", EMAIL, "--dry-run") == 0
    said = last_forget()
    assert said["dry_run"] == "true" and said["request.1"] == "bronze 6; raw records 6"
    assert len(spark.read.format("delta").load(str(tmp_path / "bronze" / "web_text")).collect()) == 12
    assert len(files_holding(raw, [EMAIL])) == 5  # the raw files untouched (the WARC's members are gzipped)
    # A request that matches nothing is said out loud: exit 1 (its tombstone is kept), or 0 when allowed.
    capsys.readouterr()
    assert forget("--contains", "nobody@nowhere.example") == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("request(s) 1 matched nothing; their tombstones are kept (--allow-no-match exits 0)")
    )
    assert forget("--contains", "nobody.else@nowhere.example", "--allow-no-match") == 0
    assert last_forget()["requests.unmatched"] == "1"

    assert forget("--contains", EMAIL) == 0
    assert last_forget()["request.1"] == "bronze 6; raw records 6"

    assert files_holding(tmp_path, [EMAIL]) == []  # nor in the gzip members of the WARC
    assert EMAIL.encode() not in gzip.decompress((raw / "crawl.warc.gz").read_bytes())
    assert pq.read_table(raw / "dump.parquet").column("id").to_pylist() == ["p-1", None, "p-3"]  # rows keep place
    bronze = spark.read.format("delta").load(str(tmp_path / "bronze" / "web_text"))
    kept = {r.doc_id: (r._file, r._line) for r in bronze.collect()}
    assert len(kept) == 6 and kept.items() <= before.items()
    runs = spark.read.format("delta").load(str(tmp_path / "_refinery" / "runs")).where("stage = 'forget'")
    metrics = runs.where("status = 'ok'").first().metrics
    assert (metrics["raw.records_blanked"], metrics["raw.files_not_rewritten"]) == ("6", "0")

    # Delivered again in new files, the subject is rejected as `forgotten`; the other records come in anew.
    (raw / "posts-again.csv").write_text(f'id,text\nc-2,"{subject}"\n')
    (raw / "note-again.txt").write_text(subject)
    (raw / "page-again.txt").write_text(page)  # found by the tombstone alone: words split at markup too
    assert main(["ingest", "--lake", str(tmp_path), "-q", "--set", source]) == 0
    assert spark.read.format("delta").load(str(tmp_path / "bronze" / "web_text")).count() == 6
    rejects = spark.read.format("delta").load(str(tmp_path / "rejects" / "web_text")).where("rule = 'forgotten'")
    assert rejects.count() == 3 and rejects.where("doc_id IS NOT NULL OR record IS NOT NULL").count() == 0
