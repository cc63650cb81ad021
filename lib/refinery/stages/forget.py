"""Forget: remove a subject from every table, release and raw file of a pipeline, purge the bytes, and keep a
keyed tombstone so no later run brings it back.

In order, each step safe to redo (a rerun after a crash finishes the job):
1. the requests' tombstones are recorded (`refinery.privacy.deletion`): from then on ingest rejects the subject;
2. the documents to remove are found with every tombstone's keyed hash (`flag_forgotten`) in bronze,
   silver, silver_dedup and gold: the union of their ids;
3. their rows leave bronze, silver, silver_dedup, signatures and rejects by a MERGE on those ids (rejects
   also lose rows whose raw record matches), so no commit carries a requested value; gold and every release
   are rewritten without them, file for file in their training layout, and each release's record is
   amended (its version, counts, and a note naming the forget run);
4. raw files holding a matching record get it blanked in place (`refinery.privacy.raw_rewrite`: positions, and
   lineage, stay); a file that cannot be rewritten so (ARC, unparseable, not on the driver's file system)
   is named in a warning and counted;
5. deletion vectors are purged and every table touched is vacuumed with zero retention (for this operation
   only): versions before the forget can no longer be read, and the ledger row says so per table.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from refinery import paths, pipelines
from refinery.lake.gold import gold_totals
from refinery.lake.releases import copy_in_layout, list_releases, with_source_files, write_pointer
from refinery.lake.store import TableRef
from refinery.privacy.deletion import Request, Tombstones, load_tombstones, record_tombstones
from refinery.privacy.keys import privacy_key
from refinery.privacy.raw_rewrite import REWRITERS, CannotRewriteError
from refinery.rejects import FORGOTTEN
from refinery.stages.base import StageContext, StageResult
from refinery.stages.ingest_files import raw_locations
from refinery.transforms.forgotten import flag_forgotten
from refinery.transforms.params import DOCUMENT_COLUMNS
from refinery.transforms.rules import REJECT_RULE

STAGE = "forget"
REJECT_KEY = ("stage", "rule", "_file", "_line", "doc_id")
WITHHELD = "detail withheld: it named a forgotten subject"
AMENDED = "amended_by_forget"  # the release record's settings key naming the forget run that amended it

log = logging.getLogger(__name__)


def run(ctx: StageContext, requests: list[Request]) -> StageResult:
    """Forget the requests' subjects everywhere in the pipeline; the ledger row is the audit record."""
    key = privacy_key(ctx.config.privacy, ctx.spark)
    record_tombstones(ctx.lake, ctx.pipeline, requests, key, ctx.run_id)
    tombstones = load_tombstones(ctx.lake, ctx.pipeline)  # earlier requests too: a forget also mops up
    removed: dict[str, tuple[TableRef, int, int, int]] = {}  # label -> (table, version before, after, rows)
    # Found before anything is deleted (and materialized: computed again afterwards, it would miss what is gone).
    ids = _matching_ids(ctx, tombstones, key).localCheckpoint(eager=True)
    raw_files = _raw_files(ctx, ids)
    for layer in merged_tables(ctx.config.pipeline_kind):
        _delete(ctx, layer, ctx.table(layer), ids, "t.doc_id = s.doc_id", removed)
    doomed_rejects = _doomed_rejects(ctx, ids, tombstones, key).localCheckpoint(eager=True)
    _delete(ctx, "rejects", ctx.table("rejects"), doomed_rejects, _REJECT_MATCH, removed)
    _withhold_details(ctx, tombstones, key, removed)
    published = ctx.config.pipeline_kind.last.writes
    _rewrite_in_layout(ctx, published, ctx.table(published), None, ids, removed)
    for release in list_releases(ctx.lake, ctx.pipeline):
        label = f"release.{release.name}"
        ref = ctx.lake.resolve(release.table)
        if _rewrite_in_layout(ctx, label, ref, release.table_version, ids, removed):
            _amend_release(ctx, release.name, ref, removed[label][2])
    rewritten, not_rewritten = _rewrite_raw(ctx, raw_files, tombstones, key)
    metrics = {"requests": " ".join(r.hash(key) for r in requests)}
    for label, (ref, before, after, rows) in removed.items():
        _purge(ctx, ref)
        metrics[f"table.{label}"] = f"{rows} rows removed; version {before} -> {after}, earlier versions purged"
        log.warning("forget: %s: %d rows removed; versions before %d can no longer be read", label, rows, after)
    metrics["raw.records_blanked"] = str(rewritten)
    metrics["raw.files_not_rewritten"] = str(len(not_rewritten))
    for name, reason in not_rewritten:  # names as logged: lineage-safe
        log.warning("forget: raw file %s may hold a match and was not rewritten (%s): remove it by hand", name, reason)
    total = sum(rows for *_, rows in removed.values())
    return StageResult.of_counts(
        STAGE, rows_in=total, rejected_by_rule={FORGOTTEN.name: total} if total else {}, metrics=metrics
    )


def merged_tables(kind: pipelines.Kind) -> tuple[str, ...]:
    """The tables a subject's rows leave by a MERGE on doc_id: every stage's output but the published one (which is
    rewritten in its layout), and what stages keep besides (signatures)."""
    kept = [table for stage in kind.stages for table in (stage.writes, *stage.also_writes)]
    return tuple(table for table in kept if table != kind.last.writes)


_REJECT_MATCH = " AND ".join(f"t.{column} <=> s.{column}" for column in REJECT_KEY)


def _matching_ids(ctx: StageContext, tombstones: Tombstones, key: bytes) -> DataFrame:
    """The ids (one `doc_id` column, distinct) of every document that matches a tombstone in a document layer."""
    found = ctx.spark.createDataFrame([], "doc_id string")
    for layer in ctx.config.pipeline_kind.document_tables:
        ref = ctx.table(layer)
        if not ctx.lake.exists(ref):
            continue
        rows = _as_documents(ctx, ctx.lake.read(ref))
        flagged = flag_forgotten(rows, tombstones=tombstones.hashes, key=key, ngram_sizes=tombstones.ngram_sizes)
        found = found.unionByName(flagged.where(F.col(REJECT_RULE).isNotNull()).select("doc_id"))
    return found.distinct()


def _as_documents(ctx: StageContext, rows: DataFrame, keep: Sequence[str] = (), **given: Column) -> DataFrame:
    """`rows` as documents `flag_forgotten` matches: the `keep` columns, then each document column from `given`,
    else the row's own column of that name, else null."""
    types = {f.name: f.dataType for f in ctx.schema(ctx.config.pipeline_kind.stages[0].writes).struct.fields}
    present = set(rows.columns)
    columns = [
        given[c].alias(c) if c in given else F.col(c) if c in present else F.lit(None).cast(types[c]).alias(c)
        for c in DOCUMENT_COLUMNS
    ]
    return rows.select(*keep, *columns)


def _doomed_rejects(ctx: StageContext, ids: DataFrame, tombstones: Tombstones, key: bytes) -> DataFrame:
    """The rejects rows to remove (by REJECT_KEY): those of the ids, and those whose raw record matches."""
    ref = ctx.table("rejects")
    if not ctx.lake.exists(ref):
        return ctx.spark.createDataFrame([], "stage string, rule string, _file string, _line bigint, doc_id string")
    rejects = ctx.lake.read(ref)
    as_documents = _as_documents(ctx, rejects, keep=[c for c in REJECT_KEY if c != "doc_id"], text=F.col("record"))
    by_record = flag_forgotten(
        as_documents, tombstones=tombstones.hashes, key=key, ngram_sizes=tombstones.ngram_sizes
    ).where(F.col(REJECT_RULE).isNotNull())
    by_id = rejects.join(ids, "doc_id", "left_semi")
    return by_record.select(*REJECT_KEY).unionByName(by_id.select(*REJECT_KEY)).distinct()


def _withhold_details(ctx: StageContext, tombstones: Tombstones, key: bytes, removed: dict) -> None:
    """Other rows' rejects whose detail names a forgotten subject (`near duplicate of <id>`) keep their row
    and rule; the detail is withheld (a MERGE keyed on the row: no commit carries the value)."""
    ref = ctx.table("rejects")
    if not ctx.lake.exists(ref):
        return
    keys = [F.col(column).alias(f"_key{column}") for column in REJECT_KEY]
    # Each word of a detail is looked at as a document id too (`near duplicate of doc-00158 (cluster of 2)`).
    words = (
        ctx.lake.read(ref)
        .where(F.col("detail").isNotNull())
        .select(*keys, "detail", F.explode(F.split("detail", r"[\s(),;]+")).alias("doc_id"))
    )
    as_documents = _as_documents(ctx, words, keep=[f"_key{column}" for column in REJECT_KEY], text=F.col("detail"))
    flagged = flag_forgotten(
        as_documents, tombstones=tombstones.hashes, key=key, ngram_sizes=tombstones.ngram_sizes
    ).where(F.col(REJECT_RULE).isNotNull())
    named = flagged.select(*(F.col(f"_key{column}").alias(column) for column in REJECT_KEY)).distinct()
    before = ctx.lake.version(ref)
    written = ctx.lake.update_matching(ref, named, _REJECT_MATCH, {"detail": F.lit(WITHHELD)})
    if written.committed and written.rows_written:
        earlier = removed.get("rejects")
        rows = earlier[3] if earlier else 0
        removed["rejects"] = (ref, earlier[1] if earlier else before, written.version, rows)


def _delete(ctx: StageContext, label: str, ref: TableRef, doomed: DataFrame, condition: str, removed: dict) -> None:
    """Delete the rows `condition` matches in `doomed` (a MERGE: its commit names no value)."""
    if not ctx.lake.exists(ref):
        return
    before = ctx.lake.version(ref)
    written = ctx.lake.delete_matching(ref, doomed, condition)
    if written.committed and written.rows_written:
        removed[label] = (ref, before, written.version, written.rows_written)


def _rewrite_in_layout(
    ctx: StageContext, label: str, ref: TableRef, version: int | None, ids: DataFrame, removed: dict
) -> bool:
    """Rewrite gold or a release (at `version`) without the ids, file for file in its training layout."""
    if not ctx.lake.exists(ref):
        return False
    current = ctx.lake.read(ref, version)
    rows = current.join(ids, "doc_id", "left_semi").count()
    if not rows:
        return False
    before = ctx.lake.version(ref)
    kept = with_source_files(current).join(ids, "doc_id", "left_anti")
    written = copy_in_layout(ctx.lake, kept, ref, ctx.schema(ctx.config.pipeline_kind.last.writes))
    removed[label] = (ref, before, written.version, rows)
    return True


def _amend_release(ctx: StageContext, name: str, ref: TableRef, version: int) -> None:
    """Point the release's record (and, in a catalog, its pointer file) at its amended version, with its new
    counts and a note naming the forget run."""
    counts = [F.lit(x) for pair in gold_totals(ctx.lake.read(ref, version)).items() for x in pair]
    ctx.lake.delta_table(ctx.lake.table("releases")).update(
        (F.col("pipeline") == ctx.pipeline) & (F.col("name") == name),
        {
            "table_version": F.lit(version).cast("bigint"),
            "counts": F.create_map(*counts).cast("map<string,bigint>"),
            "settings": F.map_concat(  # the latest forget's run (a map may not repeat a key)
                F.map_filter("settings", lambda k, _v: k != AMENDED),
                F.create_map(F.lit(AMENDED), F.lit(ctx.run_id)),
            ),
        },
    )
    write_pointer(ctx.lake, ctx.pipeline, name, ref, version)


def _raw_files(ctx: StageContext, ids: DataFrame) -> list[str]:
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


def _rewrite_raw(
    ctx: StageContext, names: list[str], tombstones: Tombstones, key: bytes
) -> tuple[int, list[tuple[str, str]]]:
    """Blank the matching records of the raw files (`refinery.privacy.raw_rewrite`): (records blanked, (name, reason)
    of each file that may hold a match and was not rewritten)."""
    sources = {source.name: source for source in ctx.config.ingest.file_sources}
    logged = ctx.lake.read(ctx.lake.table("ingest_files")).where(F.col("pipeline") == ctx.pipeline)
    source_of = {r["path"]: r["source"] for r in logged.select("path", "source").distinct().collect()}
    raw_root = ctx.lake.raw(ctx.pipeline).path
    locations = raw_locations(ctx, raw_root)
    blanked, not_rewritten = 0, []
    for name in names:
        source = sources.get(source_of.get(name, ""))
        found = locations.get(name, name)
        location = found if paths.is_absolute(found) else paths.join(raw_root, found)
        if source is None or (paths.is_local(location) and not Path(paths.local_path(location)).exists()):
            continue  # the file is gone, or its source with it
        if not paths.is_local(location):
            not_rewritten.append((name, "forget rewrites files on the driver's file system only"))
            continue
        try:
            blanked += REWRITERS[source.format](Path(paths.local_path(location)), name, source, tombstones, key)
        except CannotRewriteError as exc:
            not_rewritten.append((name, str(exc)))
    return blanked, not_rewritten


def _purge(ctx: StageContext, ref: TableRef) -> None:
    """Purge deletion vectors (when the table has them), then VACUUM with zero retention, this operation only."""
    properties = ctx.lake.delta_table(ref).detail().first()["properties"] or {}
    if properties.get("delta.enableDeletionVectors") == "true":
        ctx.spark.sql(f"REORG TABLE {ref.name or f'delta.`{ref.path}`'} APPLY (PURGE)")
    ctx.lake.vacuum(ref, 0)
