"""`refinery explain DOC_ID`: where a document came from and what each stage decided, read from the tables.

Origin: bronze's lineage (source, raw file and position, ingest run) and the ingest batch that took the file
(`_refinery/ingest_files`). Each stage's verdict: kept when its output table holds the document, removed
when its rejects hold it (the rule, and the detail: for dedup the document it duplicated and the cluster
size), not reached otherwise. Then its rows in gold (split, shard, copy) and the releases that hold it.
Every lookup is a filter on `doc_id` returning a handful of rows (`refinery.lake.lookups`: without a JVM on a
path lake). An id is looked up as ingest spells it (PII
in it turned into a token). A document no table holds any more may have been forgotten: with the privacy key,
a deletion request by its id is recognised by its tombstone; a request by URL, field or content leaves no
trace that could name the document.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from refinery.config import Config, PrivacyConfig
from refinery.errors import InputNotFoundError
from refinery.lake.lookups import release_records
from refinery.privacy.deletion import Request
from refinery.privacy.keys import MissingKeyError, privacy_key
from refinery.transforms.pii import lineage_safe

KEPT, REMOVED, NOT_REACHED = "kept", "removed", "not reached"


class DocumentNotFoundError(InputNotFoundError):
    """No table of the pipeline, nor its rejects, holds the document."""


def explain(lake, config: Config, doc_id: str) -> dict[str, Any]:
    """The document's origin, each stage's verdict, its gold rows and the releases holding it; or, for a
    document forgotten by id, the forget run that removed it. `lake` is a `refinery.lake.lookups` reader."""
    pipeline, kind = config.pipeline, config.pipeline_kind
    doc_id = lineage_safe(doc_id.strip())
    rows = {stage.name: _rows(lake, lake.table(stage.writes, pipeline), doc_id) for stage in kind.stages}
    rejected = _rows(lake, lake.table("rejects", pipeline), doc_id)
    if not any(rows.values()) and not rejected:
        return _forgotten(lake, pipeline, doc_id, config.privacy)
    stages = []
    for stage in kind.stage_names:
        removed = [r for r in rejected if r["stage"] == stage]
        if rows[stage]:
            verdict = {"stage": stage, "verdict": KEPT}
            if stage == kind.stages[0].name and removed:  # later records with its id were rejected, this one kept
                verdict["later_records_rejected"] = len(removed)
            if "lang" in rows[stage][0] and not any("lang" in earlier for earlier in stages):  # where it was found
                verdict["lang"] = rows[stage][0]["lang"]
        elif removed:
            first = removed[0]
            verdict = {"stage": stage, "verdict": REMOVED, "rule": first["rule"], "detail": first["detail"]}
        else:
            verdict = {"stage": stage, "verdict": NOT_REACHED}
        stages.append(verdict)
    before_gold = [row for stage in kind.stage_names[:-1] for row in rows[stage]]  # they have the lineage
    return {
        "doc_id": doc_id,
        "pipeline": pipeline,
        "origin": _origin(lake, pipeline, next(iter([*before_gold, *rejected]), {})),
        "stages": stages,
        "gold": sorted(
            ({"split": r["split"], "shard": r["shard"], "copy": r["copy"]} for r in rows[kind.last.name]),
            key=lambda row: row["copy"],
        ),
        "releases": _releases_holding(lake, pipeline, doc_id),
    }


def _forgotten(lake, pipeline: str, doc_id: str, privacy: PrivacyConfig) -> dict[str, Any]:
    """The report of a document a deletion request by its id removed; else DocumentNotFoundError."""
    missing = f"no document '{doc_id}' in pipeline {pipeline} (nor in its rejects)"
    ref = lake.table("forgotten")
    if not lake.rows(ref, where={"pipeline": pipeline}, limit=1):
        raise DocumentNotFoundError(missing)
    try:
        key = privacy_key(privacy, getattr(getattr(lake, "lake", None), "spark", None))
    except MissingKeyError:
        raise DocumentNotFoundError(f"{missing}; set the privacy key to check the deletion requests") from None
    found = lake.rows(ref, where={"pipeline": pipeline, "hash": Request("doc_id", doc_id).hash(key)}, limit=1)
    if not found:
        raise DocumentNotFoundError(
            f"{missing}; no deletion request named this id (requests by URL, field or content leave no trace "
            "of the documents they removed)"
        )
    return {
        "doc_id": doc_id,
        "pipeline": pipeline,
        "forgotten": {"request": "doc_id", "run_id": found[0]["run_id"], "at": str(found[0]["at"])},
        "stages": [],
        "gold": [],
        "releases": [],
    }


def _rows(lake, ref, doc_id: str) -> list[dict[str, Any]]:
    """The table's rows of the document (none when the table does not exist yet)."""
    return [dict(row) for row in lake.rows(ref, where={"doc_id": doc_id})]


def _origin(lake, pipeline: str, row: dict[str, Any]) -> dict[str, Any]:
    origin = {
        "source": row.get("source"),
        "file": row.get("_file"),
        "position": row.get("_line"),
        "run_id": row.get("_run_id"),
        "ingested_at": str(row["_ingested_at"]) if row.get("_ingested_at") else None,
        "batch": None,
    }
    if origin["file"]:
        where = {"pipeline": pipeline, "path": origin["file"], "status": "committed"}
        logged = lake.rows(lake.table("ingest_files"), where=where, limit=1)
        origin["batch"] = logged[0]["batch"] if logged else None
    return origin


def _releases_holding(lake, pipeline: str, doc_id: str) -> list[str]:
    return [
        release.name
        for release in release_records(lake, pipeline)
        if lake.rows(lake.resolve(release.table), version=release.table_version, where={"doc_id": doc_id}, limit=1)
    ]


def printable(text: Any) -> str:
    """`text` with every control, format (bidirectional overrides such as U+202E) and line-separator character
    escaped (`\\u202e`): an id or file name cannot reorder or hide what a terminal shows."""
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(text)
    )


def format_explanation(found: dict[str, Any]) -> str:
    """The explanation as a few lines for a terminal, every value `printable`."""
    return "\n".join(printable(line) for line in _lines(found))


def _lines(found: dict[str, Any]) -> list[str]:
    if "forgotten" in found:
        forgotten = found["forgotten"]
        return [
            f"{found['doc_id']} in pipeline {found['pipeline']}",
            f"  forgotten by a deletion request of its id · forget run {forgotten['run_id']} at {forgotten['at']}",
        ]
    origin = found["origin"]
    where = f"{origin['file']} position {origin['position']}" if origin["file"] else "unknown file"
    batch = f" · ingest batch {origin['batch']}" if origin["batch"] is not None else ""
    lines = [
        f"{found['doc_id']} in pipeline {found['pipeline']}",
        f"  origin    {origin['source'] or '?'} · {where}{batch} · run {origin['run_id']}",
    ]
    for stage in found["stages"]:
        text = stage["verdict"]
        if stage["verdict"] == REMOVED:
            text = f"removed by {stage['rule']}" + (f": {stage['detail']}" if stage["detail"] else "")
        elif "lang" in stage:
            text += f" (lang {stage['lang']})"
        if stage.get("later_records_rejected"):
            text += f"; {stage['later_records_rejected']} later record(s) with this id rejected"
        lines.append(f"  {stage['stage']:<9} {text}")
    gold = ", ".join(
        f"{r['split']} shard {r['shard']}" + (f" copy {r['copy']}" if r["copy"] else "") for r in found["gold"]
    )
    lines.append(f"  gold      {gold or '-'}")
    lines.append(f"  releases  {', '.join(found['releases']) or '-'}")
    return lines
