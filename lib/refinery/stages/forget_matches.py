"""What a forget finds before it deletes anything: the documents every tombstone matches (and, for this run's
`contains` requests, every document holding the literal as a substring of a raw value) in each document table and
each release, with the count per request and table; the rejects rows and raw files that may hold them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from refinery.lake.releases import list_releases
from refinery.privacy.deletion import Tombstones
from refinery.stages.base import StageContext
from refinery.transforms.forgotten import MATCHED, matched_requests
from refinery.transforms.params import DOCUMENT_COLUMNS

REJECT_KEY = ("stage", "rule", "_file", "_line", "doc_id")
RELEASE_LABEL = "release."  # a release's label: release.<name>


@dataclass
class Found:
    """The ids of every matched document (one `doc_id` column, distinct, materialized), and the documents each
    request matched: table label -> request hash -> documents."""

    ids: DataFrame
    counts: dict[str, dict[str, int]]


def find(ctx: StageContext, tombstones: Tombstones, key: bytes, literals: Mapping[str, str]) -> Found:
    """Match every document table and every release (at the version its record pins): a release is searched by
    itself, so a rerun after its source tables were cleaned still finds what it serves."""
    kind = ctx.config.pipeline_kind
    sources = [(table, ctx.table(table), None) for table in kind.document_tables]
    for release in list_releases(ctx.lake, ctx.pipeline):
        sources.append((RELEASE_LABEL + release.name, ctx.lake.resolve(release.table), release.table_version))
    parts = [
        as_documents(ctx, ctx.lake.read(ref, version)).withColumn("_label", F.lit(label))
        for label, ref, version in sources
        if ctx.lake.exists(ref)
    ]
    if not parts:
        return Found(ctx.spark.createDataFrame([], "doc_id string"), {})
    every = parts[0]
    for part in parts[1:]:
        every = every.unionByName(part)
    # One pass over every table: the matched rows (few) are kept; counts and ids come from them.
    matched = _matched(every, tombstones, key, literals).select("_label", "doc_id", MATCHED).localCheckpoint(eager=True)
    per_request = matched.select("_label", "doc_id", F.explode(MATCHED).alias("hash")).distinct()
    counts: dict[str, dict[str, int]] = {}
    for row in per_request.groupBy("_label", "hash").count().collect():  # one row per (table, request)
        counts.setdefault(row["_label"], {})[row["hash"]] = row["count"]
    ordered = {label: counts[label] for label, *_ in sources if label in counts}  # in stage order, releases last
    return Found(matched.select("doc_id").distinct().localCheckpoint(eager=True), ordered)


def doomed_rejects(
    ctx: StageContext, ids: DataFrame, tombstones: Tombstones, key: bytes, literals: Mapping[str, str]
) -> DataFrame:
    """The rejects rows to remove (by REJECT_KEY): those of the ids, and those whose raw record matches."""
    ref = ctx.table("rejects")
    if not ctx.lake.exists(ref):
        return ctx.spark.createDataFrame([], "stage string, rule string, _file string, _line bigint, doc_id string")
    rejects = ctx.lake.read(ref)
    keep = [c for c in REJECT_KEY if c != "doc_id"]
    by_record = _matched(as_documents(ctx, rejects, keep=keep, text=F.col("record")), tombstones, key, literals)
    by_id = rejects.join(ids, "doc_id", "left_semi")
    return by_record.select(*REJECT_KEY).unionByName(by_id.select(*REJECT_KEY)).distinct()


def raw_files(ctx: StageContext, ids: DataFrame) -> list[str]:
    """Raw files (names as logged) that may hold a match: those of the ids' bronze rows and those with ingest
    rejects (a malformed record has no document to find it by). One small row per file."""
    names: set[str] = set()
    for layer, rows in (("bronze", None), ("rejects", F.col("stage") == "ingest")):
        ref = ctx.table(layer)
        if not ctx.lake.exists(ref):
            continue
        table = ctx.lake.read(ref)
        table = table.join(ids, "doc_id", "left_semi") if rows is None else table.where(rows)
        names |= {r["_file"] for r in table.select("_file").distinct().collect() if r["_file"]}
    return sorted(name for name in names if not name.startswith("kafka:"))  # topics are the broker's


def as_documents(ctx: StageContext, rows: DataFrame, keep: Sequence[str] = (), **given: Column) -> DataFrame:
    """`rows` as documents a tombstone matches: the `keep` columns, then each document column from `given`,
    else the row's own column of that name, else null."""
    types = {f.name: f.dataType for f in ctx.schema(ctx.config.pipeline_kind.stages[0].writes).struct.fields}
    present = set(rows.columns)
    columns = [
        given[c].alias(c) if c in given else F.col(c) if c in present else F.lit(None).cast(types[c]).alias(c)
        for c in DOCUMENT_COLUMNS
    ]
    return rows.select(*keep, *columns)


def _matched(rows: DataFrame, tombstones: Tombstones, key: bytes, literals: Mapping[str, str]) -> DataFrame:
    """The rows that match a tombstone or hold a literal, with the hashes they match in `_matched`."""
    found = matched_requests(
        rows, tombstones=tombstones.hashes, key=key, ngram_sizes=tombstones.ngram_sizes, literals=literals
    )
    return found.where(F.size(MATCHED) > 0)
