"""A user's own web archives through `refinery ingest`: every record of every WARC, WET, ARC and HTML file lands in
bronze or in rejects under its own rule, the counts reconcile per file, and a file with no document is said."""

from __future__ import annotations

from pyspark.sql import functions as F

from refinery.cli import main
from tests.web_archives import CRAWL_SOURCES, LEGACY_PAGES, write_crawl_set


def test_every_record_of_real_shaped_archives_is_kept_or_rejected_by_name(spark, tmp_path, capsys):
    lake = tmp_path / "lake"
    expected = write_crawl_set(lake / "raw" / "web_text")
    settings = ["--lake", str(lake), "--set", CRAWL_SOURCES, "-q"]
    assert main(["ingest", *settings, "--strict"]) == 1  # the file with no document fails a strict run ...
    out, err = capsys.readouterr()
    assert "ingest warning: 1 file(s) yielded no record: arc/robots-only.warc.gz" in out  # ... after its summary
    assert "--strict: 1 file(s) yielded no record" in err

    files = spark.read.format("delta").load(str(lake / "_refinery" / "ingest_files")).where("status = 'committed'")
    counted = {r.path: (r.records, r.bronze_rows, r.rejected_rows) for r in files.collect()}
    rejects = spark.read.format("delta").load(str(lake / "rejects" / "web_text"))
    rules = {}
    for row in rejects.select("_file", "rule").collect():
        rules.setdefault(row._file, []).append(row.rule)
    bronze = spark.read.format("delta").load(str(lake / "bronze" / "web_text"))
    in_bronze = dict(bronze.groupBy("_file").count().collect())
    for name, (records, kept, rejected_rules) in expected.items():
        assert counted[name] == (records, kept, records - kept), name
        assert in_bronze.get(name, 0) == kept and sorted(rules.get(name, [])) == rejected_rules, name

    wet = bronze.where(F.col("_file").startswith("wet/")).select("meta").first().meta
    assert (wet["warc_type"], wet["content_language"], wet["content_type"]) == ("conversion", "eng", "text/plain")
    pages = {r._file.removeprefix("html/"): r for r in bronze.where(F.col("_file").startswith("html/")).collect()}
    for name, (_, seen) in LEGACY_PAGES.items():
        assert seen in pages[name].text, name
    assert pages["cp1252-meta.html"].meta["charset"] == "cp1252 (meta)"
    assert pages["latin1-undeclared.html"].meta["charset"].endswith("(detected)")
    assert "charset" not in (pages["utf8.html"].meta or {})
    binary = rejects.where(F.col("_file") == "html/logo.png.html").first()
    assert binary.detail.startswith("utf-8: not valid utf-8 at byte 128")
