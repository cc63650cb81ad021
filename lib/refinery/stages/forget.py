"""Forget: remove a subject from every table, release and raw file of a pipeline, purge the bytes, and keep a
keyed tombstone so no later run brings it back.

In order, each step safe to redo, and the whole driven to its end from durable state:
1. the requests' tombstones are recorded (`refinery.privacy.deletion`): from then on ingest rejects the subject;
2. the documents are found (`refinery.stages.forget_matches`) by every tombstone, and by this run's `contains`
   literals as substrings of the raw values, in every document table and every release: the union of their ids,
   with what each request matched where. The plan (the requests, the raw files that may hold a match, the tables
   this run may change) goes to the forget log (`refinery.privacy.forget_log`) before anything is deleted;
3. their rows leave bronze, silver, silver_dedup, signatures and rejects by a MERGE on those ids (rejects
   also lose rows whose raw record matches), so no commit carries a requested value; gold and every release
   are rewritten without them, file for file in their training layout, and each release's record is
   amended (its version, counts, and a note naming the forget run);
4. raw files holding a matching record get it blanked in place (`refinery.privacy.raw_rewrite`: positions, and
   lineage, stay); a file that cannot be rewritten so (ARC, unparseable, not on the driver's file system)
   is named in a warning and counted;
5. deletion vectors are purged and every table touched is vacuumed with zero retention (for this operation
   only): versions before the forget can no longer be read, and the ledger row says so per table; the forget
   log then says `done`.
A forget killed at any point leaves its plan open: the next forget (the same command, another request, or
`--resume`) takes over its raw files and tables and finishes them. Each request reports what it matched; a new
request that matched nothing is said out loud. A dry run finds and reports, and changes nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from refinery import paths, pipelines
from refinery.faults import kill_point
from refinery.lake.gold import gold_totals
from refinery.lake.releases import copy_in_layout, list_releases, with_source_files, write_pointer
from refinery.lake.store import TableRef
from refinery.privacy.deletion import Request, Tombstones, load_tombstones, record_tombstones
from refinery.privacy.forget_log import ForgetLog
from refinery.privacy.keys import privacy_key
from refinery.privacy.raw_rewrite import REWRITERS, CannotRewriteError, RawMatcher
from refinery.rejects import FORGOTTEN
from refinery.stages.base import StageContext, StageResult
from refinery.stages.forget_matches import (
    REJECT_KEY,
    RELEASE_LABEL,
    Found,
    as_documents,
    doomed_rejects,
    find,
    raw_files,
)
from refinery.stages.ingest_files import raw_locations
from refinery.transforms.forgotten import flag_forgotten
from refinery.transforms.rules import REJECT_RULE

STAGE = "forget"
WITHHELD = "detail withheld: it named a forgotten subject"
AMENDED = "amended_by_forget"  # the release record's settings key naming the forget run that amended it
UNMATCHED = "requests.unmatched"  # metric: the numbers (1-based, as given) of new requests that matched nothing

log = logging.getLogger(__name__)


def run(ctx: StageContext, requests: list[Request], *, dry_run: bool = False) -> StageResult:
    """Forget the requests' subjects everywhere in the pipeline, and finish any forget killed before its end;
    the ledger row is the audit record. A dry run reports what would be removed and changes nothing."""
    key = privacy_key(ctx.config.privacy, ctx.spark)
    forget_log = ForgetLog(ctx.lake, ctx.pipeline)
    unfinished = forget_log.unfinished()
    known = load_tombstones(ctx.lake, ctx.pipeline)
    hashes = [r.hash(key) for r in requests]
    new = [h not in known.hashes for h in hashes]
    if not dry_run:
        record_tombstones(ctx.lake, ctx.pipeline, requests, key, ctx.run_id)
    tombstones = _with(known, requests, hashes)  # every earlier request too: a forget also mops up
    literals = {h: r.value for h, r in zip(hashes, requests, strict=True) if r.kind == "contains"}
    # Before anything is deleted (and materialized); with the documents unfinished forgets found, by id.
    search = Tombstones(tombstones.hashes | unfinished.documents, tombstones.ngram_sizes)
    found = find(ctx, search, key, literals)
    names = sorted(set(raw_files(ctx, found.ids)) | unfinished.raw_files)
    matcher = RawMatcher(search, key, literals, write=not dry_run)
    if dry_run:
        _rewrite_raw(ctx, names, matcher)  # reads, counts, writes nothing
        return _report(ctx, hashes, requests, new, found, matcher, {}, [], dry_run=True)
    kind = ctx.config.pipeline_kind
    releases = {RELEASE_LABEL + r.name: r for r in list_releases(ctx.lake, ctx.pipeline)}
    layout_tables = {kind.last.writes: ctx.table(kind.last.writes)}
    layout_tables.update({label: ctx.lake.resolve(r.table) for label, r in releases.items()})
    changing = [ctx.table(t) for t in (*merged_tables(kind), "rejects")] + list(layout_tables.values())
    tables = [ref.key for ref in changing]
    forget_log.plan(ctx.run_id, requests=hashes, documents=found.ids, key=key, raw_files=names, tables=tables)

    removed: dict[str, tuple[TableRef, int, int, int]] = {}  # label -> (table, version before, after, rows)
    for layer in merged_tables(kind):
        _delete(ctx, layer, ctx.table(layer), found.ids, "t.doc_id = s.doc_id", removed)
    doomed = doomed_rejects(ctx, found.ids, search, key, literals).localCheckpoint(eager=True)
    _delete(ctx, "rejects", ctx.table("rejects"), doomed, _REJECT_MATCH, removed)
    _withhold_details(ctx, search, key, removed)
    kill_point("forget:after_deletes")
    for label, ref in layout_tables.items():
        release = releases.get(label)
        version = release.table_version if release else None
        if _rewrite_in_layout(ctx, label, ref, version, found.ids, removed) and release:
            kill_point("forget:release_copied")  # its copy written, its record not yet pointing at it
            _amend_release(ctx, release.name, ref, removed[label][2])
    blanked, not_rewritten = _rewrite_raw(ctx, names, matcher)
    purged = _purge_all(ctx, removed, unfinished.tables)
    forget_log.finish(ctx.run_id, [*unfinished.runs, ctx.run_id])
    if unfinished.runs:
        log.warning("forget: finished %d forget run(s) killed before their end", len(unfinished.runs))
    metrics = {"raw.records_blanked": str(blanked), "raw.files_not_rewritten": str(len(not_rewritten))}
    if unfinished.runs:
        metrics["finished_runs"] = " ".join(unfinished.runs)
    for name, reason in not_rewritten:  # names as logged: lineage-safe
        log.warning("forget: raw file %s may hold a match and was not rewritten (%s): remove it by hand", name, reason)
    return _report(ctx, hashes, requests, new, found, matcher, removed, purged, extra=metrics)


def merged_tables(kind: pipelines.Kind) -> tuple[str, ...]:
    """The tables a subject's rows leave by a MERGE on doc_id: every stage's output but the published one (which is
    rewritten in its layout), and what stages keep besides (signatures)."""
    kept = [table for stage in kind.stages for table in (stage.writes, *stage.also_writes)]
    return tuple(table for table in kept if table != kind.last.writes)


_REJECT_MATCH = " AND ".join(f"t.{column} <=> s.{column}" for column in REJECT_KEY)


def _with(known: Tombstones, requests: list[Request], hashes: list[str]) -> Tombstones:
    """The recorded tombstones and this run's requests (a dry run records none)."""
    sizes = {r.words for r in requests if r.words}
    return Tombstones(known.hashes | frozenset(hashes), known.ngram_sizes | frozenset(sizes))


def _report(
    ctx: StageContext,
    hashes: list[str],
    requests: list[Request],
    new: list[bool],
    found: Found,
    matcher: RawMatcher,
    removed: dict,
    purged: list[str],
    *,
    dry_run: bool = False,
    extra: dict[str, str] | None = None,
) -> StageResult:
    """The ledger row: what each request matched where (documents per table, raw records), what was removed and
    purged per table; a line per request on the console, naming it by number and kind, never by value."""
    metrics = {"requests": " ".join(hashes), **(extra or {})}
    unmatched = []
    for number, (h, request, is_new) in enumerate(zip(hashes, requests, new, strict=True), start=1):
        tables = {label: counts[h] for label, counts in found.counts.items() if counts.get(h)}
        raw = matcher.hits.get(h, 0)
        where = ", ".join(f"{label} {n}" for label, n in tables.items())
        said = f"{where or 'no table'}; raw records {raw}"
        metrics[f"request.{number}"] = said
        if tables or raw:
            log.info("forget: request %d (%s) matched %s", number, request.kind, said)
        elif is_new:
            unmatched.append(str(number))
            log.warning(
                "forget: request %d (%s) matched nothing in any table, release or raw file", number, request.kind
            )
        else:
            log.info("forget: request %d (%s) matched nothing this time: it was forgotten before", number, request.kind)
    metrics[UNMATCHED] = " ".join(unmatched)
    if dry_run:
        metrics["dry_run"] = "true"
        return StageResult.of_counts(STAGE, metrics=metrics)
    for label, (_ref, before, after, rows) in removed.items():
        metrics[f"table.{label}"] = f"{rows} rows removed; version {before} -> {after}, earlier versions purged"
        log.warning("forget: %s: %d rows removed; versions before %d can no longer be read", label, rows, after)
    for key in purged:
        metrics.setdefault(f"table.{key}", "purged: an interrupted forget had changed it")
    total = sum(rows for *_, rows in removed.values())
    return StageResult.of_counts(
        STAGE, rows_in=total, rejected_by_rule={FORGOTTEN.name: total} if total else {}, metrics=metrics
    )


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
    documents = as_documents(ctx, words, keep=[f"_key{column}" for column in REJECT_KEY], text=F.col("detail"))
    flagged = flag_forgotten(
        documents, tombstones=tombstones.hashes, key=key, ngram_sizes=tombstones.ngram_sizes
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


def _rewrite_raw(ctx: StageContext, names: list[str], matcher: RawMatcher) -> tuple[int, list[tuple[str, str]]]:
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
            target = Path(paths.local_path(location)).resolve()  # a followed link: its target, in place
            blanked += REWRITERS[source.format](target, name, source, matcher)
        except CannotRewriteError as exc:
            not_rewritten.append((name, str(exc)))
    return blanked, not_rewritten


def _purge_all(ctx: StageContext, removed: dict, unfinished: frozenset[str]) -> list[str]:
    """Purge every table this run changed and every table an unfinished forget planned to change (the killed
    run may have changed it); returns the keys purged for the unfinished ones alone."""
    refs = {ref.key: ref for ref, *_ in removed.values()}
    taken_over = sorted(key for key in unfinished if key not in refs)
    for key in taken_over:
        refs[key] = ctx.lake.resolve(key)
    for index, ref in enumerate(refs.values()):
        if ctx.lake.exists(ref):
            _purge(ctx, ref)
        if index == 0:
            kill_point("forget:mid_purge")
    return [key for key in taken_over if ctx.lake.exists(refs[key])]


def _purge(ctx: StageContext, ref: TableRef) -> None:
    """Purge deletion vectors (when the table has them), then VACUUM with zero retention, this operation only."""
    properties = ctx.lake.delta_table(ref).detail().first()["properties"] or {}
    if properties.get("delta.enableDeletionVectors") == "true":
        ctx.spark.sql(f"REORG TABLE {ref.name or f'delta.`{ref.path}`'} APPLY (PURGE)")
    ctx.lake.vacuum(ref, 0)
