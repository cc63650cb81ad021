"""docs/api.md's example in a plain Spark job: curation as a DataFrame function, no lake, no config files."""

from __future__ import annotations

from pyspark.sql import functions as F

from refinery.config import CurateConfig
from refinery.stages.curate import curate_frame
from refinery.transforms.rules import kept_rows, rejected_rows

PROSE = (
    "Fresh basil should be added at the very end so that its aroma survives the heat. Bees play an essential role "
    "in pollinating fruit trees and many vegetables. Researchers measured the water temperature at twelve stations "
    "along the coastline. Regular backups are the simplest protection against losing important files. Reading "
    "aloud to children every day helps them build vocabulary and confidence."
)


def test_curate_frame_runs_on_any_dataframe_with_the_columns_it_names(spark):
    docs = spark.createDataFrame(
        [("a", f"<html><body><p>{PROSE} Write to ada@example.org.</p></body></html>"), ("b", "too short")],
        "doc_id string, text string",
    )
    docs = docs.withColumns(
        {"url": F.lit(None).cast("string"), "meta": F.create_map().cast("map<string,string>"), "source": F.lit("mine")}
    )
    curated = curate_frame(docs, CurateConfig())
    kept = {r.doc_id: r for r in kept_rows(curated).collect()}
    removed = {r.doc_id: r for r in rejected_rows(curated).collect()}
    assert kept["a"].lang == "en" and "<EMAIL>" in kept["a"].text and kept["a"].pii["email"] == 1
    assert not kept["a"].text.startswith("<html")
    assert removed["b"].rule.startswith("gopher_") and removed["b"].detail  # the first filter it fails, and why
